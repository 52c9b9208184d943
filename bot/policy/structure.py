"""Find the structure of a regulation: chapters → articles (第X条), or an outline (一、 (一) 1.).

Works on raw web copies and on the project's own cleaned copies alike (parsing a cleaned copy gives
the same structure back), so `ingest build` can always re-derive the corpus from the data folder.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .clean import IngestError, clean_line, ends_sentence, is_page_number, repair_paragraph, repair_quotes

_NUM = "零〇一二两三四五六七八九十百"
_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
           "八": 8, "九": 9}

CHAPTER = re.compile(rf"^第([{_NUM}]+)章\s*(.{{0,24}})$")
ARTICLE = re.compile(rf"^第([{_NUM}]+)([条條])\s*(?:【([^】]{{1,20}})】)?\s*(.*)$")
LEVEL1 = re.compile(rf"^([{_NUM}]+)、\s*(.*)$")
LEVEL2 = re.compile(rf"^[（(]([{_NUM}]+)[）)]\s*(.*)$")
LEVEL3 = re.compile(r"^(\d{1,2})[\.．、]\s*(.*)$")


def cn_to_int(numeral: str) -> int:
    """一 → 1, 十九 → 19, 四十五 → 45, 一百零二 → 102."""
    total, current = 0, 0
    for ch in numeral:
        if ch == "百":
            total += (current or 1) * 100
            current = 0
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        else:
            current = _DIGITS[ch]
    return total + current


def int_to_cn(n: int) -> str:
    digits = "零一二三四五六七八九"
    if n < 10:
        return digits[n]
    if n < 20:
        return "十" + (digits[n % 10] if n % 10 else "")
    if n < 100:
        return digits[n // 10] + "十" + (digits[n % 10] if n % 10 else "")
    rest = n % 100
    tail = "" if rest == 0 else ("零" + int_to_cn(rest) if rest < 10 else
                                 ("一" + int_to_cn(rest) if rest < 20 else int_to_cn(rest)))
    return digits[n // 100] + "百" + tail


@dataclass
class Unit:
    """One citable provision: an article, an outline section, the preamble or the headnote."""
    kind: str                     # article | section | preamble | note
    label: str                    # canonical Simplified label: 第十九条, 二、(三)2., 引言, 题注
    label_source: str             # as written in the source: 第十九條, 二、（三）2.
    number: int | None = None
    heading: str = ""             # 【立法目的】 heading, or the section's title
    chapter: int | None = None    # index into Parsed.chapters
    section: list[str] = field(default_factory=list)
    paragraphs: list[str] = field(default_factory=list)


@dataclass
class Chapter:
    label: str                    # 第三章 / 二、
    label_source: str
    title: str
    number: int


@dataclass
class Parsed:
    mode: str                     # articles | outline
    header: list[str]             # cleaned lines before the body (title, notices, noise)
    chapters: list[Chapter]
    units: list[Unit]


def _raw_lines(text: str) -> list[str]:
    lines = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if is_page_number(line):
            continue
        line = clean_line(line)
        if line:
            lines.append(line)
    return lines


def detect_mode(lines: list[str]) -> str:
    articles = sum(1 for line in lines if ARTICLE.match(line))
    if articles >= 3:
        return "articles"
    level1 = sum(1 for line in lines if LEVEL1.match(line))
    level2 = sum(1 for line in lines if LEVEL2.match(line))
    if level1 >= 2 and level2 >= 2:
        return "outline"
    raise IngestError(
        "no recognisable structure: expected articles (第一条, 第二条 …) or an outline (一、 (一) 1.)"
    )


def parse(text: str) -> Parsed:
    lines = _raw_lines(text)
    if not lines:
        raise IngestError("no text left after cleaning")
    mode = detect_mode(lines)
    parsed = _parse_articles(lines) if mode == "articles" else _parse_outline(lines)
    for unit in parsed.units:
        unit.paragraphs = [repair_paragraph(repair_quotes(p)) for p in unit.paragraphs]
    return parsed


class _Body:
    """Collects a provision's paragraphs, rejoining sentences split across lines or pages.

    A line that neither continues an unfinished sentence nor ends one itself is held back: it may be
    the first half of a paragraph split by a page break (kept once a following line finishes the
    sentence), or noise such as related links and footers (dropped when nothing finishes it within
    a few lines, or a new provision starts)."""

    MAX_PENDING = 3

    def __init__(self, paragraphs: list[str]):
        self.paragraphs = paragraphs
        self.pending: list[str] = []
        self.noise = False

    def add(self, line: str, item_marker: bool = False) -> None:
        if self.noise:
            return
        if self.pending:
            self.pending.append(line)
            if ends_sentence("".join(self.pending), colon=False):
                self.paragraphs.append("".join(self.pending))
                self.pending = []
            elif len(self.pending) >= self.MAX_PENDING:
                self.pending, self.noise = [], True
            return
        if self.paragraphs and not ends_sentence(self.paragraphs[-1]):
            self.paragraphs[-1] += line          # a sentence split by a line or page break
        elif ends_sentence(line, colon=False) or item_marker:
            self.paragraphs.append(line)
        else:
            self.pending = [line]


def _parse_articles(lines: list[str]) -> Parsed:
    chapters: list[Chapter] = []
    units: list[Unit] = []
    start = next(i for i, line in enumerate(lines) if CHAPTER.match(line) or ARTICLE.match(line))
    header = lines[:start]
    current: Unit | None = None
    body: _Body | None = None
    last_number = 0
    for line in lines[start:]:
        chapter = CHAPTER.match(line)
        if chapter and "。" not in line and "，" not in line:
            number = cn_to_int(chapter.group(1))
            # A chapter without articles was a table of contents entry: replace it.
            if chapters and not any(u.chapter == len(chapters) - 1 for u in units):
                chapters.pop()
            title = chapter.group(2).replace(" ", "")
            chapters.append(Chapter(label=f"第{int_to_cn(number)}章", label_source=f"第{chapter.group(1)}章",
                                    title=title, number=number))
            current = body = None
            continue
        article = ARTICLE.match(line)
        if article and cn_to_int(article.group(1)) > last_number:
            number = cn_to_int(article.group(1))
            last_number = number
            current = Unit(kind="article", label=f"第{int_to_cn(number)}条",
                           label_source=f"第{article.group(1)}{article.group(2)}", number=number,
                           heading=article.group(3) or "",
                           chapter=len(chapters) - 1 if chapters else None)
            if article.group(4):
                current.paragraphs.append(article.group(4))
            units.append(current)
            body = _Body(current.paragraphs)
            continue
        if body is not None:
            body.add(line, bool(LEVEL2.match(line)))
    if chapters and not any(u.chapter == len(chapters) - 1 for u in units):
        chapters.pop()
    _check_articles(units)
    return Parsed(mode="articles", header=header, chapters=chapters, units=units)


def _check_articles(units: list[Unit]) -> None:
    if not units:
        raise IngestError("no articles found")
    empty = [u.label_source for u in units if not u.paragraphs]
    if empty:
        raise IngestError(f"articles without text: {', '.join(empty)}")
    numbers = [u.number for u in units]
    if numbers != list(range(1, len(numbers) + 1)):
        missing = sorted(set(range(1, max(numbers) + 1)) - set(numbers))
        raise IngestError(f"article numbering has gaps (missing {missing[:5]}); the copy is incomplete")


def _outline_title(text: str) -> str:
    """(一)指导思想。全面贯彻… → 指导思想 (a short first sentence works as the item's title)."""
    first = text.split("。", 1)[0]
    return first if "。" in text and len(first) <= 24 else ""


def _parse_outline(lines: list[str]) -> Parsed:
    start = next(i for i, line in enumerate(lines) if LEVEL1.match(line))
    preamble_start = start
    while preamble_start > 0 and ends_sentence(lines[preamble_start - 1], colon=False):
        preamble_start -= 1
    header = lines[:preamble_start]
    units: list[Unit] = []
    if preamble_start < start:
        units.append(Unit(kind="preamble", label="引言", label_source="引言",
                          paragraphs=lines[preamble_start:start]))
    chapters: list[Chapter] = []
    path: list[str] = []
    label_parts: list[str] = []
    source_parts: list[str] = []
    body: _Body | None = None
    for line in lines[start:]:
        m1, m2, m3 = LEVEL1.match(line), LEVEL2.match(line), LEVEL3.match(line)
        if m3 and len(label_parts) < 2:
            m3 = None     # "1." outside a (一) item is ordinary text
        if m1:
            number = cn_to_int(m1.group(1))
            title = m1.group(2)
            chapters.append(Chapter(label=f"{int_to_cn(number)}、", label_source=f"{m1.group(1)}、",
                                    title=title, number=number))
            path = [f"{m1.group(1)}、{title}"]
            label_parts, source_parts = [f"{int_to_cn(number)}、"], [f"{m1.group(1)}、"]
            current = Unit(kind="section", label=label_parts[0], label_source=source_parts[0],
                           number=number, heading=title, chapter=len(chapters) - 1, section=list(path))
            units.append(current)
            body = _Body(current.paragraphs)
            continue
        if (m2 or m3) and chapters:
            level = 2 if m2 else 3
            m = m2 or m3
            number = cn_to_int(m.group(1)) if m2 else int(m.group(1))
            label = f"({int_to_cn(number)})" if m2 else f"{number}."
            source = f"（{m.group(1)}）" if m2 else f"{number}."
            label_parts = label_parts[:level - 1] + [label]
            source_parts = source_parts[:level - 1] + [source]
            path = path[:level - 1] + [f"{source}{_outline_title(m.group(2)) or m.group(2)[:24]}"]
            current = Unit(kind="section", label="".join(label_parts), label_source="".join(source_parts),
                           number=number, heading=_outline_title(m.group(2)), chapter=len(chapters) - 1,
                           section=list(path), paragraphs=[m.group(2)])
            units.append(current)
            body = _Body(current.paragraphs)
            continue
        if body is not None:
            body.add(line)
    units = [u for u in units if u.paragraphs]
    if not any(u.kind == "section" for u in units):
        raise IngestError("outline found but no numbered section has text")
    return Parsed(mode="outline", header=header, chapters=chapters, units=units)
