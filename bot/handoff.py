"""Handoffs: a resident's conversation taken over by staff.

The bot hands over when the resident asks for a person, when it failed to understand twice in a
row, when a message is urgent, and when a policy question had no answer and the resident accepted
staff. While a handoff is open the Rasa conversation is paused (the bot stays silent, every message
is still recorded); staff answer through the delivery service, then hand the conversation back to
the bot or close it. Plain Python over SQLAlchemy; the console and the actions both call it.
"""
from __future__ import annotations

import datetime as dt
from typing import List, Optional

from sqlalchemy import Boolean, Column, Index, Integer, String, Text, select

from bot.db import Base, Database, UTCDateTime, get_database, utcnow

REASONS = ("asked", "not_understood", "urgent", "policy_unanswered")
OPEN_STATES = ("waiting", "active")  # waiting for staff / a staff member has answered
STATES = OPEN_STATES + ("returned_to_bot", "closed")


class Handoff(Base):
    __tablename__ = "handoffs"

    id = Column(Integer, primary_key=True)
    channel = Column(String(32), nullable=False)
    sender_id = Column(String(191), nullable=False)
    language = Column(String(16), nullable=False, default="zh-Hans")
    reason = Column(String(32), nullable=False)
    urgent = Column(Boolean, nullable=False, default=False)
    state = Column(String(24), nullable=False, default="waiting")
    summary = Column(Text, nullable=True)  # the message that caused it, for the queue
    unit_id = Column(String(64), nullable=True)  # which unit's staff see it (routing unit id)
    assigned_to = Column(String(64), nullable=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)
    closed_at = Column(UTCDateTime, nullable=True)
    closed_by = Column(String(64), nullable=True)

    __table_args__ = (Index("ix_handoffs_resident_state", "channel", "sender_id", "state"),)


def open_handoff(channel: str, sender_id: str, reason: str, language: str = "zh-Hans", urgent: bool = False,
                 summary: Optional[str] = None, unit_id: Optional[str] = None,
                 db: Optional[Database] = None) -> Handoff:
    """The resident's open handoff, created if there is none (asking twice opens one, not two).
    An urgent message makes an open handoff urgent."""
    if reason not in REASONS:
        raise ValueError(f"reason must be one of {REASONS}")
    db = db or get_database()
    now = utcnow()
    with db.session() as s:
        current = _open(s, channel, sender_id)
        if current is None:
            current = Handoff(channel=channel, sender_id=sender_id, reason=reason, language=language,
                              urgent=urgent, summary=(summary or "")[:1000] or None, unit_id=unit_id,
                              state="waiting", created_at=now, updated_at=now)
            s.add(current)
        else:
            current.urgent = current.urgent or urgent
            current.updated_at = now
        s.flush()
        s.expunge(current)
        return current


def open_for(channel: str, sender_id: str, db: Optional[Database] = None) -> Optional[Handoff]:
    db = db or get_database()
    with db.session(read_only=True) as s:
        current = _open(s, channel, sender_id)
        if current is not None:
            s.expunge(current)
        return current


def queue(db: Optional[Database] = None, unit_ids: Optional[List[str]] = None) -> List[Handoff]:
    """Open handoffs, urgent first, then oldest first; `unit_ids` limits them to a staff scope."""
    db = db or get_database()
    with db.session(read_only=True) as s:
        query = select(Handoff).where(Handoff.state.in_(OPEN_STATES))
        if unit_ids is not None:
            query = query.where(Handoff.unit_id.in_(unit_ids))
        rows = list(s.execute(query.order_by(Handoff.urgent.desc(), Handoff.created_at, Handoff.id)).scalars())
        for row in rows:
            s.expunge(row)
        return rows


def get(handoff_id: int, db: Optional[Database] = None) -> Optional[Handoff]:
    db = db or get_database()
    with db.session(read_only=True) as s:
        row = s.get(Handoff, handoff_id)
        if row is not None:
            s.expunge(row)
        return row


def finish(handoff_id: int, actor: str, state: str, db: Optional[Database] = None) -> Handoff:
    """Close the handoff (`closed`) or give the conversation back to the bot (`returned_to_bot`)."""
    if state not in ("closed", "returned_to_bot"):
        raise ValueError("a handoff ends closed or returned_to_bot")
    db = db or get_database()
    with db.session() as s:
        row = s.get(Handoff, handoff_id)
        if row is None:
            raise LookupError(handoff_id)
        if row.state not in OPEN_STATES:
            raise ValueError(f"handoff {handoff_id} is already {row.state}")
        now = utcnow()
        row.state, row.closed_at, row.closed_by, row.updated_at = state, now, actor, now
        s.flush()
        s.expunge(row)
        return row


def mark_answered(handoff_id: int, actor: str, db: Optional[Database] = None) -> None:
    db = db or get_database()
    with db.session() as s:
        row = s.get(Handoff, handoff_id)
        if row is not None and row.state in OPEN_STATES:
            row.state, row.assigned_to, row.updated_at = "active", row.assigned_to or actor, utcnow()


def _open(s, channel: str, sender_id: str) -> Optional[Handoff]:
    return s.execute(
        select(Handoff).where(Handoff.channel == channel, Handoff.sender_id == sender_id,
                              Handoff.state.in_(OPEN_STATES)).order_by(Handoff.id.desc()).limit(1)
    ).scalar_one_or_none()


def waited(handoff: Handoff, now: Optional[dt.datetime] = None) -> dt.timedelta:
    return (now or utcnow()) - handoff.created_at


def reply(handoff_id: int, actor: str, text: str, db: Optional[Database] = None) -> int:
    """Queue a staff member's message to the resident (the delivery service sends it through the
    resident's own channel and records the outcome). Returns the notification id."""
    from bot.tickets.models import Notification

    text = (text or "").strip()
    if not text:
        raise ValueError("an empty reply")
    db = db or get_database()
    with db.session() as s:
        row = s.get(Handoff, handoff_id)
        if row is None:
            raise LookupError(handoff_id)
        now = utcnow()
        note = Notification(ticket=None, audience="resident", recipient_channel=row.channel,
                            recipient_id=row.sender_id, kind="staff_reply", language=row.language,
                            text=text[:4000], params={"handoff_id": handoff_id, "staff": actor},
                            status="pending", attempts=0, created_at=now)
        s.add(note)
        if row.state in OPEN_STATES:
            row.state, row.assigned_to, row.updated_at = "active", row.assigned_to or actor, now
        s.flush()
        return note.id
