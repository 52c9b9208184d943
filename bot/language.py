"""Language and script of a resident's message: Simplified Chinese, Traditional Chinese or English.

langdetect alone is unreliable on short Chinese text ("好的" has no script signal at all), so the
decision is made on the characters first: a Han character that OpenCC would change when converting
Traditional→Simplified is Traditional-specific, and vice versa. langdetect only breaks ties on
longer texts and checks Latin-script messages.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

SIMPLIFIED = "zh-Hans"
TRADITIONAL = "zh-Hant"
ENGLISH = "en"
AMBIGUOUS_CHINESE = "zh"  # Chinese with no script signal: keep the conversation's script
LANGUAGES = (SIMPLIFIED, TRADITIONAL, ENGLISH)
DEFAULT_LANGUAGE = SIMPLIFIED

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
# Only this much of a message is inspected: the script of a 20,000-character message is clear early.
_SAMPLE = 2000


@lru_cache(maxsize=1)
def _converters():
    from opencc import OpenCC

    # s2tw: the Traditional characters residents in Taiwan and Hong Kong write (為, 裡), no term swaps.
    return OpenCC("t2s"), OpenCC("s2tw")


def to_simplified(text: str) -> str:
    return _converters()[0].convert(text) if text else text


def to_traditional(text: str) -> str:
    return _converters()[1].convert(text) if text else text


@lru_cache(maxsize=20000)
def _char_script(ch: str) -> int:
    """+1 Traditional-specific, -1 Simplified-specific, 0 shared by both scripts."""
    t2s, s2t = _converters()
    if t2s.convert(ch) != ch:
        return 1
    if s2t.convert(ch) != ch:
        return -1
    return 0


@dataclass(frozen=True)
class LanguageGuess:
    language: Optional[str]  # zh-Hans, zh-Hant, en, zh (Chinese, script unknown) or None (no words)
    han_chars: int
    latin_words: int


def detect_language(text: str) -> LanguageGuess:
    sample = unicodedata.normalize("NFKC", text or "")[:_SAMPLE]
    han = _HAN.findall(sample)
    latin = _LATIN_WORD.findall(sample)
    if not han and not latin:
        return LanguageGuess(None, 0, 0)
    # A Chinese message often carries a Latin word or two (a block name, "ok", "wifi").
    if len(han) >= 2 or (han and len(han) * 2 >= len(latin)):
        score = sum(_char_script(c) for c in set(han))
        if score > 0:
            lang = TRADITIONAL
        elif score < 0:
            lang = SIMPLIFIED
        else:
            lang = _langdetect_chinese(sample) if len(han) >= 12 else AMBIGUOUS_CHINESE
        return LanguageGuess(lang, len(han), len(latin))
    return LanguageGuess(ENGLISH, len(han), len(latin))


def _langdetect_chinese(sample: str) -> str:
    try:
        from langdetect import DetectorFactory, detect

        DetectorFactory.seed = 0  # deterministic answers
        code = detect(sample)
    except Exception:  # langdetect raises on text without features
        return AMBIGUOUS_CHINESE
    return {"zh-tw": TRADITIONAL, "zh-cn": SIMPLIFIED}.get(code, AMBIGUOUS_CHINESE)


def resolve_language(previous: Optional[str], detected: Optional[str]) -> str:
    """The language to answer in, given the conversation's language so far and this message's guess."""
    if detected in LANGUAGES:
        return detected
    if detected == AMBIGUOUS_CHINESE:
        return previous if previous in (SIMPLIFIED, TRADITIONAL) else SIMPLIFIED
    return previous if previous in LANGUAGES else DEFAULT_LANGUAGE


def normalise_for_nlu(text: str) -> str:
    """What the classifiers see: NFKC (full-width → ASCII), Simplified script, lower-case Latin."""
    text = unicodedata.normalize("NFKC", text or "")
    return to_simplified(text).lower()
