"""Is a new report "the same thing" as an open ticket? Cheap, language-neutral text overlap.

Character bigrams work for Chinese (no word segmentation needed) and well enough for English; the
Dice coefficient of the two bigram sets is compared with the city's threshold.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Optional, Set

_NOISE = re.compile(r"[\W_]+", re.UNICODE)
_LOCATION_PARTS = re.compile(r"(\d+)\s*(?:号楼|栋|幢|楼|单元|室|号|层|#|building|unit|room|floor|bldg|rm)?",
                             re.IGNORECASE)


def normalise(text: Optional[str]) -> str:
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text).lower()
    return _NOISE.sub("", text)


def bigrams(text: str) -> Set[str]:
    if len(text) < 2:
        return {text} if text else set()
    return {text[i:i + 2] for i in range(len(text) - 1)}


def text_similarity(a: Optional[str], b: Optional[str]) -> float:
    """Dice coefficient of character bigrams, 0.0–1.0."""
    x, y = bigrams(normalise(a)), bigrams(normalise(b))
    if not x or not y:
        return 0.0
    return 2 * len(x & y) / (len(x) + len(y))


def same_location(a: Optional[str], b: Optional[str]) -> bool:
    """Both given and clearly the same place: identical after normalisation, or the same building
    numbers in the same order with similar text around them."""
    na, nb = normalise(a), normalise(b)
    if not na or not nb:
        return False
    if na == nb:
        return True
    nums_a = [m.group(1) for m in _LOCATION_PARTS.finditer(unicodedata.normalize("NFKC", a))]
    nums_b = [m.group(1) for m in _LOCATION_PARTS.finditer(unicodedata.normalize("NFKC", b))]
    return bool(nums_a) and nums_a == nums_b and text_similarity(a, b) >= 0.6


def is_repeat(desc_a, loc_a, desc_b, loc_b, threshold: float) -> bool:
    """Same thing reported again (the caller has already checked resident and category)."""
    return text_similarity(desc_a, desc_b) >= threshold or same_location(loc_a, loc_b)
