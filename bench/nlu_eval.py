"""Understanding benchmark: intent, category and urgency on the held-out set (short messages) and on
the held-out long letters, and category routing and urgency flags on the real TipDM 2020 messages
(evaluation only, read from ../shared when present).

    .venv/bin/python -m bench.nlu_eval [--model models/current.tar.gz]
"""
from __future__ import annotations

import argparse
import asyncio
import csv
import json
import time
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import yaml

ROOT = Path(__file__).resolve().parents[1]
HOLDOUT = ROOT / "tests" / "nlu_holdout" / "holdout.yml"
# Long formal letters (message-board style), written apart from the training letters in nlu_data.
LETTERS = ROOT / "tests" / "nlu_holdout" / "letters.yml"
TIPDM = ROOT.parent / "shared" / "benchmarks" / "tipdm2020" / "messages_heldout_1842.csv"
# Residents' questions about the rules (tests/policy) put inside a letter: a greeting, who is writing,
# the question, thanks. Also used by tests/test_policy_answer.py and tests/test_asking.py.
LETTER_WRAPPERS = {
    "zh-Hans": ["尊敬的社区领导：您好！我是本小区的一名居民，平时比较关注社区的事情。{q}盼回复，谢谢！",
                "您好，打扰一下。我家老人最近总问起这个事，我也说不清楚，所以来问问：{q}麻烦您解答，非常感谢。"],
    "zh-Hant": ["尊敬的社區領導：您好！我是本小區的一名居民，平時比較關注社區的事情。{q}盼回覆，謝謝！"],
    "en": ["Dear Sir or Madam, I am a resident here and I care about our neighbourhood. {q} Thank you very much."],
}
RESULTS = ROOT / "bench" / "results"
MEASURED = ("complaint", "service_request", "consultation")
# The README of the TipDM data gives this mapping from our categories to its department classes.
TIPDM_CLASS = {
    "property": "城乡建设", "building_construction": "城乡建设", "municipal": "城乡建设",
    "environment": "环境保护", "noise": "环境保护", "parking_traffic": "交通运输", "education": "教育文体",
    "market_consumer": "商贸旅游", "health": "卫生计生", "employment": "劳动和社会保障",
    "social_assistance": "劳动和社会保障",
    # Not in the README's examples; where the competition's own taxonomy files these departments:
    # city management (环卫) under 城乡建设, elderly-care allowances with social security.
    "sanitation": "城乡建设", "elderly_care": "劳动和社会保障",
}


def load_holdout(path: Path = HOLDOUT) -> List[Dict]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    rows = []
    for block in data["nlu"]:
        meta = block.get("metadata") or {}
        for line in block["examples"].splitlines():
            line = line.strip()
            if line.startswith("- "):
                urgent = meta.get("urgent")
                rows.append({"text": line[2:].strip(), "intent": block["intent"],
                             "category": meta.get("category"), "urgent": None if urgent == "none" else urgent})
    return rows


def macro_f1(pairs: List[Tuple[str, str]]) -> float:
    labels = sorted({g for g, _ in pairs})
    scores = []
    for label in labels:
        tp = sum(1 for g, p in pairs if g == label and p == label)
        fp = sum(1 for g, p in pairs if g != label and p == label)
        fn = sum(1 for g, p in pairs if g == label and p != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return sum(scores) / len(scores) if scores else 0.0


def confusion_markdown(pairs: List[Tuple[str, str]]) -> str:
    labels = sorted({g for g, _ in pairs} | {p for _, p in pairs})
    counts = Counter(pairs)
    lines = ["| gold \\ predicted | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
    for gold in labels:
        lines.append(f"| {gold} | " + " | ".join(str(counts.get((gold, p), 0) or "") for p in labels) + " |")
    return "\n".join(lines)


async def _parse_all(model: Path, texts: List[str]) -> List[Dict]:
    import logging

    from rasa.core.agent import load_agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)  # not a debug line per parsed message

    agent = await load_agent(model_path=str(model))
    return [await agent.parse_message(t) for t in texts]


def parse_all(model: Path, texts: List[str]) -> List[Dict]:
    return asyncio.run(_parse_all(model, texts))


def entity(parsed: Dict, name: str) -> Optional[str]:
    return next((e["value"] for e in parsed.get("entities", []) if e["entity"] == name), None)


def evaluate_holdout(model: Path, path: Path = HOLDOUT) -> Dict:
    rows = load_holdout(path)
    started = time.monotonic()
    parsed = parse_all(model, [r["text"] for r in rows])
    elapsed = time.monotonic() - started
    intent_pairs = [(r["intent"], p["intent"]["name"]) for r, p in zip(rows, parsed)]
    category_pairs = [(r["category"], entity(p, "category") or "(none)") for r, p in zip(rows, parsed)
                      if r["intent"] in MEASURED]
    urgent = [(r, p) for r, p in zip(rows, parsed) if r["urgent"]]
    caught = [(r, p) for r, p in urgent if entity(p, "urgency")]
    right_number = [(r, p) for r, p in caught
                    if (entity(p, "urgency") or "").split(",")[0] == r["urgent"] or r["urgent"] in entity(p, "urgency")]
    not_urgent = [(r, p) for r, p in zip(rows, parsed) if not r["urgent"]]
    false_alarms = [r["text"] for r, p in not_urgent if entity(p, "urgency")]
    measured_pairs = [(g, p) for g, p in intent_pairs if g in MEASURED]
    return {
        "examples": len(rows),
        "intent_accuracy": sum(g == p for g, p in intent_pairs) / len(intent_pairs),
        "intent_accuracy_three": sum(g == p for g, p in measured_pairs) / len(measured_pairs),
        "intent_macro_f1": macro_f1(intent_pairs),
        "category_accuracy": sum(g == p for g, p in category_pairs) / len(category_pairs),
        "category_macro_f1": macro_f1(category_pairs),
        "urgent_total": len(urgent),
        "urgent_caught": len(caught),
        "urgent_right_kind": len(right_number),
        "urgent_missed": [r["text"] for r, p in urgent if not entity(p, "urgency")],
        "false_alarms": false_alarms,
        "parse_ms_per_message": 1000 * elapsed / len(rows),
        "intent_pairs": intent_pairs,
        "intent_confusion": confusion_markdown(measured_pairs),
        "category_confusion": confusion_markdown(category_pairs),
    }


def in_letters(question: str, lang: str) -> List[str]:
    """The question inside each of its language's letters (a question mark added when it has none)."""
    ending = "" if question.rstrip().endswith(("？", "?", "。", ".")) else ("?" if lang == "en" else "？")
    return [letter.format(q=question + ending) for letter in LETTER_WRAPPERS[lang]]


def evaluate_policy_letters(model: Path) -> Dict:
    """How often a policy question inside a letter is taken as a consultation (alone, for comparison)."""
    from bench.policy_bench import load_questions

    questions = load_questions()
    alone = parse_all(model, [q["q"] for q in questions])
    wrapped = parse_all(model, [text for q in questions for text in in_letters(q["q"], q["lang"])])
    share = lambda parsed: sum(p["intent"]["name"] == "consultation" for p in parsed) / len(parsed)  # noqa: E731
    return {"questions": len(questions), "letters": len(wrapped), "alone": share(alone), "in_letters": share(wrapped)}


def evaluate_tipdm(model: Path) -> Optional[Dict]:
    if not TIPDM.exists():
        return None
    with TIPDM.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    texts = [f"{r['留言主题']} {r['留言详情']}" for r in rows]
    parsed = parse_all(model, texts)
    pairs = [(r["一级标签"], TIPDM_CLASS.get(entity(p, "category") or "other", "其他"))
             for r, p in zip(rows, parsed)]
    return {"messages": len(rows), "accuracy": sum(g == p for g, p in pairs) / len(pairs),
            "macro_f1": macro_f1(pairs), "confusion": confusion_markdown(pairs),
            # A message board gets no live emergencies: every flag sends a letter to staff as urgent.
            "urgency_flags": sum(1 for p in parsed if entity(p, "urgency"))}


def letters_section(letters: Dict) -> List[str]:
    return ["## Long letters (held-out)", "",
            f"{letters['examples']} message-board style letters (tests/nlu_holdout/letters.yml, 100–600 characters, "
            "written apart from the training letters; none describes an emergency happening now).", "",
            "| measure | value |", "|---|---|",
            f"| intent accuracy (complaint / service_request / consultation) | {letters['intent_accuracy_three']:.3f} |",
            f"| category accuracy | {letters['category_accuracy']:.3f} |",
            f"| category macro-F1 | {letters['category_macro_f1']:.3f} |",
            f"| urgency alarms | {len(letters['false_alarms'])} |", ""]


def policy_letters_section(result: Dict) -> List[str]:
    return ["## Policy questions inside letters", "",
            f"The {result['questions']} residents' questions of tests/policy, each inside the letters of "
            f"bench/nlu_eval.py's LETTER_WRAPPERS ({result['letters']} messages).", "",
            "| taken as consultations | share |", "|---|---|",
            f"| the question alone | {result['alone']:.3f} |", f"| inside a letter | {result['in_letters']:.3f} |", ""]


def report(holdout: Dict, tipdm: Optional[Dict], letters: Optional[Dict] = None,
           policy_letters: Optional[Dict] = None) -> str:
    h = holdout
    lines = [
        "# Understanding benchmark", "",
        f"Held-out set: {h['examples']} messages (tests/nlu_holdout, never trained on). "
        "Side by side with Rasa's default pipeline: [nlu_compare.md](nlu_compare.md).", "",
        "| measure | value | target |", "|---|---|---|",
        f"| intent accuracy (all intents) | {h['intent_accuracy']:.3f} | ≥ 0.95 |",
        f"| intent accuracy (complaint / service_request / consultation) | {h['intent_accuracy_three']:.3f} | ≥ 0.95 |",
        f"| intent macro-F1 | {h['intent_macro_f1']:.3f} | |",
        f"| category accuracy | {h['category_accuracy']:.3f} | ≥ 0.90 |",
        f"| category macro-F1 | {h['category_macro_f1']:.3f} | |",
        f"| urgent messages caught | {h['urgent_caught']}/{h['urgent_total']} | all |",
        f"| urgent with the right emergency number | {h['urgent_right_kind']}/{h['urgent_total']} | all |",
        f"| false urgency alarms on non-urgent messages | {len(h['false_alarms'])} | |",
        f"| NLU parse time per message (in-process) | {h['parse_ms_per_message']:.1f} ms | |", "",
    ]
    if h["urgent_missed"]:
        lines += ["Missed urgent messages:", ""] + [f"- {t}" for t in h["urgent_missed"]] + [""]
    if h["false_alarms"]:
        lines += ["False alarms:", ""] + [f"- {t}" for t in h["false_alarms"]] + [""]
    lines += ["## Intent confusion (the three measured intents)", "", h["intent_confusion"], "",
              "## Category confusion", "", h["category_confusion"], ""]
    if letters:
        lines += letters_section(letters)
    if policy_letters:
        lines += policy_letters_section(policy_letters)
    if tipdm is None:
        lines += ["## TipDM 2020 real messages", "", f"Not measured: {TIPDM} is absent.", ""]
    else:
        lines += ["## TipDM 2020 real messages (evaluation only)", "",
                  f"{tipdm['messages']} messages; category mapped to the department class as the data's README says.", "",
                  f"| routing accuracy | {tipdm['accuracy']:.3f} |", "|---|---|",
                  f"| macro-F1 | {tipdm['macro_f1']:.3f} |",
                  f"| flagged as emergencies (the board gets none live; past or feared dangers) | "
                  f"{tipdm['urgency_flags']} ({tipdm['urgency_flags'] / tipdm['messages']:.1%}) |",
                  "", tipdm["confusion"], ""]
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> Dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=str(ROOT / "models" / "current.tar.gz"))
    parser.add_argument("--no-tipdm", action="store_true")
    args = parser.parse_args(argv)
    holdout = evaluate_holdout(Path(args.model))
    letters = evaluate_holdout(Path(args.model), LETTERS)
    policy_letters = evaluate_policy_letters(Path(args.model))
    tipdm = None if args.no_tipdm else evaluate_tipdm(Path(args.model))
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = report(holdout, tipdm, letters, policy_letters)
    (RESULTS / "nlu.md").write_text(text, encoding="utf-8")
    summary = {k: v for k, v in holdout.items() if not k.endswith(("confusion", "pairs"))}
    summary["letters"] = {k: v for k, v in letters.items() if not k.endswith(("confusion", "pairs"))}
    summary["policy_letters"] = policy_letters
    if tipdm:
        summary["tipdm_accuracy"] = tipdm["accuracy"]
        summary["tipdm_urgency_flags"] = tipdm["urgency_flags"]
    (RESULTS / "nlu.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    print(text.split("## Intent confusion")[0])
    return holdout


if __name__ == "__main__":
    main()
