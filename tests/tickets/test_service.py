"""The service: filing, idempotency, repeat links, owner-only status, rating loop, atomicity."""
import threading

import pytest
from sqlalchemy import func, select

from bot.tickets import notices, service as service_module
from bot.tickets.errors import IllegalTransition, InvalidPhone, InvalidRating, TicketNotFound
from bot.tickets.models import Notification, Ticket, TicketCounter, TicketEvent
from bot.tickets.service import TicketService

from .conftest import open_complaint, shanghai


def _count(db, model, *where):
    with db.session(read_only=True) as s:
        return s.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def _notes(db, number=None, **by):
    with db.session(read_only=True) as s:
        q = select(Notification).order_by(Notification.id)
        if number:
            q = q.join(Ticket).where(Ticket.number == number)
        for k, v in by.items():
            q = q.where(getattr(Notification, k) == v)
        return list(s.execute(q).scalars())


def test_open_returns_number_unit_and_due_time(svc, db):
    r = open_complaint(svc, phone="138-1234-5678", language="zh")
    assert r.created and r.outcome == "created" and r.number == r.record_number
    assert r.number == "GD20261124-0001"
    assert (r.unit_id, r.unit_name_zh, r.unit_name_en) == ("grid", "社区网格员", "Grid worker")
    # Tuesday 10:00: sign by Wednesday 10:00, answer within 5 working days → next Tuesday 10:00
    assert r.sign_due_at == shanghai(2026, 11, 25, 10) and r.due_at == shanghai(2026, 12, 1, 10)
    assert r.number in r.message and "社区网格员" in r.message
    with db.session(read_only=True) as s:
        t = s.execute(select(Ticket)).scalar_one()
        assert (t.state, t.phone, t.priority, t.level) == ("assigned", "13812345678", 3, "grid")
    staff = _notes(db, audience="staff")
    assert [(n.kind, n.recipient_id) for n in staff] == [("assigned", "duty:grid")]


def test_english_and_traditional_replies(svc):
    en = open_complaint(svc, sender="e", language="en-US", category="sanitation", description="Rubbish not collected")
    assert "registered" in en.message and "Grid worker" in en.message
    hant = open_complaint(svc, sender="h", language="zh-TW", category="property", description="電梯壞了")
    assert "已為您登記工單" in hant.message


def test_input_checks(svc):
    with pytest.raises(ValueError):
        open_complaint(svc, description="   ")
    with pytest.raises(ValueError):
        open_complaint(svc, intent="gossip")
    with pytest.raises(ValueError):
        open_complaint(svc, sender="")
    with pytest.raises(InvalidPhone):
        open_complaint(svc, phone="12345")
    assert open_complaint(svc, category="astrology").unit_id == "committee"  # → other


def test_same_delivery_twice_is_one_ticket(svc, db):
    a = open_complaint(svc, idempotency_key="wx-msg-1")
    b = open_complaint(svc, idempotency_key="wx-msg-1", description="完全不同的文字也一样")
    assert (a.outcome, b.outcome) == ("created", "replayed")
    assert a.number == b.number
    assert _count(db, Ticket) == 1
    # the same key from another resident is another delivery
    c = open_complaint(svc, sender="bob", idempotency_key="wx-msg-1")
    assert c.created and c.number != a.number


def test_concurrent_deliveries_of_one_message_make_one_ticket(svc, db):
    results, errors = [], []
    barrier = threading.Barrier(4)

    def deliver():
        try:
            barrier.wait()
            results.append(open_complaint(svc, idempotency_key="tg-update-77"))
        except Exception as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert len({r.number for r in results}) == 1
    assert sorted(r.outcome for r in results) == ["created", "replayed", "replayed", "replayed"]
    assert _count(db, Ticket) == 1


def test_repeat_report_is_linked_to_the_open_ticket(svc, db, clock):
    first = open_complaint(svc)
    clock.advance(hours=5)
    again = open_complaint(svc, description="楼上半夜又在跺脚，吵得根本睡不着")
    assert again.linked and again.number == first.number and again.record_number != first.number
    assert first.number in again.message
    with db.session(read_only=True) as s:
        rec = s.execute(select(Ticket).where(Ticket.number == again.record_number)).scalar_one()
        orig = s.execute(select(Ticket).where(Ticket.number == first.number)).scalar_one()
        assert rec.state == "duplicate" and rec.duplicate_of == orig.id
        assert orig.state == "assigned"
    assert "repeat_report" in [e.action for e in svc.history(first.number)]
    # only one case for the unit: the repeat did not notify anyone
    assert len(_notes(db, audience="staff")) == 1
    # the resident's list shows the one case; the status of the record points at the case
    assert [v.number for v in svc.list_tickets_for("rest", "alice")] == [first.number]
    assert svc.ticket_status(again.record_number, "rest", "alice").linked_to == first.number


def test_same_location_counts_as_the_same_thing(svc):
    first = open_complaint(svc, description="楼上噪音", location="幸福小区 3号楼 2单元 301")
    again = open_complaint(svc, description="晚上有人唱卡拉OK到两点", location="幸福小区3号楼2单元301")
    assert again.linked and again.number == first.number


def test_what_is_not_a_repeat(svc, clock, routing):
    first = open_complaint(svc)
    assert open_complaint(svc, sender="bob").created  # another resident
    assert open_complaint(svc, category="property", description="电梯坏了三天", location=None).created
    assert open_complaint(svc, description="小区门口的烧烤摊油烟很大", location="东门").created  # different thing
    clock.advance(hours=routing.duplicate_window_hours + 1)
    assert open_complaint(svc).created  # outside the window
    svc.cancel(first.number, "resident", channel="rest", sender_id="alice")


def test_repeat_of_a_closed_case_opens_a_new_one(svc):
    first = open_complaint(svc)
    svc.cancel(first.number, "resident", channel="rest", sender_id="alice")
    assert open_complaint(svc).created


def test_replayed_repeat_report_answers_the_same(svc, db):
    first = open_complaint(svc, idempotency_key="m1")
    a = open_complaint(svc, idempotency_key="m2", description="楼上每天半夜跺脚吵得睡不着")
    b = open_complaint(svc, idempotency_key="m2", description="楼上每天半夜跺脚吵得睡不着")
    assert a.linked and b.linked and a.number == b.number == first.number
    assert a.record_number == b.record_number
    assert _count(db, Ticket) == 2


def test_urgent_case_skips_the_queue(svc, db):
    r = open_complaint(svc, category="fire_safety", urgency="urgent", description="楼道里有很浓的煤气味")
    assert r.urgent and r.unit_id == "committee"
    assert r.sign_due_at == shanghai(2026, 11, 24, 11) and r.due_at == shanghai(2026, 11, 24, 14)
    with db.session(read_only=True) as s:
        assert s.execute(select(Ticket.priority)).scalar_one() == 1
    alerts = _notes(db, kind="urgent_alert")
    assert {n.recipient_id for n in alerts} == {"duty:committee", "duty:street"}
    assert all("煤气" in n.text and n.status == "pending" for n in alerts)
    # repeated while nobody came: linked, and the alert goes out again
    again = open_complaint(svc, category="fire_safety", urgency=True, description="楼道里煤气味很浓，快来人")
    assert again.linked and len(_notes(db, kind="urgent_alert")) == 4
    # a routine report is never linked to... and an urgent one is never swallowed by a routine case
    routine = open_complaint(svc, sender="bob", category="fire_safety", description="楼道里有人给电动车充电")
    urgent = open_complaint(svc, sender="bob", category="fire_safety", urgency="urgent",
                            description="楼道里有人给电动车充电，电池冒烟了")
    assert routine.created and urgent.created


def test_status_only_for_the_owner(svc):
    r = open_complaint(svc)
    view = svc.ticket_status(r.number, "rest", "alice")
    assert view.number == r.number and view.state == "assigned" and r.number in view.message
    assert svc.ticket_status(f" {r.number.lower()} ", "rest", "alice").number == r.number
    errors = []
    for number, channel, sender in [(r.number, "rest", "mallory"), (r.number, "telegram", "alice"),
                                    ("GD20261124-0999", "rest", "alice"), ("GD20991231-0001", "rest", "mallory"),
                                    ("hello", "rest", "alice"), (None, "rest", "alice")]:
        with pytest.raises(TicketNotFound) as info:
            svc.ticket_status(number, channel, sender)
        errors.append((str(info.value), info.value.number))
    assert len(set(errors)) == 1  # not even the echoed number differs


def test_list_tickets_for_the_resident(svc, clock):
    a = open_complaint(svc)
    clock.advance(minutes=1)
    b = open_complaint(svc, category="property", description="电梯坏了")
    open_complaint(svc, sender="bob")
    assert [v.number for v in svc.list_tickets_for("rest", "alice")] == [b.number, a.number]
    svc.cancel(a.number, "resident", channel="rest", sender_id="alice")
    assert [v.number for v in svc.list_tickets_for("rest", "alice", open_only=True)] == [b.number]
    assert svc.list_tickets_for("rest", "nobody") == []


def test_a_resident_can_chase_only_their_own_open_case(svc, db, clock):
    r = open_complaint(svc)
    svc.urge(r.number, channel="rest", sender_id="alice", note="前天反映的 怎么还没人管 电话13812345678")
    with db.session(read_only=True) as s:
        event = s.execute(select(TicketEvent).where(TicketEvent.action == "urged")).scalar_one()
        assert (event.actor, event.from_state, event.to_state) == ("resident", "assigned", "assigned")
        assert "13812345678" not in event.note  # personal data masked in the audit trail
    told = _notes(db, r.number, kind="urged")
    assert len(told) == 1 and "催办" in told[0].text and "13812345678" not in told[0].text
    svc.urge(r.number, channel="rest", sender_id="alice", note="催一下")  # recorded, the unit not told twice
    assert len(_notes(db, r.number, kind="urged")) == 1
    clock.advance(hours=13)
    svc.urge(r.number, channel="rest", sender_id="alice", note="还是没人来")
    assert len(_notes(db, r.number, kind="urged")) == 2
    with pytest.raises(TicketNotFound):
        svc.urge(r.number, channel="rest", sender_id="mallory")
    svc.cancel(r.number, "resident", channel="rest", sender_id="alice")
    with pytest.raises(IllegalTransition):
        svc.urge(r.number, channel="rest", sender_id="alice")


def test_resolve_asks_for_a_rating(svc, db):
    r = open_complaint(svc)
    with pytest.raises(IllegalTransition):
        svc.resolve(r.number, "unit:grid", "done")  # must sign first
    svc.sign(r.number, "unit:grid")
    with pytest.raises(ValueError):
        svc.resolve(r.number, "unit:grid", " ")
    svc.resolve(r.number, "unit:grid", "已上门协调")
    kinds = [(n.kind, n.recipient_channel, n.recipient_id) for n in _notes(db, r.number, audience="resident")]
    assert kinds == [("status_changed", "rest", "alice"), ("resolved", "rest", "alice"),
                     ("rating_request", "rest", "alice")]
    assert "已上门协调" in _notes(db, r.number, kind="resolved")[0].text


def _resolved(svc, **kw):
    r = open_complaint(svc, **kw)
    svc.sign(r.number, "unit:grid")
    svc.resolve(r.number, "unit:grid", "已处理")
    return r


def test_low_rating_reopens_and_tells_the_unit(svc, db, clock):
    r = _resolved(svc)
    clock.advance(days=1)
    result = svc.rate(r.number, channel="rest", sender_id="alice", score=2, comment="根本没人来，电话13812345678")
    assert result.reopened and result.state == "reopened"
    view = svc.get(r.number)
    assert view.rating == 2 and view.unit_id == "grid"
    assert view.sign_due_at == shanghai(2026, 11, 26, 10)  # new limits from the rating
    told = _notes(db, r.number, kind="reopened")
    assert [(n.audience, n.recipient_id) for n in told] == [("staff", "duty:grid")]
    assert "138****5678" in told[0].text and "13812345678" not in told[0].text
    # rework: sign again, resolve again, rate well → closed
    svc.sign(r.number, "unit:grid")
    svc.resolve(r.number, "unit:grid", "已再次上门")
    result = svc.rate(r.number, channel="rest", sender_id="alice", score=4)
    assert not result.reopened and result.state == "closed"
    assert [e.action for e in svc.history(r.number)].count("rated") == 2


def test_rating_rules(svc):
    r = _resolved(svc)
    for bad in (0, 6, 3.5, "5", True, None):
        with pytest.raises(InvalidRating):
            svc.rate(r.number, channel="rest", sender_id="alice", score=bad)
    with pytest.raises(TicketNotFound):
        svc.rate(r.number, channel="rest", sender_id="mallory", score=1)
    open_one = open_complaint(svc, sender="bob")
    with pytest.raises(IllegalTransition):
        svc.rate(open_one.number, channel="rest", sender_id="bob", score=5)
    assert svc.rate(r.number, channel="rest", sender_id="alice", score=3).state == "closed"
    with pytest.raises(IllegalTransition):
        svc.rate(r.number, channel="rest", sender_id="alice", score=1)  # already closed


def test_unrated_cases_close_automatically(svc, db, clock, routing):
    from bot.tickets.autoclose import run_autoclose

    r = _resolved(svc)
    assert run_autoclose(db, routing, clock.advance(days=2)) == []
    assert run_autoclose(db, routing, clock.advance(days=10)) == [r.number]
    assert svc.get(r.number).state == "closed"
    assert svc.history(r.number)[-1].actor == "system"


@pytest.mark.parametrize("crash_point", ["route", "number", "event", "notify", "view"])
def test_a_crash_anywhere_leaves_no_ticket(svc, db, monkeypatch, crash_point):
    """Fail at each step of filing: nothing of the case may remain, and a retry makes exactly one."""
    def boom(*a, **k):
        raise RuntimeError(f"crash at {crash_point}")

    target = {"route": (svc.routing, "route"), "number": (service_module, "allocate_number"),
              "event": (service_module.lifecycle, "created"), "notify": (notices, "case_assigned"),
              "view": (TicketService, "_result")}[crash_point]
    with monkeypatch.context() as m:
        m.setattr(*target, boom)
        with pytest.raises(RuntimeError):
            open_complaint(svc, idempotency_key="k1")
    for model in (Ticket, TicketEvent, Notification, TicketCounter):
        assert _count(db, model) == 0, model
    r = open_complaint(svc, idempotency_key="k1")
    assert r.created and r.number == "GD20261124-0001"
    assert open_complaint(svc, idempotency_key="k1").outcome == "replayed"
    assert _count(db, Ticket) == 1


def test_concurrent_staff_changes_do_not_both_apply(svc, db):
    """Two units sign the same case at once: one signs, the other is told it is no longer possible."""
    r = open_complaint(svc)
    outcomes = []
    barrier = threading.Barrier(2)

    def sign(actor):
        barrier.wait()
        try:
            svc.sign(r.number, actor)
            outcomes.append("ok")
        except IllegalTransition:
            outcomes.append("illegal")

    threads = [threading.Thread(target=sign, args=(a,)) for a in ("unit:grid", "unit:committee")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["illegal", "ok"]
    assert [e.action for e in svc.history(r.number)].count("sign") == 1
