"""Scale-out: the production configuration (endpoints.production.yml: PostgreSQL tracker store and
tickets, Redis lock store, one action server) with one and then two Rasa processes, messages spread
over the processes by least connections (as the nginx upstream in docs/deploy.md does), closed loop
at 10 and 50 conversations. On this 2-core machine two processes are what docs/deploy.md advises
(one per core).

    .venv/bin/python -m bench.scale [--processes 1,2] [--scale 1.0]

Needs this machine's PostgreSQL (BENCH_PG_URL, default postgresql://postgres@127.0.0.1:5432/; two
throw-away databases per stack, dropped afterwards) and Redis (BENCH_REDIS_URL, default
redis://127.0.0.1:6379/15; a key prefix of the run's own). Without them the part says so and
measures nothing. Results: bench/results/scale.md and scale.png.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Dict, Iterator, List, Optional

from bench import conversations, plots
from bench.latency import concurrently, summarise
from bench.stack import Reply, free_port, request
from connectors.production_env import production_env, without_channel_secrets

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
PG_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
LEVELS = {10: 400, 50: 500}  # conversations: messages measured
START_TIMEOUT = 240


@contextlib.contextmanager
def throwaway_databases(roles: List[str]) -> Iterator[Dict[str, str]]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(make_url(PG_URL).set(database="postgres"), isolation_level="AUTOCOMMIT",
                          connect_args={"connect_timeout": 3})
    names = {role: f"bench_scale_{os.getpid()}_{uuid.uuid4().hex[:8]}_{role}" for role in roles}
    try:
        with admin.connect() as conn:
            for name in names.values():
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield {role: make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
               for role, name in names.items()}
    finally:
        with admin.connect() as conn:
            for name in names.values():
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class Balancer:
    """Least connections over the Rasa processes, like nginx's `least_conn` upstream."""

    def __init__(self, bases: List[str]) -> None:
        self.bases, self.busy = bases, [0] * len(bases)
        self.lock = threading.Lock()

    def say(self, sender: str, text: str) -> Reply:
        with self.lock:
            i = min(range(len(self.bases)), key=lambda k: self.busy[k])
            self.busy[i] += 1
        try:
            return request(f"{self.bases[i]}/webhooks/rest/webhook", {"sender": sender, "message": text})
        finally:
            with self.lock:
                self.busy[i] -= 1


@contextlib.contextmanager
def production_stack(processes: int, databases: Dict[str, str], redis_prefix: str) -> Iterator[Balancer]:
    from bot.db import upgrade_db

    upgrade_db(databases["tickets"])
    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    token, action_port = secrets.token_urlsafe(24), free_port()
    env = dict(without_channel_secrets(os.environ), DATABASE_URL=databases["tickets"], LOG_LEVEL="WARNING",
               PYTHONUNBUFFERED="1", RASA_TELEMETRY_ENABLED="false", VAR_DIR=str(tmp), RASA_TOKEN=token,
               RABBITMQ_URL="",
               **production_env(tracker_url=databases["tracker"], action_url=f"http://127.0.0.1:{action_port}/webhook",
                                redis_url=REDIS_URL, redis_prefix=redis_prefix, pool_size=5, max_overflow=10))
    log = open(tmp / "stack.log", "wb")
    argvs = [[sys.executable, "-m", "actions", "--port", str(action_port)]]
    ports = [free_port() for _ in range(processes)]
    argvs += [[sys.executable, "-m", "connectors.serve", "--port", str(p)] for p in ports]
    children = [subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True) for argv in argvs]
    try:
        bases = [f"http://127.0.0.1:{p}" for p in ports]
        deadline = time.monotonic() + START_TIMEOUT
        for base in bases:
            while not (reply := request(f"{base}/status?token={token}", timeout=5)).ok or \
                    not (reply.body or {}).get("model_file"):
                if time.monotonic() > deadline or any(c.poll() is not None for c in children):
                    raise RuntimeError("the production stack did not start:\n"
                                       + (tmp / "stack.log").read_text(errors="replace")[-3000:])
                time.sleep(0.5)
        for i, base in enumerate(bases):  # warm every process (sent one by one, least connections
            for j in range(4):          # would pick the first process each time) and the action server
                request(f"{base}/webhooks/rest/webhook", {"sender": f"warm-{i}-{j}", "message": "你好"})
        yield Balancer(bases)
    finally:
        for child in children:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


def measure(processes: int, scale: float) -> List[Dict]:
    import redis as redis_client

    prefix = f"benchscale{os.getpid()}{uuid.uuid4().hex[:6]}"
    rows = []
    try:
        with throwaway_databases(["tickets", "tracker"]) as databases, \
                production_stack(processes, databases, prefix) as balancer:
            for c, total in LEVELS.items():
                k = max(1, round(total * scale / c))
                replies, wall = concurrently(c, lambda i, c=c, k=k: [
                    balancer.say(f"scale-{processes}-{c}-{i}", text) for text in conversations.first(i, k)])
                rows.append({"processes": processes, "concurrency": c, **summarise(replies, wall, True)})
                print(f"   {processes} Rasa process(es), {c} conversations done", flush=True)
    finally:
        client = redis_client.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(match=f"{prefix}*", count=500):
            client.delete(key)
        client.close()
    return rows


def unavailable() -> Optional[str]:
    import redis as redis_client
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    try:
        engine = create_engine(make_url(PG_URL).set(database="postgres"), connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        redis_client.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except Exception as error:  # noqa: BLE001 - any reason means: not measurable here
        return f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"
    return None


def report(rows: List[Dict], note: str = "") -> str:
    lines = ["# Scale-out: one and two Rasa processes, production configuration", "",
             "endpoints.production.yml on this machine's PostgreSQL and Redis, one action server, messages "
             "spread by least connections; closed loop (each conversation sends its next message when "
             "answered). `python -m bench.scale`.", ""]
    if note:
        return "\n".join(lines + [note, ""])
    lines += ["| Rasa processes | conversations | messages | errors | p50 ms | p95 ms | p99 ms | msg/s |",
              "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['processes']} | {r['concurrency']} | {r['n']} | {r['errors']} | {r['p50']:.0f} | "
                     f"{r['p95']:.0f} | {r['p99']:.0f} | {r['throughput']:.1f} |")
    by = {(r["processes"], r["concurrency"]): r for r in rows}
    for c in LEVELS:
        if (1, c) in by and (2, c) in by:
            lines.append(f"\nTwo processes / one at {c} conversations: throughput × "
                         f"{by[(2, c)]['throughput'] / by[(1, c)]['throughput']:.2f}, p50 × "
                         f"{by[(2, c)]['p50'] / by[(1, c)]['p50']:.2f}.")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--processes", default="1,2")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the message counts")
    args = parser.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    reason = unavailable()
    if reason:
        text = report([], f"Not measured: PostgreSQL or Redis unreachable ({reason}).")
        (RESULTS / "scale.md").write_text(text, encoding="utf-8")
        print(text)
        return 0
    rows = [row for n in (int(p) for p in args.processes.split(",")) for row in measure(n, args.scale)]
    text = report(rows)
    (RESULTS / "scale.md").write_text(text, encoding="utf-8")
    plots.scale_out(rows, RESULTS / "scale.png")
    print(text)
    return 1 if any(r["errors"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
