"""`make bench`: every benchmark in one run; results as Markdown under bench/results/."""
from __future__ import annotations

import sys

from bench import latency, nlu_eval
from bench import policy_bench


def main() -> int:
    print("== understanding (held-out set, TipDM when present)")
    nlu_eval.main()
    print("== policy answers")
    policy_bench.main([])
    print("== latency")
    return latency.main([])


if __name__ == "__main__":
    sys.exit(main())
