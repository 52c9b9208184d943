"""SQLAlchemy models of the ticket core. The schema itself is owned by the Alembic migrations in
``bot/migrations/versions``; a test checks that these models and the migrations agree."""
from __future__ import annotations

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, String, Text, event
from sqlalchemy.orm import Session, relationship, validates

from ..db import Base, UTCDateTime, utcnow
from . import lifecycle
from .errors import IllegalTransition

PRIORITY_URGENT = 1  # lower number = handled first
PRIORITY_NORMAL = 3

URGENCY_URGENT = "urgent"
URGENCY_NORMAL = "normal"

NOTIFICATION_KINDS = frozenset(
    {"status_changed", "resolved", "rating_request", "escalated", "urgent_alert", "assigned", "reopened", "staff_reply",
     "returned", "overdue_at_top", "filed_later", "urged"}
)
NOTIFICATION_STATUSES = frozenset({"pending", "sent", "failed", "undeliverable"})


class Ticket(Base):
    __tablename__ = "tickets"

    id = Column(Integer, primary_key=True)
    number = Column(String(24), nullable=False, unique=True)  # GD20261124-0007: no personal data
    # The resident's channel identity: the only key that lets someone see their own ticket.
    channel = Column(String(32), nullable=False)
    sender_id = Column(String(191), nullable=False)
    language = Column(String(16), nullable=False, default="zh")
    intent = Column(String(32), nullable=False)
    category = Column(String(48), nullable=False)
    urgency = Column(String(16), nullable=False, default=URGENCY_NORMAL)
    description = Column(Text, nullable=False)
    location = Column(Text, nullable=True)
    phone = Column(String(32), nullable=True)  # personal data: masked in logs/exports, erased by retention
    state = Column(String(16), nullable=False)
    unit_id = Column(String(64), nullable=True)  # the unit currently handling it
    level = Column(String(16), nullable=True)  # that unit's rung on the ladder
    first_unit_id = Column(String(64), nullable=True)  # where routing sent it (the ladder starts here)
    escalation_count = Column(Integer, nullable=False, default=0)
    priority = Column(Integer, nullable=False, default=PRIORITY_NORMAL)
    sign_due_at = Column(UTCDateTime, nullable=True)  # the unit must sign (签收) by then
    due_at = Column(UTCDateTime, nullable=True)  # and answer by then
    signed_at = Column(UTCDateTime, nullable=True)
    resolved_at = Column(UTCDateTime, nullable=True)
    closed_at = Column(UTCDateTime, nullable=True)
    resolution = Column(Text, nullable=True)  # the answer given to the resident
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)
    # The channel's message id (or another delivery key): a retried delivery finds its ticket here.
    idempotency_key = Column(String(191), nullable=True, unique=True)
    duplicate_of = Column(Integer, ForeignKey("tickets.id"), nullable=True)
    rating = Column(Integer, nullable=True)
    rating_comment = Column(Text, nullable=True)
    rated_at = Column(UTCDateTime, nullable=True)
    anonymised_at = Column(UTCDateTime, nullable=True)
    # Optimistic lock: every UPDATE is "... WHERE version = :seen", so two writers can never both
    # apply a change they decided on from the same snapshot (e.g. two escalation runs).
    version = Column(Integer, nullable=False)

    events = relationship("TicketEvent", back_populates="ticket", order_by="TicketEvent.id",
                          passive_deletes="all")
    original = relationship("Ticket", remote_side=[id], uselist=False)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        Index("ix_tickets_owner", "channel", "sender_id", "created_at"),
        Index("ix_tickets_state_sign_due", "state", "sign_due_at"),
        Index("ix_tickets_state_due", "state", "due_at"),
        Index("ix_tickets_duplicate_of", "duplicate_of"),
    )

    @validates("state")
    def _check_state(self, _key, value):
        if value not in lifecycle.STATES:
            raise ValueError(f"unknown ticket state {value!r}")
        # The initial state is set on construction; every later change goes through lifecycle.
        if self.state is not None and not lifecycle.in_transition():
            raise IllegalTransition(self.state, f"set state to {value}", "use lifecycle.transition()")
        return value

    @property
    def is_urgent(self) -> bool:
        return self.urgency == URGENCY_URGENT

    def __repr__(self) -> str:
        return f"<Ticket {self.number} {self.state} unit={self.unit_id}>"


class TicketEvent(Base):
    """The audit trail: who did what, when, from which state to which. Never updated except by
    retention (which masks personal data in the note), never deleted."""

    __tablename__ = "ticket_events"

    id = Column(Integer, primary_key=True)
    ticket_id = Column(Integer, ForeignKey("tickets.id", ondelete="RESTRICT"), nullable=False, index=True)
    actor = Column(String(191), nullable=False)  # "resident", "system", "escalation", "unit:<id>", a staff login
    at = Column(UTCDateTime, nullable=False, default=utcnow)
    from_state = Column(String(16), nullable=True)
    to_state = Column(String(16), nullable=True)
    action = Column(String(32), nullable=False)
    note = Column(Text, nullable=True)

    ticket = relationship("Ticket", back_populates="events")

    def __repr__(self) -> str:
        return f"<TicketEvent {self.action} {self.from_state}->{self.to_state} by {self.actor}>"


class Notification(Base):
    """Outbox of messages to residents and staff. Written in the same transaction as the change that
    causes it; a delivery worker (the channel layer) sends pending rows and records the outcome."""

    __tablename__ = "notifications"

    id = Column(Integer, primary_key=True)
    ticket_id = Column(Integer, ForeignKey("tickets.id", ondelete="RESTRICT"), nullable=True, index=True)
    audience = Column(String(16), nullable=False)  # resident | staff
    recipient_channel = Column(String(32), nullable=False)
    recipient_id = Column(String(191), nullable=False)
    kind = Column(String(32), nullable=False)
    language = Column(String(16), nullable=False, default="zh")
    text = Column(Text, nullable=False)  # rendered in the recipient's language
    params = Column(JSON, nullable=False, default=dict)  # what the text was rendered from
    status = Column(String(16), nullable=False, default="pending")
    attempts = Column(Integer, nullable=False, default=0)
    last_error = Column(Text, nullable=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    next_attempt_at = Column(UTCDateTime, nullable=True)
    sent_at = Column(UTCDateTime, nullable=True)

    ticket = relationship("Ticket")

    __table_args__ = (Index("ix_notifications_status_next", "status", "next_attempt_at"),)


class TicketCounter(Base):
    """Last sequence number handed out per day (Asia/Shanghai), for GDyyyymmdd-NNNN numbers."""

    __tablename__ = "ticket_counters"

    day = Column(String(8), primary_key=True)  # yyyymmdd
    last_seq = Column(Integer, nullable=False)


@event.listens_for(Session, "before_flush")
def _never_delete_records(session, _flush_context, _instances):
    # "Nothing is ever deleted": tickets and their history are kept; retention anonymises instead.
    for obj in session.deleted:
        if isinstance(obj, (Ticket, TicketEvent)):
            raise PermissionError(f"{type(obj).__name__} records are never deleted")
