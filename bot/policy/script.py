"""Script conversion (Simplified / Traditional) and the search normalisation of regulation text.

Retrieval works on one canonical form: mainland Simplified wording. Quotes shown to residents are
never built from this form (it spells out drafting shorthand); they come from the source text, in
the mainland wording it was published in (`mainland`), converted for Traditional readers.
"""
from __future__ import annotations

import functools
import re
from pathlib import Path

import opencc
import yaml

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "regulations"
TERM_FIXES_FILE = DATA_DIR / "term_fixes.yml"

_CJK = re.compile(r"[\u3400-\u9fff]")


@functools.lru_cache(maxsize=None)
def _converter(config: str) -> opencc.OpenCC:
    return opencc.OpenCC(config)


def to_simplified(text: str) -> str:
    return _converter("t2s").convert(text)


def to_traditional(text: str) -> str:
    # Plain s2t (character conversion only): s2twp would swap terms, the very defect we undo.
    return _converter("s2t").convert(text)


def is_traditional(text: str, threshold: float = 0.05) -> bool:
    """True when a noticeable share of the CJK characters change under t2s."""
    cjk = _CJK.findall(text)
    if not cjk:
        return False
    simplified = to_simplified("".join(cjk))
    changed = sum(1 for a, b in zip(cjk, simplified) if a != b)
    return changed / len(cjk) >= threshold


@functools.lru_cache(maxsize=None)
def term_fixes(path: str = str(TERM_FIXES_FILE)) -> tuple[tuple[str, str], ...]:
    """(simplified Taiwanese term, mainland term) pairs, longest first."""
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    pairs = {to_simplified(str(k)): str(v) for k, v in raw.items()}
    return tuple(sorted(pairs.items(), key=lambda kv: -len(kv[0])))


# Drafting shorthand that hides the plain words: 居（村）民委员会 means 居民委员会 and 村民委员会.
_SHORTHAND = (("居（村）民委员会", "居民委员会、村民委员会"), ("村（居）民委员会", "村民委员会、居民委员会"),
              ("村（居）规民约", "村规民约、居规民约"), ("村（居）务", "村务、居务"),
              ("居（村）民", "居民、村民"), ("村（居）民", "村民、居民"), ("居（村）", "居、村"), ("村（居）", "村、居"))


def mainland(text: str) -> str:
    """Simplified script with mainland terms: a regulation of a mainland city as it was published
    (our 通化 copy came through a Taiwanese converter: 社區格線長 is 社区网格长)."""
    text = to_simplified(text)
    for wrong, right in term_fixes():
        text = text.replace(wrong, right)
    return text


def normalise(text: str) -> str:
    """Canonical search form: Simplified script, mainland terms, shorthand spelled out."""
    text = mainland(text)
    for short, plain in _SHORTHAND:
        text = text.replace(short, plain)
    return text
