"""Action server bound to 127.0.0.1 by default (rasa_sdk's own CLI always binds 0.0.0.0)."""
from __future__ import annotations

import argparse
import logging
import os

from rasa_sdk.endpoint import create_app

from bot.privacy import install_log_masking



def main() -> None:
    parser = argparse.ArgumentParser(description="Run the action server.")
    parser.add_argument("--host", default=os.environ.get("ACTION_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("ACTION_PORT", "5055")))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("ACTION_WORKERS", "1")))
    args = parser.parse_args()
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    install_log_masking()  # phone and ID numbers never reach the logs
    # The ticket tables are brought up to date before the first action can need them.
    from bot.db import upgrade_db

    upgrade_db()
    app = create_app("actions", cors_origins=[])
    app.run(host=args.host, port=args.port, workers=args.workers, access_log=False, motd=False)


if __name__ == "__main__":
    main()
