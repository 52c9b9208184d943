"""Fixtures for the web app tests: a migrated SQLite database with one account per kind of unit, the
test routing (tests/web/routing/webtest.yml: three grids in two communities under one street office,
two departments), a stand-in for the Rasa HTTP API, and Starlette's TestClient."""
from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from bot import staff
from bot.db import Database, upgrade_db
from bot.tickets.routing import load_routing
from bot.tickets.service import TicketService
from bot.tickets.workcalendar import SHANGHAI
from bot.web.config import WebSettings
from bot.web.rasa import RasaUnavailable

ROUTING_DIR = Path(__file__).resolve().parent / "routing"
CITY = "webtest"
PASSWORD = "correct horse battery staple"
SECRET = "test-secret-key-" + "x" * 40
# username → (role, unit)
ACCOUNTS = {
    "admin": ("admin", None),
    "grid1": ("staff", "grid_1"),
    "grid2": ("staff", "grid_2"),
    "grid3": ("staff", "grid_3"),
    "committee-a": ("staff", "committee_a"),
    "street": ("staff", "street"),
    "police": ("staff", "police"),
}


def settings(**overrides) -> WebSettings:
    values = dict(secret_key=SECRET, rasa_url="http://127.0.0.1:9", rasa_token="t" * 20, city=CITY,
                  routing_dir=str(ROUTING_DIR))
    values.update(overrides)
    return WebSettings(**values)


class Clock:
    def __init__(self, start: dt.datetime):
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now


def shanghai(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)


class FakeRasa:
    """Stands in for the Rasa HTTP API the console uses: trackers by conversation, recorded resumes."""

    def __init__(self):
        self.trackers: Dict[str, List[dict]] = {}
        self.resumed: List[str] = []
        self.down = False

    def say(self, sender: str, who: str, text: str, at: Optional[float] = None, **metadata) -> None:
        events = self.trackers.setdefault(sender, [])
        stamp = at if at is not None else 1_700_000_000.0 + len(events)
        event = {"event": who, "text": text, "timestamp": stamp}
        if metadata:
            event["metadata"] = metadata
        events.append(event)

    def events(self, conversation_id: str) -> List[dict]:
        if self.down:
            raise RasaUnavailable("the Rasa server is not reachable (ConnectError)")
        return list(self.trackers.get(conversation_id, []))

    def resume(self, conversation_id: str) -> None:
        if self.down:
            raise RasaUnavailable("the Rasa server is not reachable (ConnectError)")
        self.resumed.append(conversation_id)

    def pause(self, conversation_id: str) -> None:
        pass


@pytest.fixture(scope="session")
def routing():
    return load_routing(CITY, ROUTING_DIR)


@pytest.fixture(scope="session")
def template_db(tmp_path_factory, routing) -> Path:
    path = tmp_path_factory.mktemp("webdb") / "template.db"
    url = f"sqlite:///{path}"
    upgrade_db(url)
    db = Database(url)
    for username, (role, unit) in ACCOUNTS.items():
        staff.create_user(username, PASSWORD, role=role, unit_id=unit, display_name=username.upper(),
                          known_units=set(routing.units), db=db)
    db.dispose()
    return path


@pytest.fixture()
def db(tmp_path, template_db) -> Database:
    path = tmp_path / "web.db"
    shutil.copy(template_db, path)
    database = Database(f"sqlite:///{path}")
    yield database
    database.dispose()


@pytest.fixture()
def clock():
    return Clock(shanghai(2026, 11, 23, 10, 0))  # a Monday, a working day


@pytest.fixture()
def service(db, routing, clock) -> TicketService:
    return TicketService(db, routing, clock=clock)


@pytest.fixture()
def rasa():
    return FakeRasa()


@pytest.fixture()
def app(db, rasa):
    from bot.web.app import create_app

    return create_app(settings(), db=db, rasa=rasa)


@pytest.fixture()
def client(app):
    from starlette.testclient import TestClient

    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c


@pytest.fixture()
def login():
    return log_in


CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def log_in(client, username: str, password: str = PASSWORD):
    page = client.get("/console/login")
    response = client.post("/console/login", data={"username": username, "password": password,
                                                   "csrf_token": csrf_of(page.text), "next": "/console/queue"},
                           follow_redirects=False)
    assert response.status_code == 303, response.text[:500]
    return response


def open_case(service: TicketService, sender: str, category: str, description: str = "楼上每天半夜装修",
              location: str = "幸福小区3号楼", phone: Optional[str] = None, urgent: bool = False,
              channel: str = "telegram", intent: str = "complaint") -> str:
    result = service.open_ticket(channel=channel, sender_id=sender, intent=intent, category=category,
                                 description=description, location=location, phone=phone, language="zh",
                                 urgency="urgent" if urgent else "normal")
    return result.number
