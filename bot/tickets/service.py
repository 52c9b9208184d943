"""The ticket service: what the bot's actions and the staff console call.

Every public method is one database transaction: a case, its number, its audit events and its
notifications are committed together or not at all. Residents are identified by their channel
identity (``channel`` + ``sender_id``); a ticket that is not theirs is reported exactly like one that
does not exist (:class:`TicketNotFound`).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass
from typing import Callable, List, Optional, Tuple, Union

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from ..db import Database, get_database, utcnow
from ..privacy import mask_text
from . import lifecycle, notices, texts
from .errors import IllegalTransition, InvalidRating, TicketError, TicketNotFound
from .lifecycle import DUPLICATE, OPEN, RESOLVED
from .models import URGENCY_NORMAL, URGENCY_URGENT, Ticket
from .numbering import allocate_number, parse_ticket_number
from .routing import CATEGORIES, INTENTS, RoutingTable, Unit, load_routing
from .similarity import is_repeat
from .validation import normalise_phone
from .workcalendar import SHANGHAI

log = logging.getLogger(__name__)
URGE_NOTICE_HOURS = 12

MAX_DESCRIPTION_CHARS = 4000
MAX_LOCATION_CHARS = 500


@dataclass(frozen=True)
class OpenResult:
    """What the resident is told after filing. ``outcome``: ``created`` (a new case), ``replayed`` (the
    same delivery seen before: the case it created), or ``linked`` (a repeat of the resident's open case
    ``number``; this report was recorded as ``record_number`` in state duplicate)."""

    outcome: str
    number: str
    record_number: str
    state: str
    unit_id: Optional[str]
    unit_name_zh: str
    unit_name_en: str
    sign_due_at: Optional[dt.datetime]
    due_at: Optional[dt.datetime]
    urgent: bool
    message: str

    @property
    def created(self) -> bool:
        return self.outcome == "created"

    @property
    def linked(self) -> bool:
        return self.outcome == "linked"


@dataclass(frozen=True)
class TicketView:
    number: str
    state: str
    state_label: str
    category: str
    intent: str
    urgent: bool
    unit_id: Optional[str]
    unit_name_zh: str
    unit_name_en: str
    created_at: dt.datetime
    sign_due_at: Optional[dt.datetime]
    due_at: Optional[dt.datetime]
    resolved_at: Optional[dt.datetime]
    resolution: Optional[str]
    rating: Optional[int]
    linked_to: Optional[str]  # for a duplicate: the case it was merged into
    message: str  # a one-line status in the requested language


@dataclass(frozen=True)
class RateResult:
    number: str
    state: str
    reopened: bool


@dataclass(frozen=True)
class EventView:
    at: dt.datetime
    actor: str
    action: str
    from_state: Optional[str]
    to_state: Optional[str]
    note: Optional[str]


def _urgent(urgency: Union[str, bool, None]) -> bool:
    if isinstance(urgency, bool):
        return urgency
    return str(urgency or "").strip().lower() in {"urgent", "high", "emergency", "true", "1", "yes"}


class TicketService:
    def __init__(self, db: Database, routing: RoutingTable, clock: Callable[[], dt.datetime] = utcnow):
        self.db = db
        self.routing = routing
        self.calendar = routing.calendar()
        self.clock = clock

    @classmethod
    def from_env(cls, url: Optional[str] = None, city: Optional[str] = None) -> "TicketService":
        """The service on ``DATABASE_URL`` with the routing of ``CITY``."""
        return cls(get_database(url), load_routing(city))

    # ------------------------------------------------------------------ resident side
    def open_ticket(self, *, channel: str, sender_id: str, intent: str, category: str, description: str,
                    location: Optional[str] = None, phone: Optional[str] = None, language: str = "zh",
                    urgency: Union[str, bool] = URGENCY_NORMAL,
                    idempotency_key: Optional[str] = None) -> OpenResult:
        """File a complaint / service request / consultation; see :class:`OpenResult`.

        ``idempotency_key`` is the channel's message id (or any key unique to one delivery): the same
        key from the same resident always yields the same case. Raises ValueError on missing fields
        and InvalidPhone on a bad phone number.
        """
        channel, sender_id = str(channel or "").strip(), str(sender_id or "").strip()
        if not channel or not sender_id:
            raise ValueError("channel and sender_id identify the resident and are required")
        if intent not in INTENTS:
            raise ValueError(f"intent must be one of {', '.join(INTENTS)}")
        description = (description or "").strip()[:MAX_DESCRIPTION_CHARS]
        if not description:
            raise ValueError("a description is required")
        category = category if category in CATEGORIES else "other"
        location = (location or "").strip()[:MAX_LOCATION_CHARS] or None
        phone = normalise_phone(phone)
        language = texts.normalise_language(language)
        urgent = _urgent(urgency)
        key = _stored_key(channel, sender_id, idempotency_key)
        fields = dict(channel=channel, sender_id=sender_id, intent=intent, category=category,
                      description=description, location=location, phone=phone, language=language,
                      urgency=URGENCY_URGENT if urgent else URGENCY_NORMAL, idempotency_key=key)
        try:
            return self._open(fields, urgent)
        except IntegrityError:
            # Only a concurrent delivery of the same key can get here (it committed first): answer as
            # a replay of the case it created.
            if key is None:
                raise
            with self.db.session(read_only=True) as s:
                existing = s.execute(select(Ticket).where(Ticket.idempotency_key == key)).scalar_one_or_none()
                if existing is None:
                    raise
                return self._result(s, existing, "replayed")

    def file_deferred(self, request: dict) -> OpenResult:
        """File a report that waited in the spool (bot/spool.py) while the database was down,
        and queue its number to the resident, who was told to expect it. Idempotent like open_ticket:
        a request that reached the database before the error is answered, not filed again."""
        result = self.open_ticket(**request)
        with self.db.session() as s:
            record = s.execute(select(Ticket).where(Ticket.number == result.record_number)).scalar_one()
            notices.filed_later(s, record, result.message, self.clock())
        return result

    def _open(self, f: dict, urgent: bool) -> OpenResult:
        now = self.clock()
        with self.db.session() as s:
            self._serialise_resident(s, f["channel"], f["sender_id"])
            if f["idempotency_key"]:
                existing = s.execute(
                    select(Ticket).where(Ticket.idempotency_key == f["idempotency_key"])).scalar_one_or_none()
                if existing is not None:
                    return self._result(s, existing, "replayed")
            original = self._find_repeat(s, f, urgent, now)
            ticket = Ticket(number=allocate_number(s, now), state=lifecycle.NEW, created_at=now, updated_at=now,
                            escalation_count=0, **f)
            s.add(ticket)
            lifecycle.created(s, ticket, actor="resident", note=f"via {f['channel']}", at=now)
            if original is not None:
                self._link_repeat(s, ticket, original, urgent, now)
                s.flush()
                return self._result(s, ticket, "linked")
            decision = self.routing.route(f["category"], f["intent"], urgent)
            ticket.priority = decision.priority
            ticket.first_unit_id = decision.unit.id
            self._hand_to(ticket, decision.unit, decision.limits, now)
            lifecycle.transition(s, ticket, "assign", actor="system", at=now,
                                 note=f"routed to {decision.unit.id}: {f['category']}/{f['intent']}"
                                      + (", urgent" if urgent else ""))
            if urgent:
                notices.urgent_alert(s, ticket, decision.alert_units, now)
            else:
                notices.case_assigned(s, ticket, decision.unit, now)
            s.flush()
            log.info("ticket %s opened: %s/%s -> %s", ticket.number, f["category"], f["intent"], decision.unit.id)
            return self._result(s, ticket, "created")

    def _serialise_resident(self, s, channel: str, sender_id: str) -> None:
        """One resident's reports are filed one at a time, so a repeat can always see the case it
        repeats. SQLite already serialises writers (BEGIN IMMEDIATE); PostgreSQL takes a transaction
        advisory lock on the resident."""
        if self.db.dialect == "postgresql":
            digest = hashlib.sha256(f"{channel}\x00{sender_id}".encode()).digest()
            s.execute(text("SELECT pg_advisory_xact_lock(:k)"),
                      {"k": int.from_bytes(digest[:8], "big", signed=True)})

    def _find_repeat(self, s, f: dict, urgent: bool, now: dt.datetime) -> Optional[Ticket]:
        since = now - dt.timedelta(hours=self.routing.duplicate_window_hours)
        rows = s.execute(
            select(Ticket).where(Ticket.channel == f["channel"], Ticket.sender_id == f["sender_id"],
                                 Ticket.category == f["category"], Ticket.state.in_(OPEN),
                                 Ticket.created_at >= since)
            .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        ).scalars()
        for t in rows:
            # An urgent report is never swallowed by a routine case about the same thing.
            if urgent and not t.is_urgent:
                continue
            if is_repeat(f["description"], f["location"], t.description, t.location,
                         self.routing.duplicate_similarity):
                return t
        return None

    def _link_repeat(self, s, record: Ticket, original: Ticket, urgent: bool, now: dt.datetime) -> None:
        record.original = original
        record.unit_id, record.level = original.unit_id, original.level
        record.closed_at = now
        lifecycle.transition(s, record, "mark_duplicate", actor="system", at=now,
                             note=f"same resident, same {record.category}, within "
                                  f"{self.routing.duplicate_window_hours:g}h of {original.number}")
        lifecycle.record(s, original, "repeat_report", actor="resident", at=now,
                         note=f"{record.number}: {mask_text(record.description)}")
        if urgent:  # reported again while urgent: nobody has come yet, alert again
            decision = self.routing.route(original.category, original.intent, True)
            notices.urgent_alert(s, original, decision.alert_units, now)

    def ticket_status(self, number: str, channel: str, sender_id: str,
                      language: Optional[str] = None) -> TicketView:
        """The status of ``number`` for its owner; TicketNotFound for anyone else or a bad number."""
        with self.db.session(read_only=True) as s:
            t = self._owned(s, number, channel, sender_id)
            return self._view(s, t, language or t.language)

    def list_tickets_for(self, channel: str, sender_id: str, *, open_only: bool = False,
                         include_duplicates: bool = False, limit: int = 20,
                         language: Optional[str] = None) -> List[TicketView]:
        """The resident's cases, newest first."""
        with self.db.session(read_only=True) as s:
            q = select(Ticket).where(Ticket.channel == str(channel), Ticket.sender_id == str(sender_id))
            if open_only:
                q = q.where(Ticket.state.in_(OPEN | {RESOLVED}))
            if not include_duplicates:
                q = q.where(Ticket.state != DUPLICATE)
            rows = s.execute(q.order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(limit)).scalars()
            return [self._view(s, t, language or t.language) for t in rows]

    def rate(self, number: str, *, channel: str, sender_id: str, score: int,
             comment: Optional[str] = None) -> RateResult:
        """The resident rates a resolved case 1–5. At or below the city's threshold (default 2) the case
        is reopened for rework and the unit is told; otherwise it is closed."""
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
            raise InvalidRating("a rating is a whole number from 1 to 5")
        comment = (comment or "").strip()[:1000] or None

        def apply(s, t: Ticket, now):
            if t.state != RESOLVED:
                raise IllegalTransition(t.state, "rate", "only a resolved case can be rated")
            t.rating, t.rating_comment, t.rated_at = score, comment, now
            lifecycle.record(s, t, "rated", actor="resident", at=now,
                             note=f"{score}/5" + (f": {mask_text(comment)}" if comment else ""))
            if score <= self.routing.reopen_at_or_below:
                lifecycle.transition(s, t, "reopen", actor="resident", at=now,
                                     note=f"unsatisfied ({score}/5), back for rework")
                unit = self._unit(t)
                self._hand_to(t, unit, self._limits(t), now)
                notices.reopened(s, t, unit, score, comment, now)
                return RateResult(t.number, t.state, True)
            lifecycle.transition(s, t, "close", actor="resident", at=now, note=f"rated {score}/5")
            t.closed_at = now
            return RateResult(t.number, t.state, False)

        return self._change(number, apply, owner=(channel, sender_id))

    def urge(self, number: str, *, channel: str, sender_id: str, note: Optional[str] = None) -> None:
        """The resident chases an open case ("我前天反映的问题怎么还没人管", 催办): recorded on the case (staff
        see it in its history) and the unit holding it is told. Only the owner can, only while it is open."""
        def apply(s, t: Ticket, now):
            if t.state not in OPEN:
                raise IllegalTransition(t.state, "urge", "only an open case can be chased")
            # The unit hears of a chase once per URGE_NOTICE_HOURS, however often the resident asks.
            told_lately = any(e.action == "urged" and e.at >= now - dt.timedelta(hours=URGE_NOTICE_HOURS)
                              for e in t.events)
            lifecycle.record(s, t, "urged", actor="resident", at=now, note=mask_text(note)[:1000] if note else None)
            if not told_lately:
                notices.urged(s, t, self._unit(t), (note or "")[:200], now)

        self._change(number, apply, owner=(channel, sender_id))

    def cancel(self, number: str, actor: str, note: Optional[str] = None, *,
               channel: Optional[str] = None, sender_id: Optional[str] = None) -> TicketView:
        """Withdraw a case: by its owner (pass channel and sender_id) or by staff."""
        owner = (channel, sender_id) if channel is not None or sender_id is not None else None

        def apply(s, t, now):
            lifecycle.transition(s, t, "cancel", actor=actor, note=note, at=now)
            t.closed_at = now
            if owner is None:
                notices.status_changed(s, t, self._unit(t), now)

        return self._change(number, apply, owner=owner, view=True)

    # ------------------------------------------------------------------ staff side
    def get(self, number: str, language: str = "zh") -> TicketView:
        """A case by number, without an owner check (staff console only)."""
        with self.db.session(read_only=True) as s:
            return self._view(s, self._load(s, number), language)

    def history(self, number: str) -> List[EventView]:
        """The full audit trail of a case, oldest first (staff console only)."""
        with self.db.session(read_only=True) as s:
            t = self._load(s, number)
            return [EventView(e.at, e.actor, e.action, e.from_state, e.to_state, e.note) for e in t.events]

    def sign(self, number: str, actor: str, note: Optional[str] = None) -> TicketView:
        """The handling unit signs for (签收) the case and starts work."""
        def apply(s, t, now):
            lifecycle.transition(s, t, "sign", actor=actor, note=note, at=now)
            t.signed_at = now
            notices.status_changed(s, t, self._unit(t), now)

        return self._change(number, apply, view=True)

    def return_to_dispatcher(self, number: str, actor: str, reason: str) -> TicketView:
        """The unit says the case is not theirs; it goes back to the dispatcher's queue."""
        if not (reason or "").strip():
            raise ValueError("say why the case is returned")

        def apply(s, t, now):
            from_unit = self._unit(t)
            lifecycle.transition(s, t, "return", actor=actor, note=reason, at=now)
            dispatcher = self.routing.units[self.routing.dispatcher]
            t.unit_id, t.level = dispatcher.id, dispatcher.level
            t.sign_due_at = self.calendar.add(now, self._limits(t).sign)  # time to re-dispatch
            notices.returned(s, t, from_unit, dispatcher, reason, now)

        return self._change(number, apply, view=True)

    def reassign(self, number: str, unit_id: str, actor: str, note: Optional[str] = None) -> TicketView:
        """The dispatcher sends a returned case to another unit, which gets the full time limits."""
        unit = self.routing.unit(unit_id)
        if unit is None:
            raise ValueError(f"unknown unit {unit_id!r}")

        def apply(s, t, now):
            lifecycle.transition(s, t, "reassign", actor=actor, at=now,
                                 note=f"to {unit.id}" + (f": {note}" if note else ""))
            self._hand_to(t, unit, self._limits(t), now)
            notices.case_assigned(s, t, unit, now)

        return self._change(number, apply, view=True)

    def resolve(self, number: str, actor: str, resolution: str) -> TicketView:
        """The unit answers the case; the resident is told and asked for a rating."""
        resolution = (resolution or "").strip()
        if not resolution:
            raise ValueError("a resolution (the answer to the resident) is required")

        def apply(s, t, now):
            lifecycle.transition(s, t, "resolve", actor=actor, note=mask_text(resolution), at=now)
            t.resolution, t.resolved_at = resolution, now
            notices.resolved(s, t, now)

        return self._change(number, apply, view=True)

    def close(self, number: str, actor: str, note: Optional[str] = None) -> TicketView:
        def apply(s, t, now):
            lifecycle.transition(s, t, "close", actor=actor, note=note, at=now)
            t.closed_at = now

        return self._change(number, apply, view=True)

    def mark_duplicate(self, number: str, of_number: str, actor: str) -> TicketView:
        """Staff merge a case into another one (e.g. two residents reporting the same leak)."""
        def apply(s, t, now):
            original = self._load(s, of_number)
            if original.id == t.id or original.state == DUPLICATE:
                raise TicketError("a case can only be merged into another case that is not a duplicate")
            t.original = original
            lifecycle.transition(s, t, "mark_duplicate", actor=actor, at=now, note=f"duplicate of {original.number}")
            t.closed_at = now
            notices.status_changed(s, t, self._unit(original), now)

        return self._change(number, apply, view=True)

    # ------------------------------------------------------------------ helpers
    def _change(self, number, apply, owner: Optional[Tuple[str, str]] = None, view: bool = False):
        """Run ``apply(session, ticket, now)`` in one transaction; retried once if another writer changed
        the ticket in between (the version check), so every decision is made on fresh data."""
        for attempt in range(3):
            now = self.clock()
            try:
                with self.db.session() as s:
                    t = self._owned(s, number, *owner) if owner else self._load(s, number)
                    result = apply(s, t, now)
                    s.flush()
                    if view:
                        result = self._view(s, t, "zh")
                    return result
            except StaleDataError:
                if attempt == 2:
                    raise
                log.info("ticket %s changed concurrently, retrying", number)

    def _load(self, s, number) -> Ticket:
        canonical = parse_ticket_number(number) if isinstance(number, str) else None
        t = s.execute(select(Ticket).where(Ticket.number == canonical)).scalar_one_or_none() if canonical else None
        if t is None:
            raise TicketNotFound(canonical)
        return t

    def _owned(self, s, number, channel, sender_id) -> Ticket:
        try:
            t = self._load(s, number)
        except TicketNotFound:
            raise TicketNotFound(None) from None
        if t.channel != str(channel) or t.sender_id != str(sender_id):
            raise TicketNotFound(None)  # the same answer as for a number that does not exist
        return t

    def _unit(self, t: Ticket) -> Optional[Unit]:
        return self.routing.unit(t.unit_id)

    def _limits(self, t: Ticket):
        return self.routing.limits_for_case(t.category, t.intent, t.is_urgent)

    def _hand_to(self, t: Ticket, unit: Unit, limits, now: dt.datetime) -> None:
        t.unit_id, t.level = unit.id, unit.level
        t.sign_due_at = self.calendar.add(now, limits.sign)
        t.due_at = self.calendar.add(now, limits.resolve)

    def _result(self, s, t: Ticket, outcome: str) -> OpenResult:
        case = t.original if t.state == DUPLICATE and t.original is not None else t
        if outcome == "replayed" and case is not t:
            outcome = "linked"  # a retried delivery of a repeat report: same answer as the first time
        unit = self.routing.unit(case.unit_id)
        lang = t.language
        if outcome == "linked":
            message = texts.reply("linked", lang, number=case.number,
                                  state=lifecycle.STATE_LABELS[case.state][lang])
        elif case.is_urgent:
            message = texts.reply("opened_urgent", lang, number=case.number, sign_due=case.sign_due_at)
        else:
            message = texts.reply("opened", lang, number=case.number, due=case.due_at,
                                  unit_name=unit.name(lang) if unit else "")
        return OpenResult(
            outcome=outcome, number=case.number, record_number=t.number, state=case.state,
            unit_id=case.unit_id, unit_name_zh=unit.name_zh if unit else "", unit_name_en=unit.name_en if unit else "",
            sign_due_at=_local(case.sign_due_at), due_at=_local(case.due_at), urgent=case.is_urgent, message=message)

    def _view(self, s, t: Ticket, language: str) -> TicketView:
        lang = texts.normalise_language(language)
        case = t.original if t.state == DUPLICATE and t.original is not None else t
        unit = self.routing.unit(case.unit_id)
        unit_name = unit.name(lang) if unit else ""
        label = lifecycle.STATE_LABELS[t.state][lang]
        waiting = case.state in OPEN and case.due_at is not None
        due_part = texts.reply("status_due", lang, due=case.due_at) if waiting else ""
        if t.state == DUPLICATE:
            message = texts.reply("linked", lang, number=case.number, state=lifecycle.STATE_LABELS[case.state][lang])
        else:
            message = texts.reply("status", lang, number=t.number, state=label, unit_name=unit_name,
                                  due_part=due_part).strip()
        return TicketView(
            number=t.number, state=t.state, state_label=label, category=t.category, intent=t.intent,
            urgent=t.is_urgent, unit_id=case.unit_id, unit_name_zh=unit.name_zh if unit else "",
            unit_name_en=unit.name_en if unit else "", created_at=_local(t.created_at),
            sign_due_at=_local(case.sign_due_at), due_at=_local(case.due_at), resolved_at=_local(t.resolved_at),
            resolution=t.resolution, rating=t.rating, linked_to=case.number if case is not t else None,
            message=message)


def _local(moment: Optional[dt.datetime]) -> Optional[dt.datetime]:
    return moment.astimezone(SHANGHAI) if moment is not None else None


def _stored_key(channel: str, sender_id: str, key: Optional[str]) -> Optional[str]:
    """Keys are scoped to the resident (a key can never reveal someone else's case) and hashed to a
    fixed length."""
    if key is None or str(key).strip() == "":
        return None
    return hashlib.sha256(f"{channel}\x00{sender_id}\x00{key}".encode()).hexdigest()


__all__ = ["TicketService", "OpenResult", "TicketView", "RateResult", "EventView"]
