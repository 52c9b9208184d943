"""Starts the Rasa server with its HTTP API behind RASA_TOKEN, bound to 127.0.0.1 by default.

Used instead of `rasa run --auth-token …` so the token never appears on a command line (`ps`).
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

logger = logging.getLogger(__name__)

# Parsed once before the first resident: jieba's dictionary and the models' first calls load lazily.
WARM_UP_TEXTS = ("你好", "楼上天天半夜装修 吵得睡不着 麻烦管一管", "how do I apply for the elderly allowance in our community?")


def _warm_up_when_loaded() -> None:
    """After Rasa loads the model (before the server accepts requests): warm it up, then take the
    start-up heap out of the garbage collector's full collections (bot/heap.py)."""
    import rasa.core.run

    from bot.heap import settle_after_start_up

    load = rasa.core.run.load_agent_on_start

    async def load_and_warm_up(*args, **kwargs):
        agent = await load(*args, **kwargs)
        try:
            for text in WARM_UP_TEXTS:
                await agent.parse_message(text)
        except Exception as exc:  # no model loaded: Rasa reports that itself
            logger.warning("warm-up skipped: %s", exc)
        settle_after_start_up()
        return agent

    rasa.core.run.load_agent_on_start = load_and_warm_up


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the Rasa server.")
    parser.add_argument("--model", default=os.environ.get("RASA_MODEL", "models/current.tar.gz"))
    parser.add_argument("--host", default=os.environ.get("RASA_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("RASA_PORT", "5005")))
    parser.add_argument("--endpoints", default=os.environ.get("RASA_ENDPOINTS", "endpoints.yml"))
    parser.add_argument("--credentials", default=os.environ.get("RASA_CREDENTIALS", "credentials.yml"))
    args = parser.parse_args()

    token = os.environ.get("RASA_TOKEN", "")
    if len(token) < 16:
        sys.exit("error: RASA_TOKEN must be set (at least 16 characters); `make run` generates one into .env")

    # Rasa's default listen backlog (100) resets connections beyond it when a storm brings more
    # residents at once than that; they should wait in the queue instead (bench/results/load.md).
    os.environ.setdefault("SANIC_BACKLOG", "2048")
    # The endpoints files name the event broker's variables; without RABBITMQ_URL it is off.
    for name, default in (("RABBITMQ_URL", ""), ("RABBITMQ_QUEUE", "rasa_events"),
                          ("RABBITMQ_EXCHANGE", "rasa-exchange")):
        if not os.environ.get(name, "").strip():  # unset or empty: as bot/events.py reads them
            os.environ[name] = default
    import rasa.core.run
    from rasa.core.utils import AvailableEndpoints
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    level = logging.getLevelName(os.environ.get("LOG_LEVEL", "INFO").upper())
    level = level if isinstance(level, int) else logging.INFO
    configure_logging_and_warnings(level)
    # Rasa's structured logs (which quote resident text at debug level) follow the same level.
    configure_structlog(level)
    from bot.privacy import install_log_masking

    install_log_masking()  # resident text in Rasa's logs: phone and ID numbers masked
    from connectors import action_guard, outage_guard, paused_emergency, speedups

    speedups.install()  # measured hot spots of Rasa 3.6 (connectors/speedups.py)

    action_guard.install()  # a failed custom action answers with an apology, not silence
    outage_guard.install()  # conversation store down: "temporarily unavailable", message kept
    paused_emergency.install()  # staff have the conversation: an emergency still gets its number
    _warm_up_when_loaded()
    from connectors.channels import write_runtime_credentials

    runtime = write_runtime_credentials(
        Path(args.credentials), os.environ, Path(os.environ.get("VAR_DIR", "var")) / f"credentials.{args.port}.yml")
    rasa.core.run.serve_application(
        model_path=args.model,
        interface=args.host,
        port=args.port,
        credentials=str(runtime),
        auth_token=token,
        enable_api=True,
        endpoints=AvailableEndpoints.read_endpoints(args.endpoints),
    )


if __name__ == "__main__":
    main()
