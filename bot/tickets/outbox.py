"""The notification outbox: the interface between the ticket core and the channels.

Services *enqueue* a Notification in the same transaction as the change that causes it, so a case is
never changed without its notice being recorded, nor a notice recorded for a change that rolled back.
A delivery worker (the channel layer: WeChat, Telegram, web chat) calls :func:`deliver_pending` with a
function that sends one notification; delivery is at-least-once:

* a row is *claimed* by pushing its ``next_attempt_at`` forward with a conditional UPDATE, so two
  workers never send the same row at the same time, and a worker that dies mid-send leaves a row
  that is retried when the claim lapses;
* the send happens outside any database transaction (no lock is held while a network call waits);
* failures are retried with exponential backoff; after ``max_attempts`` the row is ``undeliverable``,
  and so at once is a row whose sender raises :class:`Undeliverable` (unknown channel, blocked bot).
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Callable, List, Optional

from sqlalchemy import or_, select, update

from ..db import utcnow
from ..privacy import mask_text
from .models import NOTIFICATION_KINDS, Notification, Ticket
from .routing import Contact

log = logging.getLogger(__name__)

CLAIM_SECONDS = 120
BACKOFF_BASE_SECONDS = 30
MAX_ATTEMPTS = 6


class Undeliverable(Exception):
    """Raised by a sender when retrying cannot help."""


def notify_resident(session, ticket: Ticket, kind: str, text: str, params: dict,
                    at: Optional[dt.datetime] = None) -> Notification:
    return _enqueue(session, ticket, "resident", ticket.channel, ticket.sender_id, kind, ticket.language,
                    text, params, at)


def notify_staff(session, ticket: Ticket, contact: Contact, kind: str, text: str, params: dict,
                 at: Optional[dt.datetime] = None) -> Notification:
    return _enqueue(session, ticket, "staff", contact.channel, contact.id, kind, "zh", text, params, at)


def _enqueue(session, ticket, audience, channel, recipient, kind, language, text, params, at):
    if kind not in NOTIFICATION_KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    note = Notification(ticket=ticket, audience=audience, recipient_channel=channel, recipient_id=recipient,
                        kind=kind, language=language, text=text, params=params, status="pending",
                        attempts=0, created_at=at or utcnow())
    session.add(note)
    return note


@dataclass
class DeliveryReport:
    sent: List[int] = field(default_factory=list)
    failed: List[int] = field(default_factory=list)
    undeliverable: List[int] = field(default_factory=list)


def deliver_pending(db, send: Callable[[Notification], None], now: Optional[dt.datetime] = None,
                    limit: int = 100, max_attempts: int = MAX_ATTEMPTS,
                    channel: Optional[str] = None) -> DeliveryReport:
    """Send due notifications (optionally only those for ``channel``) through ``send``."""
    now = now or utcnow()
    report = DeliveryReport()
    with db.session(read_only=True) as s:
        query = select(Notification.id).where(_due(now)).order_by(Notification.id).limit(limit)
        if channel:
            query = query.where(Notification.recipient_channel == channel)
        ids = list(s.execute(query).scalars())
    for nid in ids:
        with db.session() as s:
            claimed = s.execute(
                update(Notification).where(Notification.id == nid, _due(now))
                .values(next_attempt_at=now + dt.timedelta(seconds=CLAIM_SECONDS),
                        attempts=Notification.attempts + 1)
                .execution_options(synchronize_session=False)
            ).rowcount
            note = s.get(Notification, nid) if claimed else None
            if note is not None:
                s.expunge(note)
        if note is None:
            continue  # another worker has it
        try:
            send(note)
        except Undeliverable as exc:
            _finish(db, nid, "undeliverable", str(exc), now)
            report.undeliverable.append(nid)
        except Exception as exc:  # transient: retry later
            final = note.attempts >= max_attempts
            _finish(db, nid, "undeliverable" if final else "failed", repr(exc), now,
                    retry_at=None if final else now + dt.timedelta(
                        seconds=BACKOFF_BASE_SECONDS * 2 ** (note.attempts - 1)))
            (report.undeliverable if final else report.failed).append(nid)
        else:
            _finish(db, nid, "sent", None, now)
            report.sent.append(nid)
    return report


def _due(now):
    return (Notification.status.in_(("pending", "failed"))) & or_(
        Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= now)


def _finish(db, nid, status, error, now, retry_at=None):
    with db.session() as s:
        note = s.get(Notification, nid)
        note.status = status
        note.last_error = mask_text(error)[:2000] if error else None
        note.next_attempt_at = retry_at
        if status == "sent":
            note.sent_at = now
    if status != "sent":
        log.warning("notification %s to %s: %s (%s)", nid, status, error, "will retry" if retry_at else "final")
