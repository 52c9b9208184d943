"""Deduplication of inbound deliveries: WeChat retries a message up to 3 times, Telegram re-sends an
update it thinks was lost. A platform's message id is recorded once, atomically, in the database, so
that every Rasa worker process agrees on "seen before"."""
from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import Column, String, delete
from sqlalchemy.exc import IntegrityError

from bot.db import Base, Database, UTCDateTime, get_database, utcnow


class InboundMessage(Base):
    __tablename__ = "inbound_messages"

    channel = Column(String(32), primary_key=True)
    message_key = Column(String(128), primary_key=True)
    received_at = Column(UTCDateTime, nullable=False, default=utcnow)


def first_delivery(channel: str, message_key: str, db: Optional[Database] = None) -> bool:
    """True the first time (channel, message_key) is seen; False for every repeat, in any process."""
    db = db or get_database()
    try:
        with db.session() as session:
            session.add(InboundMessage(channel=channel, message_key=str(message_key)[:128], received_at=utcnow()))
        return True
    except IntegrityError:
        return False


def forget_older_than(days: int, db: Optional[Database] = None) -> int:
    """Platforms retry within minutes; keys older than this are only clutter."""
    db = db or get_database()
    cutoff = utcnow() - dt.timedelta(days=days)
    with db.session() as session:
        return session.execute(delete(InboundMessage).where(InboundMessage.received_at < cutoff)).rowcount
