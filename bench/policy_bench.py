"""Policy-answer benchmark: top-1 / top-3 accuracy and false-citation rate on tests/policy/questions.yml
(+ the later blind batch tests/policy/questions_blind2.yml).

    .venv/bin/python bench/policy_bench.py            # prints and writes bench/results/policy.md
    .venv/bin/python bench/policy_bench.py --sweep    # also scans the abstention thresholds

Definitions (per question; `also` lists other provisions that answer equally well):
- top-1: answerable → the bot answers and cites an expected provision; unanswerable → it cites nothing.
- top-3: answerable → an expected provision is among the first three ranked candidates in the scope
  the bot searched (its answer plus the next two); unanswerable → it cites nothing.
- false citation: a citation on an unanswerable question, or a citation of a wrong provision on an
  answerable one. Abstaining on an answerable question is a miss, not a false citation.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.policy import retrieve  # noqa: E402
from bot.policy.answer import answer_question, normalise_lang, resolve_city  # noqa: E402

QUESTIONS = ROOT / "tests" / "policy" / "questions.yml"
# Later blind batches kept in their own files; the regular set is all of them.
QUESTION_FILES = (QUESTIONS, ROOT / "tests" / "policy" / "questions_blind2.yml")
RESULTS = ROOT / "bench" / "results" / "policy.md"


def load_questions(path: Path | None = None) -> list[dict]:
    paths = [path] if path else QUESTION_FILES
    return [q for p in paths for q in yaml.safe_load(p.read_text(encoding="utf-8"))["questions"]]


def expected(q: dict) -> set[tuple[str, str]]:
    if q["article"] == "none":
        return set()
    return {(q["doc"], q["article"])} | {(q["doc"], a) for a in q.get("also") or []}


def evaluate(questions: list[dict]) -> dict:
    rows = []
    for q in questions:
        want = expected(q)
        a = answer_question(q["q"], q["lang"], q.get("default_city"))
        cited = (a.doc_id, a.article) if a.citation else None
        idx = retrieve.index()
        r = retrieve.find(q["q"], normalise_lang(q["lang"]), resolve_city(q.get("default_city"), idx.docs))
        top3 = [(h.provision.doc_id, h.provision.label) for h in r.hits[:3]]
        if want:
            top1_ok = cited in want
            top3_ok = top1_ok or bool(want & set(top3))
            false_cite = cited is not None and cited not in want
        else:
            top1_ok = top3_ok = cited is None
            false_cite = cited is not None
        rows.append({"q": q, "cited": cited, "top3": top3, "top1_ok": top1_ok, "top3_ok": top3_ok,
                     "false_cite": false_cite, "score": a.score, "answerable": bool(want)})
    return summarise(rows)


def summarise(rows: list[dict]) -> dict:
    def rate(sel, key):
        sel = list(sel)
        return (sum(r[key] for r in sel) / len(sel)) if sel else float("nan")

    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    by_lang = defaultdict(list)
    for r in rows:
        by_lang[r["q"]["lang"]].append(r)
    return {
        "n": len(rows), "n_answerable": len(answerable), "n_unanswerable": len(unanswerable),
        "top1": rate(rows, "top1_ok"), "top3": rate(rows, "top3_ok"),
        "top1_answerable": rate(answerable, "top1_ok"), "top3_answerable": rate(answerable, "top3_ok"),
        "false_citation_rate": rate(rows, "false_cite"),
        "cited_unanswerable": sum(r["false_cite"] for r in unanswerable),
        "wrong_citations": sum(r["false_cite"] for r in answerable),
        "abstained_answerable": sum(1 for r in answerable if r["cited"] is None),
        "by_lang": {lang: (len(rs), rate(rs, "top1_ok"), rate(rs, "top3_ok")) for lang, rs in sorted(by_lang.items())},
        "rows": rows,
    }


def sweep(questions: list[dict]) -> list[tuple[float, float, dict]]:
    saved = retrieve.MIN_SCORE, retrieve.MIN_COVERAGE
    out = []
    try:
        for s in (2.0, 3.0, 4.0, 5.0, 6.0, 8.0):
            for c in (0.4, 0.5, 0.55, 0.6, 0.62, 0.65, 0.7, 0.75):
                retrieve.MIN_SCORE, retrieve.MIN_COVERAGE = s, c
                out.append((s, c, evaluate(questions)))
    finally:
        retrieve.MIN_SCORE, retrieve.MIN_COVERAGE = saved
    return out


def report(res: dict, seconds: float, sweep_rows=None) -> str:
    lines = [
        "# Policy answers — benchmark",
        "",
        f"Question set: `tests/policy/questions.yml` + `questions_blind2.yml` (unless --questions) — {res['n']} questions "
        f"({res['n_answerable']} answerable, {res['n_unanswerable']} not answerable by the corpus).",
        f"Thresholds: BM25 score ≥ {retrieve.MIN_SCORE}, coverage ≥ {retrieve.MIN_COVERAGE} "
        f"(≥ {retrieve.MIN_COVERAGE_OTHER_CITIES} when answering from a city the resident did not name) — "
        f"`bot/policy/retrieve.py`. Run time: {seconds:.1f} s.",
        "",
        "| metric | value | target |",
        "|---|---|---|",
        f"| top-1 accuracy (all questions) | {res['top1']:.3f} | ≥ 0.90 |",
        f"| top-3 accuracy (all questions) | {res['top3']:.3f} | ≥ 0.98 |",
        f"| top-1 accuracy (answerable only) | {res['top1_answerable']:.3f} | |",
        f"| top-3 accuracy (answerable only) | {res['top3_answerable']:.3f} | |",
        f"| false-citation rate | {res['false_citation_rate']:.3f} | |",
        f"| citations on unanswerable questions | {res['cited_unanswerable']} / {res['n_unanswerable']} | 0 |",
        f"| wrong citations on answerable questions | {res['wrong_citations']} / {res['n_answerable']} | |",
        f"| abstentions on answerable questions | {res['abstained_answerable']} / {res['n_answerable']} | |",
        "",
        "| language | questions | top-1 | top-3 |",
        "|---|---|---|---|",
    ]
    for lang, (n, t1, t3) in res["by_lang"].items():
        lines.append(f"| {lang} | {n} | {t1:.3f} | {t3:.3f} |")
    misses = [r for r in res["rows"] if not r["top1_ok"]]
    lines += ["", f"## Misses ({len(misses)})", ""]
    if not misses:
        lines.append("None.")
    for r in misses:
        q = r["q"]
        want = f"{q['doc']} {q['article']}" if q["article"] != "none" else "none"
        got = f"{r['cited'][0]} {r['cited'][1]}" if r["cited"] else "no citation"
        kind = "FALSE CITATION" if r["false_cite"] else "abstained"
        top3 = ", ".join(f"{d} {a}" for d, a in r["top3"])
        lines.append(f"- [{kind}] {q['q']} ({q['lang']}) — expected {want}, got {got} "
                     f"(score {r['score']}); top-3: {top3}")
    if sweep_rows:
        lines += ["", "## Threshold sweep", "",
                  "| min score | min coverage | top-1 | top-3 | cited unanswerable | wrong citations |",
                  "|---|---|---|---|---|---|"]
        for s, c, r in sweep_rows:
            lines.append(f"| {s} | {c} | {r['top1']:.3f} | {r['top3']:.3f} | {r['cited_unanswerable']} "
                         f"| {r['wrong_citations']} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sweep", action="store_true", help="scan the abstention thresholds too")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--questions", type=Path, action="append",
                    help="question file(s) to use instead of the regular set (repeatable)")
    args = ap.parse_args(argv)
    questions = [q for path in args.questions for q in load_questions(path)] if args.questions else load_questions()
    start = time.time()
    retrieve.index()
    res = evaluate(questions)
    seconds = time.time() - start
    rows = sweep(questions) if args.sweep else None
    text = report(res, seconds, rows)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
