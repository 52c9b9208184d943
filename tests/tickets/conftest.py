"""Fixtures for the ticket tests: every DB test runs on SQLite and on PostgreSQL.

PostgreSQL: ``TICKETS_TEST_PG_URL`` (default postgresql://postgres@127.0.0.1:5432/). A fresh database
with a unique name is created for the test session and dropped at its end. If the server cannot be
reached the PostgreSQL variants are skipped with the reason (shown by ``-ra``), unless
``TICKETS_REQUIRE_POSTGRES=1`` (as in CI), which turns that into an error.
"""
from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.db import Database, upgrade_db
from bot.tickets.routing import load_routing
from bot.tickets.service import TicketService
from bot.tickets.workcalendar import SHANGHAI

PG_URL = os.environ.get("TICKETS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/")
TABLES = ("notifications", "ticket_events", "tickets", "ticket_counters", "conversation_facts")


class Clock:
    """A settable clock for the services (aware datetimes)."""

    def __init__(self, start: dt.datetime):
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def set(self, moment: dt.datetime) -> None:
        self.now = moment

    def advance(self, **delta) -> dt.datetime:
        self.now = self.now + dt.timedelta(**delta)
        return self.now


def shanghai(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    upgrade_db(f"sqlite:///{path}")
    return path


_pg_unreachable = []  # the reason, once known: no reconnect attempt (and timeout) per test


@pytest.fixture(scope="session")
def pg_url():
    if _pg_unreachable:
        pytest.skip(_pg_unreachable[0])
    admin_url = make_url(PG_URL).set(database="postgres")
    name = f"tickets_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", future=True,
                          connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # unreachable server, no permission…
        admin.dispose()
        reason = f"PostgreSQL unreachable at {admin_url.render_as_string(hide_password=True)}: " \
                 f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        if os.environ.get("TICKETS_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason + " (TICKETS_REQUIRE_POSTGRES=1)")
        _pg_unreachable.append(reason)
        pytest.skip(reason)
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade_db(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    if request.param == "sqlite":
        path = tmp_path / "tickets.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        database = Database(f"sqlite:///{path}")
    else:
        database = Database(request.getfixturevalue("pg_url"))
        with database.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    yield database
    database.dispose()


@pytest.fixture
def routing():
    return load_routing("default")


@pytest.fixture
def clock():
    # Tuesday 2026-11-24 10:00 in Shanghai: a plain working day.
    return Clock(shanghai(2026, 11, 24, 10, 0))


@pytest.fixture
def svc(db, routing, clock):
    return TicketService(db, routing, clock)


def open_complaint(svc, sender="alice", channel="rest", **kw):
    args = dict(channel=channel, sender_id=sender, intent="complaint", category="noise",
                description="楼上每天半夜跺脚，吵得睡不着", location="幸福小区3号楼2单元301")
    args.update(kw)
    return svc.open_ticket(**args)
