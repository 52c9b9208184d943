"""Read models and the few writes of the console that the ticket service does not have (a note).

Everything here takes a :class:`~bot.web.scope.Scope`: queries return only what it covers, and
personal data is masked unless the scope's person works for the unit handling the case.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from sqlalchemy import and_, func, or_, select

from bot import handoff as handoffs
from bot.db import Database, utcnow
from bot.tickets import lifecycle
from bot.tickets.errors import TicketNotFound
from bot.tickets.models import Notification, Ticket
from bot.tickets.numbering import parse_ticket_number
from bot.texts import category_name
from bot.tickets.routing import CATEGORIES, RoutingTable
from bot.tickets.workcalendar import SHANGHAI

from .scope import Scope

# Category names for staff: the one list the bot also uses (bot/data/texts/zh.yml).
CATEGORY_NAMES = {key: category_name(key, "zh-Hans") for key in (*CATEGORIES, "other")}
INTENT_NAMES = {"complaint": "投诉", "service_request": "服务请求", "consultation": "咨询"}
LANGUAGE_NAMES = {"zh-Hans": "简体中文", "zh-Hant": "繁體中文", "zh": "中文", "en": "English"}
CHANNEL_NAMES = {"wechat": "微信", "telegram": "Telegram", "socketio": "网页聊天", "rest": "REST"}
STATE_NAMES = {state: labels["zh"] for state, labels in lifecycle.STATE_LABELS.items()}
HANDOFF_REASONS = {"asked": "居民要求人工", "not_understood": "机器人连续未理解", "urgent": "紧急情况",
                   "policy_unanswered": "政策问题未能解答"}
HANDOFF_STATES = {"waiting": "等待接待", "active": "接待中", "returned_to_bot": "已交回机器人", "closed": "已关闭"}
ACTION_NAMES = {
    "created": "登记", "assign": "派单", "sign": "签收", "return": "退回派单员", "reassign": "改派",
    "escalate": "超期升级", "resolve": "办结", "close": "关闭", "reopen": "重新办理", "mark_duplicate": "并入重复件",
    "cancel": "撤销", "note": "备注", "rated": "居民评价", "repeat_report": "重复反映", "overdue_at_top": "顶层超期",
    "anonymised": "匿名化", "urged": "居民催办",
}
NOTE_MAX = 2000


def local(moment: Optional[dt.datetime]) -> Optional[dt.datetime]:
    return moment.astimezone(SHANGHAI) if moment is not None else None


def is_overdue(t: Ticket, now: dt.datetime) -> bool:
    if t.state not in lifecycle.OPEN:
        return False
    unsigned = t.state in lifecycle.UNSIGNED or t.state in (lifecycle.RETURNED, lifecycle.NEW)
    if unsigned and t.sign_due_at is not None and t.sign_due_at < now:
        return True
    return t.due_at is not None and t.due_at < now


def overdue_clause(now: dt.datetime):
    unsigned = tuple(lifecycle.UNSIGNED | {lifecycle.RETURNED, lifecycle.NEW})
    return and_(Ticket.state.in_(tuple(lifecycle.OPEN)), or_(
        and_(Ticket.state.in_(unsigned), Ticket.sign_due_at.isnot(None), Ticket.sign_due_at < now),
        and_(Ticket.due_at.isnot(None), Ticket.due_at < now)))


def scope_clause(scope: Scope, column=Ticket.unit_id):
    units = scope.sql_units()
    if units is None:
        return None
    clause = column.in_(units)
    if scope.dispatcher in units:
        clause = or_(clause, column.is_(None))
    return clause


# ------------------------------------------------------------------------------------- tickets
@dataclass
class TicketFilters:
    state: str = ""  # a state, "open" (any open state) or "" (all)
    category: str = ""
    unit: str = ""
    overdue: bool = False
    urgent: bool = False
    q: str = ""  # a ticket number

    @classmethod
    def from_params(cls, params) -> "TicketFilters":
        state = (params.get("state") or "").strip()
        if state and state != "open" and state not in lifecycle.STATES:
            state = ""
        category = (params.get("category") or "").strip()
        if category and category not in CATEGORIES:
            category = ""
        flag = lambda key: (params.get(key) or "").lower() in ("1", "true", "on", "yes")  # noqa: E731
        return cls(state=state, category=category, unit=(params.get("unit") or "").strip()[:64],
                   overdue=flag("overdue"), urgent=flag("urgent"), q=(params.get("q") or "").strip()[:40])

    def as_query(self) -> Dict[str, str]:
        out = {k: v for k, v in (("state", self.state), ("category", self.category), ("unit", self.unit),
                                 ("q", self.q)) if v}
        if self.overdue:
            out["overdue"] = "1"
        if self.urgent:
            out["urgent"] = "1"
        return out


def ticket_row(t: Ticket, scope: Scope, routing: RoutingTable, now: dt.datetime) -> Dict[str, Any]:
    unit = routing.unit(t.unit_id)
    return {
        "number": t.number, "state": t.state, "state_label": STATE_NAMES.get(t.state, t.state),
        "category": t.category, "category_label": CATEGORY_NAMES.get(t.category, t.category),
        "intent": t.intent, "intent_label": INTENT_NAMES.get(t.intent, t.intent), "urgent": t.is_urgent,
        "unit_id": t.unit_id, "unit_name": unit.name_zh if unit else (t.unit_id or ""),
        "created_at": local(t.created_at), "sign_due_at": local(t.sign_due_at), "due_at": local(t.due_at),
        "resolved_at": local(t.resolved_at), "overdue": is_overdue(t, now), "rating": t.rating,
        "description": scope.personal(t.unit_id, t.description),
        "location": scope.personal(t.unit_id, t.location),
        "escalation_count": t.escalation_count,
    }


def list_tickets(db: Database, scope: Scope, routing: RoutingTable, filters: TicketFilters, *,
                 limit: int = 50, offset: int = 0, now: Optional[dt.datetime] = None
                 ) -> Tuple[List[Dict[str, Any]], int]:
    now = now or utcnow()
    conditions = []
    clause = scope_clause(scope)
    if clause is not None:
        conditions.append(clause)
    if filters.state == "open":
        conditions.append(Ticket.state.in_(tuple(lifecycle.OPEN | {lifecycle.RESOLVED})))
    elif filters.state:
        conditions.append(Ticket.state == filters.state)
    if filters.category:
        conditions.append(Ticket.category == filters.category)
    if filters.unit:
        conditions.append(Ticket.unit_id == filters.unit)
    if filters.urgent:
        conditions.append(Ticket.urgency == "urgent")
    if filters.overdue:
        conditions.append(overdue_clause(now))
    if filters.q:
        number = parse_ticket_number(filters.q)
        conditions.append(Ticket.number == (number or filters.q))
    with db.session(read_only=True) as s:
        total = s.execute(select(func.count(Ticket.id)).where(*conditions)).scalar_one()
        rows = s.execute(select(Ticket).where(*conditions)
                         .order_by(Ticket.priority, Ticket.created_at.desc(), Ticket.id.desc())
                         .limit(max(1, min(limit, 500))).offset(max(0, offset))).scalars().all()
        return [ticket_row(t, scope, routing, now) for t in rows], total


def load_ticket(db: Database, scope: Scope, number: str) -> Ticket:
    """The ticket if the scope covers it; TicketNotFound otherwise (same as a number that does not exist)."""
    canonical = parse_ticket_number(number) if isinstance(number, str) else None
    if not canonical:
        raise TicketNotFound(None)
    with db.session(read_only=True) as s:
        t = s.execute(select(Ticket).where(Ticket.number == canonical)).scalar_one_or_none()
        if t is None or not scope.covers(t.unit_id):
            raise TicketNotFound(None)
        s.expunge(t)
        return t


def ticket_detail(db: Database, scope: Scope, routing: RoutingTable, number: str, history,
                  now: Optional[dt.datetime] = None) -> Dict[str, Any]:
    now = now or utcnow()
    t = load_ticket(db, scope, number)
    row = ticket_row(t, scope, routing, now)
    handles = scope.handles(t.unit_id)
    first = routing.unit(t.first_unit_id)
    row.update({
        "phone": t.phone if handles else _mask_phone(t.phone),
        "phone_visible": handles,
        "channel": t.channel, "channel_label": CHANNEL_NAMES.get(t.channel, t.channel),
        "language": t.language, "language_label": LANGUAGE_NAMES.get(t.language, t.language),
        "resolution": scope.personal(t.unit_id, t.resolution),
        "rating_comment": scope.personal(t.unit_id, t.rating_comment),
        "first_unit_name": first.name_zh if first else (t.first_unit_id or ""),
        "signed_at": local(t.signed_at), "closed_at": local(t.closed_at),
        "duplicate_of": None,
        "history": [{
            "at": local(e.at), "actor": e.actor, "action": e.action,
            "action_label": ACTION_NAMES.get(e.action, e.action),
            "from_state": e.from_state, "to_state": e.to_state,
            "from_label": STATE_NAMES.get(e.from_state or "", e.from_state or ""),
            "to_label": STATE_NAMES.get(e.to_state or "", e.to_state or ""),
            "note": scope.personal(t.unit_id, e.note),
        } for e in history],
        "allowed": sorted(lifecycle.allowed_actions(t.state)),
    })
    if t.duplicate_of:
        with db.session(read_only=True) as s:
            original = s.get(Ticket, t.duplicate_of)
            row["duplicate_of"] = original.number if original is not None else None
    return row


def _mask_phone(phone: Optional[str]) -> Optional[str]:
    from bot.privacy import mask_text

    if not phone:
        return phone
    masked = mask_text(phone)
    if masked == phone:  # a short or odd number: hide all but the last two digits
        masked = "*" * max(0, len(phone) - 2) + phone[-2:]
    return masked


def add_note(db: Database, scope: Scope, number: str, actor: str, note: str) -> None:
    """A staff note on the case's audit trail (no state change)."""
    note = (note or "").strip()
    if not note:
        raise ValueError("the note is empty")
    canonical = parse_ticket_number(number)
    with db.session() as s:
        t = s.execute(select(Ticket).where(Ticket.number == canonical)).scalar_one_or_none() if canonical else None
        if t is None or not scope.covers(t.unit_id):
            raise TicketNotFound(None)
        lifecycle.record(s, t, "note", actor=actor, note=note[:NOTE_MAX])


# ------------------------------------------------------------------------------------- handoffs
def handoff_row(h, scope: Scope, routing: RoutingTable, now: Optional[dt.datetime] = None) -> Dict[str, Any]:
    now = now or utcnow()
    unit = routing.unit(h.unit_id or scope.dispatcher)
    waited = now - h.created_at
    minutes = int(waited.total_seconds() // 60)
    return {
        "id": h.id, "channel": h.channel, "channel_label": CHANNEL_NAMES.get(h.channel, h.channel),
        "sender_id": h.sender_id, "language": h.language,
        "language_label": LANGUAGE_NAMES.get(h.language, h.language), "reason": h.reason,
        "reason_label": HANDOFF_REASONS.get(h.reason, h.reason), "urgent": bool(h.urgent), "state": h.state,
        "state_label": HANDOFF_STATES.get(h.state, h.state),
        "summary": scope.personal(h.unit_id, h.summary),
        "unit_id": h.unit_id, "unit_name": unit.name_zh if unit else (h.unit_id or ""),
        "assigned_to": h.assigned_to, "created_at": local(h.created_at), "updated_at": local(h.updated_at),
        "closed_at": local(h.closed_at), "closed_by": h.closed_by,
        "waited": f"{minutes // 60} 小时 {minutes % 60} 分" if minutes >= 60 else f"{minutes} 分钟",
        "open": h.state in handoffs.OPEN_STATES,
    }


def queue(db: Database, scope: Scope, routing: RoutingTable) -> List[Dict[str, Any]]:
    units = scope.sql_units()
    rows = handoffs.queue(db=db)  # urgent first, then oldest
    now = utcnow()
    return [handoff_row(h, scope, routing, now) for h in rows if units is None or scope.covers(h.unit_id)]


def load_handoff(db: Database, scope: Scope, handoff_id) -> Any:
    try:
        hid = int(handoff_id)
    except (TypeError, ValueError):
        raise LookupError(handoff_id) from None
    h = handoffs.get(hid, db=db)
    if h is None or not scope.covers(h.unit_id):
        raise LookupError(handoff_id)
    return h


def notifications_for(db: Database, channel: str, sender_id: str) -> List[Notification]:
    with db.session(read_only=True) as s:
        rows = s.execute(select(Notification).where(
            Notification.audience == "resident", Notification.recipient_channel == channel,
            Notification.recipient_id == sender_id).order_by(Notification.created_at, Notification.id)).scalars().all()
        for row in rows:
            s.expunge(row)
        return list(rows)


@dataclass
class Line:
    at: dt.datetime
    who: str  # resident | bot | staff | notice | event
    text: str
    staff: Optional[str] = None
    status: Optional[str] = None  # for staff messages and notices: pending | sent | failed | undeliverable
    error: Optional[str] = None
    attempts: int = 0
    notification_id: Optional[int] = None
    kind: Optional[str] = None
    extra: Dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> Dict[str, Any]:
        return {"at": self.at.isoformat(), "who": self.who, "text": self.text, "staff": self.staff,
                "status": self.status, "error": self.error, "attempts": self.attempts,
                "notification_id": self.notification_id, "kind": self.kind}


STATUS_NAMES = {"pending": "待发送", "sent": "已送达", "failed": "发送失败，将重试", "undeliverable": "无法送达"}


def transcript(events: Sequence[Dict[str, Any]], notes: Sequence[Notification], mask) -> List[Line]:
    """The conversation in order: resident and bot messages from the Rasa tracker, staff replies and
    notices with their delivery status from the outbox (also those not yet in the tracker).
    ``mask`` is applied to every text (identity for the handling unit)."""
    by_id = {n.id: n for n in notes}
    seen = set()
    lines: List[Line] = []
    for event in events:
        kind = event.get("event")
        at = dt.datetime.fromtimestamp(float(event.get("timestamp") or 0), dt.timezone.utc)
        if kind == "user":
            lines.append(Line(local(at), "resident", mask(event.get("text") or "")))
        elif kind == "bot":
            meta = event.get("metadata") or {}
            nid = meta.get("notification_id")
            text = event.get("text")
            if text is None:
                data = event.get("data") or {}
                text = "[" + ", ".join(k for k, v in data.items() if v) + "]" if data else ""
            note = by_id.get(nid) if isinstance(nid, int) else None
            if note is not None:
                seen.add(note.id)
                lines.append(_note_line(note, local(at), mask))
            elif nid is not None or meta.get("kind") == "staff_reply":
                undelivered = meta.get("undelivered")
                lines.append(Line(local(at), "staff" if meta.get("kind") == "staff_reply" else "notice",
                                  mask(text or ""), kind=meta.get("kind"),
                                  status="undeliverable" if undelivered else None,
                                  error=mask(str(undelivered)) if undelivered else None))
            else:
                lines.append(Line(local(at), "bot", mask(text or "")))
        elif kind in ("pause", "resume"):
            lines.append(Line(local(at), "event", "对话已暂停（转人工）" if kind == "pause" else "机器人已恢复应答",
                              kind=kind))
    pending = [n for n in notes if n.id not in seen]
    for note in pending:
        lines.append(_note_line(note, local(note.created_at), mask))
    lines.sort(key=lambda line: line.at)  # stable: the tracker's own order is kept
    return lines


def _note_line(note: Notification, at: dt.datetime, mask) -> Line:
    params = note.params or {}
    return Line(at, "staff" if note.kind == "staff_reply" else "notice", mask(note.text or ""),
                staff=params.get("staff"), status=note.status, error=mask(note.last_error) if note.last_error else None,
                attempts=note.attempts or 0, notification_id=note.id, kind=note.kind)
