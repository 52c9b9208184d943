"""connectors.lock_store.AtomicRedisLockStore on the real Redis: one conversation, many lock holders at once
(each thread its own store and connection, as separate Rasa processes would be) — never two inside."""
from __future__ import annotations

import asyncio
import itertools
import threading
import time

import pytest

from connectors.lock_store import AtomicRedisLockStore

_prefixes = itertools.count()


def contend(store_class, redis_info, threads: int, rounds: int):
    """Each thread enters the lock of one conversation ``rounds`` times; (most holders at once,
    entries completed, errors, keys left)."""
    prefix = f"{redis_info['prefix']}lt{next(_prefixes)}"
    inside = peak = done = 0
    errors = []
    guard = threading.Lock()

    def worker():
        store = store_class(host=redis_info["host"], port=redis_info["port"], db=redis_info["db"],
                            password=redis_info["password"] or None, key_prefix=prefix)

        async def enter():
            nonlocal inside, peak, done
            async with store.lock("c1", lock_lifetime=5, wait_time_in_seconds=0.002):
                with guard:
                    inside += 1
                    peak = max(peak, inside)
                time.sleep(0.001)  # hold it while the others try
                with guard:
                    inside -= 1
                    done += 1

        async def run():
            for _ in range(rounds):
                try:
                    await asyncio.wait_for(enter(), 5)
                except Exception as exc:  # LockError, or a lost ticket waiting for ever
                    errors.append(type(exc).__name__)

        asyncio.run(run())

    workers = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=rounds * 12)
    left = list(redis_info["client"].scan_iter(match=f"{prefix}:*"))
    return peak, done, errors, left


def test_one_holder_at_a_time_and_nothing_left(scale_redis):
    peak, done, errors, left = contend(AtomicRedisLockStore, scale_redis, threads=8, rounds=15)
    assert (peak, done, errors, left) == (1, 120, [], [])


def test_settings_from_the_endpoint_file(scale_redis):
    from rasa.core.lock_store import LockStore
    from rasa.utils.endpoints import EndpointConfig

    # As Rasa builds it from endpoints.production.yml: strings from ${VAR}, an empty password.
    config = EndpointConfig(url=scale_redis["host"], type="connectors.lock_store.AtomicRedisLockStore",
                            port=str(scale_redis["port"]), db=str(scale_redis["db"]),
                            password=scale_redis["password"], key_prefix=f"{scale_redis['prefix']}cfg")
    store = LockStore.create(config)
    assert isinstance(store, AtomicRedisLockStore)
    assert store.key_prefix == f"{scale_redis['prefix']}cfg:lock:"
    assert store.issue_ticket("c2") == 0 and store.issue_ticket("c2") == 1
    store.cleanup("c2", 0)
    assert store.get_lock("c2").tickets[0].number == 1  # still waiting: the lock stays
    store.cleanup("c2", 1)
    assert store.get_lock("c2") is None


@pytest.mark.xfail(strict=False, reason="Rasa 3.6's RedisLockStore updates its locks with unguarded "
                                        "GET/SET: two holders at once, lost tickets (why connectors/lock_store.py exists)")
def test_rasas_own_redis_lock_store_is_not_safe_across_processes(scale_redis):
    from rasa.core.lock_store import RedisLockStore

    peak, done, errors, left = contend(RedisLockStore, scale_redis, threads=4, rounds=5)
    assert (peak, done, errors) == (1, 20, [])
