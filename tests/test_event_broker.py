"""connectors/event_broker.py without a RabbitMQ: the Rasa server must not wait for it, what waits is
bounded, and personal numbers never leave unmasked (with RabbitMQ: tests/faults/test_statistics_feed.py)."""
from __future__ import annotations

import asyncio
import time

from rasa.utils.endpoints import EndpointConfig

from connectors.event_broker import ResidentSafePikaEventBroker, mask_event
from tests.conftest import free_port


def test_no_url_means_no_broker():
    assert asyncio.run(ResidentSafePikaEventBroker.from_endpoint_config(EndpointConfig(url=""))) is None
    assert asyncio.run(ResidentSafePikaEventBroker.from_endpoint_config(None)) is None


def test_an_unreachable_rabbitmq_neither_blocks_nor_grows_memory(caplog):
    async def scenario():
        closed = f"amqp://bot:secret-password@127.0.0.1:{free_port()}/community"
        started = time.monotonic()
        broker = await ResidentSafePikaEventBroker.from_endpoint_config(
            EndpointConfig(url=closed, max_buffered_events=5, queues=["q"]))
        created_in = time.monotonic() - started
        for n in range(8):
            broker.publish({"sender_id": "13800000000", "event": "user", "timestamp": n,
                            "text": f"电话13812345678 第{n}条", "parse_data": {"text": "身份证110101199003071234"}})
        await asyncio.sleep(0.5)  # a connection attempt or two fail meanwhile
        waiting = list(broker._unpublished_events)
        dropped, ready = broker._unpublished_events.dropped, broker.is_ready()
        await broker.close()
        return created_in, waiting, dropped, ready, broker.host

    created_in, waiting, dropped, ready, host = asyncio.run(scenario())
    assert created_in < 1.0 and not ready
    assert [e["timestamp"] for e in waiting] == [3, 4, 5, 6, 7] and dropped == 3  # the newest kept
    assert waiting[0]["text"] == "电话138****5678 第3条"
    assert waiting[0]["parse_data"]["text"] == "身份证110***********1234"
    assert waiting[0]["sender_id"] == "13800000000"  # the conversation's id stays as it is
    assert "secret-password" not in host and "secret-password" not in caplog.text


def test_masking_leaves_the_event_shape_alone():
    event = {"sender_id": "s", "event": "slot", "name": "phone", "value": "13912345678", "timestamp": 1.5}
    assert mask_event(event) == {"sender_id": "s", "event": "slot", "name": "phone", "value": "139****5678",
                                 "timestamp": 1.5}
    assert event["value"] == "13912345678"  # the tracker's own event is not changed
