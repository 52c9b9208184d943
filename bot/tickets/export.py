"""Exports of cases for reports: personal data never leaves in clear (masked phone, pseudonymous
resident, phone / ID numbers masked in every text)."""
from __future__ import annotations

import csv
import datetime as dt
from typing import IO, Iterator, Optional

from sqlalchemy import select

from ..db import Database
from ..privacy import mask_text
from .models import Ticket
from .retention import pseudonym

COLUMNS = ("number", "created_at", "state", "intent", "category", "urgency", "unit_id", "level",
           "escalation_count", "due_at", "resolved_at", "closed_at", "rating", "resident", "phone",
           "location", "description", "resolution", "rating_comment")


def export_rows(db: Database, since: Optional[dt.datetime] = None) -> Iterator[dict]:
    with db.session(read_only=True) as s:
        q = select(Ticket).order_by(Ticket.id)
        if since is not None:
            q = q.where(Ticket.created_at >= since)
        for t in s.execute(q).scalars():
            yield {
                "number": t.number, "created_at": _iso(t.created_at), "state": t.state, "intent": t.intent,
                "category": t.category, "urgency": t.urgency, "unit_id": t.unit_id, "level": t.level,
                "escalation_count": t.escalation_count, "due_at": _iso(t.due_at),
                "resolved_at": _iso(t.resolved_at), "closed_at": _iso(t.closed_at), "rating": t.rating,
                "resident": t.sender_id if t.anonymised_at else pseudonym(t.channel, t.sender_id),
                "phone": mask_text(t.phone) if t.phone else "", "location": mask_text(t.location or ""),
                "description": mask_text(t.description), "resolution": mask_text(t.resolution or ""),
                "rating_comment": mask_text(t.rating_comment or ""),
            }


def write_csv(db: Database, out: IO[str], since: Optional[dt.datetime] = None) -> int:
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    n = 0
    for row in export_rows(db, since):
        writer.writerow(row)
        n += 1
    return n


def _iso(moment):
    return moment.isoformat() if moment else ""
