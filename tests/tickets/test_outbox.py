"""The notification outbox: delivery, retries, permanent failures, no double sending."""
import threading

from sqlalchemy import select

from bot.tickets.models import Notification
from bot.tickets.outbox import MAX_ATTEMPTS, Undeliverable, deliver_pending

from .conftest import open_complaint, shanghai


def _all(db):
    with db.session(read_only=True) as s:
        return list(s.execute(select(Notification).order_by(Notification.id)).scalars())


def test_sent_failed_retried_undeliverable(svc, db):
    open_complaint(svc)  # one staff notice
    r = open_complaint(svc, sender="bob", category="property", description="电梯坏了")
    svc.sign(r.number, "unit:committee")  # one resident notice
    now = shanghai(2026, 11, 24, 12)
    sent = []

    def send(note):
        if note.recipient_channel == "rest":
            raise ConnectionError("channel down")
        sent.append((note.recipient_id, note.kind, note.text))

    report = deliver_pending(db, send, now=now)
    assert len(report.sent) == 2 and len(report.failed) == 1
    assert {k for _, k, _ in sent} == {"assigned"}
    failed = [n for n in _all(db) if n.status == "failed"][0]
    assert failed.attempts == 1 and "channel down" in failed.last_error and failed.next_attempt_at is not None
    # not due again before its backoff; due after
    assert deliver_pending(db, send, now=now).failed == []
    later = failed.next_attempt_at
    for _ in range(MAX_ATTEMPTS - 1):
        deliver_pending(db, send, now=later)
        later = [n for n in _all(db) if n.id == failed.id][0].next_attempt_at or later
    final = [n for n in _all(db) if n.id == failed.id][0]
    assert final.status == "undeliverable" and final.attempts == MAX_ATTEMPTS
    assert deliver_pending(db, send, now=later).sent == []  # nothing left


def test_permanent_failure_and_channel_filter(svc, db):
    r = open_complaint(svc)
    svc.sign(r.number, "unit:grid")
    now = shanghai(2026, 11, 24, 12)

    def send(note):
        raise Undeliverable("resident blocked the bot")

    report = deliver_pending(db, send, now=now, channel="rest")
    assert len(report.undeliverable) == 1
    statuses = {(n.recipient_channel, n.status) for n in _all(db)}
    assert statuses == {("rest", "undeliverable"), ("console", "pending")}


def test_two_workers_never_send_the_same_notice(svc, db):
    for i in range(6):
        open_complaint(svc, sender=f"r{i}")
    now = shanghai(2026, 11, 24, 12)
    sent, lock = [], threading.Lock()
    barrier = threading.Barrier(2)

    def send(note):
        with lock:
            sent.append(note.id)

    def worker():
        barrier.wait()
        deliver_pending(db, send, now=now)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(sent) == sorted(set(sent)) and len(sent) == 6
    assert all(n.status == "sent" and n.sent_at is not None for n in _all(db))
