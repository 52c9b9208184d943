"""The escalation job: cases past their time limit move one rung up the ladder.

A case is overdue when its unit has not signed for it by ``sign_due_at`` or not resolved it by
``due_at``. It then goes to the next unit (grid → residents' committee → street office → the
category's department) with an audit event saying why, the new unit's on-duty staff and the resident
are notified, and the new unit gets the full time limits from that moment. A case late at the top of
the ladder is reported to the city's supervisor contact, once per time limit.

Catch-up after downtime: **one level per run**. However long the job was down, an overdue case moves
exactly one level on the next run, because the next unit only learns of the case now and is owed its
full time; if that unit is late too, a later run moves the case again. Every overdue case is handled
in the same run (in batches), so nothing waits behind a backlog.

Safe to run twice at once: each case is changed in its own transaction that re-checks "still overdue"
on fresh data (PostgreSQL: ``SELECT … FOR UPDATE SKIP LOCKED``; SQLite: the write lock of
``BEGIN IMMEDIATE``), and the UPDATE itself is conditional on the ticket's version column.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import List, Optional, Set, Tuple

from sqlalchemy import and_, or_, select
from sqlalchemy.orm.exc import StaleDataError

from ..db import Database, utcnow
from . import lifecycle, notices, texts
from .lifecycle import ACTIVE, UNSIGNED
from .models import Ticket
from .routing import RoutingTable

log = logging.getLogger(__name__)

ACTOR = "escalation"


@dataclass
class EscalationReport:
    escalated: List[Tuple[str, str, str, str]] = field(default_factory=list)  # number, from, to, reason
    at_top: List[Tuple[str, str, str]] = field(default_factory=list)  # number, unit, reason

    def summary(self) -> str:
        return f"escalated {len(self.escalated)}, reported at top of ladder {len(self.at_top)}"


def overdue_clause(now: dt.datetime):
    return or_(and_(Ticket.state.in_(UNSIGNED), Ticket.sign_due_at < now),
               and_(Ticket.state.in_(ACTIVE), Ticket.due_at < now))


def run_escalation(db: Database, routing: RoutingTable, now: Optional[dt.datetime] = None,
                   batch: int = 200) -> EscalationReport:
    """One pass over every overdue case."""
    now = now or utcnow()
    report = EscalationReport()
    seen: Set[int] = set()
    while True:
        with db.session(read_only=True) as s:
            query = select(Ticket.id).where(overdue_clause(now))
            if seen:
                query = query.where(Ticket.id.notin_(seen))
            ids = list(s.execute(query.order_by(Ticket.priority, Ticket.id).limit(batch)).scalars())
        if not ids:
            return report
        for tid in ids:
            seen.add(tid)
            _escalate_one(db, routing, tid, now, report)


def _escalate_one(db: Database, routing: RoutingTable, tid: int, now: dt.datetime,
                  report: EscalationReport) -> None:
    cal = routing.calendar()
    try:
        with db.session() as s:
            query = select(Ticket).where(Ticket.id == tid, overdue_clause(now))
            if db.dialect == "postgresql":
                query = query.with_for_update(skip_locked=True)
            t = s.execute(query).scalar_one_or_none()
            if t is None:
                return  # handled meanwhile by another run, or that run holds it right now
            reason = "sign_overdue" if t.state in UNSIGNED and t.sign_due_at and t.sign_due_at < now \
                else "resolve_overdue"
            deadline = t.sign_due_at if reason == "sign_overdue" else t.due_at
            limits = routing.limits_for_case(t.category, t.intent, t.is_urgent)
            current = routing.unit(t.unit_id)
            nxt = routing.next_unit(t.unit_id, t.category)
            why = f"{texts.reason(reason)}（时限 {texts.format_time(deadline)}）"
            if nxt is None:
                # Nobody above: tell the supervisor, and restart the clock so that this is said once
                # per time limit, not on every run.
                lifecycle.record(s, t, "overdue_at_top", actor=ACTOR, at=now,
                                 note=f"{why}，{t.unit_id} 已是最高一级，报督办")
                if reason == "sign_overdue":
                    t.sign_due_at = cal.add(now, limits.sign)
                else:
                    t.due_at = cal.add(now, limits.resolve)
                t.updated_at = now
                if routing.supervisor:
                    notices.overdue_at_top(s, t, routing.supervisor, current, reason, now)
                report.at_top.append((t.number, t.unit_id or "", reason))
                return
            lifecycle.transition(s, t, "escalate", actor=ACTOR, at=now,
                                 note=f"{why}，由 {t.unit_id} 升级至 {nxt.id}")
            t.escalation_count = (t.escalation_count or 0) + 1
            t.unit_id, t.level = nxt.id, nxt.level
            t.sign_due_at = cal.add(now, limits.sign)
            t.due_at = cal.add(now, limits.resolve)
            notices.escalated(s, t, current, nxt, reason, now)
            report.escalated.append((t.number, current.id if current else "", nxt.id, reason))
            log.info("ticket %s escalated %s -> %s (%s)", t.number, current.id if current else "-", nxt.id, reason)
    except StaleDataError:
        log.info("ticket id %s changed by another writer during escalation; left to it", tid)
