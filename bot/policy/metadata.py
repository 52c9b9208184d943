"""Document metadata: guessed from the header of a raw copy, then kept in a sidecar `<id>.meta.yml`.

Guesses are only a starting point: the sidecar is data a person reviews (dates and issuing bodies of
web copies are not reliable), and `ingest add` keeps whatever an existing sidecar already says.
"""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from .script import is_traditional, to_simplified, to_traditional

STATUSES = ("draft", "in_force", "issued")
DATE_KINDS = ("passed", "approved", "issued", "published", "effective")

_DOC_TYPES = "条例|條例|办法|辦法|方案|规定|規定|细则|細則|决定|決定|意见|意見|规则|規則"
_TITLE = re.compile(rf"^[\u3400-\u9fff（）()、]{{4,60}}?(?:{_DOC_TYPES})(?:（[^）]{{1,12}}）)?$")
_DRAFT_NOTE = re.compile(r"^（[^）]*(?:草案|稿|试行|試行|征求意见|徵求意見)[^）]*）$")
_DATE = r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日"


def _iso(m: re.Match) -> str:
    return f"{int(m.group(1)):04d}-{int(m.group(2)):02d}-{int(m.group(3)):02d}"


def guess_title(header: list[str]) -> str | None:
    """The last title-like header line (closest to the body), with a draft note on the next line."""
    found = None
    for i, line in enumerate(header):
        line = re.sub(r"^关于印发|^關於印發|的通知$", "", line).strip("《》")
        if _TITLE.match(line):
            nxt = header[i + 1] if i + 1 < len(header) else ""
            found = line + (nxt if _DRAFT_NOTE.match(nxt) else "")
    return found


def guess_note(header: list[str]) -> str | None:
    """The headnote under a regulation's title: （2023年4月26日…通过 2023年5月30日…批准）."""
    for line in header:
        if line.startswith("（") and line.endswith("）") and re.search(r"通过|通過|批准|公布", line) \
                and re.search(_DATE, line):
            # the copies lost the space between the two dated clauses
            return re.sub(r"(通过|通過)(?=\d{4}年)", r"\1　", line)
    return None


def guess_dates(text: str) -> dict[str, str]:
    text = to_simplified(text)
    dates: dict[str, str] = {}
    patterns = {
        "passed": rf"{_DATE}[^。；）\n]{{0,40}}?会议通过",
        "approved": rf"{_DATE}[^。；）\n]{{0,40}}?会议批准",
        "effective": rf"自\s*{_DATE}\s*起施行",
    }
    for kind, pattern in patterns.items():
        m = re.search(pattern, text)
        if m:
            dates[kind] = _iso(m)
    return dates


def guess_doc_number(header: list[str]) -> str | None:
    for line in header:
        m = re.search(r"([\u4e00-\u9fff]{1,8})[（(〔\[]\s*(\d{4})\s*[）)〕\]]\s*(\d{1,4})\s*号", line)
        if m:
            return f"{m.group(1)}〔{m.group(2)}〕{m.group(3)}号"
    return None


def guess_issuer(note: str | None) -> str | None:
    if not note:
        return None
    m = re.search(r"日([^　\s]{2,30}?人民代表大会常务委员会)第", to_simplified(note))
    return m.group(1) if m else None


def guess_status(title: str, dates: dict[str, str]) -> str:
    if "草案" in title or "征求意见" in title:
        return "draft"
    return "in_force" if dates.get("effective") else "issued"


def city_aliases(city: str, title: str, city_en: str | None, extra: list[str]) -> list[str]:
    """Every spelling a resident may use for the city, in both scripts and in pinyin."""
    names = {city}
    m = re.match(rf"{re.escape(city)}[市县区縣區]", title)
    if m:
        names.add(m.group(0))
    for suffix in ("市", "县", "区"):
        if title.startswith(city + suffix):
            names.add(city + suffix)
    names |= {to_traditional(n) for n in list(names)}
    if city_en:
        names.add(city_en)
    names |= set(extra)
    return sorted(names, key=lambda n: (-len(n), n))


def build_meta(doc_id: str, city: str, header: list[str], raw_text: str, parsed_mode: str,
               old: dict | None = None, **given) -> dict:
    """Merge: explicit arguments > existing sidecar > guesses from the text."""
    old = dict(old or {})
    title_source = given.get("title") or old.get("title_source") or guess_title(header)
    if not title_source:
        raise ValueError("could not find the document's title; pass --title")
    note = old.get("adoption_note") or guess_note(header)
    dates = {**guess_dates(raw_text), **(old.get("dates") or {}), **(given.get("dates") or {})}
    title = to_simplified(title_source)
    status = given.get("status") or old.get("status") or guess_status(title, dates)
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}")
    city_en = given.get("city_en") or old.get("city_en")
    meta = {
        "id": doc_id,
        "title": title,
        "title_source": title_source,
        "title_en": given.get("title_en") or old.get("title_en") or f"{city_en or city} {title}",
        "city": city,
        "city_en": city_en,
        # aliases of a previous, different city must not survive a correction of --city
        "aliases": city_aliases(city, title, city_en,
                                list(given.get("aliases") or []) +
                                (list(old.get("aliases") or []) if old.get("city") == city else [])),
        "kind": given.get("kind") or old.get("kind"),
        "issuer": given.get("issuer") or old.get("issuer") or guess_issuer(note),
        "doc_number": given.get("doc_number") or old.get("doc_number") or guess_doc_number(header),
        "status": status,
        "dates": {k: str(v) for k, v in sorted(dates.items(), key=lambda kv: DATE_KINDS.index(kv[0])
                                               if kv[0] in DATE_KINDS else 99)},
        "adoption_note": note,
        "script": "hant" if is_traditional(raw_text) else "hans",
        "structure": parsed_mode,
        "fixes": old.get("fixes") or [],
    }
    return meta


def read_meta(path: Path) -> dict:
    meta = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    meta["dates"] = {k: str(v) for k, v in (meta.get("dates") or {}).items() if v}
    return meta


def write_meta(path: Path, meta: dict) -> None:
    header = (f"# Metadata of {meta['id']}.txt: what the text cannot say reliably. Reviewed by hand;\n"
              "# `python -m bot.policy.ingest add` keeps values already here. `fixes` are literal\n"
              "# repairs of the source copy (from → to) applied when the text is cleaned.\n")
    path.write_text(header + yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=120),
                    encoding="utf-8")
