"""A Redis lock store for several Rasa processes whose every lock update is atomic.

Rasa serialises the messages of one conversation with a ticket lock kept in the lock store. Rasa Open
Source 3.6's ``RedisLockStore`` changes that lock with a plain GET, change in Python, SET: two Rasa
processes that receive messages for the same conversation at the same moment both read the old lock,
and the second SET wipes the first one's change. Measured on this machine (tests/scale): with four
messages of one conversation released at once, half to each of two Rasa processes, 1 to 8 of 12 such
conversations per run lost a resident's message from the tracker (both processes handled the
conversation at the same time), silently; in an unsynchronised run two messages were still waiting for
a lock that a lost write had left behind when the client gave up after 120 s. Four threads
taking one conversation's lock five times each had two or three holders inside at once and lost 2–3
tickets (LockError) in every run (tests/scale/test_lock_store.py). Rasa's own fix
(``ConcurrentRedisLockStore``, RasaHQ/rasa#11256) was reverted (#11428); 3.6 ships only the unguarded one.

``AtomicRedisLockStore`` keeps Rasa's data format and algorithm (ticket numbers, lifetimes, the same
keys) and does each read-change-write in one optimistic Redis transaction (WATCH / MULTI / EXEC,
retried when another process changed the key meanwhile). Releasing a ticket and deleting the lock when
nobody waits is one transaction too, so a ticket issued in between can no longer be deleted with it.

endpoints.production.yml::

    lock_store:
      type: connectors.lock_store.AtomicRedisLockStore
      url: ${REDIS_HOST}
      port: ${REDIS_PORT}
      ...                   # the same keys as Rasa's `type: redis`
"""
from __future__ import annotations

import json
import logging
from typing import Any, Callable, Optional, Text, Tuple

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

log = logging.getLogger(__name__)

# A transaction is retried when another process changed the same conversation's lock in between; each
# retry means someone else made progress, so this bound is only a guard against a pathological storm.
MAX_RETRIES = 1000

# (result, lock to store or None to delete the key) from a change of the current lock (None: no lock).
Change = Callable[[Optional[TicketLock]], Tuple[Any, Optional[TicketLock]]]


class AtomicRedisLockStore(RedisLockStore):
    """``RedisLockStore`` with atomic lock updates (see the module docstring)."""

    def __init__(self, endpoint_config: Optional[EndpointConfig] = None, **kwargs: Any) -> None:
        # Rasa builds a lock store named by module path with ``cls(endpoint_config=…)``; the keys are
        # those of ``type: redis`` (url = host, port, db, username, password, use_ssl, key_prefix, …).
        if endpoint_config is not None:
            settings = dict(endpoint_config.kwargs)
            if endpoint_config.url:
                settings.setdefault("host", endpoint_config.url)
            settings.update(kwargs)
            kwargs = settings
        if not kwargs.get("username"):
            kwargs.pop("username", None)
        if not kwargs.get("password"):
            kwargs["password"] = None  # an empty REDIS_PASSWORD means no AUTH
        super().__init__(**kwargs)

    # ------------------------------------------------------------------ the one atomic primitive
    def _transact(self, conversation_id: Text, change: Change) -> Any:
        import redis

        key = self.key_prefix + conversation_id
        with self.red.pipeline(transaction=True) as pipe:
            for _ in range(MAX_RETRIES):
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    lock = TicketLock.from_dict(json.loads(raw)) if raw else None
                    result, new_lock = change(lock)
                    pipe.multi()
                    if new_lock is None:
                        if raw is not None:
                            pipe.delete(key)
                    else:
                        pipe.set(key, new_lock.dumps())
                    pipe.execute()
                    return result
                except redis.WatchError:
                    continue  # another process changed this lock meanwhile: read it again
                finally:
                    pipe.reset()
        raise LockError(f"Could not update the lock of conversation '{conversation_id}' "
                        f"after {MAX_RETRIES} attempts.")

    # ------------------------------------------------------------------ LockStore's read-change-writes
    def issue_ticket(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME) -> int:
        def change(lock: Optional[TicketLock]):
            lock = lock or self.create_lock(conversation_id)
            return lock.issue_ticket(lock_lifetime), lock

        try:
            return self._transact(conversation_id, change)
        except LockError:
            raise
        except Exception as e:
            raise LockError(f"Error while acquiring lock. Error:\n{e}")

    def update_lock(self, conversation_id: Text) -> None:
        def change(lock: Optional[TicketLock]):
            if lock is None:
                return None, None
            lock.remove_expired_tickets()
            return None, lock

        self._transact(conversation_id, change)

    def finish_serving(self, conversation_id: Text, ticket_number: int) -> None:
        def change(lock: Optional[TicketLock]):
            if lock is None:
                return None, None
            lock.remove_ticket_for(ticket_number)
            return None, lock

        self._transact(conversation_id, change)

    def cleanup(self, conversation_id: Text, ticket_number: int) -> None:
        """Release ``ticket_number``; delete the lock in the same transaction if nobody waits."""
        def change(lock: Optional[TicketLock]):
            if lock is None:
                return False, None
            lock.remove_ticket_for(ticket_number)
            if lock.is_someone_waiting():
                return False, lock
            return True, None

        deleted = self._transact(conversation_id, change)
        if deleted:
            self._log_deletion(conversation_id, deletion_successful=True)
