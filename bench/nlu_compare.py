"""Understanding, side by side: our pipeline (models/current.tar.gz) against Rasa's default pipeline
trained on the same data (bench/training.py), on the held-out set tests/nlu_holdout/holdout.yml.

    .venv/bin/python -m bench.nlu_compare

Results: bench/results/nlu_compare.md (+ .json), accuracy.png, confusion_ours.png, confusion_default.png.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, Optional

from bench import nlu_eval, plots, training

RESULTS = nlu_eval.RESULTS


def _fmt(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def report(ours: Dict, default: Dict, ours_train: Dict, default_train: Dict) -> str:
    def trained(meta: Dict) -> str:
        when = meta["trained_at"].replace("T", " ").split("+")[0]
        cpu = f", {meta['cpu_seconds']:.0f} s of CPU" if meta.get("cpu_seconds") is not None else ""
        return f"{meta['train_seconds']:.0f} s{cpu} (trained {when} UTC)"

    rows = [
        ("intent accuracy (all intents)", ours["intent_accuracy"], default["intent_accuracy"]),
        ("intent accuracy (complaint / service_request / consultation)", ours["intent_accuracy_three"],
         default["intent_accuracy_three"]),
        ("intent macro-F1", ours["intent_macro_f1"], default["intent_macro_f1"]),
        ("category accuracy", ours["category_accuracy"], None),
        ("category macro-F1", ours["category_macro_f1"], None),
    ]
    lines = [
        "# Understanding: our pipeline against Rasa's default pipeline", "",
        f"Held-out set: {ours['examples']} messages (tests/nlu_holdout, never trained on). Both models are trained "
        "on the same nlu_data/ and domain.yml. Default = a config.yml with no `pipeline`/`policies`, so Rasa 3.6 "
        "fills in its defaults (WhitespaceTokenizer, RegexFeaturizer, LexicalSyntacticFeaturizer, CountVectors of "
        "words and char_wb 1–4-grams, DIETClassifier with its 2-layer transformer for 100 epochs, ResponseSelector, "
        "FallbackClassifier 0.3; Memoization, Rule, UnexpecTED and TED policies). Its language is Rasa's default "
        "`en`: with `language: zh` Rasa refuses to train it (WhitespaceTokenizer does not support zh), so Chinese "
        "messages reach it as whitespace-separated chunks and only the char n-grams see inside them.", "",
        "![accuracy](accuracy.png)", "",
        "| measure | ours | Rasa default |", "|---|---|---|",
    ]
    lines += [f"| {name} | {_fmt(o)} | {_fmt(d)} |" for name, o, d in rows]
    lines += [
        f"| urgent messages caught | {ours['urgent_caught']}/{ours['urgent_total']} | n/a |",
        f"| NLU parse time per message (in-process) | {ours['parse_ms_per_message']:.1f} ms "
        f"| {default['parse_ms_per_message']:.1f} ms |",
        f"| training time (full `rasa train`, NLU + dialogue, empty cache, {ours_train['cores']} cores) "
        f"| {trained(ours_train)} | {trained(default_train)} |", "",
        *([f"**Default model{training.stale_note(default_train)}.** Its figures are for that older data.", ""]
          if default_train.get("stale") else []),
        "Category (and urgency) accuracy of the default pipeline: n/a. It has no component that predicts a "
        "category — the category lives in each training block's `metadata`, which only our CategoryClassifier "
        "reads; Rasa's defaults have no equivalent, so no figure is made up for it.", "",
        "Training time is a separate timed `rasa train --force` of each config into the bench cache (outside "
        "the checkout) with an empty Rasa cache; it is measured once per training fingerprint and reused while "
        "data and config are unchanged. The machine is shared with other work, so wall times are noisy; CPU "
        "times much less.", "",
        "## Intent confusion, all intents (rows: gold; cells: counts, colour: share of the row)", "",
        "![ours](confusion_ours.png)", "", "![default](confusion_default.png)", "",
        "Three measured intents, ours:", "", ours["intent_confusion"], "",
        "Three measured intents, Rasa default:", "", default["intent_confusion"], "",
    ]
    return "\n".join(lines)


def main(ours: Optional[Dict] = None) -> Dict:
    """`ours`: nlu_eval's held-out result for models/current.tar.gz when it was already computed."""
    ours_train, default_train = training.ours_training(), training.default_model()
    ours = ours or nlu_eval.evaluate_holdout(training.OURS)
    default = nlu_eval.evaluate_holdout(Path(default_train["model"]))
    RESULTS.mkdir(parents=True, exist_ok=True)
    labels = sorted({g for g, _ in ours["intent_pairs"]} | {p for s in (ours, default) for _, p in s["intent_pairs"]})
    plots.confusion(ours["intent_pairs"], labels, "Intents, ours", RESULTS / "confusion_ours.png")
    plots.confusion(default["intent_pairs"], labels, "Intents, Rasa default pipeline", RESULTS / "confusion_default.png")
    plots.accuracy_bars([("intent acc.", ours["intent_accuracy"], default["intent_accuracy"]),
                         ("intent acc. (3)", ours["intent_accuracy_three"], default["intent_accuracy_three"]),
                         ("intent macro-F1", ours["intent_macro_f1"], default["intent_macro_f1"]),
                         ("category acc.", ours["category_accuracy"], None),
                         ("category macro-F1", ours["category_macro_f1"], None)], RESULTS / "accuracy.png")
    text = report(ours, default, ours_train, default_train)
    (RESULTS / "nlu_compare.md").write_text(text, encoding="utf-8")
    keys = ("intent_accuracy", "intent_accuracy_three", "intent_macro_f1", "parse_ms_per_message")
    summary = {"ours": {k: ours[k] for k in keys + ("category_accuracy", "category_macro_f1")},
               "default": {k: default[k] for k in keys},
               "train_seconds": {"ours": ours_train["train_seconds"], "default": default_train["train_seconds"]}}
    (RESULTS / "nlu_compare.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    print(text.split("## Intent confusion")[0])
    return summary


if __name__ == "__main__":
    main()
