"""This machine's real RabbitMQ for tests (127.0.0.1 only): an exchange and queue unique to the test,
deleted afterwards, and a spy queue on the same exchange that shows exactly what was published.

``EVENTS_TEST_RABBITMQ_URL`` (default amqp://guest:guest@127.0.0.1:5672/) names the server. An
unreachable server skips the test with the reason, or fails it when ``EVENTS_REQUIRE_RABBITMQ=1``
(as in CI), so RabbitMQ cannot silently drop out of a run.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import uuid
from dataclasses import dataclass
from typing import Dict, Iterator, List
from urllib.parse import urlsplit

import pytest

from tests.pg import first_line

RABBITMQ_URL = os.environ.get("EVENTS_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")


@dataclass
class Exchange:
    url: str
    exchange: str
    queue: str  # the one the bot's consumer reads
    spy: str  # a second queue on the exchange, read by the test

    @property
    def address(self):
        parts = urlsplit(self.url)
        return parts.hostname or "127.0.0.1", parts.port or 5672

    def __post_init__(self) -> None:
        self._seen: List[Dict] = []

    def spied_by(self, sender: str) -> List[Dict]:
        """The events of ``sender`` published so far, in order (read off the spy queue)."""
        self._seen.extend(asyncio.run(_drain(self.url, self.spy)))
        return [e for e in self._seen if e.get("sender_id") == sender]


async def _connect(url: str):
    import aio_pika

    return await asyncio.wait_for(aio_pika.connect(url), 5)


async def _declare(url: str, exchange: str, spy: str) -> None:
    import aio_pika

    connection = await _connect(url)
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_exchange(exchange, aio_pika.ExchangeType.FANOUT)
        queue = await channel.declare_queue(spy, durable=False, auto_delete=False)
        await queue.bind(declared, "")


async def _drain(url: str, name: str) -> List[Dict]:
    connection = await _connect(url)
    bodies = []
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(name)
        while True:
            message = await queue.get(no_ack=True, fail=False)
            if message is None:
                return bodies
            bodies.append(json.loads(message.body))


async def _delete(url: str, exchange: str, queues: List[str]) -> None:
    connection = await _connect(url)
    async with connection:
        channel = await connection.channel()
        for name in queues:
            await channel.queue_delete(name)
        await channel.exchange_delete(exchange)


@contextlib.contextmanager
def fresh_exchange(prefix: str) -> Iterator[Exchange]:
    run = f"{prefix}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    names = Exchange(RABBITMQ_URL, f"{run}-exchange", f"{run}-events", f"{run}-spy")
    try:
        asyncio.run(_declare(RABBITMQ_URL, names.exchange, names.spy))
    except Exception as exc:  # unreachable, refused credentials …
        reason = f"RabbitMQ unreachable at {names.address[0]}:{names.address[1]}: {first_line(exc)}"
        if os.environ.get("EVENTS_REQUIRE_RABBITMQ") == "1":
            pytest.fail(reason + " (EVENTS_REQUIRE_RABBITMQ=1)")
        pytest.skip(reason)
    try:
        yield names
    finally:
        asyncio.run(_delete(RABBITMQ_URL, names.exchange, [names.queue, names.spy]))
