"""The escalation job: one rung per run, audit + notifications, concurrency, catch-up, CLI."""
import datetime as dt
import threading

import pytest
from sqlalchemy import select

from bot.tickets import escalation
from bot.tickets.__main__ import main as cli_main, run_loop
from bot.tickets.escalation import run_escalation
from bot.tickets.models import Notification, Ticket

from .conftest import open_complaint, shanghai


def _ticket(db, number):
    with db.session(read_only=True) as s:
        return s.execute(select(Ticket).where(Ticket.number == number)).scalar_one()


def _notes(db, kind):
    with db.session(read_only=True) as s:
        return list(s.execute(select(Notification).where(Notification.kind == kind)
                              .order_by(Notification.id)).scalars())


def test_nothing_moves_before_the_limit(svc, db, routing, clock):
    open_complaint(svc)
    report = run_escalation(db, routing, shanghai(2026, 11, 25, 9, 59))  # sign limit: Wed 10:00
    assert report.escalated == [] and report.at_top == []


def test_unsigned_case_moves_one_rung_with_reason_and_notices(svc, db, routing):
    r = open_complaint(svc)
    now = shanghai(2026, 11, 25, 10, 1)
    report = run_escalation(db, routing, now)
    assert report.escalated == [(r.number, "grid", "committee", "sign_overdue")]
    t = _ticket(db, r.number)
    assert (t.state, t.unit_id, t.level, t.escalation_count) == ("assigned", "committee", "committee", 1)
    # the committee gets full limits from now: sign by Thu 10:01, answer in 5 working days
    assert t.sign_due_at == shanghai(2026, 11, 26, 10, 1) and t.due_at == shanghai(2026, 12, 2, 10, 1)
    last = svc.history(r.number)[-1]
    assert (last.action, last.actor, last.from_state, last.to_state) == ("escalate", "escalation", "assigned", "assigned")
    assert "超过签收时限未签收" in last.note and "grid" in last.note and "committee" in last.note
    staff = [n for n in _notes(db, "escalated") if n.audience == "staff"]
    resident = [n for n in _notes(db, "escalated") if n.audience == "resident"]
    assert [n.recipient_id for n in staff] == ["duty:committee"] and "升级至社区居委会" in staff[0].text
    assert [(n.recipient_channel, n.recipient_id) for n in resident] == [("rest", "alice")]


def test_signed_but_unresolved_case_escalates(svc, db, routing):
    r = open_complaint(svc)
    svc.sign(r.number, "unit:grid")
    assert run_escalation(db, routing, shanghai(2026, 11, 30, 10)).escalated == []  # signed, not late yet
    report = run_escalation(db, routing, shanghai(2026, 12, 1, 10, 1))
    assert report.escalated == [(r.number, "grid", "committee", "resolve_overdue")]
    assert _ticket(db, r.number).state == "assigned"  # the committee must sign for it


def test_finished_cases_are_left_alone(svc, db, routing):
    r = open_complaint(svc)
    svc.sign(r.number, "unit:grid")
    svc.resolve(r.number, "unit:grid", "已处理")
    c = open_complaint(svc, sender="bob")
    svc.cancel(c.number, "resident", channel="rest", sender_id="bob")
    assert run_escalation(db, routing, shanghai(2027, 6, 1, 10)).escalated == []


def test_catch_up_after_downtime_is_one_rung_per_run(svc, db, routing):
    """Down for weeks: the case was late for every rung, but moves one per run, each rung getting its
    full limits from the moment it is told."""
    r = open_complaint(svc)
    late = shanghai(2026, 12, 20, 10)  # a Sunday, weeks later
    assert run_escalation(db, routing, late).escalated == [(r.number, "grid", "committee", "sign_overdue")]
    assert run_escalation(db, routing, late).escalated == []  # a second run right after: nothing more
    ladder = ["committee", "street", "police"]
    moment = late
    for frm, to in zip(ladder, ladder[1:]):
        moment = _ticket(db, r.number).sign_due_at
        report = run_escalation(db, routing, moment + dt.timedelta(minutes=1))
        assert report.escalated == [(r.number, frm, to, "sign_overdue")]
    t = _ticket(db, r.number)
    assert (t.unit_id, t.escalation_count) == ("police", 3)
    # at the top: the supervisor is told, once per limit, and the case stays with the department
    due = t.sign_due_at
    report = run_escalation(db, routing, due + dt.timedelta(minutes=1))
    assert report.at_top == [(r.number, "police", "sign_overdue")] and report.escalated == []
    assert run_escalation(db, routing, due + dt.timedelta(minutes=2)).at_top == []
    supervised = _notes(db, "overdue_at_top")
    assert [n.recipient_id for n in supervised] == ["duty:district-supervision"]
    assert _ticket(db, r.number).unit_id == "police"
    assert [e.action for e in svc.history(r.number)].count("escalate") == 3


def test_every_overdue_case_is_handled_in_one_run(svc, db, routing):
    numbers = [open_complaint(svc, sender=f"r{i}").number for i in range(7)]
    urgent = open_complaint(svc, sender="u", category="fire_safety", urgency="urgent", description="有烟")
    report = run_escalation(db, routing, shanghai(2026, 11, 30, 10), batch=3)  # batches smaller than the backlog
    moved = [n for n, *_ in report.escalated]
    assert sorted(moved) == sorted(numbers + [urgent.number])
    assert moved[0] == urgent.number  # highest priority first


def test_urgent_case_escalates_within_hours(svc, db, routing):
    r = open_complaint(svc, category="fire_safety", urgency="urgent", description="楼道冒烟")
    assert run_escalation(db, routing, shanghai(2026, 11, 24, 10, 59)).escalated == []
    report = run_escalation(db, routing, shanghai(2026, 11, 24, 11, 1))
    assert report.escalated == [(r.number, "committee", "street", "sign_overdue")]
    assert _ticket(db, r.number).sign_due_at == shanghai(2026, 11, 24, 12, 1)


@pytest.mark.parametrize("runners", [2, 3])
def test_concurrent_runs_escalate_each_case_once(svc, db, routing, runners):
    numbers = [open_complaint(svc, sender=f"r{i}").number for i in range(10)]
    now = shanghai(2026, 11, 25, 11)
    barrier = threading.Barrier(runners)
    reports, errors = [], []

    def run():
        try:
            barrier.wait()
            reports.append(run_escalation(db, routing, now))
        except Exception as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(runners)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    moved = [e[0] for rep in reports for e in rep.escalated]
    assert sorted(moved) == sorted(numbers)  # each exactly once, across the runners
    for n in numbers:
        t = _ticket(db, n)
        assert (t.unit_id, t.escalation_count) == ("committee", 1)
        assert [e.action for e in svc.history(n)].count("escalate") == 1
    assert len([x for x in _notes(db, "escalated") if x.audience == "staff"]) == 10


def test_a_stale_decision_is_refused_by_the_version_check(svc, db, routing):
    """Even if the fresh re-check were skipped, the versioned UPDATE stops a second escalation."""
    r = open_complaint(svc)
    now = shanghai(2026, 11, 25, 11)
    # The first runner escalates while the second is between its read and its write.
    with db.session() as s:
        stale = s.execute(select(Ticket).where(Ticket.number == r.number)).scalar_one()
        stale_version = stale.version
    run_escalation(db, routing, now)
    from sqlalchemy import update
    with db.session() as s:
        result = s.execute(update(Ticket).where(Ticket.id == stale.id, Ticket.version == stale_version)
                           .values(unit_id="street"))
        assert result.rowcount == 0
    assert _ticket(db, r.number).unit_id == "committee"


def test_cli_once_and_loop(db, routing, svc, monkeypatch, capsys):
    open_complaint(svc)
    monkeypatch.setattr(escalation, "utcnow", lambda: shanghai(2026, 11, 26, 12))
    assert cli_main(["--url", db.url, "--city", "default", "escalate", "--once"]) == 0
    assert "escalated 1" in capsys.readouterr().out
    stop = threading.Event()
    assert run_loop(db, routing, 0.01, stop, max_runs=3) == 3
    stop.set()
    assert run_loop(db, routing, 0.01, stop) == 0


def test_the_job_forgets_channel_message_ids_after_a_week(db, routing):
    from bot.db import utcnow
    from bot.inbound import InboundMessage
    from bot.tickets.__main__ import tick

    with db.session() as s:
        s.add(InboundMessage(channel="wechat", message_key="old", received_at=utcnow() - dt.timedelta(days=8)))
        s.add(InboundMessage(channel="wechat", message_key="new", received_at=utcnow() - dt.timedelta(days=1)))
    assert "forgot 1 old inbound ids" in tick(db, routing)
    with db.session(read_only=True) as s:
        assert [m.message_key for m in s.execute(select(InboundMessage)).scalars()] == ["new"]
