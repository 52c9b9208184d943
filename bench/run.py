"""`make bench`: every benchmark in one run; results as Markdown and PNG under bench/results/.

Parts, in order: the two models' training times (and Rasa's default model, trained once and
reused from the bench cache, bench/training.py), understanding (ours in detail + side by side with
the default pipeline), policy answers, latency of both stacks, latency at a human pace, scale-out
(one and two Rasa processes on PostgreSQL and Redis), load on ours. Prints the time each part took; a part that fails does not stop the others, but makes the
exit status 1.
"""
from __future__ import annotations

import sys
import time
import traceback
from pathlib import Path

from bench import latency, load, nlu_compare, nlu_eval, paced, policy_bench, scale, training

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> int:
    ours_holdout = {}

    def understanding() -> None:
        ours_holdout.update(nlu_eval.main([]))
        nlu_compare.main(ours_holdout)

    parts = [
        ("training times / default model", lambda: training.main([])),
        ("understanding (held-out set, TipDM when present; vs default)", understanding),
        ("policy answers", lambda: policy_bench.main([])),
        ("latency (ours and default stacks)", lambda: latency.main([])),
        ("latency at a human pace (ours)", lambda: paced.main([])),
        ("scale-out (production configuration, 1 and 2 Rasa processes)", lambda: scale.main([])),
        ("load (200 conversations, 60 s)", lambda: load.main([])),
    ]
    timings, failed = [], []
    started = time.perf_counter()
    for name, part in parts:
        print(f"== {name}", flush=True)
        t = time.perf_counter()
        try:
            part()
        except (Exception, SystemExit):  # noqa: BLE001 - report, go on with the other parts
            traceback.print_exc()
            failed.append(name)
        timings.append((name, time.perf_counter() - t))
        print(f"== {name}: {timings[-1][1]:.0f} s{' (FAILED)' if name in failed else ''}", flush=True)
    total = time.perf_counter() - started
    lines = ["# Benchmark run: time per part", "", "| part | seconds |", "|---|---|"]
    lines += [f"| {name}{' (failed)' if name in failed else ''} | {seconds:.0f} |" for name, seconds in timings]
    lines.append(f"| total | {total:.0f} |")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "run.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
