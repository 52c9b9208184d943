"""The production configuration on this machine's real servers: PostgreSQL (tracker store and tickets),
Redis (lock store), RabbitMQ (event broker, read by the statistics feed), one action server and two
Rasa server processes sharing them.

Everything talks to 127.0.0.1 only. PostgreSQL: ``SCALE_TEST_PG_URL``, else ``TICKETS_TEST_PG_URL``,
else postgresql://postgres@127.0.0.1:5432/ — two fresh databases (tickets, tracker) named
``scale_<pid>_<random>_…`` are created for the run and dropped at its end. Redis: ``SCALE_TEST_REDIS_URL``
(default redis://127.0.0.1:6379/15) with a key prefix unique to the run, whose keys are deleted at the
end. RabbitMQ: tests/rabbitmq.py (an exchange and queues unique to the run). An unreachable server
skips these tests with the reason (shown by ``-ra``); ``TICKETS_REQUIRE_POSTGRES=1`` (CI) turns the
PostgreSQL skip into a failure, ``SCALE_REQUIRE_REDIS=1`` the Redis one, ``EVENTS_REQUIRE_RABBITMQ=1``
the RabbitMQ one.
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from connectors.production_env import production_env, without_channel_secrets
from tests.conftest import ROOT, free_port
from tests.pg import first_line, fresh_databases
from tests.rabbitmq import fresh_exchange

PG_URL = os.environ.get("SCALE_TEST_PG_URL") or os.environ.get(
    "TICKETS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/")
REDIS_URL = os.environ.get("SCALE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
START_TIMEOUT = 180  # seconds for every service to answer (each Rasa process needs ~15–25 s here)
RASA_PROCESSES = 2
STATS_KEY = "scale-test-key-" + "0" * 32  # the statistics feed's key for residents' hashes
_served_lock = threading.Lock()


# ---------------------------------------------------------------------------------------- servers
@pytest.fixture(scope="session")
def scale_redis():
    """(host, port, db, password, key prefix) on a reachable Redis; keys under the prefix deleted at the end."""
    import redis

    url = urllib.parse.urlsplit(REDIS_URL)
    host, port = url.hostname or "127.0.0.1", url.port or 6379
    db = int((url.path or "/0").strip("/") or 0)
    password = urllib.parse.unquote(url.password) if url.password else ""
    client = redis.Redis(host=host, port=port, db=db, password=password or None,
                         socket_connect_timeout=3, socket_timeout=5)
    try:
        client.ping()
    except Exception as exc:
        reason = f"Redis unreachable at {host}:{port}/{db}: {first_line(exc)}"
        if os.environ.get("SCALE_REQUIRE_REDIS") == "1":
            pytest.fail(reason + " (SCALE_REQUIRE_REDIS=1)")
        pytest.skip(reason)
    prefix = f"scale{os.getpid()}{uuid.uuid4().hex[:8]}"  # letters and digits: Rasa ignores any other prefix
    try:
        yield {"host": host, "port": port, "db": db, "password": password, "prefix": prefix, "client": client}
    finally:
        for key in client.scan_iter(match=f"{prefix}*", count=500):
            client.delete(key)
        client.close()


@pytest.fixture(scope="module")
def scale_databases():
    """URLs of two fresh PostgreSQL databases: {"tickets": …, "tracker": …}; dropped at the end."""
    with fresh_databases("scale", ["tickets", "tracker"], PG_URL) as urls:
        yield urls


@pytest.fixture(scope="module")
def scale_broker():
    with fresh_exchange("scale") as broker:
        yield broker


# ---------------------------------------------------------------------------------------- the stack
@dataclass
class Service:
    name: str
    port: int
    process: subprocess.Popen
    log_path: Path
    log_file: object

    def log_tail(self, chars: int = 3000) -> str:
        self.log_file.flush()
        return f"--- {self.name} ({self.log_path}) ---\n" + self.log_path.read_text(errors="replace")[-chars:]


@dataclass
class ScaleStack:
    token: str
    action: Service
    rasa: List[Service]
    feed: Service
    tickets_url: str
    tracker_url: str
    redis: Dict[str, object]
    served: Dict[int, int] = field(default_factory=dict)  # requests per Rasa port, for the report

    def base(self, index: int) -> str:
        return f"http://127.0.0.1:{self.rasa[index % len(self.rasa)].port}"

    def say(self, index: int, sender: str, text: str, timeout: float = 60) -> List[Dict]:
        """One resident message through Rasa process ``index``'s REST channel; its replies."""
        body = json.dumps({"sender": sender, "message": text}).encode()
        request = urllib.request.Request(f"{self.base(index)}/webhooks/rest/webhook", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            assert response.status == 200
            replies = json.loads(response.read() or b"[]")
        port = self.rasa[index % len(self.rasa)].port
        with _served_lock:
            self.served[port] = self.served.get(port, 0) + 1
        return replies

    def tracker(self, index: int, sender: str) -> Dict:
        query = urllib.parse.urlencode({"token": self.token, "include_events": "ALL"})
        url = f"{self.base(index)}/conversations/{urllib.parse.quote(sender, safe='')}/tracker?{query}"
        with urllib.request.urlopen(url, timeout=30) as response:
            return json.loads(response.read())

    def logs(self) -> str:
        return "\n".join(s.log_tail() for s in [self.action, *self.rasa, self.feed])


def _get_ok(url: str) -> Optional[dict]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            if response.status == 200:
                return json.loads(response.read() or b"{}")
    except (OSError, ValueError):
        pass
    return None


def _start(name: str, argv: List[str], env: Dict[str, str], port: int, tmp: Path) -> Service:
    log_path = tmp / f"{name}.log"
    log_file = open(log_path, "wb")
    process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
                               start_new_session=True)
    return Service(name, port, process, log_path, log_file)


def _stop(services: List[Service]) -> None:
    for service in services:
        if service.process.poll() is None:
            os.killpg(service.process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    for service in services:
        try:
            service.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(service.process.pid, signal.SIGKILL)
            service.process.wait()
        service.log_file.close()


@pytest.fixture(scope="module")  # stopped when the module's tests are done, not at the end of the suite
def scale_stack(model_path, scale_databases, scale_redis, scale_broker, tmp_path_factory):
    """One action server, two Rasa processes with endpoints.production.yml, on free ports, and the
    statistics feed."""
    from bot.db import upgrade_db

    tmp = tmp_path_factory.mktemp("scale")
    # Migrate once before any server starts (as docs/deploy.md says); the action server's own
    # upgrade at start-up then finds the schema at head.
    upgrade_db(scale_databases["tickets"])
    token = secrets.token_urlsafe(24)
    action_port = free_port()
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": scale_databases["tickets"],
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        "RASA_TELEMETRY_ENABLED": "false",  # nothing leaves 127.0.0.1
        "VAR_DIR": str(tmp),
        "STATS_KEY": STATS_KEY,
        "RABBITMQ_URL": scale_broker.url, "RABBITMQ_QUEUE": scale_broker.queue,
        "RABBITMQ_EXCHANGE": scale_broker.exchange,
    })
    action_env = dict(env, ACTION_HOST="127.0.0.1")
    rasa_env = dict(without_channel_secrets(env), **production_env(
        tracker_url=scale_databases["tracker"], action_url=f"http://127.0.0.1:{action_port}/webhook",
        redis_url=REDIS_URL, redis_prefix=str(scale_redis["prefix"]), pool_size=5, max_overflow=10), **{
        "RASA_TOKEN": token,
        "RASA_HOST": "127.0.0.1",
        "RASA_MODEL": str(model_path),
        # the web chat's sockets shared between the processes (connectors/socketio.py)
        "SOCKETIO_MESSAGE_QUEUE": f"redis://{scale_redis['host']}:{scale_redis['port']}/{scale_redis['db']}",
        "SOCKETIO_CHANNEL": f"{scale_redis['prefix']}socketio",
    })
    services: List[Service] = []
    started = time.monotonic()
    try:
        services.append(_start("action", [sys.executable, "-m", "actions", "--port", str(action_port)],
                               action_env, action_port, tmp))
        for i in range(RASA_PROCESSES):
            port = free_port()
            services.append(_start(f"rasa{i + 1}", [sys.executable, "-m", "connectors.serve", "--port", str(port),
                                                    "--endpoints", "endpoints.production.yml"],
                                   rasa_env, port, tmp))
        feed = _start("feed", [sys.executable, "-m", "bot.events"], env, 0, tmp)
        services.append(feed)
        pending = [s for s in services if s is not feed]
        deadline = time.monotonic() + START_TIMEOUT
        while pending and time.monotonic() < deadline:
            for service in list(pending):
                if service.process.poll() is not None:
                    pytest.fail(f"the {service.name} exited during start-up (code {service.process.returncode})\n"
                                + service.log_tail())
                if service.name == "action":
                    ok = _get_ok(f"http://127.0.0.1:{service.port}/health") is not None
                else:
                    status = _get_ok(f"http://127.0.0.1:{service.port}/status?token={token}")
                    ok = bool(status and status.get("model_file"))
                if ok:
                    pending.remove(service)
            time.sleep(0.5)
        if pending:
            pytest.fail(f"not up after {START_TIMEOUT} s: {', '.join(s.name for s in pending)}\n"
                        + "\n".join(s.log_tail() for s in pending))
        stack = ScaleStack(token, services[0], services[1:1 + RASA_PROCESSES], feed, scale_databases["tickets"],
                           scale_databases["tracker"], scale_redis)
        print(f"\nscale stack up in {time.monotonic() - started:.1f} s: action :{action_port}, "
              f"rasa {', '.join(':' + str(s.port) for s in stack.rasa)}")
        yield stack
    finally:
        _stop(services)
