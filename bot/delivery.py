"""The one delivery path for messages that reach a resident later: ticket status changes, staff
replies, rating requests.

Notifications queued in the outbox (bot/tickets/outbox.py) are appended to the resident's Rasa
conversation as bot messages with `execute_side_effects`, so Rasa hands them to that channel's output
channel (WeChat customer-service API, Telegram Bot API, the web chat socket) *and* they appear in the
conversation history. The outcome of each one is recorded: sent, failed (retried with back-off) or
undeliverable (with the reason), which the staff console shows.

    python -m bot.delivery --interval 5      (make run starts it)
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import signal
import threading
import urllib.error
import urllib.parse
import urllib.request
from typing import Dict, List, Optional

from bot.db import get_database, utcnow
from bot.tickets.models import Notification
from bot.tickets.outbox import DeliveryReport, Undeliverable, deliver_pending

log = logging.getLogger(__name__)

# Channels that can carry a message the resident did not just ask for, and how long after the
# resident's last message each platform allows it (WeChat: 48 hours for customer-service messages).
PUSH_CHANNELS = ("wechat", "telegram", "socketio")
REPLY_WINDOW = {"wechat": dt.timedelta(hours=48)}
# Channels whose residents cannot be reached later at all (REST is request/response only).
NO_PUSH = ("rest",)


class RasaDelivery:
    """Sends one notification through the Rasa server's HTTP API (token-protected)."""

    def __init__(self, rasa_url: str, token: str, timeout: float = 15.0):
        self.rasa_url = rasa_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def _request(self, method: str, path: str, params: Dict[str, str], body=None):
        query = urllib.parse.urlencode({**params, "token": self.token})
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.rasa_url}{path}?{query}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            return json.loads(response.read() or b"null")

    def last_user_message_at(self, conversation_id: str) -> Optional[dt.datetime]:
        path = f"/conversations/{urllib.parse.quote(conversation_id, safe='')}/tracker"
        tracker = self._request("GET", path, {"include_events": "ALL"})
        times = [e["timestamp"] for e in tracker.get("events", []) if e.get("event") == "user"]
        return dt.datetime.fromtimestamp(max(times), dt.timezone.utc) if times else None

    def events_for(self, note: Notification, undelivered: Optional[str] = None) -> List[Dict]:
        events: List[Dict] = []
        if note.kind == "rating_request" and note.params and note.params.get("number"):
            # The resident's next message is read as the rating of this ticket (actions/base.py); also
            # when the push failed, since the request is in the conversation the resident can read.
            events.append({"event": "slot", "name": "awaiting_rating", "value": note.params["number"]})
        metadata = {"notification_id": note.id, "kind": note.kind}
        if undelivered:
            metadata["undelivered"] = undelivered
        events.append({"event": "bot", "text": note.text, "metadata": metadata})
        return events

    def send(self, note: Notification) -> None:
        channel = note.recipient_channel
        try:
            if channel in NO_PUSH:
                raise Undeliverable(f"the {channel} channel cannot deliver later messages")
            window = REPLY_WINDOW.get(channel)
            if window is not None:
                last = self.last_user_message_at(note.recipient_id)
                if last is None or utcnow() - last > window:
                    raise Undeliverable(f"{channel} allows messages only within {window} of the resident's last message")
            self._append(note, output_channel=channel)
        except Undeliverable as reason:
            # Never dropped silently: the message stays in the conversation, marked as not delivered,
            # and the outbox row says why (the staff console shows both).
            self._append(note, output_channel=None, undelivered=str(reason)[:300])
            raise

    def _append(self, note: Notification, output_channel: Optional[str], undelivered: Optional[str] = None) -> None:
        path = f"/conversations/{urllib.parse.quote(note.recipient_id, safe='')}/tracker/events"
        params = {"output_channel": output_channel, "execute_side_effects": "true"} if output_channel else {}
        try:
            self._request("POST", path, params, self.events_for(note, undelivered))
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")
            if "undeliverable" in detail.lower():  # the channel said retrying cannot help
                raise Undeliverable(detail[:500]) from error
            raise


def deliver_once(delivery: RasaDelivery, db=None) -> DeliveryReport:
    db = db or get_database()
    total = DeliveryReport()
    for channel in PUSH_CHANNELS + NO_PUSH:
        report = deliver_pending(db, delivery.send, channel=channel)
        total.sent += report.sent
        total.failed += report.failed
        total.undeliverable += report.undeliverable
    return total


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.delivery")
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--once", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    from bot.privacy import install_log_masking

    install_log_masking()
    host = os.environ.get("BIND_HOST", "127.0.0.1")
    delivery = RasaDelivery(os.environ.get("RASA_URL", f"http://{host}:{os.environ.get('RASA_PORT', '5005')}"),
                            os.environ["RASA_TOKEN"])
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.is_set():
        try:
            report = deliver_once(delivery)
            if report.sent or report.failed or report.undeliverable:
                log.info("delivery: %d sent, %d failed, %d undeliverable",
                         len(report.sent), len(report.failed), len(report.undeliverable))
        except Exception:
            log.exception("delivery pass failed; retrying")
        if args.once:
            break
        stop.wait(args.interval)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
