"""The built corpus (bot/data/regulations/corpus.json), loaded once per process."""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from .script import DATA_DIR

CORPUS_FILE = DATA_DIR / "corpus.json"


@dataclass(frozen=True)
class Provision:
    doc_id: str
    kind: str               # article | section | preamble | note
    label: str              # canonical Simplified label used in citations: 第十九条, 二、(三)2.
    label_source: str
    number: int | None
    heading: str
    chapter_title: str      # normalised title of its chapter (or top-level section)
    section: tuple[str, ...]
    paragraphs: tuple[str, ...]
    text: str               # faithful source text (Traditional for 通化)
    search_text: str        # normalised Simplified text


@dataclass(frozen=True)
class Document:
    id: str
    title: str
    title_source: str
    title_en: str
    city: str
    city_en: str
    aliases: tuple[str, ...]
    status: str
    script: str
    structure: str
    issuer: str | None
    dates: dict
    provisions: tuple[Provision, ...]


@functools.lru_cache(maxsize=4)
def load(path: str = str(CORPUS_FILE)) -> dict[str, Document]:
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    docs = {}
    for d in raw["documents"]:
        chapters = d["chapters"]
        provisions = tuple(
            Provision(doc_id=d["id"], kind=p["kind"], label=p["label"], label_source=p["label_source"],
                      number=p["number"], heading=p["heading"],
                      chapter_title=chapters[p["chapter"]]["title_norm"] if p["chapter"] is not None else "",
                      section=tuple(p["section"]), paragraphs=tuple(p["paragraphs"]), text=p["text"],
                      search_text=p["search_text"])
            for p in d["provisions"])
        docs[d["id"]] = Document(id=d["id"], title=d["title"], title_source=d["title_source"],
                                 title_en=d.get("title_en") or d["title"], city=d["city"],
                                 city_en=d.get("city_en") or d["city"], aliases=tuple(d.get("aliases") or [d["city"]]),
                                 status=d["status"], script=d["script"], structure=d["structure"],
                                 issuer=d.get("issuer"), dates=d.get("dates") or {}, provisions=provisions)
    return docs
