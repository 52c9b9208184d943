"""Retention: anonymise finished cases older than a given age.

Nothing is deleted (the case and its history stay for statistics and audit); what identifies or
describes the resident is removed or masked: phone, the resident's channel identity (replaced by a
pseudonym), location details below the compound, and phone / ID-card numbers and other long digit
strings in every free text of the case, its events and its notifications.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from dataclasses import dataclass, field
from typing import List, Optional

from sqlalchemy import select

from ..db import Database, utcnow
from ..privacy import mask_text, mask_value
from . import lifecycle
from .lifecycle import TERMINAL
from .models import Notification, Ticket

log = logging.getLogger(__name__)

_LONG_DIGITS = re.compile(r"[0-9\uff10-\uff19]{5,}")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_FIRST_DETAIL = re.compile(r"[0-9\uff10-\uff19#＃]")


def scrub_text(text: Optional[str]) -> Optional[str]:
    """Mask phone and ID numbers, e-mail addresses and any other run of five or more digits."""
    if not text:
        return text
    text = mask_text(text)
    text = _EMAIL.sub("***@***", text)
    return _LONG_DIGITS.sub(lambda m: "*" * len(m.group()), text)


def coarse_location(location: Optional[str]) -> Optional[str]:
    """Keep the place up to the first building / unit / room number: "幸福小区3号楼2单元301" → "幸福小区"."""
    if not location:
        return location
    cut = _FIRST_DETAIL.search(location)
    coarse = (location[:cut.start()] if cut else location).strip(" ,，、-")
    return mask_text(coarse) or None


def pseudonym(channel: str, sender_id: str) -> str:
    return "anon:" + hashlib.sha256(f"{channel}\x00{sender_id}".encode()).hexdigest()[:16]


@dataclass
class RetentionReport:
    anonymised: List[str] = field(default_factory=list)


def anonymise_finished(db: Database, older_than_days: int, now: Optional[dt.datetime] = None,
                       dry_run: bool = False, batch: int = 500) -> RetentionReport:
    """Anonymise closed, cancelled and duplicate cases that ended more than ``older_than_days`` ago."""
    if older_than_days < 0:
        raise ValueError("older_than_days must be zero or more")
    now = now or utcnow()
    cutoff = now - dt.timedelta(days=older_than_days)
    report = RetentionReport()
    with db.session(read_only=True) as s:
        ids = list(s.execute(select(Ticket.id).where(
            Ticket.state.in_(TERMINAL), Ticket.closed_at < cutoff, Ticket.anonymised_at.is_(None))
            .order_by(Ticket.id)).scalars())
    for start in range(0, len(ids), batch):
        with db.session() as s:
            for t in s.execute(select(Ticket).where(Ticket.id.in_(ids[start:start + batch]))).scalars():
                if t.anonymised_at is not None:
                    continue
                report.anonymised.append(t.number)
                if not dry_run:
                    _anonymise(s, t, older_than_days, now)
            if dry_run:
                s.rollback()
    if not dry_run:
        log.info("retention: anonymised %d cases finished before %s", len(report.anonymised), cutoff.isoformat())
    return report


def _anonymise(s, t: Ticket, days: int, now: dt.datetime) -> None:
    alias = pseudonym(t.channel, t.sender_id)
    for note in s.execute(select(Notification).where(Notification.ticket_id == t.id)).scalars():
        note.text = scrub_text(note.text)
        note.params = mask_value(dict(note.params or {}))
        if note.audience == "resident":
            note.recipient_id = alias
    for event in t.events:
        event.note = scrub_text(event.note)
    t.sender_id = alias
    t.phone = None
    t.location = coarse_location(t.location)
    t.description = scrub_text(t.description)
    t.rating_comment = scrub_text(t.rating_comment)
    t.resolution = scrub_text(t.resolution)
    t.anonymised_at = now
    lifecycle.record(s, t, "anonymised", actor="retention", at=now,
                     note=f"retention: finished more than {days} days ago; personal data removed")
