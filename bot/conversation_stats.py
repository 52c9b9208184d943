"""What the bot's front door did, for the dashboard: residents who wrote, their messages per day and
channel, what they wanted (intent), how often the bot did not understand, and how many policy
questions it could not answer.

The facts come from Rasa's tracker events, published on the event broker (RabbitMQ) by every Rasa
process and read by ``python -m bot.events`` — one place for all processes, no scans of the
conversation store. Only counts and labels are kept: no message text, and the resident's id only as
a keyed hash (``STATS_KEY``), enough to count distinct residents. Each fact carries a key made from the
event itself, so an event delivered twice (the broker redelivers what was not acknowledged) is
counted once.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
from collections import Counter
from dataclasses import dataclass
from typing import Any, Dict, Iterable, Optional

from sqlalchemy import Column, Index, Integer, String, delete, func, select

from bot.db import Base, Database, UTCDateTime, utcnow
from bot.tickets.workcalendar import SHANGHAI

MESSAGE, SESSION, CONSULTATION, UNANSWERED = "message", "session", "consultation", "unanswered"
FALLBACK_INTENT = "nlu_fallback"
CONSULTATION_ACTION = "action_consultation"
# Set by action_consultation (to the question) when it found no answer and offered staff instead.
UNANSWERED_SLOT = "handoff_offered"
RETENTION_DAYS = 400  # STATS_RETENTION_DAYS; counts for a year's comparison, nothing older

INTENT_GROUPS = {
    "complaint": "投诉", "service_request": "服务请求", "consultation": "咨询",
    "check_ticket_status": "查询工单", "request_human": "要求人工", FALLBACK_INTENT: "未听懂",
}
OTHER_GROUP = "寒暄及其他"


class ConversationFact(Base):
    __tablename__ = "conversation_facts"

    id = Column(Integer, primary_key=True)
    event_key = Column(String(40), nullable=False, unique=True)
    occurred_at = Column(UTCDateTime, nullable=False)
    day = Column(String(10), nullable=False)  # Asia/Shanghai date of the event, YYYY-MM-DD
    sender_key = Column(String(32), nullable=False)
    channel = Column(String(32), nullable=False)
    kind = Column(String(16), nullable=False)
    intent = Column(String(64), nullable=True)

    __table_args__ = (Index("ix_conversation_facts_day_kind", "day", "kind"),)


@dataclass(frozen=True)
class Fact:
    event_key: str
    occurred_at: dt.datetime
    sender_key: str
    channel: str
    kind: str
    intent: Optional[str] = None

    @property
    def day(self) -> str:
        return self.occurred_at.astimezone(SHANGHAI).date().isoformat()


def stats_key() -> bytes:
    """The key of the residents' hashes: STATS_KEY, generated into .env when missing. Every consumer
    of one deployment needs the same key (else one resident counts once per key)."""
    from bot.settings import ensure_secret

    return ensure_secret("STATS_KEY", 32).encode()


def _digest(key: bytes, *parts: Any, size: int) -> str:
    text = "\x1f".join("" if p is None else str(p) for p in parts)
    return hmac.new(key, text.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:size]


def sender_key(sender: str, key: bytes) -> str:
    """The resident's id as kept here: a keyed hash, the same for every event of that resident."""
    return _digest(key, "sender", sender, size=32)


def fact_from_event(event: Dict[str, Any], key: bytes) -> Optional[Fact]:
    """The fact a published Rasa event stands for (``{"sender_id": …, **event.as_dict()}``), or None
    for the events that count for nothing here (bot utterances, other actions and slots, …)."""
    if not isinstance(event, dict):
        return None
    sender, kind_of_event, stamp = event.get("sender_id"), event.get("event"), event.get("timestamp")
    if not isinstance(sender, str) or not sender or not isinstance(stamp, (int, float)):
        return None
    intent = None
    if kind_of_event == "user":
        # A message without text is not the resident's (intents triggered through Rasa's API).
        if event.get("text") is None:
            return None
        kind = MESSAGE
        parse = event.get("parse_data") if isinstance(event.get("parse_data"), dict) else {}
        name = (parse.get("intent") or {}).get("name") if isinstance(parse.get("intent"), dict) else None
        intent = str(name)[:64] if name else FALLBACK_INTENT
    elif kind_of_event == "session_started":
        kind = SESSION
    elif kind_of_event == "action" and event.get("name") == CONSULTATION_ACTION:
        kind = CONSULTATION
    elif kind_of_event == "slot" and event.get("name") == UNANSWERED_SLOT and event.get("value"):
        kind = UNANSWERED
    else:
        return None
    try:
        occurred = dt.datetime.fromtimestamp(float(stamp), dt.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None
    channel = event.get("input_channel") if isinstance(event.get("input_channel"), str) else None
    return Fact(event_key=_digest(key, sender, kind_of_event, repr(float(stamp)), event.get("name"), size=40),
                occurred_at=occurred, sender_key=sender_key(sender, key), channel=(channel or "")[:32], kind=kind,
                intent=intent)


def record(db: Database, facts: Iterable[Fact]) -> int:
    """Store the facts not stored yet (by event key), in one transaction; returns how many were new.
    Several consumers may store the same event at once: the unique key decides, none fails."""
    rows = {f.event_key: {"event_key": f.event_key, "occurred_at": f.occurred_at, "day": f.day,
                          "sender_key": f.sender_key, "channel": f.channel, "kind": f.kind, "intent": f.intent}
            for f in facts}
    if not rows:
        return 0
    table = ConversationFact.__table__
    dialect = db.engine.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - the two databases the project supports
        raise RuntimeError(f"conversation statistics need PostgreSQL or SQLite, not {dialect}")
    statement = insert(table).on_conflict_do_nothing(index_elements=["event_key"])
    with db.session() as s:
        result = s.execute(statement, list(rows.values()))
        return max(result.rowcount, 0)


def prune(db: Database, now: Optional[dt.datetime] = None, days: Optional[int] = None) -> int:
    """Delete facts older than the retention period; returns how many."""
    days = days if days is not None else int(os.environ.get("STATS_RETENTION_DAYS", RETENTION_DAYS))
    cutoff = (now or utcnow()) - dt.timedelta(days=max(1, days))
    with db.session() as s:
        return s.execute(delete(ConversationFact).where(ConversationFact.occurred_at < cutoff)).rowcount or 0


def intent_group(intent: Optional[str]) -> str:
    return INTENT_GROUPS.get(intent or FALLBACK_INTENT, OTHER_GROUP)


def activity(db: Database, first_day: dt.date, last_day: dt.date) -> Dict[str, Any]:
    """The front door's figures for the days first_day..last_day (Asia/Shanghai), both included."""
    since, until = first_day.isoformat(), last_day.isoformat()
    window = (ConversationFact.day >= since, ConversationFact.day <= until)
    with db.session(read_only=True) as s:
        any_fact = s.execute(select(ConversationFact.id).limit(1)).first() is not None
        counts = dict(s.execute(select(ConversationFact.kind, func.count()).where(*window)
                                .group_by(ConversationFact.kind)).all())
        residents = s.execute(select(func.count(func.distinct(ConversationFact.sender_key)))
                              .where(*window, ConversationFact.kind == MESSAGE)).scalar() or 0
        by_day = dict(s.execute(select(ConversationFact.day, func.count())
                                .where(*window, ConversationFact.kind == MESSAGE)
                                .group_by(ConversationFact.day)).all())
        by_channel = s.execute(select(ConversationFact.channel, func.count(),
                                      func.count(func.distinct(ConversationFact.sender_key)))
                               .where(*window, ConversationFact.kind == MESSAGE)
                               .group_by(ConversationFact.channel)).all()
        by_intent = s.execute(select(ConversationFact.intent, func.count())
                              .where(*window, ConversationFact.kind == MESSAGE)
                              .group_by(ConversationFact.intent)).all()
    messages = counts.get(MESSAGE, 0)
    groups: Counter = Counter()
    for intent, count in by_intent:
        groups[intent_group(intent)] += count
    not_understood = groups[INTENT_GROUPS[FALLBACK_INTENT]]
    consultations, unanswered = counts.get(CONSULTATION, 0), counts.get(UNANSWERED, 0)
    days = [(first_day + dt.timedelta(days=i)).isoformat() for i in range((last_day - first_day).days + 1)]
    return {
        "enabled": any_fact,
        "messages": messages,
        "residents": residents,
        "sessions": counts.get(SESSION, 0),
        "understood_rate": round(100.0 * (messages - not_understood) / messages, 1) if messages else None,
        "consultations": consultations,
        "answered_rate": (round(100.0 * max(consultations - unanswered, 0) / consultations, 1)
                          if consultations else None),
        "by_day": [{"day": d, "count": by_day.get(d, 0)} for d in days],
        "by_channel": [{"channel": c or "", "messages": n, "residents": r}
                       for c, n, r in sorted(by_channel, key=lambda row: (-row[1], row[0] or ""))],
        "by_intent": [{"label": label, "count": n}
                      for label, n in sorted(groups.items(), key=lambda kv: (-kv[1], kv[0]))],
    }
