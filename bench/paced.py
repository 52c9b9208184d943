"""Latency when residents type at a human pace: 10, 50 and 200 conversations open at once, each
sending its next message a few seconds after the bot's answer, as people do (200 open conversations
offer about 50 messages/s: how many residents one Rasa process serves within the targets).
bench/latency.py measures the other reading of "N concurrent conversations": each sends again the
instant it is answered, which measures saturation (latency ≈ N / throughput) rather than what a
resident waits.

    .venv/bin/python -m bench.paced [--seconds 60]

Results: bench/results/paced.md. Think time per message: uniform 2–6 s (a short reply typed on a
phone); the first message of each conversation is spread over the first think time.
"""
from __future__ import annotations

import argparse
import random
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List

from bench import conversations
from bench.latency import percentile
from bench.stack import Reply, Stack

RESULTS = Path(__file__).resolve().parent / "results" / "paced.md"
LEVELS = (10, 50, 200)
THINK_SECONDS = (2.0, 6.0)


def converse(stack: Stack, label: str, index: int, seconds: float) -> List[Reply]:
    pace = random.Random(index)  # the same pauses on every run
    replies, texts = [], conversations.messages(index)
    deadline = time.monotonic() + seconds
    time.sleep(pace.uniform(0, THINK_SECONDS[1]))
    while time.monotonic() < deadline:
        replies.append(stack.say(f"paced-{label}-{index}", next(texts)))
        time.sleep(pace.uniform(*THINK_SECONDS))
    return replies


def measure(stack: Stack, seconds: float) -> List[Dict]:
    rows = []
    for level in LEVELS:
        with ThreadPoolExecutor(max_workers=level) as pool:
            batches = list(pool.map(lambda i, n=level: converse(stack, str(n), i, seconds), range(level)))
        replies = [r for batch in batches for r in batch]
        good = [r.ms for r in replies if r.ok and r.body]
        rows.append({"conversations": level, "messages": len(replies), "errors": len(replies) - len(good),
                     "p50": percentile(good, 50), "p95": percentile(good, 95), "p99": percentile(good, 99)})
        print(f"   paced: {level} conversations done", flush=True)
    return rows


def report(rows: List[Dict], seconds: float) -> str:
    lines = ["# Latency at a human pace", "",
             f"Our stack (`python -m bot.cli run`, SQLite, 127.0.0.1, 2 cores shared with other work). Each "
             f"conversation sends its next message {THINK_SECONDS[0]:g}–{THINK_SECONDS[1]:g} s after the "
             f"answer, for {seconds:g} s; messages from bench/conversations.py (whole report forms included). "
             "Latency: REST channel with the action server, as the resident waits for it.", "",
             "| conversations open | messages | errors | p50 ms | p95 ms | p99 ms |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['conversations']} | {r['messages']} | {r['errors']} | {r['p50']:.0f} | {r['p95']:.0f} "
              f"| {r['p99']:.0f} |" for r in rows]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args(argv)
    with Stack(label="ours") as stack:
        rows = measure(stack, args.seconds)
    text = report(rows, args.seconds)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
