"""The conversation statistics feed on the running stack (`python -m bot.cli run` with RABBITMQ_URL):
Rasa publishes its tracker events to this machine's real RabbitMQ, reached through a relay the test
cuts, and `python -m bot.events` counts them for the dashboard.

RabbitMQ down at start-up must not stop the bot; what was published meanwhile arrives once it is back,
each event once; phone and ID numbers never leave the Rasa process unmasked."""
from __future__ import annotations

import json
import urllib.parse
import uuid

from sqlalchemy import func, select

from bot import conversation_stats as stats
from bot.db import Database
from tests.conftest import wait_for
from tests.e2e.conftest import running_stack
from tests.rabbitmq import fresh_exchange
from tests.standins.tcp_outage import TcpOutage

STATS_KEY = "feed-test-key-" + "0" * 32
PHONE, ID_CARD = "13812345678", "110101199003071234"


def counted(database_url: str, sender: str) -> int:
    """Resident messages of ``sender`` stored as facts (0 while the table does not exist yet)."""
    key = stats.sender_key(sender, STATS_KEY.encode())
    db = Database(database_url)
    try:
        with db.session(read_only=True) as s:
            return s.execute(select(func.count()).where(stats.ConversationFact.sender_key == key,
                                                        stats.ConversationFact.kind == stats.MESSAGE)).scalar()
    except Exception:  # noqa: BLE001 - the consumer migrates the table when it starts
        return 0
    finally:
        db.dispose()


def test_rabbitmq_down_at_start_loses_nothing_and_counts_each_message_once(model_path, tmp_path):
    with fresh_exchange("feed") as broker:
        relay = TcpOutage(broker.address)
        relay.cut()  # RabbitMQ "not there yet" for both the Rasa server and the consumer
        through_relay = f"amqp://guest:guest@127.0.0.1:{relay.port}/"
        env = {"RABBITMQ_URL": through_relay, "RABBITMQ_QUEUE": broker.queue,
               "RABBITMQ_EXCHANGE": broker.exchange, "STATS_KEY": STATS_KEY}
        try:
            with running_stack(tmp_path, env) as stack:
                resident, visitor = f"feed-{uuid.uuid4().hex[:8]}", f"feed-{uuid.uuid4().hex[:8]}"
                sent = {resident: ["你好", f"楼道的灯坏了 我的电话{PHONE} 身份证{ID_CARD}", "谢谢"],
                        visitor: ["养狗需要办证吗", "hello"]}
                for sender, texts in sent.items():
                    for text in texts:
                        assert stack.say(sender, text), f"no answer to {text!r} while RabbitMQ is down"
                assert counted(stack.database_url, resident) == 0

                relay.restore()
                for sender, texts in sent.items():
                    wait_for(lambda: counted(stack.database_url, sender) == len(texts), 150,
                             f"the {len(texts)} messages of {sender} to be counted")
                assert stack.say(resident, "再见")  # connected now: straight through
                wait_for(lambda: counted(stack.database_url, resident) == 4, 60, "the message sent after")

                # RabbitMQ goes away while both are connected, and comes back.
                relay.cut()
                assert stack.say(visitor, "谢谢"), "no answer while RabbitMQ is gone"
                relay.restore()
                wait_for(lambda: counted(stack.database_url, visitor) == len(sent[visitor]) + 1, 150,
                         "the message sent during the second outage")

                # Every event of the conversation was published exactly once, masked.
                quoted = urllib.parse.quote(resident, safe="")
                status, tracker = stack.get(f"/conversations/{quoted}/tracker?include_events=ALL")
                assert status == 200
                wait_for(lambda: len(broker.spied_by(resident)) >= len(tracker["events"]), 30,
                         "every tracker event on the exchange")
                published = broker.spied_by(resident)
                assert [(e["event"], e.get("timestamp")) for e in published] == \
                       [(e["event"], e.get("timestamp")) for e in tracker["events"]]
                wire = json.dumps(published, ensure_ascii=False)
                assert PHONE not in wire and ID_CARD not in wire
                assert "138****5678" in wire and "110***********1234" in wire
                assert sum(e["event"] == "user" for e in tracker["events"]) == 4 == counted(stack.database_url, resident)
        finally:
            relay.close()
