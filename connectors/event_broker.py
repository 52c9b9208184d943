"""Rasa's RabbitMQ event broker, made safe to run in front of residents.

Every tracker event is published to a fanout exchange; ``python -m bot.events`` turns them into the
dashboard's conversation statistics (bot/conversation_stats.py). Rasa's own PikaEventBroker has three
properties a district's bot cannot have, each changed here:

* It connects during start-up and the Rasa server does not start at all while RabbitMQ is down
  (statistics would stop the residents' service). Here the server starts at once and the broker keeps
  connecting in the background; what is published meanwhile waits in memory.
* What waits in memory (not connected yet, or a publish that failed) grows without bound. Here it is
  bounded (``max_buffered_events``, default 10,000 events); beyond that the oldest are dropped and the
  number dropped is logged: statistics may lose counts, the bot must not lose its memory.
* Events carry residents' messages and slot values as they were typed. Here phone and ID-card numbers
  are masked (bot.privacy) before anything leaves the process; the sender id is left as it is (the
  consumer keeps only a keyed hash of it).

An empty ``url`` switches the broker off, so one endpoints file serves deployments with and without
RabbitMQ::

    event_broker:
      type: connectors.event_broker.ResidentSafePikaEventBroker
      url: ${RABBITMQ_URL}              # amqp://user:password@host:5672/vhost, or empty: no broker
      exchange_name: ${RABBITMQ_EXCHANGE}
      queues:
        - ${RABBITMQ_QUEUE}
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Any, Dict, Optional, Text
from urllib.parse import urlsplit

from rasa.core.brokers.pika import PikaEventBroker
from rasa.utils.endpoints import EndpointConfig

from bot.privacy import mask_value

logger = logging.getLogger(__name__)

DEFAULT_BUFFER = 10_000
RETRY_MAX_SECONDS = 60.0


class _Backlog(deque):
    """A bounded deque that counts what it drops (appending to a full deque drops the oldest)."""

    def __init__(self, maxlen: int) -> None:
        super().__init__(maxlen=maxlen)
        self.dropped = 0

    def append(self, item: Any) -> None:
        if self.maxlen is not None and len(self) >= self.maxlen:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                logger.warning("event broker unreachable: %d events for the statistics dropped so far "
                               "(the conversations themselves are kept in the tracker store)", self.dropped)
        super().append(item)


def mask_event(event: Dict[str, Any]) -> Dict[str, Any]:
    """The event with phone and ID-card numbers masked everywhere except in the sender id."""
    masked = mask_value({k: v for k, v in event.items() if k != "sender_id"})
    if "sender_id" in event:
        masked["sender_id"] = event["sender_id"]
    return masked


class ResidentSafePikaEventBroker(PikaEventBroker):
    def __init__(self, host: Text, username: Text = "", password: Text = "", *,
                 max_buffered_events: int = DEFAULT_BUFFER, **kwargs: Any) -> None:
        # Retries are ours (_keep_connecting, with back-off), not Rasa's 20 × 5 s inside one attempt.
        kwargs.setdefault("connection_attempts", 1)
        kwargs.setdefault("retry_delay_in_seconds", 2)
        super().__init__(host, username, password, **kwargs)
        # An amqp:// URL is used as written (credentials, port, vhost, TLS options in it); Rasa would
        # rebuild it from separate username/password/port keys. The host shown in logs has no password.
        self._url = host if host.startswith("amqp") else None
        if self._url:
            parts = urlsplit(self._url)
            self.host = f"{parts.scheme}://{parts.hostname}:{parts.port or 5672}{parts.path}"
        self._unpublished_events = _Backlog(max(1, int(max_buffered_events)))
        self._outbox: deque = deque()
        self._draining = False
        self._failing = False
        self._connecting: Optional[asyncio.Task] = None

    def _configure_url(self) -> Optional[Text]:
        return self._url or super()._configure_url()

    @classmethod
    async def from_endpoint_config(cls, broker_config: Optional[EndpointConfig],
                                   event_loop: Optional[asyncio.AbstractEventLoop] = None
                                   ) -> Optional["ResidentSafePikaEventBroker"]:
        if broker_config is None or not (broker_config.url or "").strip():
            logger.info("no event broker URL configured: tracker events are not published")
            return None
        loop = event_loop or asyncio.get_event_loop()
        broker = cls(broker_config.url.strip(), **broker_config.kwargs, event_loop=loop)
        broker._connecting = loop.create_task(broker._keep_connecting())
        return broker

    async def _keep_connecting(self) -> None:
        """Connect, however long RabbitMQ takes to be there; then send what waited. After the first
        connection aio-pika's robust connection reconnects by itself (and Rasa's callback resends)."""
        delay = max(0.5, float(self._retry_delay_in_seconds))
        while True:
            try:
                await self.connect()
                break
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - any failure means: try again later
                logger.warning("event broker: cannot connect to RabbitMQ (%s: %s); %d events waiting; "
                               "retrying in %.0f s", type(error).__name__, error,
                               len(self._unpublished_events), delay)
                # Connected but the channel or exchange failed: close it, or it would keep reconnecting.
                connection, self._connection = self._connection, None
                if connection is not None:
                    with contextlib.suppress(Exception):
                        await connection.close()
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)
        self._publish_unpublished_messages()

    async def connect(self) -> None:
        """Rasa's connect, on a channel without publisher confirms: waiting for RabbitMQ's ack of every
        event cost more CPU time than publishing it (measured 220–280 µs per event with confirms,
        145 µs without). Statistics may lose the events in flight if RabbitMQ itself crashes; a lost
        connection is noticed and what could not be written is resent on reconnection."""
        self._connection = await self._connect()
        self._connection.reconnect_callbacks.add(self._publish_unpublished_messages)
        logger.info("event broker: connected to RabbitMQ at %s", self.host)
        channel = await self._connection.channel(publisher_confirms=False)
        self._exchange = await self._set_up_exchange(channel)

    def publish(self, event: Dict[Text, Any], headers: Optional[Dict[Text, Text]] = None) -> None:
        event = mask_event(event)
        if self._exchange is None:
            self._unpublished_events.append(event)
            return
        # One task sends everything queued, in order (Rasa starts a task per event).
        self._outbox.append((event, headers))
        if not self._draining:
            self._draining = True
            task = self._loop.create_task(self._drain())
            self._background_tasks.add(task)
            task.add_done_callback(self._background_tasks.discard)

    async def _drain(self) -> None:
        try:
            while self._outbox:
                event, headers = self._outbox.popleft()
                await self._publish(event, headers)
        finally:
            self._draining = False

    async def _publish(self, event: Dict[Text, Any], headers: Optional[Dict[Text, Text]] = None) -> None:
        # Rasa's version deep-copies every event for a debug log line, even with debug logging off,
        # and silently drops events published before the connection is up.
        if self._exchange is None:
            self._unpublished_events.append(event)
            return
        try:
            await self._exchange.publish(self._message(event, headers), "")
            self._failing = False
        except Exception as error:  # noqa: BLE001 - kept and resent on reconnection
            if not self._failing:  # once per outage, not per event
                logger.warning("event broker: publishing failed (%s: %s); events wait for the reconnection",
                               type(error).__name__, error)
            self._failing = True
            self._unpublished_events.append(event)

    async def close(self) -> None:
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
        await super().close()
