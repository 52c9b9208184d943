"""Answer a resident's policy question: quote the provision and cite it, or say plainly it is not there.

    answer_question("通化的网格长由谁担任？", "zh-Hans", default_city="通化")

Practical questions (opening hours, the grid worker's phone) are answered first from the deployment's
configuration (`practical.py`); everything else from the regulations corpus.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from . import render
from .corpus import Document
from .practical import answer_practical
from .retrieve import Result, find, followups, index
from .script import mainland, normalise, to_traditional


@dataclass
class PolicyAnswer:
    found: bool
    text: str                       # rendered for the resident, in their script or language
    citation: str = ""              # 《通化市社区治理促进条例》第十九条 ("" when nothing is cited)
    doc_id: str | None = None
    article: str | None = None      # canonical label: 第十九条, 二、(三)2., 题注
    followups: list[str] = field(default_factory=list)
    score: float = 0.0
    source: str = "regulation"      # regulation | practical | none
    offer_handoff: bool = False     # True: the bot should offer to pass the question to staff
    apology: str = ""               # not found: the "nothing in the regulations" sentence alone, no offer


def normalise_lang(lang: str | None) -> str:
    lang = (lang or "zh-Hans").strip()
    low = lang.lower().replace("_", "-")
    if low.startswith("en"):
        return "en"
    if low in ("zh-hant", "zh-tw", "zh-hk", "zh-mo") or "hant" in low:
        return "zh-Hant"
    return "zh-Hans"


def resolve_city(city: str | None, docs: dict[str, Document]) -> str | None:
    """'Tonghua', '通化市', '溫州' → the corpus's city name (None if the corpus has no such city)."""
    if not city:
        return None
    key = normalise(city.strip()).lower()
    for d in docs.values():
        if key in {normalise(a).lower() for a in (*d.aliases, d.city, d.city_en)}:
            return d.city
    return None


def answer_question(question: str, lang: str = "zh-Hans", default_city: str | None = None) -> PolicyAnswer:
    lang = normalise_lang(lang)
    practical = answer_practical(question, lang)
    if practical is not None:
        return practical
    idx = index()
    default = resolve_city(default_city, idx.docs)
    result = find(question, lang, default)
    if not result.found:
        return _not_found(result, lang, idx.docs)
    return _found(result, lang, idx.docs)


def _local(text: str, lang: str) -> str:
    return to_traditional(text) if lang == "zh-Hant" else text


def _found(result: Result, lang: str, docs: dict[str, Document]) -> PolicyAnswer:
    idx = index()
    hit = result.best
    p = hit.provision
    doc = docs[p.doc_id]
    quote = render.trimmed_quote(p, result.query, idx)
    if doc.script == "hant":  # the copy of a mainland regulation that came to us in Taiwanese Traditional
        quote = mainland(quote)
    cite = render.citation(doc, p, lang)
    cite_zh = render.citation(doc, p, "zh-Hans")
    lines = []
    if lang == "en":
        topics = render.topics_en(p, result.query, idx)
        about = f"is about {render.join_en(topics)}" if topics else "is the closest provision I found"
        where = {"default_city": f" (you did not name a city, so I answered from {doc.city_en}'s rules)",
                 "fallback": f" (nothing on this in your city's regulations, so this comes from {doc.city_en})",
                 "all": f" ({doc.city_en})"}.get(result.scope_reason, "")
        lines.append(f"{render.english_label(p)} of the {doc.title_en}{where} {about}. "
                     "The original Chinese text says:")
        lines.append(f"“{quote}”")
        lines.append(f"—— {cite_zh} ({render.english_label(p)})")
        if doc.status == "draft":
            lines.append("Note: this document is a draft submitted for review and is not in force yet.")
    else:
        intro = {"default_city": f"您没有提到城市，以下按{doc.city}的规定回答：",
                 "fallback": f"在本地法规中没有找到相关规定，以下是{doc.city}的规定：",
                 "all": f"以下依据{doc.city}的规定："}.get(result.scope_reason)
        if intro:
            lines.append(_local(intro, lang))
        # The quote keeps the source's words, in the resident's script (characters only, never words).
        lines.append(f"“{quote if lang == 'zh-Hans' else to_traditional(quote)}”")
        lines.append(f"——{cite}")
        if doc.status == "draft":
            lines.append(_local("注意：该文件是草案送审稿，尚未正式施行。", lang))
    follow = [render.followup_text(docs[h.provision.doc_id], doc, h, result.query, idx, lang)
              for h in followups(result)]
    return PolicyAnswer(found=True, text="\n".join(lines), citation=cite if lang != "en" else cite_zh,
                        doc_id=doc.id, article=p.label, followups=follow, score=round(hit.score, 3))


def _not_found(result: Result, lang: str, docs: dict[str, Document]) -> PolicyAnswer:
    cities_zh = "、".join(dict.fromkeys(d.city for d in docs.values()))
    cities_en = ", ".join(dict.fromkeys(d.city_en for d in docs.values()))
    place = result.query.other_place
    named = [d for d in docs.values() if d.id in result.scope] if result.scope_reason == "named_city" else []
    person = result.scope_reason == "asks_person"
    if lang == "en":
        if person:
            head = ("Sorry, the regulations do not name people or give their contact details, "
                    "and I have no such information for this question.")
        elif place:
            head = (f"Sorry, I only know the community regulations of {cities_en}; "
                    f"I have nothing for {place.title()}.")
        elif named:
            head = f"Sorry, I could not find this in the regulations of {named[0].city_en} that I know."
        else:
            head = f"Sorry, I could not find this in the regulations I know ({cities_en})."
        apology = head
        text = head + " If you like, I can pass your question to the community staff."
    else:
        if person:
            head = "抱歉，法规里不会写具体人员和联系方式，我这里也没有这方面的信息。"
        elif place:
            head = f"抱歉，我只收录了{cities_zh}的社区治理法规，没有{place}的相关规定。"
        elif named:
            titles = "、".join(f"《{d.title}》" for d in named)
            head = f"抱歉，我在{titles}里没有找到能回答这个问题的规定。"
        else:
            head = f"抱歉，我在已收录的法规（{cities_zh}）里没有找到能回答这个问题的规定。"
        apology = _local(head, lang)
        text = _local(head + "需要的话，我可以把您的问题转给社区工作人员。", lang)
    best = result.hits[0].score if result.hits else 0.0
    return PolicyAnswer(found=False, text=text, score=round(best, 3), source="none", offer_handoff=True,
                        apology=apology)
