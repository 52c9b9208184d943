"""What the two guards in the Rasa process decide, without a running server."""
import redis
from sqlalchemy.exc import IntegrityError, OperationalError

from bot.texts import render
from connectors.action_guard import apology_for
from connectors.outage_guard import notice_for, store_unavailable
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker


def test_only_unreachable_stores_count_as_an_outage():
    assert store_unavailable(OperationalError("SELECT 1", {}, Exception("server closed the connection")))
    assert store_unavailable(redis.exceptions.ConnectionError("Connection refused"))
    assert store_unavailable(ConnectionRefusedError())
    assert not store_unavailable(IntegrityError("INSERT", {}, Exception("duplicate key")))
    assert not store_unavailable(KeyError("bug"))


def test_notices_come_in_the_language_of_the_message():
    assert notice_for("樓道的燈壞了") == render("system.store_unavailable", "zh-Hant")
    assert notice_for("the lift is stuck") == render("system.store_unavailable", "en")
    assert notice_for("") == render("system.store_unavailable", "zh-Hans")


def test_the_apology_follows_the_conversation_language():
    domain = Domain.from_yaml("version: '3.1'\nslots:\n  language:\n    type: text\n    mappings: [{type: custom}]\n")
    tracker = DialogueStateTracker.from_events("r", [SlotSet("language", "en"), UserUttered("👍")], slots=domain.slots)
    assert apology_for(tracker) == render("system.action_unavailable", "en")  # an emoji has no language of its own
    tracker = DialogueStateTracker.from_events("r", [UserUttered("我家水管爆了")], slots=domain.slots)
    assert apology_for(tracker) == render("system.action_unavailable", "zh-Hans")
