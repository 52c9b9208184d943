"""A process killed in the middle of filing (SIGKILL, no cleanup) leaves no trace of the case."""
import os
import signal
import subprocess
import sys
import textwrap

from sqlalchemy import func, select

from bot.db import REPO_ROOT
from bot.tickets.models import Notification, Ticket, TicketCounter, TicketEvent

from .conftest import open_complaint

CHILD = textwrap.dedent("""
    import sys, time
    from bot.db import Database
    from bot.tickets import notices
    from bot.tickets.routing import load_routing
    from bot.tickets.service import TicketService

    def hang(*a, **k):  # the ticket, its number and events are flushed: now die before COMMIT
        print("READY", flush=True)
        time.sleep(60)

    notices.case_assigned = hang
    svc = TicketService(Database(sys.argv[1]), load_routing("default"))
    svc.open_ticket(channel="rest", sender_id="alice", intent="complaint", category="noise",
                    description="楼上每天半夜跺脚，吵得睡不着", idempotency_key="k1")
""")


def test_killed_mid_transaction_leaves_nothing(db, svc):
    child = subprocess.Popen([sys.executable, "-c", CHILD, db.url], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline()
        assert line.strip() == "READY", child.stderr.read()
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    with db.session(read_only=True) as s:
        for model in (Ticket, TicketEvent, Notification, TicketCounter):
            assert s.execute(select(func.count()).select_from(model)).scalar_one() == 0, model
    # the database is usable at once (locks released) and the retried delivery makes exactly one case
    r = open_complaint(svc, idempotency_key="k1")
    assert r.created and r.number == "GD20261124-0001"
    assert open_complaint(svc, idempotency_key="k1").outcome == "replayed"
