"""Accounts, login sessions, CSRF, the login rate limit, the CLI and the secret key."""
import datetime as dt
import io
import os
import stat

import pytest
from starlette.routing import Route

from bot import staff
from bot.web.auth import safe_next
from bot.web.config import ensure_secret_key

from .conftest import PASSWORD, csrf_of, log_in


def test_passwords_are_stored_as_argon2_hashes(db):
    with db.session(read_only=True) as s:
        row = s.query(staff.StaffUser).filter_by(username="grid1").one()
    assert row.password_hash.startswith("$argon2id$") and PASSWORD not in row.password_hash


def test_accounts_refuse_weak_passwords_reserved_names_and_unknown_units(db, routing):
    units = set(routing.units)
    with pytest.raises(staff.AccountError):
        staff.create_user("newbie", "short", unit_id="grid_1", known_units=units, db=db)
    with pytest.raises(staff.AccountError):
        staff.create_user("system", PASSWORD, unit_id="grid_1", known_units=units, db=db)
    with pytest.raises(staff.AccountError):
        staff.create_user("newbie", PASSWORD, unit_id="grid_9", known_units=units, db=db)
    with pytest.raises(staff.AccountError):
        staff.create_user("newbie", PASSWORD, role="staff", unit_id=None, known_units=units, db=db)
    with pytest.raises(staff.AccountError):
        staff.create_user("GRID1", PASSWORD, unit_id="grid_1", known_units=units, db=db)  # taken (case-blind)


def test_console_pages_need_a_login_and_the_api_says_401(client):
    response = client.get("/console/tickets?state=open", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login?next=%2Fconsole%2Ftickets%3Fstate%3Dopen"
    assert client.get("/api/tickets").status_code == 401
    assert client.get("/api/tickets", headers={"Authorization": "Bearer cst_nope"}).status_code == 401


def test_login_sets_an_httponly_samesite_signed_session_cookie(client):
    response = log_in(client, "grid1")
    cookie = response.headers["set-cookie"].lower()
    assert cookie.startswith("console_session=")
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    assert client.get("/console/queue").status_code == 200
    # A tampered cookie is no session.
    value = client.cookies.get("console_session")
    client.cookies.clear()
    client.cookies.set("console_session", value[:-3] + ("AAA" if not value.endswith("AAA") else "BBB"))
    assert client.get("/console/queue", follow_redirects=False).status_code == 303


def test_wrong_password_and_unknown_user_get_the_same_answer(client):
    page = client.get("/console/login")
    token = csrf_of(page.text)
    wrong = client.post("/console/login", data={"username": "grid1", "password": "wrong password!", "csrf_token": token})
    unknown = client.post("/console/login", data={"username": "nobody", "password": "wrong password!", "csrf_token": token})
    assert wrong.status_code == unknown.status_code == 401
    assert "用户名或密码错误" in wrong.text and "用户名或密码错误" in unknown.text


def test_login_is_rate_limited_per_username_and_address(client, db):
    token = csrf_of(client.get("/console/login").text)
    for _ in range(5):
        response = client.post("/console/login", data={"username": "grid2", "password": "not it at all", "csrf_token": token})
        assert response.status_code == 401
    blocked = client.post("/console/login", data={"username": "grid2", "password": PASSWORD, "csrf_token": token})
    assert blocked.status_code == 429 and "Retry-After" in blocked.headers
    assert "次数过多" in blocked.text
    # Another person from the same address, and the same person from another address, are not blocked.
    log_in(client, "grid3")
    assert staff.authenticate("grid2", PASSWORD, "10.0.0.7", db=db) is not None
    # After the window the person can log in again.
    later = staff.utcnow() + staff.LOGIN_WINDOW + dt.timedelta(seconds=1)
    assert staff.authenticate("grid2", PASSWORD, "testclient", db=db, now=later) is not None


def test_many_failures_from_one_address_block_that_address(db, monkeypatch):
    monkeypatch.setattr(staff, "MAX_FAILURES_PER_IP", 8)
    for i in range(staff.MAX_FAILURES_PER_IP):
        assert staff.authenticate(f"user{i}", "wrong password", "192.0.2.1", db=db) is None
    with pytest.raises(staff.TooManyAttempts):
        staff.authenticate("grid1", PASSWORD, "192.0.2.1", db=db)


def test_login_needs_the_csrf_token(client):
    client.get("/console/login")
    response = client.post("/console/login", data={"username": "grid1", "password": PASSWORD})
    assert response.status_code == 403
    assert client.get("/console/queue", follow_redirects=False).status_code == 303


def test_every_post_form_of_the_console_refuses_a_missing_or_wrong_csrf_token(client, app, db, service):
    log_in(client, "admin")
    number = service.open_ticket(channel="rest", sender_id="r1", intent="complaint", category="noise",
                                 description="吵", location="幸福小区", phone=None, language="zh").number
    from bot import handoff

    h = handoff.open_handoff("rest", "r1", "asked", db=db)
    posts = [r for r in app.routes if isinstance(r, Route) and "POST" in (r.methods or ())
             and r.path.startswith("/console/") and r.path != "/console/login"]
    assert len(posts) >= 9
    for route in posts:
        path = (route.path.replace("{handoff_id:int}", str(h.id)).replace("{number}", number)
                .replace("{user_id}", "1"))
        for data in ({}, {"csrf_token": "forged"}):
            response = client.post(path, data={**data, "action": "note", "note": "x", "text": "hi"},
                                   follow_redirects=False)
            assert response.status_code == 403, (path, response.status_code)
    # Nothing happened.
    assert [e.action for e in service.history(number)] == ["created", "assign"]
    assert handoff.get(h.id, db=db).state == "waiting"
    assert client.get("/console/queue").status_code == 200  # still logged in


def test_logout_ends_the_session_even_for_a_copied_cookie(client):
    log_in(client, "grid1")
    copied = client.cookies.get("console_session")
    page = client.get("/console/queue")
    response = client.post("/console/logout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/console/login"
    client.cookies.clear()
    client.cookies.set("console_session", copied)
    assert client.get("/console/queue", follow_redirects=False).status_code == 303


def test_after_login_only_console_paths_are_followed(client):
    assert safe_next("/console/tickets?state=open") == "/console/tickets?state=open"
    for evil in ("https://evil.example/", "//evil.example/console/", "/\\evil.example", "javascript:alert(1)", "/api/me"):
        assert safe_next(evil) == "/console/"
    page = client.get("/console/login?next=https://evil.example/")
    response = client.post("/console/login", data={"username": "grid1", "password": PASSWORD, "next": "https://evil.example/",
                                                   "csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert response.headers["location"] == "/console/"


def test_admin_pages_are_not_found_for_staff(client):
    log_in(client, "street")
    assert client.get("/console/users").status_code == 404
    log_in(client, "admin")
    assert "grid1" in client.get("/console/users").text


def test_admin_creates_a_staff_account_in_the_console(client):
    log_in(client, "admin")
    page = client.get("/console/users")
    response = client.post("/console/users/create", data={
        "csrf_token": csrf_of(page.text), "username": "li.na", "display_name": "李娜", "role": "staff",
        "unit": "grid_3", "password": "a long enough pw"}, follow_redirects=False)
    assert response.status_code == 303
    client.cookies.clear()
    log_in(client, "li.na", "a long enough pw")
    assert client.get("/api/me").json()["scope"] == ["grid_3"]


def test_changing_the_password_ends_other_sessions(client, app):
    from starlette.testclient import TestClient

    log_in(client, "grid1")
    with TestClient(app, base_url="http://127.0.0.1") as other:
        log_in(other, "grid1")
        page = client.get("/console/account")
        response = client.post("/console/account/password", data={
            "csrf_token": csrf_of(page.text), "current": PASSWORD, "new": "brand new password", "again": "brand new password"},
            follow_redirects=False)
        assert response.status_code == 303
        assert client.get("/console/queue").status_code == 200  # this session goes on
        assert other.get("/console/queue", follow_redirects=False).status_code == 303  # the other one ended


def test_create_admin_command_reads_the_password_from_stdin(tmp_path, monkeypatch, capsys):
    from bot.web.__main__ import main

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setattr("sys.stdin", io.StringIO("a very good password\n"))
    assert main(["create-admin", "Chief", "--password-stdin", "--display-name", "主任"]) == 0
    assert "created admin chief" in capsys.readouterr().out
    from bot.db import Database

    db = Database(url)
    try:
        user = staff.authenticate("chief", "a very good password", "127.0.0.1", db=db)
        assert user is not None and user.is_admin and user.display_name == "主任"
        monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
        assert main(["create-user", "g1", "--unit", "grid", "--password-stdin"]) == 2
    finally:
        db.dispose()


def test_the_secret_key_is_generated_once_into_the_env_file(tmp_path, monkeypatch):
    monkeypatch.delenv("WEB_SECRET_KEY", raising=False)
    env = tmp_path / ".env"
    env.write_text("RASA_TOKEN=abc")
    key = ensure_secret_key(env)
    assert len(key) >= 32 and f"WEB_SECRET_KEY={key}" in env.read_text()
    assert env.read_text().startswith("RASA_TOKEN=abc\n")
    assert stat.S_IMODE(os.stat(env).st_mode) == 0o600
    monkeypatch.delenv("WEB_SECRET_KEY")
    assert ensure_secret_key(env) == key


def test_security_headers(client):
    page = client.get("/console/login")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp.split("style-src")[0]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["cache-control"] == "no-store"
    chat = client.get("/")
    assert "connect-src 'self'" in chat.headers["content-security-policy"]
    assert client.get("/healthz").json()["status"] == "ok"
