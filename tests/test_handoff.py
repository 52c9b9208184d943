import pytest

from bot import handoff
from bot.db import Database, upgrade_db
from bot.tickets.models import Notification


@pytest.fixture()
def db(tmp_path):
    url = f"sqlite:///{tmp_path / 'h.db'}"
    upgrade_db(url)
    database = Database(url)
    yield database
    database.dispose()


def test_asking_twice_opens_one_handoff_and_urgency_sticks(db):
    first = handoff.open_handoff("telegram", "42", "asked", db=db)
    again = handoff.open_handoff("telegram", "42", "urgent", urgent=True, db=db)
    assert first.id == again.id and again.urgent


def test_queue_is_urgent_first_then_oldest(db):
    a = handoff.open_handoff("rest", "a", "asked", db=db)
    b = handoff.open_handoff("rest", "b", "not_understood", db=db)
    c = handoff.open_handoff("rest", "c", "urgent", urgent=True, db=db)
    assert [h.id for h in handoff.queue(db=db)] == [c.id, a.id, b.id]
    assert handoff.queue(db=db, unit_ids=["nobody"]) == []


def test_reply_is_queued_for_delivery_and_closing_ends_it(db):
    h = handoff.open_handoff("wechat", "openid-1", "asked", language="en", db=db)
    note_id = handoff.reply(h.id, "staff-li", "We will send someone at 3 pm.", db=db)
    with db.session(read_only=True) as s:
        note = s.get(Notification, note_id)
        assert (note.kind, note.recipient_channel, note.recipient_id, note.status) == \
            ("staff_reply", "wechat", "openid-1", "pending")
    assert handoff.get(h.id, db=db).state == "active"
    handoff.finish(h.id, "staff-li", "returned_to_bot", db=db)
    assert handoff.open_for("wechat", "openid-1", db=db) is None
    with pytest.raises(ValueError):
        handoff.finish(h.id, "staff-li", "closed", db=db)
    with pytest.raises(ValueError):
        handoff.reply(h.id, "staff-li", "  ", db=db)
