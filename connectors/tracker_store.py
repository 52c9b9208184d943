"""Rasa's SQL tracker store, keeping each conversation's tracker in this process between messages.

Measured (py-spy, bench/results): a quarter of the Rasa server's time per message went into the
stock SQLTrackerStore. Every message re-read the whole conversation session (ORM query with a
subquery, JSON of every event, every event replayed into a new tracker), and every save ran a count
over the same subquery to find which events were new. The conversation grows with each message, so
this cost grew too.

Here the tracker that was just saved stays in memory (a bounded LRU per process). The next message
of that conversation checks with one indexed query — number of stored events and the highest event
id of the conversation — that nobody else has written to it since (another Rasa process, the staff
console through Rasa's API, a replay after an outage); only then is the kept tracker used, otherwise
the conversation is read from the database exactly as Rasa does. The database stays the only
authority: the rows written are Rasa's own rows, and nothing is answered from memory that the
database does not hold.

Rules that keep this safe:
- A kept tracker is handed out once: `retrieve` takes it out of the cache, `save` puts it back.
  Processing that fails before its save leaves nothing in the cache (its unsaved events die with it).
- The state is read *before* the events on a database read, and after the inserts in the same
  transaction on a save, so a concurrent write can only make the kept state look older (one extra
  read), never make an old tracker look current.
- A tracker whose new events start a new session is not kept: Rasa reads only the latest session,
  and the next read from the database gives exactly that.

    tracker_store:
      type: connectors.tracker_store.CachingSQLTrackerStore
      url: ${TRACKER_STORE_URL}      # any SQLAlchemy URL Rasa's SQL store accepts
      kept_conversations: 500        # optional; TRACKER_CACHE_SIZE overrides
"""
from __future__ import annotations

import itertools
import json
import logging
import os
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Dict, Optional, Text, Tuple

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.constants import ACTION_SESSION_START_NAME
from rasa.shared.core.events import SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker

logger = logging.getLogger(__name__)

_MARK = "_stored_state"  # attribute on a tracker read or saved here: what the database held then
DEFAULT_KEPT = 500

# (number of events of the conversation, highest event id): any committed insert or delete changes it.
State = Tuple[int, Optional[int]]


@dataclass(frozen=True)
class _Mark:
    state: State
    events_stored: int  # len(tracker.events) that the database holds


class CachingSQLTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, kept_conversations: int = DEFAULT_KEPT, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._kept: "OrderedDict[Text, DialogueStateTracker]" = OrderedDict()
        self._capacity = max(0, int(os.environ.get("TRACKER_CACHE_SIZE", kept_conversations)))
        table = self.SQLEvent.__table__
        self._state_query = sa.select(sa.func.count(table.c.id), sa.func.max(table.c.id)).where(
            table.c.sender_id == sa.bindparam("sender_id"))
        self._insert = table.insert()
        self._pool_sqlite_connections()

    def _pool_sqlite_connections(self) -> None:
        """SQLAlchemy 1.4 opens a new SQLite connection for every session of a file database (NullPool);
        with a message needing two sessions that was a tenth of the store's time. Rasa uses the store
        from its event loop thread only; a pool of reused connections is what SQLAlchemy 2 does."""
        url = self.engine.url
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return
        self.engine.dispose()
        self.engine = sa.create_engine(url, poolclass=sa.pool.QueuePool, pool_size=2,
                                       connect_args={"check_same_thread": False})
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)

    # -- reading ---------------------------------------------------------------------------------

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        kept = self._kept.pop(sender_id, None)
        with self.session_scope() as session:
            state = self._state(session, sender_id)
            if kept is not None and self._still_current(kept, state):
                return kept
            rows = self._event_query(session, sender_id, fetch_events_from_all_sessions=False).all()
        if not rows or not self.domain:
            return None
        tracker = DialogueStateTracker.from_dict(sender_id, [json.loads(row.data) for row in rows],
                                                 self.domain.slots)
        setattr(tracker, _MARK, _Mark(state, len(tracker.events)))
        return tracker

    def _state(self, session, sender_id: Text) -> State:
        count, highest = session.execute(self._state_query, {"sender_id": sender_id}).one()
        return int(count), highest

    @staticmethod
    def _still_current(tracker: DialogueStateTracker, state: State) -> bool:
        mark = getattr(tracker, _MARK, None)
        # The event count guards against a tracker changed after its save without being saved again.
        return mark is not None and mark.state == state and mark.events_stored == len(tracker.events)

    # -- writing ---------------------------------------------------------------------------------

    async def save(self, tracker: DialogueStateTracker) -> None:
        mark: Optional[_Mark] = getattr(tracker, _MARK, None)
        if mark is None or mark.events_stored > len(tracker.events):
            # Not read through here (a new conversation, a copy): as Rasa's own save, the events beyond
            # those the database holds are the new ones.
            self._forget(tracker.sender_id)
            with self.session_scope() as session:
                new_events = list(self._additional_events(session, tracker))
                self._insert_events(session, tracker.sender_id, new_events)
                session.commit()
            await self._publish(tracker.sender_id, new_events)
            return
        new_events = list(itertools.islice(tracker.events, mark.events_stored, None))
        with self.session_scope() as session:
            self._insert_events(session, tracker.sender_id, new_events)
            state = self._state(session, tracker.sender_id)
            session.commit()
        await self._publish(tracker.sender_id, new_events)
        expected = mark.state[0] + len(new_events)
        setattr(tracker, _MARK, _Mark(state, len(tracker.events)))
        if state[0] == expected and not any(_starts_session(event) for event in new_events):
            self._keep(tracker)
        else:  # someone else wrote meanwhile, or a new session began: read it afresh next time
            self._forget(tracker.sender_id)

    async def _publish(self, sender_id: Text, new_events) -> None:
        """To the event broker, once stored (Rasa publishes first: a save that then failed, and was
        replayed after the outage, reached the broker twice)."""
        if self.event_broker is not None and new_events:
            await self._stream_new_events(self.event_broker, new_events, sender_id)

    def _insert_events(self, session, sender_id: Text, events) -> None:
        if events:
            session.execute(self._insert, [self._row(sender_id, event) for event in events])

    @staticmethod
    def _row(sender_id: Text, event) -> Dict[str, Any]:
        data = event.as_dict()  # the same columns as SQLTrackerStore.save writes
        return {"sender_id": sender_id, "type_name": event.type_name, "timestamp": data.get("timestamp"),
                "intent_name": data.get("parse_data", {}).get("intent", {}).get("name"),
                "action_name": data.get("name"), "data": json.dumps(data)}

    def _keep(self, tracker: DialogueStateTracker) -> None:
        if self._capacity == 0:
            return
        self._kept[tracker.sender_id] = tracker
        self._kept.move_to_end(tracker.sender_id)
        while len(self._kept) > self._capacity:
            self._kept.popitem(last=False)

    def _forget(self, sender_id: Text) -> None:
        self._kept.pop(sender_id, None)


def _starts_session(event) -> bool:
    return isinstance(event, SessionStarted) or getattr(event, "action_name", None) == ACTION_SESSION_START_NAME
