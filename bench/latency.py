"""Speed of the running stack, ours against Rasa's default pipeline: end-to-end latency of a message
through the REST channel (NLU, policies and the action server) and of plain /model/parse, at 1, 10
and 50 concurrent conversations; start-up time to the first answer; peak memory of every process.

    .venv/bin/python -m bench.latency [--stacks ours,default] [--scale 1.0]

Both stacks are `python -m bot.cli run` (bench/stack.py) with the same domain, actions and action
server; the default one runs the model of bench/training.py (RASA_MODEL). They run one after the
other, each with its own throw-away databases. Results: bench/results/latency.md and latency.png.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Dict, List, Optional

from bench import conversations, plots
from bench.stack import Reply, Stack

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
LEVELS = (1, 10, 50)
# Messages per level: a p99 from at least 100 messages (400 at 10 conversations, where the target is),
# few enough for about a minute with the default stack.
REST_MESSAGES = {1: 100, 10: 400, 50: 500}
PARSE_MESSAGES = {1: 100, 10: 200, 50: 250}
PATHS = ("REST channel + actions", "/model/parse")


def percentile(values: List[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def summarise(replies: List[Reply], wall: float, answer_expected: bool) -> Dict[str, float]:
    good = [r for r in replies if r.ok]
    times = [r.ms for r in good]
    empty = sum(1 for r in good if answer_expected and not r.body)
    return {"n": len(replies), "errors": len(replies) - len(good) + empty, "p50": percentile(times, 50),
            "p95": percentile(times, 95), "p99": percentile(times, 99),
            "mean": statistics.mean(times) if times else float("nan"), "throughput": len(good) / wall}


def concurrently(concurrency: int, worker: Callable[[int], List[Reply]]) -> tuple:
    """Run `worker(i)` for i < concurrency in as many threads; all replies and the wall time."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        replies = [r for batch in pool.map(worker, range(concurrency)) for r in batch]
    return replies, time.perf_counter() - started


def measure(stack: Stack, scale: float) -> List[Dict]:
    rows = []
    texts = conversations.all_texts()
    for c in LEVELS:
        per_conversation = max(1, round(REST_MESSAGES[c] * scale / c))

        def converse(i: int, c=c, k=per_conversation) -> List[Reply]:
            # each thread is one resident: the next message when the previous one is answered
            return [stack.say(f"latency-{c}-{i}", text) for text in conversations.first(i, k)]

        replies, wall = concurrently(c, converse)
        rows.append({"path": PATHS[0], "concurrency": c, **summarise(replies, wall, True)})
        per_thread = max(1, round(PARSE_MESSAGES[c] * scale / c))

        def parse(i: int, k=per_thread) -> List[Reply]:
            return [stack.parse(texts[(i * k + j) % len(texts)]) for j in range(k)]

        replies, wall = concurrently(c, parse)
        rows.append({"path": PATHS[1], "concurrency": c, **summarise(replies, wall, False)})
        print(f"   {stack.label}: {c:>2} concurrent done", flush=True)
    return rows


def run_stack(label: str, model: Optional[Path], scale: float, note: str = "") -> Dict:
    started = time.perf_counter()
    with Stack(model=model, label=label) as stack:
        print(f"   {label}: first answer {stack.first_answer_s:.1f} s after launch, "
              f"all services up at {stack.ready_s:.1f} s", flush=True)
        rows = measure(stack, scale)
        memory = stack.memory()
    return {"label": label, "rows": rows, "memory": memory, "first_answer_s": stack.first_answer_s,
            "ready_s": stack.ready_s, "seconds": time.perf_counter() - started, "note": note}


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b and a == a and b == b else "n/a"


def report(results: Dict[str, Dict], scale: float) -> str:
    ours, default = results.get("ours"), results.get("default")
    lines = ["# Latency: our stack against Rasa's default pipeline", "",
             f"Both stacks are `python -m bot.cli run` on 127.0.0.1 (SQLite, {os.cpu_count()} cores, machine shared "
             "with other work, so figures are noisy): same domain, rules, actions and action server; only the model "
             "differs (ours: `models/current.tar.gz`; default: Rasa's default config, bench/training.py). Each "
             "concurrent conversation sends its next message when the previous one is answered; the conversations "
             "are bench/conversations.py (Chinese and English, reports through the whole form). Errors: HTTP errors, "
             "timeouts (60 s) and empty answers. The default model predicts none of our entities (language, "
             "category, urgency), so with the same actions it answers in the default language and files reports "
             "without a category: same work per message, not the same behaviour.", ""]
    lines += [f"Default model{s['note']}." for s in results.values() if s.get("note")]
    lines += ["", "![latency percentiles](latency.png)", "",
              "| path | concurrent | stack | messages | errors | p50 ms | p95 ms | p99 ms | mean ms | msg/s |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for label in ("ours", "default"):
        for r in (results[label]["rows"] if label in results else []):
            lines.append(f"| {r['path']} | {r['concurrency']} | {label} | {r['n']} | {r['errors']} | {r['p50']:.0f} "
                         f"| {r['p95']:.0f} | {r['p99']:.0f} | {r['mean']:.0f} | {r['throughput']:.1f} |")
    if ours and default:
        lines += ["", "## Ratios ours / default (latency: below 1 = ours is faster; msg/s: above 1 = ours handles more)", "",
                  "| path | concurrent | p50 | p95 | p99 | msg/s |", "|---|---|---|---|---|---|"]
        for o, d in zip(ours["rows"], default["rows"]):
            lines.append(f"| {o['path']} | {o['concurrency']} | {ratio(o['p50'], d['p50'])} | {ratio(o['p95'], d['p95'])} "
                         f"| {ratio(o['p99'], d['p99'])} | {ratio(o['throughput'], d['throughput'])} |")
    lines += ["", "## Start-up and memory", "",
              "Start-up: from launching `bot.cli run` to the first answer through the REST channel, and to the "
              "supervisor's \"all services up\" (web app and background jobs too). Memory: peak resident set "
              "(VmHWM from /proc/<pid>/status) of each process at the end of the run, i.e. after the 50-conversation "
              "level; the total adds peaks that need not have coincided.", "",
              "| measure | " + " | ".join(results) + (" | ours / default |" if ours and default else " |"),
              "|---" * (len(results) + 1 + (1 if ours and default else 0)) + "|"]

    def row(name: str, values: List[float], fmt: str) -> str:
        cells = [format(v, fmt) if v == v else "n/a" for v in values]
        return f"| {name} | " + " | ".join(cells) + (f" | {ratio(values[0], values[1])} |" if len(values) == 2 else " |")

    stacks = list(results.values())
    lines.append(row("first answer after launch, s", [s["first_answer_s"] for s in stacks], ".1f"))
    lines.append(row("all services up after launch, s", [s["ready_s"] for s in stacks], ".1f"))
    roles = list(dict.fromkeys(role for s in stacks for role, _, _ in s["memory"]))
    for role in roles:
        peaks = [sum(peak for r, peak, _ in s["memory"] if r == role) / 1024 for s in stacks]
        lines.append(row(f"peak memory, {role}, MB", peaks, ".0f"))
    lines.append(row("peak memory, all processes, MB", [sum(p for _, p, _ in s["memory"]) / 1024 for s in stacks], ".0f"))
    lines += ["", "## Time taken", ""] + [f"- {s['label']} stack: {s['seconds']:.0f} s (start, all levels, stop)"
                                           for s in stacks]
    if scale != 1:
        lines.append(f"- message counts scaled by {scale}")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stacks", default="ours,default")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the message counts")
    args = parser.parse_args(argv)
    results = {}
    for label in args.stacks.split(","):
        model, note = None, ""
        if label == "default":
            from bench.training import default_model, stale_note

            meta = default_model()
            model, note = Path(meta["model"]), stale_note(meta)
        results[label] = run_stack(label, model, args.scale, note)
    RESULTS.mkdir(parents=True, exist_ok=True)
    plots.latency(results, LEVELS, PATHS, RESULTS / "latency.png")
    text = report(results, args.scale)
    (RESULTS / "latency.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
