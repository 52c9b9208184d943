"""Telegram long polling, for running without a public URL: `python -m connectors.telegram_polling`.

`make run` starts it when TELEGRAM_TOKEN is set and TELEGRAM_MODE=polling. It removes any webhook
(Telegram serves getUpdates only without one), fetches updates with getUpdates and hands each one,
unchanged, to the Rasa server's own Telegram webhook (``/webhooks/telegram/webhook`` on 127.0.0.1)
with the secret header. So a polled update takes exactly the path a pushed one takes: the same
deduplication by update_id, the same handling, replies through the Bot API from the Rasa server, and
the conversation's input channel is "telegram" (later messages reach Telegram).

An update is confirmed to Telegram (the next getUpdates' offset) only after the Rasa server accepted
it; if the server is down or restarting, the same update is offered again (at-least-once; the
webhook's deduplication makes that exactly-once for the resident).

Settings: TELEGRAM_TOKEN, TELEGRAM_API_BASE_URL, TELEGRAM_SECRET_TOKEN (optional in polling mode: both
sides derive one from the bot token), RASA_URL (default http://BIND_HOST:RASA_PORT),
TELEGRAM_POLL_TIMEOUT (long-poll seconds, default 25).
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import warnings
from typing import Any, Dict, List, Optional

import httpx

from connectors.telegram import ALLOWED_UPDATES, SECRET_HEADER, TelegramSettings, make_bot, make_requests

log = logging.getLogger("connectors.telegram_polling")

MAX_BACKOFF = 60.0
# getUpdates through do_api_request gives the raw JSON (PTB suggests get_updates, which parses it).
warnings.filterwarnings("ignore", message=r"Please use 'Bot.get_updates'")


class Poller:
    def __init__(self, settings: TelegramSettings, rasa_url: str, poll_timeout: int = 25) -> None:
        self.settings = settings
        self.webhook = f"{rasa_url.rstrip('/')}/webhooks/telegram/webhook"
        self.poll_timeout = poll_timeout
        self.requests = make_requests(long_poll_timeout=poll_timeout)
        self.bot = make_bot(settings, requests=self.requests)
        # The hand-over goes to our own server on the local host: never through a proxy.
        self.http = httpx.AsyncClient(timeout=30.0, trust_env=False)
        self.offset: Optional[int] = None
        self.stop = asyncio.Event()

    def _safe(self, exc: BaseException) -> str:
        """An error for the log, without the bot token."""
        return str(exc).replace(self.settings.token, "<TELEGRAM_TOKEN>")

    async def _pause(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self.stop.wait(), timeout=seconds)
        except asyncio.TimeoutError:
            pass

    async def remove_webhook(self) -> None:
        """deleteWebhook until Telegram agrees (pending updates are kept)."""
        delay = 1.0
        while not self.stop.is_set():
            try:
                await self.bot.delete_webhook(drop_pending_updates=False)
                log.info("telegram: webhook removed; polling for updates")
                return
            except Exception as exc:
                log.warning("telegram deleteWebhook failed (%s); retrying in %.0f s", self._safe(exc), delay)
            await self._pause(delay)
            delay = min(delay * 2, MAX_BACKOFF)

    async def fetch(self) -> List[Dict[str, Any]]:
        params: Dict[str, Any] = {"timeout": self.poll_timeout, "allowed_updates": ALLOWED_UPDATES}
        if self.offset is not None:
            params["offset"] = self.offset
        # The raw JSON of each update (not PTB objects): handed over exactly as Telegram sent it.
        result = await self.bot.do_api_request("get_updates", api_kwargs=params,
                                               read_timeout=self.poll_timeout + 15)
        return [u for u in (result or []) if isinstance(u, dict) and "update_id" in u]

    async def hand_over(self, update: Dict[str, Any]) -> bool:
        """POST the update to the Rasa server's webhook until it is accepted; False if we are stopping
        first (the update is then not confirmed, and Telegram offers it again next time)."""
        delay = 1.0
        while not self.stop.is_set():
            try:
                reply = await self.http.post(self.webhook, json=update,
                                             headers={SECRET_HEADER: self.settings.secret_token})
                if reply.status_code == 200:
                    return True
                if reply.status_code == 400:
                    log.warning("telegram update %s refused by the Rasa server as malformed; skipped",
                                update.get("update_id"))
                    return True
                if reply.status_code == 403:
                    log.error("the Rasa server refused the hand-over (403): TELEGRAM_SECRET_TOKEN differs "
                              "between the poller and the server")
                else:
                    log.warning("the Rasa server answered %s to update %s; retrying", reply.status_code,
                                update.get("update_id"))
            except httpx.HTTPError as exc:
                log.warning("the Rasa server is not reachable at %s (%s); retrying in %.0f s", self.webhook, exc, delay)
            await self._pause(delay)
            delay = min(delay * 2, MAX_BACKOFF)
        return False

    async def run(self) -> None:
        from telegram.error import Conflict, InvalidToken, TimedOut

        await self.remove_webhook()
        delay = 1.0
        while not self.stop.is_set():
            try:
                updates = await self.fetch()
                delay = 1.0
            except TimedOut:
                continue  # a long poll that ran out: ask again
            except Conflict as exc:  # a webhook was set again, or another poller runs with this token
                log.error("telegram getUpdates conflict (%s); removing the webhook again", self._safe(exc))
                await self._pause(delay)
                delay = min(delay * 2, MAX_BACKOFF)
                await self.remove_webhook()
                continue
            except InvalidToken as exc:
                log.error("telegram rejected TELEGRAM_TOKEN (%s); retrying in %.0f s", self._safe(exc), MAX_BACKOFF)
                await self._pause(MAX_BACKOFF)
                continue
            except Exception as exc:
                log.warning("telegram getUpdates failed (%s); retrying in %.0f s", self._safe(exc), delay)
                await self._pause(delay)
                delay = min(delay * 2, MAX_BACKOFF)
                continue
            for update in sorted(updates, key=lambda u: u["update_id"]):
                if not await self.hand_over(update):
                    return
                self.offset = int(update["update_id"]) + 1

    async def close(self) -> None:
        await self.http.aclose()
        for request in self.requests:
            try:
                await request.shutdown()
            except Exception:
                pass


def rasa_url_from_env(env=os.environ) -> str:
    if env.get("RASA_URL"):
        return env["RASA_URL"]
    host = env.get("BIND_HOST", "127.0.0.1")
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return f"http://{host}:{env.get('RASA_PORT', '5005')}"


async def _main(poller: Poller) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, poller.stop.set)
    runner = asyncio.ensure_future(poller.run())
    stopper = asyncio.ensure_future(poller.stop.wait())
    try:
        await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (runner, stopper):
            task.cancel()
        await asyncio.gather(runner, stopper, return_exceptions=True)
        await poller.close()
    if runner.done() and not runner.cancelled() and runner.exception() is not None:
        raise runner.exception()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m connectors.telegram_polling")
    parser.add_argument("--rasa-url", default=None, help="the Rasa server (default: $RASA_URL or BIND_HOST:RASA_PORT)")
    parser.add_argument("--timeout", type=int, default=int(os.environ.get("TELEGRAM_POLL_TIMEOUT", "25")),
                        help="long-poll seconds per getUpdates")
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO").upper(),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    from bot.privacy import install_log_masking

    install_log_masking()
    settings = TelegramSettings.from_env({**os.environ, "TELEGRAM_MODE": "polling"})
    if not settings.token:
        print("error: TELEGRAM_TOKEN is not set", file=sys.stderr)
        return 2
    poller = Poller(settings, args.rasa_url or rasa_url_from_env(), poll_timeout=args.timeout)
    asyncio.run(_main(poller))
    return 0


if __name__ == "__main__":
    sys.exit(main())
