"""The ticket database gone for a while, on the real PostgreSQL server behind a relay the test cuts.

The service and the escalation job see a real connection failure (not a mock): reports confirmed
meanwhile are kept and filed when it is back, and the escalation job carries on and catches up.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bot.db import Database, is_unavailable, upgrade_db
from bot.tickets.__main__ import run_loop
from bot.tickets.escalation import run_escalation
from bot.tickets.models import Notification, Ticket
from bot.tickets.routing import load_routing
from bot.tickets.service import TicketService
from bot.spool import Spool
from bot.tickets.workcalendar import SHANGHAI
from tests.pg import fresh_databases
from tests.standins.tcp_outage import TcpOutage

MONDAY_10 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)
REQUEST = dict(channel="telegram", sender_id="4242", intent="service_request", category="property",
               description="3号楼电梯按钮坏了两个，好几天没人修", location="阳光花园3号楼", phone=None,
               language="zh", urgency="normal", idempotency_key="tg-update-77")


@pytest.fixture(scope="module")
def databases():
    with fresh_databases("outage", ["tickets"]) as urls:
        upgrade_db(urls["tickets"])
        yield urls


@pytest.fixture
def relay(databases):
    real = make_url(databases["tickets"])
    outage = TcpOutage((real.host or "127.0.0.1", real.port or 5432))
    yield outage, real.set(host="127.0.0.1", port=outage.port).render_as_string(hide_password=False)
    outage.close()


@pytest.fixture
def direct(databases):
    """The same database without the relay: what the test checks, whatever the relay is doing."""
    db = Database(databases["tickets"])
    with db.engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE notifications, ticket_events, tickets, ticket_counters RESTART IDENTITY CASCADE")
    yield db
    db.dispose()


def _count(db, model, *where) -> int:
    with db.session(read_only=True) as s:
        return s.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def test_reports_confirmed_during_an_outage_are_filed_once_when_it_is_back(relay, direct, tmp_path):
    outage, url = relay
    service = TicketService(Database(url), load_routing("default"), lambda: MONDAY_10)
    spool = Spool(tmp_path / "spool")
    outage.cut()
    with pytest.raises(Exception) as failure:
        service.open_ticket(**REQUEST)
    assert is_unavailable(failure.value), failure.value  # what the action keys its "kept" answer on
    spool.put(REQUEST)
    spool.put(dict(REQUEST, description="", idempotency_key="tg-update-78"))  # invalid: set aside, not retried

    still_down = spool.replay(lambda r: service.file_deferred(r).number)
    assert still_down.filed == [] and still_down.error and spool.pending() == 2
    assert _count(direct, Ticket) == 0

    outage.restore()
    back = spool.replay(lambda r: service.file_deferred(r).number)
    assert len(back.filed) == 1 and back.rejected == 1 and spool.pending() == 0
    assert _count(direct, Ticket) == 1
    # the resident is told the number on their own channel (through the outbox)
    with direct.session(read_only=True) as s:
        note = s.execute(select(Notification).where(Notification.kind == "filed_later")).scalar_one()
        assert (note.recipient_channel, note.recipient_id) == ("telegram", "4242")
        assert back.filed[0] in note.text
    # the same report delivered again (the resident repeats "confirm") is the same case
    assert service.open_ticket(**REQUEST).number == back.filed[0]
    assert _count(direct, Ticket) == 1
    assert list((tmp_path / "spool").glob("*.rejected"))


def test_escalation_job_survives_the_outage_and_catches_up(relay, direct, caplog):
    outage, url = relay
    db = Database(url)
    routing = load_routing("default")
    number = TicketService(db, routing, lambda: MONDAY_10).open_ticket(**dict(REQUEST, idempotency_key="k-esc")).number
    outage.cut()
    stop = threading.Event()
    with caplog.at_level(logging.ERROR, logger="bot.tickets"):
        runs = run_loop(db, routing, interval=0.05, stop=stop, max_runs=3)  # every run fails: logged, loop goes on
    assert runs == 3
    assert sum("escalation run failed" in r.getMessage() for r in caplog.records) == 3
    outage.restore()
    late = MONDAY_10 + dt.timedelta(days=3)  # past the grid's sign-for limit
    report = run_escalation(db, routing, late)
    assert [n for n, *_ in report.escalated] == [number]
    with direct.session(read_only=True) as s:
        assert s.execute(select(Ticket.escalation_count).where(Ticket.number == number)).scalar_one() == 1
    db.dispose()
