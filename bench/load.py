"""Load: many concurrent conversations through the REST channel of our stack for a fixed time, then a
check in Rasa's trackers that every message sent is there exactly once.

    .venv/bin/python -m bench.load [--conversations 200] [--seconds 60] [--timeout 60]

Each conversation (bench/conversations.py: Chinese and English, reports through the whole form)
sends its next message as soon as it has the answer; no message is started after --seconds, the
ones under way are waited for. Errors: HTTP errors, timeouts and empty answers (every message of the
scripts gets an answer). Each message carries metadata {"bench_id": ...}, which the REST channel
stores on the user event, so GET /conversations/<id>/tracker shows which arrived and how often.
Results: bench/results/load.md and load.png.
"""
from __future__ import annotations

import argparse
import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

from bench import conversations, plots
from bench.latency import percentile
from bench.stack import Reply, Stack

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
TICKET = re.compile(r"GD\d{8}-\d{4}")


@dataclass
class Sent:
    sender: str
    bench_id: str
    text: str
    started: float  # seconds since the start of the run
    reply: Reply


def converse(stack: Stack, i: int, t0: float, seconds: float, timeout: float) -> List[Sent]:
    sender, sent = f"load-{i}", []
    for n, text in enumerate(conversations.messages(i)):
        started = time.perf_counter() - t0
        if started >= seconds:
            break
        bench_id = f"{sender}:{n}"
        sent.append(Sent(sender, bench_id, text, started, stack.say(sender, text, {"bench_id": bench_id}, timeout)))
    return sent


def tracker_ids(stack: Stack, sender: str) -> Counter:
    reply = stack.tracker(sender)
    if not reply.ok:
        raise RuntimeError(f"tracker of {sender}: {reply.error} {str(reply.body)[:200]}")
    return Counter((e.get("metadata") or {}).get("bench_id") for e in reply.body["events"] if e["event"] == "user")


def check_trackers(stack: Stack, sent: List[Sent], settle: float = 15) -> Dict:
    """Every sent message in its tracker exactly once. Messages whose request failed may still be
    under way in the server: those conversations are looked at again for up to `settle` seconds."""
    by_sender: Dict[str, List[Sent]] = {}
    for s in sent:
        by_sender.setdefault(s.sender, []).append(s)
    deadline = time.perf_counter() + settle
    pending = list(by_sender)
    found: Dict[str, Counter] = {}
    while True:
        with ThreadPoolExecutor(max_workers=8) as pool:
            found.update(zip(pending, pool.map(lambda who: tracker_ids(stack, who), pending)))
        pending = [who for who in by_sender if any(found[who][s.bench_id] == 0 for s in by_sender[who])]
        if not pending or time.perf_counter() > deadline:
            break
        time.sleep(5)
    lost = [s for s in sent if found[s.sender][s.bench_id] == 0]
    duplicated = [s for s in sent if found[s.sender][s.bench_id] > 1]
    ids = {s.bench_id for s in sent}
    unexpected = sum(n for c in found.values() for i, n in c.items() if i and i.startswith("load-") and i not in ids)
    return {"lost": lost, "duplicated": duplicated, "unexpected": unexpected}


def classify(s: Sent) -> str:
    if s.reply.ok:
        return "ok" if s.reply.body else "empty answer"
    return s.reply.error or "error"


def report(args, sent: List[Sent], wall: float, check: Dict, memory, stack: Stack, timings: Dict) -> str:
    kinds = Counter(classify(s) for s in sent)
    ok = [s for s in sent if classify(s) == "ok"]
    times = [s.reply.ms for s in ok]
    tickets = sum(1 for s in ok if any(TICKET.search(m.get("text") or "") for m in s.reply.body))
    errors = len(sent) - len(ok)
    lost_after_error = sum(1 for s in check["lost"] if classify(s) != "ok")
    lines = [
        "# Load: our stack under many concurrent conversations", "",
        f"{args.conversations} conversations at once through the REST channel of `python -m bot.cli run` (127.0.0.1, "
        f"SQLite tracker and database, one Rasa process, 2 cores shared with other work) for {args.seconds:.0f} s; each "
        f"sends its next message as soon as it has the answer (bench/conversations.py: Chinese and English, reports "
        f"through the whole form, policy questions, a cancelled report); client timeout {args.timeout:.0f} s. "
        "After the run every conversation's tracker (GET /conversations/<id>/tracker) is checked for each message "
        "sent, by the `bench_id` each carried in its metadata.", "",
        "![latency over the run](load.png)", "",
        "| measure | value |", "|---|---|",
        f"| messages sent | {len(sent)} |",
        f"| answered | {len(ok)} |",
        f"| errors (HTTP errors, timeouts, empty answers) | {errors} |",
    ]
    lines += [f"| — {kind} | {n} |" for kind, n in sorted(kinds.items()) if kind != "ok"]
    lines += [
        f"| lost (sent, not in the tracker) | {len(check['lost'])} (of them after an error: {lost_after_error}) |",
        f"| duplicated (in the tracker more than once) | {len(check['duplicated'])} |",
        f"| in a tracker but never sent | {check['unexpected']} |",
        f"| tickets filed (answers with a ticket number) | {tickets} |",
        f"| throughput (answered / wall time {wall:.0f} s, until the last answer) | {len(ok) / wall:.1f} msg/s |",
        f"| throughput (answered within the first {args.seconds:.0f} s) | "
        f"{sum(1 for s in ok if s.started + s.reply.ms / 1000 <= args.seconds) / args.seconds:.1f} msg/s |",
        f"| latency p50 / p95 / p99 (answered) | {percentile(times, 50):.0f} / {percentile(times, 95):.0f} / "
        f"{percentile(times, 99):.0f} ms |",
        f"| latency max (answered) | {max(times) if times else float('nan'):.0f} ms |",
        f"| stack start-up to first answer | {stack.first_answer_s:.1f} s |",
        f"| peak memory, all processes of the stack | {sum(p for _, p, _ in memory) / 1024:.0f} MB |",
    ]
    lines += [f"| peak memory, {role} | {peak / 1024:.0f} MB |" for role, peak, _ in memory]
    if check["lost"]:
        lines += ["", "Lost messages (first 20):", ""]
        lines += [f"- {s.bench_id} “{s.text}” sent at {s.started:.1f} s: {classify(s)} after {s.reply.ms / 1000:.1f} s"
                  for s in check["lost"][:20]]
    lines += ["", "## Time taken", ""] + [f"- {name}: {seconds:.0f} s" for name, seconds in timings.items()]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args(argv)
    timings = {}
    t = time.perf_counter()
    with Stack(label="load") as stack:
        timings["start-up"] = time.perf_counter() - t
        t = t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.conversations) as pool:
            batches = pool.map(lambda i: converse(stack, i, t0, args.seconds, args.timeout), range(args.conversations))
            sent = [s for batch in batches for s in batch]
        wall = time.perf_counter() - t0
        timings["load (until the last answer)"] = wall
        print(f"   {len(sent)} messages in {wall:.0f} s; checking the trackers", flush=True)
        t = time.perf_counter()
        check = check_trackers(stack, sent)
        timings["tracker check"] = time.perf_counter() - t
        memory = stack.memory()
        t = time.perf_counter()
    timings["stop"] = time.perf_counter() - t
    RESULTS.mkdir(parents=True, exist_ok=True)
    plots.load_timeline([(s.started, s.reply.ms, classify(s) == "ok") for s in sent], RESULTS / "load.png")
    text = report(args, sent, wall, check, memory, stack, timings)
    (RESULTS / "load.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
