"""Ticket states and the allowed transitions: the one place where a ticket's state changes.

    new ──assign──► assigned ──sign──► in_progress ──resolve──► resolved ──close──► closed
                      │  ▲                 │                      │
               return │  │ reassign  return│                      └─reopen─► reopened ─sign─► in_progress
                      ▼  │                 ▼
                    returned (back at the dispatcher)

``escalate`` hands an overdue case to the next unit up the ladder; the new unit must sign again, so the
case is ``assigned`` afterwards. ``mark_duplicate`` and ``cancel`` end a case that is still open.
Every transition writes a :class:`~bot.tickets.models.TicketEvent`; anything else raises
:class:`IllegalTransition`.
"""
from __future__ import annotations

import contextvars
import datetime as dt
from contextlib import contextmanager
from typing import Dict, FrozenSet, NamedTuple, Optional

from .errors import IllegalTransition

NEW = "new"
ASSIGNED = "assigned"
IN_PROGRESS = "in_progress"
RESOLVED = "resolved"
CLOSED = "closed"
RETURNED = "returned"
REOPENED = "reopened"
DUPLICATE = "duplicate"
CANCELLED = "cancelled"

STATES: FrozenSet[str] = frozenset(
    {NEW, ASSIGNED, IN_PROGRESS, RESOLVED, CLOSED, RETURNED, REOPENED, DUPLICATE, CANCELLED}
)
# No way out of these (a resident unhappy after closing opens a new case).
TERMINAL: FrozenSet[str] = frozenset({CLOSED, DUPLICATE, CANCELLED})
# A unit is working on the case (or should be): these are watched by the escalation job.
ACTIVE: FrozenSet[str] = frozenset({ASSIGNED, IN_PROGRESS, REOPENED})
# Waiting for a unit to sign for it.
UNSIGNED: FrozenSet[str] = frozenset({ASSIGNED, REOPENED})
# Open from the resident's point of view: a repeat report is linked to one of these.
OPEN: FrozenSet[str] = frozenset({NEW, ASSIGNED, IN_PROGRESS, RETURNED, REOPENED})


class Transition(NamedTuple):
    sources: FrozenSet[str]
    target: str


TRANSITIONS: Dict[str, Transition] = {
    "assign": Transition(frozenset({NEW}), ASSIGNED),
    "sign": Transition(frozenset({ASSIGNED, REOPENED}), IN_PROGRESS),  # 签收: the unit accepts it
    "return": Transition(frozenset({ASSIGNED, IN_PROGRESS, REOPENED}), RETURNED),  # not ours
    "reassign": Transition(frozenset({RETURNED}), ASSIGNED),
    "escalate": Transition(frozenset({ASSIGNED, IN_PROGRESS, REOPENED}), ASSIGNED),
    "resolve": Transition(frozenset({IN_PROGRESS}), RESOLVED),
    "close": Transition(frozenset({RESOLVED}), CLOSED),
    "reopen": Transition(frozenset({RESOLVED}), REOPENED),
    "mark_duplicate": Transition(frozenset({NEW, ASSIGNED, RETURNED}), DUPLICATE),
    "cancel": Transition(frozenset({NEW, ASSIGNED, IN_PROGRESS, RETURNED, REOPENED}), CANCELLED),
}

# Human-readable state names for residents and staff (the bot's texts may override them).
STATE_LABELS = {
    NEW: {"zh": "已登记", "zh-Hant": "已登記", "en": "registered"},
    ASSIGNED: {"zh": "已派单，待签收", "zh-Hant": "已派單，待簽收", "en": "assigned, awaiting acceptance"},
    IN_PROGRESS: {"zh": "处理中", "zh-Hant": "處理中", "en": "in progress"},
    RESOLVED: {"zh": "已办结，待评价", "zh-Hant": "已辦結，待評價", "en": "resolved, awaiting your rating"},
    CLOSED: {"zh": "已关闭", "zh-Hant": "已關閉", "en": "closed"},
    RETURNED: {"zh": "重新派单中", "zh-Hant": "重新派單中", "en": "being re-dispatched"},
    REOPENED: {"zh": "重新办理中", "zh-Hant": "重新辦理中", "en": "reopened for rework"},
    DUPLICATE: {"zh": "重复件，已并入原工单", "zh-Hant": "重複件，已併入原工單", "en": "duplicate, merged into the original case"},
    CANCELLED: {"zh": "已撤销", "zh-Hant": "已撤銷", "en": "cancelled"},
}

_in_transition: contextvars.ContextVar[bool] = contextvars.ContextVar("ticket_in_transition", default=False)


def in_transition() -> bool:
    """True while :func:`transition` is changing a state (the model refuses state writes otherwise)."""
    return _in_transition.get()


@contextmanager
def _allow_state_write():
    token = _in_transition.set(True)
    try:
        yield
    finally:
        _in_transition.reset(token)


def can(state: str, action: str) -> bool:
    rule = TRANSITIONS.get(action)
    return rule is not None and state in rule.sources


def allowed_actions(state: str) -> FrozenSet[str]:
    return frozenset(a for a, rule in TRANSITIONS.items() if state in rule.sources)


def target_of(state: str, action: str) -> str:
    rule = TRANSITIONS.get(action)
    if rule is None:
        raise IllegalTransition(state, action, "unknown action")
    if state not in rule.sources:
        raise IllegalTransition(state, action)
    return rule.target


def transition(session, ticket, action: str, actor: str, note: Optional[str] = None,
               at: Optional[dt.datetime] = None):
    """Apply ``action`` to ``ticket``: check it, change the state, write the audit event.

    Returns the new TicketEvent (added to ``session``; the caller's transaction commits both).
    """
    from .models import TicketEvent  # models imports this module for the state check

    source = ticket.state
    target = target_of(source, action)
    at = at or _now()
    with _allow_state_write():
        ticket.state = target
    ticket.updated_at = at
    event = TicketEvent(ticket=ticket, actor=actor, at=at, from_state=source, to_state=target,
                        action=action, note=note)
    session.add(event)
    return event


def record(session, ticket, action: str, actor: str, note: Optional[str] = None,
           at: Optional[dt.datetime] = None):
    """An audit event that does not change the state (created, rated, repeat report, anonymised…)."""
    from .models import TicketEvent

    if action in TRANSITIONS:
        raise ValueError(f"{action!r} changes the state: use transition()")
    at = at or _now()
    event = TicketEvent(ticket=ticket, actor=actor, at=at, from_state=ticket.state, to_state=ticket.state,
                        action=action, note=note)
    session.add(event)
    return event


def created(session, ticket, actor: str, note: Optional[str] = None, at: Optional[dt.datetime] = None):
    """The first audit event of a ticket: from nothing to ``new``."""
    from .models import TicketEvent

    at = at or _now()
    event = TicketEvent(ticket=ticket, actor=actor, at=at, from_state=None, to_state=ticket.state,
                        action="created", note=note)
    session.add(event)
    return event


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)
