"""Faults on the running stack (`python -m bot.cli run`): the action server killed in the middle of a
ticket form, and the ticket database (real PostgreSQL, behind a relay the test cuts) gone for a while."""
from __future__ import annotations

import contextlib
import os
import re
import signal
import time
import uuid

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bot.db import Database
from bot.texts import render
from bot.tickets.models import Notification, Ticket
from tests.conftest import wait_for
from tests.e2e.conftest import running_stack
from tests.pg import fresh_databases
from tests.standins.tcp_outage import TcpOutage

NUMBER = re.compile(r"GD\d{8}-\d{4}")
APOLOGY_ZH = render("system.action_unavailable", "zh-Hans")
APOLOGY_EN = render("system.action_unavailable", "en")


@contextlib.contextmanager
def database_behind_relay(prefix: str, role: str):
    """A fresh PostgreSQL database, its real URL, and a URL through a relay the test can cut."""
    with fresh_databases(prefix, [role]) as urls:
        real = make_url(urls[role])
        outage = TcpOutage((real.host or "127.0.0.1", real.port or 5432))
        try:
            yield urls[role], real.set(host="127.0.0.1", port=outage.port).render_as_string(hide_password=False), outage
        finally:
            outage.close()


def action_server_pid(stack) -> int:
    found = re.findall(r"action server (?:ready|restarted)[^\n]*\(pid (\d+)\)", stack.log_path.read_text(errors="replace"))
    assert found, stack.log_path.read_text(errors="replace")[-2000:]
    return int(found[-1])


def kill_action_server(stack) -> int:
    pid = action_server_pid(stack)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not os.path.exists(f"/proc/{pid}") or "zombie" in _state(pid), 10, "the action server to die")
    return pid


def _state(pid: int) -> str:
    try:
        return open(f"/proc/{pid}/status").read().lower()
    except OSError:
        return "zombie"


def tickets_of(database_url: str, sender: str) -> list:
    db = Database(database_url)
    try:
        with db.session(read_only=True) as s:
            return list(s.execute(select(Ticket.number).where(Ticket.sender_id == sender)).scalars())
    finally:
        db.dispose()


def test_killed_action_server_costs_an_apology_and_nothing_else(model_path, tmp_path):
    with running_stack(tmp_path, {"RESTART_DELAY_SECONDS": "3"}) as stack:
        who, visitor = f"r-{uuid.uuid4().hex[:8]}", f"v-{uuid.uuid4().hex[:8]}"
        assert any("在哪里" in r for r in stack.say(who, "楼上那家每天凌晨一点还在拖椅子 吵得孩子睡不着"))

        first = kill_action_server(stack)
        assert stack.say(who, "阳光花园3栋2单元502") == [APOLOGY_ZH]  # one apology, not silence
        assert stack.say(visitor, "hello, the street light outside block 5 has been broken for a week") == [APOLOGY_EN]
        wait_for(lambda: action_server_pid(stack) != first, 90, "the supervisor to restart the action server")

        # The form carries on where it was: the same answer again, then the rest.
        assert any("手机号" in r for r in stack.say(who, "阳光花园3栋2单元502"))
        assert any("请确认" in r for r in stack.say(who, "不留"))

        second = kill_action_server(stack)  # now at the confirmation
        assert stack.say(who, "确认") == [APOLOGY_ZH]
        assert tickets_of(stack.database_url, who) == []  # nothing half-made
        wait_for(lambda: action_server_pid(stack) != second, 90, "the second restart")
        done = " ".join(stack.say(who, "确认"))
        assert NUMBER.search(done), done
        assert tickets_of(stack.database_url, who) == [NUMBER.search(done).group(0)]


def test_ticket_database_outage_keeps_the_report_and_files_it_when_back(model_path, tmp_path):
    with database_behind_relay("outage_stack", "tickets") as (tickets_url, proxied, outage):
        with running_stack(tmp_path, {"DATABASE_URL": proxied, "SPOOL_REPLAY_SECONDS": "1"}) as stack:
            who = f"r-{uuid.uuid4().hex[:8]}"
            stack.say(who, "小区3号楼的电梯按钮坏了两个 好几天了也没人来修")
            stack.say(who, "阳光花园3号楼")
            assert any("请确认" in r for r in stack.say(who, "不留"))

            outage.cut()
            kept = " ".join(stack.say(who, "确认"))
            assert kept == render("report.queued", "zh-Hans"), kept
            assert " ".join(stack.say(who, "我的工单怎么样了")) == render("status.unavailable", "zh-Hans")
            spool = tmp_path / "spool" / "filings"
            assert len(list(spool.glob("*.json"))) == 1
            time.sleep(3)  # replay rounds while it is still down change nothing
            assert len(list(spool.glob("*.json"))) == 1

            outage.restore()
            numbers = wait_for(lambda: tickets_of(tickets_url, who), 60, "the kept report to be filed")
            assert len(numbers) == 1
            wait_for(lambda: not list(spool.glob("*.json")), 30, "the spool to empty")
            db = Database(tickets_url)
            with db.session(read_only=True) as s:
                notes = s.execute(select(func.count()).select_from(Notification).where(
                    Notification.kind == "filed_later", Notification.recipient_id == who)).scalar_one()
            db.dispose()
            assert notes == 1
            assert numbers[0] in " ".join(stack.say(who, "我的工单怎么样了"))
            assert tickets_of(tickets_url, who) == numbers  # filed once


def test_conversation_store_outage_answers_and_keeps_the_message(model_path, tmp_path):
    with database_behind_relay("outage_tracker", "tracker") as (_, proxied, outage):
        with running_stack(tmp_path, {"TRACKER_STORE_URL": proxied, "INBOUND_REPLAY_SECONDS": "1"}) as stack:
            who, visitor = f"r-{uuid.uuid4().hex[:8]}", f"v-{uuid.uuid4().hex[:8]}"
            assert stack.say(who, "你好")
            outage.cut()
            assert stack.say(who, "楼道的灯坏了三天了") == [render("system.store_unavailable", "zh-Hans")]
            assert stack.say(visitor, "the lift in block 2 is stuck again") == [
                render("system.store_unavailable", "en")]
            assert len(list((tmp_path / "spool" / "inbound").glob("*.json"))) == 2
            outage.restore()

            def kept_in_history():
                status, tracker = stack.get(f"/conversations/{who}/tracker")
                if status != 200:
                    return None
                texts = [e.get("text") for e in tracker["events"] if e["event"] in ("user", "bot")]
                return texts if "楼道的灯坏了三天了" in texts else None

            texts = wait_for(kept_in_history, 60, "the kept message to reach the conversation")
            assert texts.count("楼道的灯坏了三天了") == 1
            assert texts[texts.index("楼道的灯坏了三天了") + 1] == render("system.store_unavailable", "zh-Hans")
            wait_for(lambda: not list((tmp_path / "spool" / "inbound").glob("*.json")), 30, "the spool to empty")
            # and the conversation goes on normally
            assert any("在哪里" in r or "地址" in r for r in stack.say(who, "楼道的灯坏了三天了 晚上黑漆漆的"))
