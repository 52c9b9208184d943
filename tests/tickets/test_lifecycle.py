"""Lifecycle rules: every (state, action) pair is either the documented transition or an error."""
import itertools

import pytest
from sqlalchemy import func, select

from bot.tickets import lifecycle
from bot.tickets.errors import IllegalTransition
from bot.tickets.lifecycle import STATES, TRANSITIONS
from bot.tickets.models import Ticket, TicketEvent

from .conftest import open_complaint, shanghai

EXPECTED = {  # the table from the issue, written out independently of lifecycle.TRANSITIONS
    ("new", "assign"): "assigned",
    ("assigned", "sign"): "in_progress",
    ("reopened", "sign"): "in_progress",
    ("assigned", "return"): "returned",
    ("in_progress", "return"): "returned",
    ("reopened", "return"): "returned",
    ("returned", "reassign"): "assigned",
    ("assigned", "escalate"): "assigned",
    ("in_progress", "escalate"): "assigned",
    ("reopened", "escalate"): "assigned",
    ("in_progress", "resolve"): "resolved",
    ("resolved", "close"): "closed",
    ("resolved", "reopen"): "reopened",
    ("new", "mark_duplicate"): "duplicate",
    ("assigned", "mark_duplicate"): "duplicate",
    ("returned", "mark_duplicate"): "duplicate",
    **{(s, "cancel"): "cancelled" for s in ("new", "assigned", "in_progress", "returned", "reopened")},
}
ALL_PAIRS = list(itertools.product(sorted(STATES), sorted(TRANSITIONS)))


def test_states_are_the_issue_states():
    assert STATES == {"new", "assigned", "in_progress", "resolved", "closed", "returned", "reopened",
                      "duplicate", "cancelled"}


@pytest.mark.parametrize("state,action", ALL_PAIRS)
def test_every_pair_is_legal_or_raises(state, action):
    if (state, action) in EXPECTED:
        assert lifecycle.target_of(state, action) == EXPECTED[(state, action)]
        assert lifecycle.can(state, action)
    else:
        assert not lifecycle.can(state, action)
        with pytest.raises(IllegalTransition):
            lifecycle.target_of(state, action)


def test_terminal_states_have_no_way_out():
    for state in ("closed", "duplicate", "cancelled"):
        assert lifecycle.allowed_actions(state) == frozenset()


def test_unknown_action_raises():
    with pytest.raises(IllegalTransition):
        lifecycle.target_of("new", "teleport")


def _ticket(state, n):
    return Ticket(number=f"GD20261124-{n:04d}", channel="rest", sender_id="x", language="zh", intent="complaint",
                  category="noise", urgency="normal", description="d", state=state, escalation_count=0,
                  priority=3, created_at=shanghai(2026, 11, 24, 9), updated_at=shanghai(2026, 11, 24, 9))


def test_every_transition_in_the_database(db):
    """Each pair on a stored ticket: legal ones change the state and write exactly one event;
    illegal ones raise and leave the ticket and its history untouched."""
    at = shanghai(2026, 11, 24, 10)
    with db.session() as s:
        for n, (state, action) in enumerate(ALL_PAIRS, start=1):
            t = _ticket(state, n)
            s.add(t)
            s.flush()
            if (state, action) in EXPECTED:
                event = lifecycle.transition(s, t, action, actor="tester", note="why", at=at)
                s.flush()
                assert t.state == EXPECTED[(state, action)]
                assert (event.from_state, event.to_state, event.action, event.actor) == \
                    (state, t.state, action, "tester")
            else:
                with pytest.raises(IllegalTransition):
                    lifecycle.transition(s, t, action, actor="tester", at=at)
                s.flush()
                assert t.state == state
            count = s.execute(select(func.count()).select_from(TicketEvent)
                              .where(TicketEvent.ticket_id == t.id)).scalar_one()
            assert count == (1 if (state, action) in EXPECTED else 0)


def test_state_cannot_be_set_directly(db):
    with db.session() as s:
        t = _ticket("new", 1)
        s.add(t)
        s.flush()
        with pytest.raises(IllegalTransition):
            t.state = "closed"
        with pytest.raises(ValueError):
            _ticket("teleported", 2)


def test_records_are_never_deleted(db, svc):
    r = open_complaint(svc)
    with pytest.raises(PermissionError):
        with db.session() as s:
            s.delete(s.execute(select(Ticket).where(Ticket.number == r.number)).scalar_one())


def test_full_path_through_the_service_is_audited(svc):
    r = open_complaint(svc)
    svc.sign(r.number, "unit:grid")
    svc.resolve(r.number, "unit:grid", "已上门协调，楼上住户承诺夜间注意")
    svc.rate(r.number, channel="rest", sender_id="alice", score=5)
    trail = [(e.action, e.from_state, e.to_state) for e in svc.history(r.number)]
    assert trail == [("created", None, "new"), ("assign", "new", "assigned"), ("sign", "assigned", "in_progress"),
                     ("resolve", "in_progress", "resolved"), ("rated", "resolved", "resolved"),
                     ("close", "resolved", "closed")]
    with pytest.raises(IllegalTransition):
        svc.sign(r.number, "unit:grid")  # closed is final
    assert svc.get(r.number).state == "closed"


def test_return_and_reassign(svc, routing):
    r = open_complaint(svc)
    view = svc.return_to_dispatcher(r.number, "unit:grid", "不属于网格职责")
    assert view.state == "returned" and view.unit_id == routing.dispatcher
    with pytest.raises(ValueError):
        svc.reassign(r.number, "nobody", "dispatcher")
    view = svc.reassign(r.number, "police", "dispatcher", "生活噪声由派出所处理")
    assert view.state == "assigned" and view.unit_id == "police"
    actions = [e.action for e in svc.history(r.number)]
    assert actions[-2:] == ["return", "reassign"]


def test_cancel_by_owner_and_duplicate_by_staff(svc):
    a = open_complaint(svc)
    b = open_complaint(svc, sender="bob")
    assert svc.cancel(a.number, "resident", "已自行解决", channel="rest", sender_id="alice").state == "cancelled"
    with pytest.raises(IllegalTransition):
        svc.cancel(a.number, "resident", channel="rest", sender_id="alice")
    c = open_complaint(svc, sender="carol")
    view = svc.mark_duplicate(c.number, b.number, "dispatcher")
    assert view.state == "duplicate" and view.linked_to == b.number
