"""Action server bound to 127.0.0.1 by default (rasa_sdk's own CLI always binds 0.0.0.0)."""
from __future__ import annotations

import argparse
import asyncio
import logging
import os

from rasa_sdk.endpoint import create_app

from bot.heap import settle_after_start_up
from bot.privacy import install_log_masking

logger = logging.getLogger("actions")


def _upgrade_schema() -> bool:
    """Bring the ticket tables up to date; False (and keep running) while the database is down."""
    from bot.db import is_unavailable, upgrade_db

    try:
        upgrade_db()
        return True
    except Exception as error:
        if not is_unavailable(error):
            raise
        logger.error("ticket database unavailable at start (%s); retrying in the background", type(error).__name__)
        return False


async def _replay_spooled_filings(app, loop) -> None:
    """Files the reports kept while the ticket database was down (bot/spool.py)."""
    from actions.tickets import filing_spool, ticket_service

    interval = float(os.environ.get("SPOOL_REPLAY_SECONDS", "15"))
    spool = filing_spool()

    async def replay_forever() -> None:
        schema_ready = app.ctx.schema_ready
        while True:
            await asyncio.sleep(interval)
            try:
                if not schema_ready:
                    schema_ready = await loop.run_in_executor(None, _upgrade_schema)
                if not schema_ready or not spool.pending():
                    continue
                report = await loop.run_in_executor(
                    None, spool.replay, lambda request: ticket_service().file_deferred(request).number)
            except Exception:  # the loop must outlive any one round
                logger.exception("replaying spooled filings failed")
                continue
            if report.filed or report.rejected:
                logger.info("spooled filings: %d filed, %d rejected, %d waiting", len(report.filed),
                            report.rejected, report.remaining)

    app.add_task(replay_forever())


def _warm_up() -> None:
    """Load what the first resident would otherwise wait for (the regulations index: about a second)."""
    from actions.cases import answer_question, policy_city

    answer_question("社区", "zh-Hans", default_city=policy_city())


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the action server.")
    parser.add_argument("--host", default=os.environ.get("ACTION_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("ACTION_PORT", "5055")))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("ACTION_WORKERS", "1")))
    args = parser.parse_args()
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    install_log_masking()  # phone and ID numbers never reach the logs
    # The ticket tables are brought up to date before the first action can need them.
    schema_ready = _upgrade_schema()
    _warm_up()
    settle_after_start_up()  # full garbage collections skip the start-up heap (bot/heap.py)
    app = create_app("actions", cors_origins=[])
    app.ctx.schema_ready = schema_ready
    app.register_listener(_replay_spooled_filings, "after_server_start")
    app.run(host=args.host, port=args.port, workers=args.workers, access_log=False, motd=False)


if __name__ == "__main__":
    main()
