"""The real stack for end-to-end tests: `python -m bot.cli run` (what `make run` starts) on free
ports of 127.0.0.1, with its own token and tracker database."""
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Dict, Iterator, Optional

import pytest

from tests.conftest import ROOT, free_port


@dataclass
class Stack:
    base: str
    token: str
    process: subprocess.Popen
    log_path: Path
    database_url: str

    def post(self, path: str, payload, token: bool = True, timeout: float = 60):
        url = f"{self.base}{path}"
        if token:
            url += ("&" if "?" in url else "?") + f"token={self.token}"
        body = json.dumps(payload).encode() if not isinstance(payload, bytes) else payload
        request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")

    def get(self, path: str, token: bool = True, timeout: float = 30):
        url = f"{self.base}{path}"
        if token:
            url += ("&" if "?" in url else "?") + f"token={self.token}"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")

    def say(self, sender: str, text: str):
        status, replies = self.post("/webhooks/rest/webhook", {"sender": sender, "message": text}, token=False)
        assert status == 200, replies
        return [r.get("text", "") for r in replies]

    def stored_ticket(self, number: str) -> SimpleNamespace:
        """The ticket as the stack's database holds it: its columns, and `actions`, its history's actions."""
        from bot.db import Database
        from bot.tickets.models import Ticket

        db = Database(self.database_url)
        try:
            with db.session(read_only=True) as session:
                ticket = session.query(Ticket).filter_by(number=number).one()
                return SimpleNamespace(**{c.name: getattr(ticket, c.name) for c in Ticket.__table__.columns},
                                       actions=[e.action for e in ticket.events])
        finally:
            db.dispose()


@contextlib.contextmanager
def running_stack(tmp: Path, extra_env: Optional[Dict[str, str]] = None) -> Iterator[Stack]:
    """Start `python -m bot.cli run` on free ports with its own token and databases; stop it with
    Ctrl-C (SIGINT) and check that it stopped cleanly. `extra_env` switches channels on."""
    rasa_port, action_port = free_port(), free_port()
    token = secrets.token_urlsafe(24)
    env = dict(os.environ)
    env.update({
        "RASA_PORT": str(rasa_port), "ACTION_PORT": str(action_port), "BIND_HOST": "127.0.0.1",
        "RASA_TOKEN": token, "TRACKER_STORE_URL": f"sqlite:///{tmp / 'tracker.db'}",
        "DATABASE_URL": f"sqlite:///{tmp / 'community.db'}", "LOG_LEVEL": "WARNING", "VAR_DIR": str(tmp),
        "DELIVERY_INTERVAL": "1", "WEB_PORT": str(free_port()), "WEB_SECRET_KEY": secrets.token_urlsafe(48),
    })
    env.update(extra_env or {})
    log_path = tmp / "stack.log"
    log = open(log_path, "wb")
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], cwd=ROOT, env=env,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{rasa_port}"
    deadline = time.monotonic() + 240
    ready = False
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"{base}/status?token={token}", timeout=2) as response:
                ready = response.status == 200 and json.loads(response.read()).get("model_file")
        except OSError:
            pass
        # Rasa answers before the supervisor has started the jobs after it; wait for all of them.
        ready = ready and "all services up" in log_path.read_text(errors="replace")
        if ready:
            break
        time.sleep(1)
    if not ready:
        process.kill()
        log.close()
        pytest.fail("stack did not start:\n" + log_path.read_text(errors="replace")[-4000:])
    try:
        yield Stack(base, token, process, log_path, env["DATABASE_URL"])
    finally:
        # Ctrl-C stops everything cleanly: exit 0 and both ports free again.
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            code = None
        log.close()
    from bot.cli import port_is_free

    assert code == 0, log_path.read_text(errors="replace")[-3000:]
    assert port_is_free("127.0.0.1", rasa_port) and port_is_free("127.0.0.1", action_port)


@pytest.fixture(scope="session")
def stack(model_path, tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("stack")) as running:
        yield running
