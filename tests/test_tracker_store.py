"""connectors/tracker_store.py keeps trackers between messages; the database must stay the authority.

Every check compares with Rasa's own SQLTrackerStore reading the same database, on SQLite and on
this machine's PostgreSQL. Two store objects on one database stand for two Rasa processes.
"""
from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

import pytest
import sqlalchemy
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered

from connectors.tracker_store import CachingSQLTrackerStore
from tests.pg import fresh_databases

ROOT = Path(__file__).resolve().parents[1]
_clock = itertools.count()


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tracker.db'}"
    else:
        with fresh_databases("trackers", ["tracker"]) as urls:
            yield urls["tracker"]


def run(coroutine):
    return asyncio.run(coroutine)


def turn(text: str, answer: str):
    """The events of one message and its answer; increasing timestamps like Rasa's."""
    stamp = time.time() + next(_clock) * 0.001
    return [UserUttered(text, {"name": "greet", "confidence": 1.0}, timestamp=stamp),
            SlotSet("language", "zh-Hans", timestamp=stamp),
            BotUttered(answer, timestamp=stamp), ActionExecuted("action_listen", timestamp=stamp)]


async def message(store, sender: str, text: str):
    """What Rasa's processor does for one message: read (or create), append, save."""
    tracker = await store.get_or_create_tracker(sender)
    for event in turn(text, f"re: {text}"):
        tracker.update(event)
    await store.save(tracker)
    return tracker


async def started(store, sender: str, text: str):
    """A conversation past its first message, so that `store` keeps its tracker."""
    await message(store, sender, "hello")
    tracker = await message(store, sender, text)
    assert store._kept.get(sender) is tracker
    return tracker


def as_rasa_reads_it(url: str, domain: Domain, sender: str):
    async def read():
        return await SQLTrackerStore(domain, host=url).retrieve(sender)
    tracker = run(read())
    return [event.as_dict() for event in tracker.events] if tracker else []


def events_of(tracker):
    return [event.as_dict() for event in tracker.events]


def test_a_conversation_reads_back_as_rasa_stores_it(url, domain):
    store = CachingSQLTrackerStore(domain, host=url)

    async def conversation():
        for n in range(4):
            tracker = await message(store, "resident", f"message {n}")
        return tracker

    last = run(conversation())
    assert events_of(last) == as_rasa_reads_it(url, domain, "resident")
    assert sum(1 for e in last.events if isinstance(e, UserUttered)) == 4

    async def reread():
        return await store.retrieve("resident")
    # The tracker saved last is the one handed out again (the point of the store), not a re-read.
    assert run(reread()) is last


def test_a_write_by_another_process_is_seen(url, domain):
    ours, theirs = CachingSQLTrackerStore(domain, host=url), CachingSQLTrackerStore(domain, host=url)

    async def interleaved():
        await started(ours, "resident", "first, here")
        await message(theirs, "resident", "second, in the other process")
        return await ours.retrieve("resident")

    tracker = run(interleaved())
    assert [e.text for e in tracker.events if isinstance(e, UserUttered)] == ["hello", "first, here",
                                                                              "second, in the other process"]
    assert events_of(tracker) == as_rasa_reads_it(url, domain, "resident")


def test_a_write_between_read_and_save_is_neither_lost_nor_hidden(url, domain):
    ours, theirs = CachingSQLTrackerStore(domain, host=url), CachingSQLTrackerStore(domain, host=url)

    async def race():
        await started(ours, "resident", "one")
        held = await ours.retrieve("resident")  # our message in progress ...
        await message(theirs, "resident", "two")  # ... while another process writes
        for event in turn("three", "re: three"):
            held.update(event)
        await ours.save(held)
        return await ours.retrieve("resident")

    tracker = run(race())
    texts = [e.text for e in tracker.events if isinstance(e, UserUttered)]
    assert sorted(texts) == ["hello", "one", "three", "two"]  # nothing stale kept: all three are there
    assert events_of(tracker) == as_rasa_reads_it(url, domain, "resident")


def test_changes_that_were_never_saved_are_not_served(url, domain):
    store = CachingSQLTrackerStore(domain, host=url)

    async def failed_message():
        await started(store, "resident", "saved")
        tracker = await store.retrieve("resident")
        tracker.update(UserUttered("never saved: the processing failed"))
        return await store.retrieve("resident")

    tracker = run(failed_message())
    assert [e.text for e in tracker.events if isinstance(e, UserUttered)] == ["hello", "saved"]


def test_a_new_session_reads_like_rasa_latest_session_only(url, domain):
    store = CachingSQLTrackerStore(domain, host=url)

    async def two_sessions():
        await started(store, "resident", "yesterday")
        tracker = await store.retrieve("resident")
        for event in [ActionExecuted("action_session_start"), SessionStarted(timestamp=time.time() + 60),
                      ActionExecuted("action_listen", timestamp=time.time() + 60)]:
            tracker.update(event)
        await store.save(tracker)
        return await store.retrieve("resident")

    tracker = run(two_sessions())
    assert not [e for e in tracker.events if isinstance(e, UserUttered)]  # yesterday is another session
    assert events_of(tracker) == as_rasa_reads_it(url, domain, "resident")


def test_keeps_at_most_its_capacity(tmp_path, domain):
    store = CachingSQLTrackerStore(domain, host=f"sqlite:///{tmp_path / 't.db'}", kept_conversations=2)

    async def three():
        for sender in ("a", "b", "c"):  # a new conversation is kept from its second message on
            await message(store, sender, "hi")
            await message(store, sender, "again")

    run(three())
    assert list(store._kept) == ["b", "c"]


class RecordingBroker(EventBroker):
    """An event broker (Rasa's interface) that notes each event and what the database held then."""

    def __init__(self, url: str) -> None:
        self.engine, self.published = sqlalchemy.create_engine(url), []

    def publish(self, event) -> None:
        with self.engine.connect() as db:  # Rasa's events table, as another process would see it
            stored = db.execute(sqlalchemy.text("SELECT count(*) FROM events WHERE sender_id = :s AND "
                                                "type_name = :t AND timestamp = :ts"),
                                {"s": event["sender_id"], "t": event["event"], "ts": event["timestamp"]}).scalar()
        self.published.append((event, stored == 1))


def test_events_are_published_once_and_only_after_they_are_stored(url, domain):
    """Every new event reaches the broker once, after its commit (a save that fails publishes
    nothing: the outage guard replays the message later, and it must not count twice)."""
    broker = RecordingBroker(url)
    store = CachingSQLTrackerStore(domain, host=url, event_broker=broker)

    async def conversation():
        await message(store, "resident", "hello")  # a new conversation: Rasa's path
        return await started(store, "resident", "again")  # then kept trackers: ours

    tracker = run(conversation())
    assert [e for e, _ in broker.published] == [{"sender_id": "resident", **e} for e in events_of(tracker)]
    assert all(stored for _, stored in broker.published)

    broker.published.clear()
    store._insert = store._insert.values(no_such_column=1)  # the next insert fails, as in an outage
    with pytest.raises(Exception):
        run(message(store, "resident", "lost?"))
    assert broker.published == []
    broker.engine.dispose()
