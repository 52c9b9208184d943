"""``python -m bot.events``: the dashboard's conversation statistics, fed by Rasa's event broker.

Every Rasa process publishes its tracker events to RabbitMQ (connectors/event_broker.py); this
consumer reads them from the durable queue, keeps the few facts the dashboard counts
(bot/conversation_stats.py) in the tickets database, and only then acknowledges them: a crash or a
database outage loses nothing (unacknowledged messages are delivered again, and a fact already
stored is not stored twice). Several consumers may read the same queue.

Environment: RABBITMQ_URL (amqp://user:password@host:5672/vhost; required), RABBITMQ_QUEUE (default
``rasa_events``), RABBITMQ_EXCHANGE (default ``rasa-exchange``, Rasa's), DATABASE_URL, STATS_KEY,
STATS_RETENTION_DAYS.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import time
from typing import List, Optional, Tuple

from bot import conversation_stats
from bot.db import Database, get_database, is_unavailable, upgrade_db

log = logging.getLogger("bot.events")

DEFAULT_QUEUE = "rasa_events"
DEFAULT_EXCHANGE = "rasa-exchange"
BATCH = 200
FLUSH_SECONDS = 0.5
PRUNE_EVERY_SECONDS = 6 * 3600
RETRY_MAX_SECONDS = 30.0


class FactConsumer:
    """Batches delivered messages, stores their facts in one transaction, then acknowledges them."""

    def __init__(self, db: Database, key: bytes, batch: int = BATCH) -> None:
        self.db, self.key, self.batch = db, key, batch
        self.pending: List = []
        self.stored = 0
        self._lock = asyncio.Lock()
        self._last_prune = 0.0

    async def on_message(self, message) -> None:
        self.pending.append(message)
        if len(self.pending) >= self.batch:
            await self.flush()

    def _facts(self, messages) -> Tuple[list, list]:
        facts, unreadable = [], []
        for message in messages:
            try:
                event = json.loads(message.body)
            except ValueError:
                unreadable.append(message)
                continue
            fact = conversation_stats.fact_from_event(event, self.key)
            if fact is not None:
                facts.append(fact)
        return facts, unreadable

    async def flush(self) -> bool:
        """Store and acknowledge what is pending; False (nothing acknowledged) if the database failed."""
        async with self._lock:
            batch, self.pending = self.pending, []
            if not batch:
                return True
            facts, unreadable = self._facts(batch)
            try:
                self.stored += await asyncio.to_thread(conversation_stats.record, self.db, facts)
            except Exception as error:  # noqa: BLE001 - kept for the next try, whatever went wrong
                self.pending = batch + self.pending
                level = logging.WARNING if is_unavailable(error) else logging.ERROR
                log.log(level, "cannot store %d conversation facts (%s); keeping them for the next try",
                        len(facts), type(error).__name__, exc_info=level == logging.ERROR)
                return False
            try:
                for message in batch:
                    if message in unreadable:
                        log.warning("dropped an event that is not JSON (%d bytes)", len(message.body))
                        await message.reject(requeue=False)
                    else:
                        await message.ack()
            except Exception as error:  # noqa: BLE001 - the channel went away with the batch
                log.warning("could not acknowledge stored events (%s); RabbitMQ delivers them again and "
                            "they are counted once", type(error).__name__)
            if time.monotonic() - self._last_prune > PRUNE_EVERY_SECONDS:
                self._last_prune = time.monotonic()
                try:
                    await asyncio.to_thread(conversation_stats.prune, self.db)
                except Exception as error:  # noqa: BLE001 - the next prune catches up; counting goes on
                    log.warning("could not delete old conversation facts (%s)", type(error).__name__)
            return True


async def run(url: str, queue_name: str, exchange_name: str, db: Database, key: bytes,
              stop: asyncio.Event) -> None:
    import aio_pika

    consumer = FactConsumer(db, key)
    delay = 1.0
    while not stop.is_set():
        try:
            connection = await aio_pika.connect_robust(url)
            break
        except Exception as error:  # noqa: BLE001 - RabbitMQ not there yet: wait for it
            log.warning("cannot connect to RabbitMQ (%s: %s); retrying in %.0f s", type(error).__name__, error, delay)
            try:
                await asyncio.wait_for(stop.wait(), delay)
            except asyncio.TimeoutError:
                pass
            delay = min(delay * 2, RETRY_MAX_SECONDS)
    else:
        return
    async with connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=consumer.batch * 2)
        # The same declarations as Rasa's broker: whoever starts first creates them, nothing is missed.
        exchange = await channel.declare_exchange(exchange_name, aio_pika.ExchangeType.FANOUT)
        queue = await channel.declare_queue(queue_name, durable=True)
        await queue.bind(exchange, "")
        await queue.consume(consumer.on_message)
        log.info("reading tracker events from queue %r", queue_name)
        delay = FLUSH_SECONDS
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), delay)
            except asyncio.TimeoutError:
                pass
            ok = await consumer.flush()
            delay = FLUSH_SECONDS if ok else min(max(delay * 2, 1.0), RETRY_MAX_SECONDS)
        await consumer.flush()


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.events", description=__doc__.split("\n\n")[0])
    parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO").upper(),
                        format="%(asctime)s %(levelname)s %(name)s  %(message)s")
    url = os.environ.get("RABBITMQ_URL", "").strip()
    if not url:
        print("error: RABBITMQ_URL is not set (amqp://user:password@host:5672/vhost)", file=sys.stderr)
        return 2
    upgrade_db()  # idempotent; the table of facts may be newer than the database
    db = get_database()
    key = conversation_stats.stats_key()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        loop.run_until_complete(run(url, os.environ.get("RABBITMQ_QUEUE") or DEFAULT_QUEUE,
                                    os.environ.get("RABBITMQ_EXCHANGE") or DEFAULT_EXCHANGE, db, key, stop))
    finally:
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
