"""Speed of the running stack: end-to-end latency of a message through the REST channel (NLU,
policies and the action server) and of plain /model/parse, at 1 and 10 concurrent conversations.

    .venv/bin/python -m bench.latency [--messages 200]

Starts `python -m bot.cli run` on free ports of 127.0.0.1 with throw-away databases, like the e2e
tests, and stops it afterwards. Results: bench/results/latency.md. (Issue 7 asks for more: the same
figures for Rasa's default pipeline side by side, 50 conversations, memory; not measured yet.)
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Dict, List

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "latency.md"
MESSAGES = ["你好", "楼上天天半夜装修吵得睡不着", "阳光花园3栋2单元502", "不留", "取消",
            "申请低保要什么条件", "the stairwell light in block 3 is broken", "谢谢", "我的工单怎么样了"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def post(url: str, payload: Dict) -> float:
    started = time.perf_counter()
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        response.read()
    return (time.perf_counter() - started) * 1000


def percentile(values: List[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def run_load(send: Callable[[int], float], total: int, concurrency: int) -> Dict[str, float]:
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        times = list(pool.map(send, range(total)))
    wall = time.perf_counter() - started
    return {"n": total, "p50": percentile(times, 50), "p95": percentile(times, 95), "p99": percentile(times, 99),
            "mean": statistics.mean(times), "throughput": total / wall}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=200)
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    rasa_port = free_port()
    token = secrets.token_urlsafe(24)
    env = dict(os.environ, RASA_PORT=str(rasa_port), ACTION_PORT=str(free_port()), WEB_PORT=str(free_port()),
               RASA_TOKEN=token, WEB_SECRET_KEY=secrets.token_urlsafe(48), LOG_LEVEL="WARNING",
               TRACKER_STORE_URL=f"sqlite:///{tmp / 'tracker.db'}", DATABASE_URL=f"sqlite:///{tmp / 'community.db'}",
               VAR_DIR=str(tmp))
    log = open(tmp / "stack.log", "wb")
    started = time.perf_counter()
    stack = subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], cwd=ROOT, env=env, stdout=log,
                             stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{rasa_port}"
    try:
        while "all services up" not in (tmp / "stack.log").read_text(errors="replace"):
            if stack.poll() is not None or time.perf_counter() - started > 300:
                raise SystemExit("the stack did not start; see " + str(tmp / "stack.log"))
            time.sleep(0.5)
        startup = time.perf_counter() - started
        first = post(f"{base}/webhooks/rest/webhook", {"sender": "warm-up", "message": "你好"})
        rows = []
        for concurrency in (1, 10):
            def rest(i: int, c=concurrency) -> float:
                return post(f"{base}/webhooks/rest/webhook",
                            {"sender": f"bench-{c}-{i % (c * 2)}", "message": MESSAGES[i % len(MESSAGES)]})

            def parse(i: int) -> float:
                return post(f"{base}/model/parse?token={token}", {"text": MESSAGES[i % len(MESSAGES)]})

            rows.append(("REST channel + actions", concurrency, run_load(rest, args.messages, concurrency)))
            rows.append(("/model/parse", concurrency, run_load(parse, args.messages, concurrency)))
    finally:
        stack.send_signal(signal.SIGINT)
        stack.wait(timeout=60)
        log.close()
    lines = ["# Latency", "", f"`make run` stack on 127.0.0.1, SQLite; {os.cpu_count()} cores. "
             f"Start-up to ready: {startup:.0f} s; first answer after ready: {first:.0f} ms.", "",
             "| path | concurrent | messages | p50 ms | p95 ms | p99 ms | mean ms | msg/s |",
             "|---|---|---|---|---|---|---|---|"]
    for name, concurrency, r in rows:
        lines.append(f"| {name} | {concurrency} | {r['n']} | {r['p50']:.0f} | {r['p95']:.0f} | {r['p99']:.0f} "
                     f"| {r['mean']:.0f} | {r['throughput']:.1f} |")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
