"""Who is told what, when a case changes: the one place for that decision.

Each function renders the text in the recipient's language and queues it in the outbox (same
transaction as the change). Residents hear about progress they can act on or wait for; internal moves
(returned to the dispatcher, re-dispatch) are told to staff only.
"""
from __future__ import annotations

import datetime as dt
from typing import Iterable, Optional

from ..privacy import mask_text
from . import lifecycle, texts
from .models import Ticket
from .outbox import notify_resident, notify_staff
from .routing import Contact, Unit

_SUMMARY_CHARS = 120


def _common(t: Ticket) -> dict:
    return {"number": t.number, "category": texts.category_label(t.category, "zh"),
            "sign_due": t.sign_due_at, "due": t.due_at}


def _json(params: dict) -> dict:
    """Params as stored in the outbox: JSON-safe (datetimes as ISO strings)."""
    return {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in params.items()}


def _staff(s, t: Ticket, contact: Contact, kind: str, at, template: Optional[str] = None, **extra):
    params = {**_common(t), **extra}
    notify_staff(s, t, contact, kind, texts.staff(template or kind, **params), _json(params), at)


def _resident(s, t: Ticket, kind: str, at, **extra):
    params = {"number": t.number, **extra}
    notify_resident(s, t, kind, texts.resident(kind, t.language, **params), _json(params), at)


def case_assigned(s, t: Ticket, unit: Unit, at: dt.datetime) -> None:
    _staff(s, t, unit.on_duty, "assigned", at, unit_name=unit.name_zh, unit_id=unit.id)


def urgent_alert(s, t: Ticket, units: Iterable[Unit], at: dt.datetime) -> None:
    # Staff need the facts at once; the text is masked so that an ID number typed into the
    # description does not travel further than the case itself.
    summary = mask_text((t.description or "")[:_SUMMARY_CHARS])
    for unit in units:
        _staff(s, t, unit.on_duty, "urgent_alert", at, unit_name=unit.name_zh, unit_id=unit.id,
               summary=summary, location=mask_text(t.location or "-"))


def filed_later(s, t: Ticket, reply: str, at: dt.datetime) -> None:
    """A report kept while the database was down is now filed: the resident was promised its number."""
    _resident(s, t, "filed_later", at, reply=reply)


def status_changed(s, t: Ticket, unit: Optional[Unit], at: dt.datetime) -> None:
    _resident(s, t, "status_changed", at, state=lifecycle.STATE_LABELS[t.state][texts.normalise_language(t.language)],
              state_key=t.state, unit_name=unit.name(t.language) if unit else "")


def resolved(s, t: Ticket, at: dt.datetime) -> None:
    _resident(s, t, "resolved", at, resolution=t.resolution or "")
    _resident(s, t, "rating_request", at)


def escalated(s, t: Ticket, from_unit: Optional[Unit], to_unit: Unit, reason: str, at: dt.datetime) -> None:
    _staff(s, t, to_unit.on_duty, "escalated", at, unit_name=to_unit.name_zh, unit_id=to_unit.id,
           from_unit=from_unit.name_zh if from_unit else "", reason=texts.reason(reason), reason_code=reason)
    _resident(s, t, "escalated", at, unit_name=to_unit.name(t.language))


def overdue_at_top(s, t: Ticket, supervisor: Contact, unit: Optional[Unit], reason: str, at: dt.datetime) -> None:
    _staff(s, t, supervisor, "overdue_at_top", at, unit_name=unit.name_zh if unit else "",
           unit_id=unit.id if unit else None, reason=texts.reason(reason), reason_code=reason)


def reopened(s, t: Ticket, unit: Unit, score: int, comment: Optional[str], at: dt.datetime) -> None:
    _staff(s, t, unit.on_duty, "reopened", at, unit_name=unit.name_zh, unit_id=unit.id, score=score,
           comment=mask_text(comment or "-"))


def returned(s, t: Ticket, from_unit: Optional[Unit], dispatcher: Unit, note: Optional[str], at: dt.datetime) -> None:
    _staff(s, t, dispatcher.on_duty, "returned", at, unit_name=dispatcher.name_zh, unit_id=dispatcher.id,
           from_unit=from_unit.name_zh if from_unit else "", note=mask_text(note or "-"))


def urged(s, t: Ticket, unit: Optional[Unit], note: Optional[str], at: dt.datetime) -> None:
    """The resident chased the case: the unit holding it hears so."""
    if unit is not None:
        _staff(s, t, unit.on_duty, "urged", at, unit_name=unit.name_zh, unit_id=unit.id, note=mask_text(note or "-"))
