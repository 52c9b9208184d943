"""The dashboard's numbers on a seeded dataset, and the JSON API."""

from bot.web.stats import compound_of

from .conftest import csrf_of, log_in, open_case
from .seed import EXPECTED, day, seed_dashboard


def test_compounds_from_locations():
    assert compound_of("幸福小区3号楼2单元301") == "幸福小区"
    assert compound_of("在阳光花园东门") == "阳光花园"
    assert compound_of("和平里社区服务站") == "和平里"
    assert compound_of("人民路12号") == "人民路"
    assert compound_of("") == "（未知地点）"


def test_dashboard_numbers_of_the_seeded_dataset(client, db, routing):
    seed_dashboard(db, routing)
    log_in(client, "admin")
    data = client.get("/api/dashboard?weeks=4").json()
    assert data["total"] == EXPECTED["total"] and data["open"] == EXPECTED["open"]
    assert {r["category"]: r["count"] for r in data["by_category"]} == EXPECTED["by_category"]
    by_day = {r["day"]: r["count"] for r in data["by_day"]}
    assert len(by_day) == 28 and sum(by_day.values()) == EXPECTED["total"]
    for offset, count in EXPECTED["by_day"].items():
        assert by_day[day(offset).date().isoformat()] == count
    assert {r["unit_id"]: (r["on_time"], r["late"], r["rate"]) for r in data["on_time"]} == EXPECTED["on_time"]
    sat = data["satisfaction"]
    assert (sat["count"], sat["average"], sat["satisfied_rate"]) == (4, 4.25, 75.0)
    assert [r["count"] for r in sat["distribution"]] == EXPECTED["ratings"]["distribution"]
    assert [(r["compound"], r["category"], r["count"]) for r in data["hotspots"]] == EXPECTED["hotspots"]
    html = client.get("/console/dashboard").text
    for needle in ("33.3%", "100.0%", "4.25/5", "75.0%", "幸福小区", 'id="chart-category"', "/static/vendor/chart.umd.js"):
        assert needle in html, needle
    # One week: only the recent cases.
    assert client.get("/api/dashboard?weeks=1").json()["total"] == 6


def test_the_dashboard_is_scoped_too(client, db, routing):
    seed_dashboard(db, routing)
    log_in(client, "committee-a")  # grids 1 and 2, not grid 3
    assert client.get("/api/dashboard").json()["total"] == 7
    client.cookies.clear()
    log_in(client, "grid3")
    data = client.get("/api/dashboard").json()
    assert data["total"] == 1 and data["by_category"] == [{"category": "parking_traffic", "label": "停车交通", "count": 1}]


def test_api_with_a_personal_token(client, service, db):
    from bot import handoff, staff

    number = open_case(service, "api-1", "noise", phone="13900001111")
    other = open_case(service, "api-2", "sanitation")
    token = staff.issue_api_token("grid1", db=db)
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/me", headers=auth).json()["scope"] == ["grid_1"]
    listing = client.get("/api/tickets?state=assigned", headers=auth).json()
    assert listing["total"] == 1 and listing["tickets"][0]["number"] == number
    detail = client.get(f"/api/tickets/{number}", headers=auth).json()
    assert detail["phone"] == "13900001111" and [e["action"] for e in detail["history"]] == ["created", "assign"]
    assert client.get(f"/api/tickets/{other}", headers=auth).status_code == 404
    # Update: no CSRF header needed with a token; the lifecycle still decides.
    response = client.post(f"/api/tickets/{number}", json={"action": "sign", "note": "via API"}, headers=auth)
    assert response.status_code == 200 and response.json()["ticket"]["state"] == "in_progress"
    assert client.post(f"/api/tickets/{number}", json={"action": "sign"}, headers=auth).status_code == 409
    assert client.post(f"/api/tickets/{number}", json={"action": "resolve"}, headers=auth).status_code == 400
    assert client.post(f"/api/tickets/{number}", json={"action": "explode"}, headers=auth).status_code == 400
    assert client.post(f"/api/tickets/{other}", json={"action": "sign"}, headers=auth).status_code == 404
    assert client.post(f"/api/tickets/{number}", content=b"not json", headers=auth).status_code == 400
    assert service.history(number)[-1].actor == "grid1"
    # Handoffs.
    h = handoff.open_handoff("telegram", "api-1", "asked", unit_id="grid_1", db=db)
    assert [x["id"] for x in client.get("/api/handoffs", headers=auth).json()["handoffs"]] == [h.id]
    response = client.post(f"/api/handoffs/{h.id}", json={"action": "reply", "text": "您好"}, headers=auth)
    assert response.status_code == 200 and response.json()["handoff"]["state"] == "active"
    body = client.get(f"/api/handoffs/{h.id}", headers=auth).json()
    assert body["transcript"][-1]["who"] == "staff" and body["transcript"][-1]["status"] == "pending"
    assert body["related_tickets"][0]["number"] == number
    # A revoked token no longer works.
    staff.revoke_api_token("grid1", db=db)
    assert client.get("/api/me", headers=auth).status_code == 401


def test_api_with_the_session_needs_the_csrf_header_for_updates(client, service):
    number = open_case(service, "api-3", "noise")
    log_in(client, "grid1")
    assert client.post(f"/api/tickets/{number}", json={"action": "sign"}).status_code == 403
    token = csrf_of(client.get("/console/queue").text)
    response = client.post(f"/api/tickets/{number}", json={"action": "sign"}, headers={"X-CSRF-Token": token})
    assert response.status_code == 200
    assert service.get(number).state == "in_progress"


def test_the_bots_front_door_is_shown_to_the_dispatcher_and_admins_only(client, db, routing):
    """Residents' messages counted from the bot's conversation events (bot/conversation_stats.py):
    district-wide figures, so only the street office (the dispatcher) and admins see them."""
    from rasa.shared.core.events import UserUttered

    from bot import conversation_stats

    log_in(client, "street")
    assert client.get("/api/dashboard").json()["front_door"]["enabled"] is False
    assert 'id="door-disabled"' in client.get("/console/dashboard").text  # says how to switch it on
    events = [{"sender_id": sender, **UserUttered(text, {"name": intent}, parse_data={"intent": {"name": intent}},
                                                  input_channel=channel, timestamp=day(1).timestamp() + i).as_dict()}
              for i, (sender, text, intent, channel) in enumerate([
                  ("r1", "楼上漏水", "complaint", "wechat"), ("r1", "什么意思", "nlu_fallback", "wechat"),
                  ("r2", "how do I register my dog", "consultation", "telegram"), ("r3", "你好", "greet", "socketio")])]
    conversation_stats.record(db, [conversation_stats.fact_from_event(e, b"x" * 32) for e in events])
    door = client.get("/api/dashboard").json()["front_door"]
    assert (door["messages"], door["residents"], door["understood_rate"]) == (4, 3, 75.0)
    assert [(r["label"], r["messages"], r["residents"]) for r in door["by_channel"]] == [
        ("微信", 2, 1), ("网页聊天", 1, 1), ("Telegram", 1, 1)]  # most messages first, then by channel
    html = client.get("/console/dashboard").text
    for needle in ('id="door-residents">3<', 'id="door-understood">75.0%<', "未听懂", 'id="chart-door-day"'):
        assert needle in html, needle
    for user in ("grid3", "committee-a"):
        client.cookies.clear()
        log_in(client, user)
        assert client.get("/api/dashboard").json()["front_door"] is None
        assert 'id="front-door"' not in client.get("/console/dashboard").text
    client.cookies.clear()
    log_in(client, "admin")
    assert client.get("/api/dashboard").json()["front_door"]["messages"] == 4
