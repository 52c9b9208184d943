"""Urgency: does a message describe immediate danger, and which emergency number applies?

A lexicon layer that works whatever the classifier thinks: the rules are data
(`bot/data/urgency.yml`), applied to the message in Simplified script and lower case.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import List, Tuple

import yaml

from bot.language import normalise_for_nlu

LEXICON_PATH = Path(__file__).parent / "data" / "urgency.yml"
NOT_URGENT = "none"


@dataclass(frozen=True)
class _Kind:
    name: str
    number: str
    patterns: Tuple[re.Pattern, ...]
    harmless: Tuple[re.Pattern, ...]


@lru_cache(maxsize=1)
def _kinds() -> Tuple[_Kind, ...]:
    data = yaml.safe_load(LEXICON_PATH.read_text(encoding="utf-8"))
    kinds = []
    for name, spec in data["kinds"].items():
        patterns = [re.compile(p) for p in spec.get("zh", []) + spec.get("en", [])]
        harmless = [re.compile(p) for p in spec.get("harmless_zh", []) + spec.get("harmless_en", [])]
        kinds.append(_Kind(name, str(spec["number"]), tuple(patterns), tuple(harmless)))
    return tuple(kinds)


def detect_urgency(text: str) -> List[str]:
    """Kinds of emergency in the message (`fire`, `medical`, `police`), most pressing first."""
    if not text:
        return []
    norm = normalise_for_nlu(text)
    found = []
    for kind in _kinds():
        cleaned = norm
        for pattern in kind.harmless:
            cleaned = pattern.sub(" ", cleaned)
        if any(p.search(cleaned) for p in kind.patterns):
            found.append(kind.name)
    return found


def emergency_number(kind: str) -> str:
    return next(k.number for k in _kinds() if k.name == kind)


def urgency_kinds() -> List[str]:
    return [k.name for k in _kinds()]


def urgency_kinds_for(text: str, model=None, threshold: float = 0.5) -> List[str]:
    """The lexicon's kinds; when it finds none, the trained model's kind if it is confident enough.

    `model` is a bot.category_model.CategoryModel trained on labels fire / medical / police / none.
    """
    kinds = detect_urgency(text)
    if kinds or model is None or not (text or "").strip():
        return kinds
    label, confidence = model.predict(text)
    return [label] if label != NOT_URGENT and confidence >= threshold else []
