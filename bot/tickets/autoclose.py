"""Closes resolved cases the resident never rated, after the city's ``rating.auto_close_after``.

Without this a resolved case would wait for a rating forever and never reach retention.
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import List, Optional

from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from ..db import Database, utcnow
from . import lifecycle
from .lifecycle import RESOLVED
from .models import Ticket
from .routing import RoutingTable

log = logging.getLogger(__name__)


def run_autoclose(db: Database, routing: RoutingTable, now: Optional[dt.datetime] = None) -> List[str]:
    limit = routing.auto_close_after
    if limit is None:
        return []
    now = now or utcnow()
    cal = routing.calendar()
    with db.session(read_only=True) as s:
        rows = s.execute(select(Ticket.id, Ticket.resolved_at)
                         .where(Ticket.state == RESOLVED, Ticket.resolved_at < now)).all()
    closed = []
    for tid, resolved_at in rows:
        if cal.add(resolved_at, limit) > now:
            continue
        try:
            with db.session() as s:
                t = s.get(Ticket, tid)
                if t.state != RESOLVED or t.resolved_at != resolved_at:
                    continue  # rated or reopened meanwhile
                lifecycle.transition(s, t, "close", actor="system", at=now,
                                     note=f"not rated within {limit.describe('en')}")
                t.closed_at = now
                closed.append(t.number)
        except StaleDataError:
            continue
    return closed
