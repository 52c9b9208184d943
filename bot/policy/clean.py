"""Line-level cleaning of regulation texts copied from the web.

Structure-aware cleaning (where the body starts and ends, which lines are continuations split by a
page break) lives in `structure.py`; this module only repairs what can be judged inside one line or
one paragraph.
"""
from __future__ import annotations

import re


class IngestError(ValueError):
    """A regulation file that cannot be turned into a corpus document."""


def decode(raw: bytes, source: str = "file") -> str:
    if not raw.strip():
        raise IngestError(f"{source} is empty")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IngestError(
            f"{source} is not UTF-8 (byte {exc.start}: {raw[exc.start:exc.start + 4]!r}); "
            "convert it first, e.g. `iconv -f GB18030 -t UTF-8`"
        ) from None
    if not text.strip():
        raise IngestError(f"{source} is empty")
    return text


_BOOKMARK = re.compile(r"\[bookmark:[^\]]*\]")
_INVISIBLE = re.compile(r"[\u200b-\u200f\u2060\ufeff]")
# Page numbers printed on their own line: —3—, - 3 -, －3－, 第3页
_PAGE_NUMBER = re.compile(r"^\s*(?:[—–\-－]+\s*\d{1,3}\s*[—–\-－]+|第\s*\d{1,3}\s*页(?:\s*共\s*\d+\s*页)?)\s*$")

# Odd quote marks left by a broken export of Chinese brackets. The pairs are book-title marks and
# document-number brackets in the original, so they are restored as such, not as quotation marks.
_ODD_PAIRS = (("•", "‣", "《", "》"), ("†", "‡", "〈", "〉"), ("„", "‟", "〔", "〕"))
_ODD_LEFTOVER = str.maketrans({"•": "“", "‣": "”", "†": "“", "‡": "”", "„": "“", "‟": "”"})

_CJK_OR_FULL = r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef“”‘’《》〈〉〔〕【】—…]"
_SPACE_AFTER = re.compile(rf"(?<={_CJK_OR_FULL})[ \t\u00a0]+")
_SPACE_BEFORE = re.compile(rf"[ \t\u00a0]+(?={_CJK_OR_FULL})")
# 本条例自  年 月  日起施行: blanks left for a date not yet fixed are content, not noise.
_DATE_BLANK = re.compile(r"(?<![\d\s])[ \u3000]+年[ \u3000]+月[ \u3000]+日")

_HALF_TO_FULL = {",": "，", ";": "；", ":": "：", "?": "？", "!": "！", "(": "（", ")": "）"}
_HALF_PUNCT = re.compile(r"[,;:?!()]")

_TERMINAL = set("。；：！？…")
_CLOSERS = "”’）)》〕」』】"


def strip_markup(line: str) -> str:
    line = _BOOKMARK.sub("", line)
    line = _INVISIBLE.sub("", line)
    return line.replace("\u00a0", " ").replace("\t", " ").strip()


def is_page_number(line: str) -> bool:
    return bool(_PAGE_NUMBER.match(line))


def repair_quotes(text: str) -> str:
    for left, right, new_left, new_right in _ODD_PAIRS:
        text = re.sub(rf"{re.escape(left)}([^{left}{right}]*){re.escape(right)}",
                      rf"{new_left}\1{new_right}", text)
    text = text.translate(_ODD_LEFTOVER)
    # ASCII double quotes around Chinese words: "一站式" → “一站式”
    text = re.sub(r'"([^"\n]*)"', r"“\1”", text)
    return text


def tidy_spacing(text: str) -> str:
    text = text.replace("\u3000", " ")
    text = _DATE_BLANK.sub("\u3000\u3000年\u3000\u3000月\u3000\u3000日", text)
    text = _SPACE_AFTER.sub("", text)
    text = _SPACE_BEFORE.sub("", text)
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def fullwidth_punctuation(text: str) -> str:
    def swap(m: re.Match) -> str:
        ch = m.group(0)
        before = text[m.start() - 1] if m.start() else ""
        after = text[m.end()] if m.end() < len(text) else ""
        if ch in ",:" and before.isdigit() and after.isdigit():  # 1,000 · 10:30
            return ch
        return _HALF_TO_FULL[ch]

    return _HALF_PUNCT.sub(swap, text)


def clean_line(line: str) -> str:
    """Everything that can be repaired inside one line."""
    line = strip_markup(line)
    line = repair_quotes(line)
    line = fullwidth_punctuation(line)
    return tidy_spacing(line)


def ends_sentence(text: str, colon: bool = True) -> bool:
    """True when a paragraph ends like a finished sentence (a page break cannot split it here).

    A colon ends a lead-in (主要职能是：) but never a paragraph of its own; with colon=False such a
    line does not count, so a stray "上一篇：" footer is not mistaken for provision text."""
    text = text.rstrip().rstrip(_CLOSERS)
    return bool(text) and text[-1] in _TERMINAL and (colon or text[-1] not in "：:")


def repair_paragraph(text: str) -> str:
    """Repairs of damage the copies are known to carry, judged on a whole paragraph."""
    # 〔20127号 → 〔2012〕7号 (a document number whose closing bracket was lost)
    text = re.sub(r"〔(\d{4})(\d{1,4})号", r"〔\1〕\2号", text)
    # (责任单位：县民政局  → lost closing bracket at the end of a list item
    if text.count("（") > text.count("）") and not text.endswith("）"):
        text += "）"
    return text
