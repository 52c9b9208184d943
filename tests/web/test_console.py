"""The console's pages: scopes, ticket actions against the lifecycle, handoffs, escaping, personal data."""
from bot import handoff
from bot.tickets.models import Notification

from .conftest import csrf_of, log_in, open_case


def _act(client, number, **data):
    page = client.get(f"/console/tickets/{number}")
    return client.post(f"/console/tickets/{number}/action", data={"csrf_token": csrf_of(page.text), **data},
                       follow_redirects=False)


def _numbers(client, query=""):
    return {row["number"] for row in client.get(f"/api/tickets?limit=200{query}").json()["tickets"]}


def test_each_unit_sees_its_own_cases_and_those_below_it(client, service):
    g1 = open_case(service, "a", "noise")  # grid_1
    g2 = open_case(service, "b", "sanitation")  # grid_2
    g3 = open_case(service, "c", "parking_traffic")  # grid_3
    ca = open_case(service, "d", "property")  # committee_a
    cb = open_case(service, "e", "other")  # committee_b
    expected = {
        "grid1": {g1}, "grid2": {g2}, "grid3": {g3},
        "committee-a": {g1, g2, ca},
        "street": {g1, g2, g3, ca, cb},
        "police": set(),
        "admin": {g1, g2, g3, ca, cb},
    }
    for username, numbers in expected.items():
        client.cookies.clear()
        log_in(client, username)
        assert _numbers(client) == numbers, username
        page = client.get("/console/tickets").text
        for number in {g1, g2, g3, ca, cb}:
            assert (number in page) == (number in numbers), (username, number)


def test_another_grids_ticket_is_not_found_exactly_like_a_missing_one(client, service):
    mine = open_case(service, "a", "noise")
    theirs = open_case(service, "b", "sanitation")
    log_in(client, "grid1")
    assert client.get(f"/console/tickets/{mine}").status_code == 200
    other = client.get(f"/console/tickets/{theirs}")
    missing = client.get("/console/tickets/GD20991231-9999")
    assert other.status_code == missing.status_code == 404
    assert other.text == missing.text
    assert client.get(f"/api/tickets/{theirs}").status_code == 404
    # Acting on it is refused the same way, and nothing changes.
    token = csrf_of(client.get(f"/console/tickets/{mine}").text)
    response = client.post(f"/console/tickets/{theirs}/action", data={"csrf_token": token, "action": "sign"})
    assert response.status_code == 404
    assert service.get(theirs).state == "assigned"
    assert [e.action for e in service.history(theirs)] == ["created", "assign"]


def test_a_department_sees_what_was_dispatched_to_it(client, service):
    number = open_case(service, "a", "noise")
    log_in(client, "street")
    assert _act(client, number, action="transfer", unit="police", note="涉嫌扰民，转派出所").status_code == 303
    assert service.get(number).unit_id == "police"
    client.cookies.clear()
    log_in(client, "police")
    assert _numbers(client) == {number}
    client.cookies.clear()
    log_in(client, "grid1")
    assert client.get(f"/console/tickets/{number}").status_code == 404


def test_ticket_actions_follow_the_lifecycle_and_are_audited_with_the_username(client, service, db):
    number = open_case(service, "resident-1", "noise", phone="13812345678")
    log_in(client, "grid1")
    # Closing a case that is not resolved is refused by the lifecycle.
    response = _act(client, number, action="close")
    assert response.status_code == 303
    assert "不能执行此操作" in client.get(f"/console/tickets/{number}").text
    assert service.get(number).state == "assigned"

    _act(client, number, action="sign", note="马上去看")
    _act(client, number, action="note", note="已联系物业，晚上再去")
    _act(client, number, action="resolve", resolution="已上门劝导，装修改到白天。")
    assert service.get(number).state == "resolved"
    history = service.history(number)
    mine = [(e.action, e.actor) for e in history if e.actor == "grid1"]
    assert mine == [("sign", "grid1"), ("note", "grid1"), ("resolve", "grid1")]
    assert any(e.note == "已联系物业，晚上再去" for e in history)
    page = client.get(f"/console/tickets/{number}").text
    assert "已联系物业，晚上再去" in page and "grid1" in page
    with db.session(read_only=True) as s:
        kinds = [n.kind for n in s.query(Notification).filter(Notification.audience == "resident",
                                                              Notification.recipient_id == "resident-1")]
    assert "resolved" in kinds  # the answer goes to the resident

    _act(client, number, action="close", note="居民电话确认")
    assert service.get(number).state == "closed"


def test_a_returned_case_leaves_the_grid_and_the_dispatcher_assigns_it(client, service):
    number = open_case(service, "r", "noise")
    log_in(client, "grid1")
    assert _act(client, number, action="return", reason="").status_code == 303  # a reason is required
    assert service.get(number).state == "assigned"
    response = _act(client, number, action="return", reason="是商铺噪音，不属于网格")
    assert response.headers["location"] == "/console/tickets"  # no longer ours to see
    assert client.get(f"/console/tickets/{number}").status_code == 404
    client.cookies.clear()
    log_in(client, "street")
    assert service.get(number).state == "returned"
    _act(client, number, action="assign", unit="grid_2")
    view = service.get(number)
    assert (view.state, view.unit_id) == ("assigned", "grid_2")
    assert [e.actor for e in service.history(number)][-2:] == ["grid1", "street"]


def test_only_the_dispatcher_sends_cases_to_other_units(client, service):
    number = open_case(service, "r", "noise")
    log_in(client, "committee-a")
    response = _act(client, number, action="transfer", unit="grid_3")
    assert response.status_code == 303
    assert "只有派单员（街道办事处）和管理员可以派单" in client.get(f"/console/tickets/{number}").text
    assert service.get(number).unit_id == "grid_1"
    assert client.post(f"/api/tickets/{number}", json={"action": "transfer", "unit": "grid_3"},
                       headers={"X-CSRF-Token": csrf_of(client.get("/console/queue").text)}).status_code == 400


def test_filters(client, service):
    urgent = open_case(service, "u", "noise", description="楼道里有烟", urgent=True)
    normal = open_case(service, "n", "sanitation", description="垃圾没人收")
    log_in(client, "admin")
    assert _numbers(client, "&urgent=1") == {urgent}
    assert _numbers(client, "&category=sanitation") == {normal}
    assert _numbers(client, "&unit=grid_2") == {normal}
    assert _numbers(client, "&state=assigned") == {urgent, normal}
    assert _numbers(client, "&state=closed") == set()
    html = client.get("/console/tickets?urgent=1").text
    assert urgent in html and normal not in html


def test_overdue_filter(client, routing, db):
    import datetime as dt

    from bot.tickets.service import TicketService

    from .conftest import Clock

    past = TicketService(db, routing, clock=Clock(dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=30)))
    late = open_case(past, "late", "noise")
    fresh = open_case(TicketService(db, routing), "fresh", "noise")
    log_in(client, "grid1")
    assert _numbers(client, "&overdue=1") == {late}
    assert fresh in _numbers(client)
    assert "超期" in client.get("/console/tickets?overdue=1").text


def test_resident_text_is_escaped_everywhere(client, service, db, rasa):
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    number = open_case(service, "evil", "noise", description=evil, location=evil)
    h = handoff.open_handoff("rest", "evil", "asked", summary=evil, unit_id="grid_1", db=db)
    rasa.say("evil", "user", evil)
    log_in(client, "grid1")
    _act(client, number, action="note", note=evil)
    for path in (f"/console/tickets/{number}", "/console/tickets", "/console/queue", f"/console/handoffs/{h.id}",
                 f"/console/handoffs/{h.id}/transcript", "/console/dashboard"):
        html = client.get(path).text
        assert "<script>alert" not in html and "<img src=x" not in html, path
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in client.get(f"/console/tickets/{number}").text
    assert "&lt;script&gt;" in client.get(f"/console/handoffs/{h.id}").text


def test_phone_numbers_only_for_the_unit_handling_the_case(client, service, db, rasa):
    number = open_case(service, "p", "noise", description="电话13812345678找我", phone="13812345678")
    log_in(client, "grid1")
    page = client.get(f"/console/tickets/{number}").text
    assert "13812345678" in page
    for username in ("committee-a", "street", "admin"):
        client.cookies.clear()
        log_in(client, username)
        page = client.get(f"/console/tickets/{number}").text
        assert "13812345678" not in page and "138****5678" in page, username
        assert client.get(f"/api/tickets/{number}").json()["phone"] == "138****5678"
    # The same in a handed-off conversation.
    h = handoff.open_handoff("rest", "p", "asked", unit_id="grid_1", db=db)
    rasa.say("p", "user", "我的电话是13812345678")
    assert "13812345678" not in client.get(f"/console/handoffs/{h.id}").text
    client.cookies.clear()
    log_in(client, "grid1")
    assert "13812345678" in client.get(f"/console/handoffs/{h.id}").text


def test_the_queue_is_urgent_first_then_oldest_and_scoped(client, db):
    first = handoff.open_handoff("rest", "q1", "asked", unit_id="grid_1", db=db)
    second = handoff.open_handoff("telegram", "q2", "not_understood", unit_id="grid_1", db=db)
    urgent = handoff.open_handoff("wechat", "q3", "urgent", urgent=True, unit_id="grid_1", db=db)
    elsewhere = handoff.open_handoff("rest", "q4", "asked", unit_id="grid_3", db=db)
    nobody = handoff.open_handoff("rest", "q5", "asked", db=db)  # no unit: the dispatcher's
    log_in(client, "grid1")
    ids = [h["id"] for h in client.get("/api/handoffs").json()["handoffs"]]
    assert ids == [urgent.id, first.id, second.id]
    html = client.get("/console/queue").text
    assert html.index(f"对话 {urgent.id}") < html.index(f"对话 {first.id}") < html.index(f"对话 {second.id}")
    assert client.get(f"/console/handoffs/{elsewhere.id}").status_code == 404
    assert client.get(f"/console/handoffs/{nobody.id}").status_code == 404
    client.cookies.clear()
    log_in(client, "street")
    ids = [h["id"] for h in client.get("/api/handoffs").json()["handoffs"]]
    assert ids == [urgent.id, first.id, second.id, elsewhere.id, nobody.id]


def test_a_handoff_shows_the_transcript_in_order_with_delivery_status(client, db, rasa):
    h = handoff.open_handoff("telegram", "t1", "asked", language="en", unit_id="grid_1", summary="talk to a person", db=db)
    rasa.say("t1", "user", "my heating is broken", at=1_700_000_000)
    rasa.say("t1", "bot", "I'm passing you to a member of staff", at=1_700_000_001)
    rasa.say("t1", "user", "hello?", at=1_700_000_002)
    log_in(client, "grid1")
    page = client.get(f"/console/handoffs/{h.id}")
    token = csrf_of(page.text)
    assert "Telegram" in page.text and "English" in page.text
    client.post(f"/console/handoffs/{h.id}/reply", data={"csrf_token": token, "text": "We will come at 3 pm."})
    with db.session() as s:
        note = s.query(Notification).filter_by(kind="staff_reply", recipient_id="t1").one()
        assert (note.recipient_channel, note.status, note.params["staff"]) == ("telegram", "pending", "grid1")
        nid = note.id
    html = client.get(f"/console/handoffs/{h.id}/transcript").text
    assert "待发送" in html
    # The delivery service sent it (into the tracker) and recorded the outcome.
    with db.session() as s:
        note = s.get(Notification, nid)
        note.status = "sent"
    rasa.say("t1", "bot", "We will come at 3 pm.", at=1_700_000_100, notification_id=nid, kind="staff_reply")
    rasa.say("t1", "user", "thanks", at=1_700_000_200)
    lines = client.get(f"/api/handoffs/{h.id}").json()["transcript"]
    assert [(line["who"], line["text"]) for line in lines] == [
        ("resident", "my heating is broken"), ("bot", "I'm passing you to a member of staff"),
        ("resident", "hello?"), ("staff", "We will come at 3 pm."), ("resident", "thanks")]
    assert lines[3]["status"] == "sent" and lines[3]["staff"] == "grid1"
    html = client.get(f"/console/handoffs/{h.id}").text
    assert 'data-status="sent"' in html and "已送达" in html
    assert handoff.get(h.id, db=db).state == "active"


def test_failed_and_undeliverable_replies_say_why(client, db, rasa):
    h = handoff.open_handoff("wechat", "w1", "asked", unit_id="grid_1", db=db)
    log_in(client, "grid1")
    first = handoff.reply(h.id, "grid1", "第一条", db=db)
    second = handoff.reply(h.id, "grid1", "第二条", db=db)
    with db.session() as s:
        a, b = s.get(Notification, first), s.get(Notification, second)
        a.status, a.last_error, a.attempts = "failed", "ConnectionError('timeout')", 2
        b.status, b.last_error = "undeliverable", "wechat allows messages only within 2 days of the resident's last message"
    html = client.get(f"/console/handoffs/{h.id}").text
    assert "发送失败，将重试" in html and "已尝试 2 次" in html
    assert "无法送达" in html and "only within 2 days" in html


def test_hand_back_to_the_bot_resumes_the_conversation(client, db, rasa):
    h = handoff.open_handoff("rest", "hb", "asked", unit_id="grid_1", db=db)
    log_in(client, "grid1")
    rasa.down = True
    token = csrf_of(client.get(f"/console/handoffs/{h.id}").text)
    client.post(f"/console/handoffs/{h.id}/return", data={"csrf_token": token}, follow_redirects=False)
    assert handoff.get(h.id, db=db).state == "waiting"  # Rasa unreachable: still open, staff told
    rasa.down = False
    assert "无法连接机器人服务" in client.get(f"/console/handoffs/{h.id}").text
    response = client.post(f"/console/handoffs/{h.id}/return", data={"csrf_token": token}, follow_redirects=False)
    assert response.headers["location"] == "/console/queue"
    row = handoff.get(h.id, db=db)
    assert (row.state, row.closed_by) == ("returned_to_bot", "grid1")
    assert rasa.resumed == ["hb"]
    # Over: no more replies, no second close.
    client.post(f"/console/handoffs/{h.id}/reply", data={"csrf_token": token, "text": "hello"})
    client.post(f"/console/handoffs/{h.id}/close", data={"csrf_token": token})
    assert handoff.get(h.id, db=db).state == "returned_to_bot"
    with db.session(read_only=True) as s:
        assert s.query(Notification).filter_by(kind="staff_reply", recipient_id="hb").count() == 0


def test_closing_a_handoff(client, db, rasa):
    h = handoff.open_handoff("rest", "cl", "asked", unit_id="grid_1", db=db)
    log_in(client, "committee-a")
    token = csrf_of(client.get(f"/console/handoffs/{h.id}").text)
    client.post(f"/console/handoffs/{h.id}/close", data={"csrf_token": token})
    row = handoff.get(h.id, db=db)
    assert (row.state, row.closed_by) == ("closed", "committee-a") and rasa.resumed == ["cl"]
    assert f"对话 {h.id}" not in client.get("/console/queue").text


def test_related_tickets_of_the_resident_are_listed(client, service, db, rasa):
    mine = open_case(service, "rel", "noise", channel="rest")
    other_unit = open_case(service, "rel", "parking_traffic", channel="rest", description="门口乱停车")
    h = handoff.open_handoff("rest", "rel", "asked", unit_id="grid_1", db=db)
    log_in(client, "grid1")
    html = client.get(f"/console/handoffs/{h.id}").text
    assert f'href="/console/tickets/{mine}"' in html
    assert other_unit in html and f'href="/console/tickets/{other_unit}"' not in html
