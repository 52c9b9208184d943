"""Resident-facing wording: trimmed quotes, citations, English explanations, "not found" replies.

Quotes are always cut from the faithful source text (the 通化 quote stays in its Traditional script
and its own wording); only the surrounding words follow the resident's script or language.
"""
from __future__ import annotations

import re

from .corpus import Document, Provision
from .query import Query, glossary
from .retrieve import Hit, Index
from .script import mainland, normalise, to_traditional
from .structure import cn_to_int
from .tokens import tokenize

WHOLE_QUOTE_CHARS = 160   # shorter provisions are quoted whole
MAX_SENTENCES = 3
_SENTENCE = re.compile(r"[^。；！？]*[。；！？]?[”’」）]*")


def sentences(paragraphs: tuple[str, ...]) -> list[tuple[int, str]]:
    out = []
    for i, para in enumerate(paragraphs):
        for s in _SENTENCE.findall(para):
            if s.strip():
                out.append((i, s))
    return out


def trimmed_quote(provision: Provision, query: Query, idx: Index) -> str:
    """The sentences of the provision that answer the question, with …… where text was left out."""
    if len(provision.text) <= WHOLE_QUOTE_CHARS:
        return provision.text.replace("\n", "")
    parts = sentences(provision.paragraphs)
    weights = [idx.unit_weight(u) for u in query.units]
    scores = []
    for _, s in parts:
        toks = frozenset(tokenize(normalise(s)))
        scores.append(sum(w * idx.unit_match(u, toks) for u, w in zip(query.units, weights)))
    best = max(scores) if scores else 0
    if best <= 0:
        chosen = [0]
    else:
        ranked = sorted((i for i, sc in enumerate(scores) if sc >= 0.6 * best), key=lambda i: -scores[i])
        chosen = sorted(ranked[:MAX_SENTENCES])
    # A list article (主要职能是：（一）…（九）…) answers "which ones" with its items: when the quote
    # touches the paragraph that leads in to the list, the lead-in and the items come with it.
    lead = provision.paragraphs[0].rstrip()
    if lead.endswith("：") and any(parts[i][0] == 0 for i in chosen):
        items = [i for i, (para, _) in enumerate(parts) if para > 0]
        if sum(len(parts[i][1]) for i in items) <= 600:
            lead_in = max(i for i, (para, _) in enumerate(parts) if para == 0)
            chosen = sorted(set(chosen) | {lead_in} | set(items))
    out = "" if chosen[0] == 0 else "……"
    for n, i in enumerate(chosen):
        if n and i != chosen[n - 1] + 1:
            out += "……"
        out += parts[i][1]
    if chosen[-1] != len(parts) - 1:
        out += "……"
    return out


# -- citations -------------------------------------------------------------------------------------
def citation(doc: Document, p: Provision, lang: str) -> str:
    if lang == "zh-Hant":
        if doc.script == "hant":
            return f"《{doc.title_source}》{p.label_source}"
        return to_traditional(f"《{doc.title}》{p.label}")
    return f"《{doc.title}》{p.label}"


_ROMAN = ["", "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X"]


def english_label(p: Provision) -> str:
    if p.kind == "article":
        return f"Article {p.number}"
    if p.kind == "note":
        return "the headnote (adoption details)"
    if p.kind == "preamble":
        return "the preamble"
    m = re.match(r"^([一二三四五六七八九十]+)、(?:\(([一二三四五六七八九十]+)\))?(?:(\d+)\.)?$", p.label)
    if not m:
        return f"section {p.label}"
    part = cn_to_int(m.group(1))
    text = f"Part {_ROMAN[part] if part < len(_ROMAN) else part}"
    if m.group(2):
        text += f", item ({cn_to_int(m.group(2))})"
    if m.group(3):
        text += f", point {m.group(3)}"
    return text


def topics_en(p: Provision, query: Query, idx: Index, limit: int = 3) -> list[str]:
    """English names of the governance terms in the provision, the ones asked about first."""
    _, zh_to_en = glossary()
    text = f"{p.search_text}{normalise(p.heading)}"
    asked = {alt for u in query.units for alt in u.alternatives}
    found = [(term, en) for term, en in zh_to_en.items() if len(term) >= 2 and term in text]

    def rank(item):
        term, _ = item
        toks = [t for t in tokenize(term) if not t.startswith("~")] or [term]
        rarity = max(idx.idf.get(t, 0.0) for t in toks)
        return (term not in asked, -rarity, text.index(term))

    names: list[str] = []
    for _, en in sorted(found, key=rank):
        if en not in names:
            names.append(en)
        if len(names) == limit:
            break
    return names


def join_en(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def summary(p: Provision, doc: Document, lang: str) -> str:
    """A few words naming a provision, for follow-up suggestions."""
    if p.heading:
        head = p.heading
    else:
        first = re.split(r"[，。；：]", p.text, maxsplit=1)[0]
        head = first if len(first) <= 24 else first[:22] + "…"
    if doc.script == "hant":
        head = mainland(head)
    return to_traditional(head) if lang == "zh-Hant" else head


def followup_text(doc: Document, main_doc: Document, hit: Hit, query: Query, idx: Index, lang: str) -> str:
    p = hit.provision
    if lang == "en":
        topics = topics_en(p, query, idx, limit=2)
        about = f": {join_en(topics)}" if topics else ""
        where = "" if doc.id == main_doc.id else f" of the {doc.city_en} {'plan' if doc.structure == 'outline' else 'regulation'}"
        return f"{english_label(p)}{where}{about}".replace("the headnote", "Headnote", 1)
    label = citation(doc, p, lang) if doc.id != main_doc.id else (
        p.label_source if (lang == "zh-Hant" and doc.script == "hant") else
        (to_traditional(p.label) if lang == "zh-Hant" else p.label))
    return f"{label}：{summary(p, doc, lang)}"
