"""One running stack for the speed and load benchmarks: `python -m bot.cli run` (what `make run`
starts: action server, Rasa server, web app, background jobs) on free ports of 127.0.0.1 with
throw-away databases, optionally with another model (RASA_MODEL, read by connectors/serve.py).

    with Stack(model=None) as stack:        # None: models/current.tar.gz
        stack.say("resident-1", "你好")      # -> Reply(status, body, ms, error)
        stack.memory()                       # peak RSS (VmHWM) of every process of the stack
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[1]
# Which process of the stack a command line is (bot/cli.py `services()`).
ROLES = (("connectors.serve", "Rasa server"), ("-m actions", "action server"), ("bot.web", "web app"),
         ("bot.tickets", "escalation job"), ("bot.delivery", "delivery service"),
         ("telegram_polling", "telegram polling"), ("bot.cli", "supervisor (bot.cli run)"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Reply:
    status: int  # 0: no HTTP answer (timeout, refused)
    body: Any
    ms: float
    error: Optional[str] = None

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.error is None


def request(url: str, payload: Optional[Dict] = None, timeout: float = 60) -> Reply:
    """POST `payload` as JSON (GET when None); never raises."""
    data = json.dumps(payload).encode() if payload is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            body = json.loads(response.read() or b"null")
            return Reply(response.status, body, (time.perf_counter() - started) * 1000)
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.read().decode(errors="replace"), (time.perf_counter() - started) * 1000,
                     f"HTTP {error.code}")
    except (OSError, ValueError) as error:  # timeouts, refused/reset connections, bad JSON
        reason = getattr(error, "reason", None)  # URLError wraps the socket error
        kind = type(error).__name__ + (f" ({reason})" if reason is not None else "")
        return Reply(0, None, (time.perf_counter() - started) * 1000, kind)


def descendants(pid: int) -> List[int]:
    """`pid` and every process below it (from /proc, no psutil needed)."""
    children: Dict[int, List[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def process_memory(pid: int) -> Optional[Tuple[str, int, int]]:
    """(role, VmHWM kB, VmRSS kB) of one process, None when it is gone."""
    try:
        cmdline = (Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    role = next((name for key, name in ROLES if key in cmdline), cmdline[:60])
    kb = lambda key: int(fields.get(key, "0 kB").split()[0])  # noqa: E731
    return role, kb("VmHWM"), kb("VmRSS")


class Stack:
    def __init__(self, model: Optional[Path] = None, label: str = "ours", start_timeout: float = 300):
        self.model, self.label, self.start_timeout = model, label, start_timeout
        self.tmp = Path(tempfile.mkdtemp(prefix=f"bench-{label}-"))
        self.rasa_port = free_port()
        self.token = secrets.token_urlsafe(24)
        self.base = f"http://127.0.0.1:{self.rasa_port}"
        self.process: Optional[subprocess.Popen] = None
        self.first_answer_s = self.ready_s = float("nan")

    def environment(self) -> Dict[str, str]:
        env = dict(os.environ, RASA_TELEMETRY_ENABLED="false", BIND_HOST="127.0.0.1",
                   RASA_PORT=str(self.rasa_port), ACTION_PORT=str(free_port()), WEB_PORT=str(free_port()),
                   RASA_TOKEN=self.token, WEB_SECRET_KEY=secrets.token_urlsafe(48), LOG_LEVEL="WARNING",
                   TRACKER_STORE_URL=f"sqlite:///{self.tmp / 'tracker.db'}",
                   DATABASE_URL=f"sqlite:///{self.tmp / 'community.db'}", VAR_DIR=str(self.tmp))
        for name in ("TELEGRAM_TOKEN", "WECHAT_TOKEN", "ACTION_ENDPOINT_URL"):
            env.pop(name, None)  # only the REST channel; the action server is the one started here
        if self.model is not None:
            env["RASA_MODEL"] = str(self.model)
        return env

    @property
    def log(self) -> str:
        return (self.tmp / "stack.log").read_text(errors="replace")

    def start(self) -> "Stack":
        """Start and wait for the first answer through the REST channel (`first_answer_s`, from the
        launch) and for the supervisor's "all services up" (`ready_s`)."""
        log = open(self.tmp / "stack.log", "wb")
        started = time.perf_counter()
        self.process = subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], cwd=ROOT, env=self.environment(),
                                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        first_answer = ready = None
        while time.perf_counter() - started < self.start_timeout and self.process.poll() is None:
            if first_answer is None:
                reply = self.say("bench-startup", "你好", timeout=30)
                if reply.ok and reply.body:
                    first_answer = time.perf_counter() - started
            if ready is None and "all services up" in self.log:
                ready = time.perf_counter() - started
            if first_answer is not None and ready is not None:
                self.first_answer_s, self.ready_s = first_answer, ready
                return self
            time.sleep(0.25)
        tail = self.log[-3000:]
        self.stop()
        raise RuntimeError(f"the {self.label} stack did not start; log:\n{tail}")

    def say(self, sender: str, text: str, metadata: Optional[Dict] = None, timeout: float = 60) -> Reply:
        payload: Dict[str, Any] = {"sender": sender, "message": text}
        if metadata:
            payload["metadata"] = metadata
        return request(f"{self.base}/webhooks/rest/webhook", payload, timeout)

    def parse(self, text: str, timeout: float = 60) -> Reply:
        return request(f"{self.base}/model/parse?token={self.token}", {"text": text}, timeout)

    def tracker(self, sender: str, timeout: float = 60) -> Reply:
        """The whole tracker (every session, across restarts)."""
        return request(f"{self.base}/conversations/{sender}/tracker?include_events=ALL&token={self.token}",
                       None, timeout)

    def memory(self) -> List[Tuple[str, int, int]]:
        """(role, peak RSS kB, current RSS kB) for every live process of the stack."""
        if not self.process:
            return []
        rows = [process_memory(pid) for pid in descendants(self.process.pid)]
        return sorted((r for r in rows if r), key=lambda r: -r[1])

    def stop(self) -> None:
        """Ctrl-C to the supervisor (it stops its children in order); kill what is left after 60 s."""
        if self.process and self.process.poll() is None:
            pids = descendants(self.process.pid)
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                for pid in reversed(pids):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                self.process.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> "Stack":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
