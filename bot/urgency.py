"""Urgency: does a message describe immediate danger, and which emergency number applies?

A lexicon layer that works whatever the classifier thinks: the rules are data
(`bot/data/urgency.yml`), applied to the message in Simplified script and lower case.
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
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


# Clause boundaries: punctuation (after NFKC, so full-width marks are ASCII) and whitespace beside a
# Chinese character (chat messages often use spaces for commas; English words are separated by them).
_CLAUSE_END = re.compile(r"[,.!?;:~\n。、…﹔]|(?<=[\u4e00-\u9fff])\s|\s(?=[\u4e00-\u9fff])")


# Markers are looked for this many characters either side of a danger word at most (within its
# clause), so that a 20,000-character message of danger words costs linear time.
_WINDOW = 40


class _Clauses:
    """Where the clauses of one text end, for finding the clause around any position. Found at the
    first danger word: most messages have none, and then nothing is scanned."""

    def __init__(self, text: str) -> None:
        self.text = text

    @cached_property
    def _marks(self) -> Tuple[List[int], List[int]]:
        """(starts, ends) of the clause boundaries."""
        marks = [m.span() for m in _CLAUSE_END.finditer(self.text)]
        return [a for a, _ in marks], [b for _, b in marks]

    def around(self, start: int, end: int) -> Tuple[int, int]:
        starts, ends = self._marks
        before = bisect.bisect_right(ends, start) - 1
        after = bisect.bisect_left(starts, end)
        opening = ends[before] if before >= 0 else 0
        closing = starts[after] if after < len(starts) else len(self.text)
        return max(opening, start - _WINDOW), min(closing, end + _WINDOW)


@dataclass(frozen=True)
class _Narration:
    before: re.Pattern
    after: re.Pattern
    now: re.Pattern

    def discounts(self, text: str, clauses: _Clauses, start: int, end: int) -> bool:
        """Whether the danger word at text[start:end] is told as hypothetical, long past or a risk."""
        opening, closing = clauses.around(start, end)
        if self.now.search(text, opening, closing):
            return False
        return bool(self.before.search(text, opening, start) or self.after.match(text, end, closing))


def _either(spec: dict, key: str) -> re.Pattern:
    return re.compile("|".join(f"(?:{spec[f'{key}_{lang}']})" for lang in ("zh", "en")))


@lru_cache(maxsize=1)
def _lexicon() -> dict:
    return yaml.safe_load(LEXICON_PATH.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _narration() -> _Narration:
    spec = _lexicon()["narration"]
    return _Narration(_either(spec, "before"), _either(spec, "after"), _either(spec, "now"))


@lru_cache(maxsize=1)
def _kinds() -> Tuple[_Kind, ...]:
    data = _lexicon()
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
        clauses = _Clauses(cleaned)
        if any(_told_as_now(p, cleaned, clauses) for p in kind.patterns):
            found.append(kind.name)
    return found


def _told_as_now(pattern: re.Pattern, text: str, clauses: _Clauses) -> bool:
    narration = _narration()
    return any(not narration.discounts(text, clauses, m.start(), m.end()) for m in pattern.finditer(text))


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
