"""Find the provisions that answer a question: BM25 over jieba words + character bigrams.

Three decisions live here:
- scope: a question naming a city is searched in that city's documents only; otherwise the
  deployment's default city is searched first and the other cities only if it has no answer;
- ranking: BM25 (bm25s) over each provision's normalised text plus its chapter title and heading;
- abstention: a hit counts only when it is strong enough (BM25 score) *and* covers enough of what
  the question asks (IDF-weighted share of the question's concepts found in the provision). Both
  thresholds are calibrated on tests/policy/questions.yml by bench/policy_bench.py: a wrong
  citation is worse than an honest "not found".
"""
from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass

import bm25s
import numpy as np

from .corpus import Document, Provision, load
from .query import Query, Unit, analyse
from .script import normalise
from .tokens import general_weight, tokenize

# Calibrated on tests/policy/questions.yml (see bench/policy_bench.py --sweep).
MIN_SCORE = 3.0          # BM25 score of the best hit: a floor against one-word coincidences
MIN_COVERAGE = 0.62      # share of the question's concepts (IDF-weighted) present in the hit
# Searching cities the resident did not name (no default, or the default city had nothing) means
# more candidates to match by chance, and a wrong city is a wrong answer: ask for more.
MIN_COVERAGE_OTHER_CITIES = 0.75
UNKNOWN_WORD_WEIGHT = 0.8   # weight of an English word the glossary does not know, × mean IDF
FOLLOWUP_RATIO = 0.45    # a follow-up must score at least this share of the best hit
# A resident's everyday word the corpus happens to use (包括, 参加, 安排, 帮助) has a high IDF only
# because regulations rarely say it; it is how people talk, not what they ask about. Its weight is
# scaled by how telling it is in everyday Chinese, down to this share (topic words keep theirs).
# 1.0 = off: on tests/policy/questions.yml every floor below 1.0 cost top-1 (0.7: one more abstention;
# ≤ 0.5: a wrong citation), so it is not used until a larger calibration set says otherwise.
COMMON_WORD_FLOOR = 1.0


# A figure in the text: 350平方米, 4.2厘米, 一名网格长, 每季度. Quantity questions need one.
_FIGURE = re.compile(r"\d|[一二两三四五六七八九十百千万]+[名个人户次年元岁层倍]|每(月|季度|年|周|天|日|百户)|第[一二三]层")


@dataclass(frozen=True)
class Hit:
    provision: Provision
    score: float            # BM25
    coverage: float         # 0..1
    fits: bool = True       # False: the question asks for a figure and the provision has none

    @property
    def confident(self) -> bool:
        return self.fits and self.score >= MIN_SCORE and self.coverage >= MIN_COVERAGE

    @property
    def confident_elsewhere(self) -> bool:
        """Confident enough to answer from a city the resident did not name."""
        return self.confident and self.coverage >= MIN_COVERAGE_OTHER_CITIES


@dataclass
class Result:
    query: Query
    hits: list[Hit]          # ranked, within the searched scope
    scope: tuple[str, ...]   # doc ids searched for the returned hits
    scope_reason: str        # named_city | default_city | fallback | all | other_place | asks_person
    found: bool

    @property
    def best(self) -> Hit | None:
        return self.hits[0] if self.found and self.hits else None


def rank_key(hit: "Hit") -> float:
    """Coverage weighs in: of two similar scores, prefer the provision that has more of what was
    asked rather than one word repeated many times."""
    return -(hit.score * hit.coverage ** 2)


class Index:
    def __init__(self, docs: dict[str, Document]):
        self.docs = docs
        self.provisions: list[Provision] = [p for d in docs.values() for p in d.provisions]
        corpus_tokens = [tokenize(f"{p.search_text}\n{p.chapter_title}\n{normalise(p.heading)}", for_index=True)
                         for p in self.provisions]
        self.token_sets = [frozenset(t) for t in corpus_tokens]
        self.bm25 = bm25s.BM25(k1=1.2, b=0.75)
        self.bm25.index(corpus_tokens, show_progress=False)
        self.vocab = set(self.bm25.vocab_dict)
        n = len(corpus_tokens)
        df: dict[str, int] = {}
        for s in self.token_sets:
            for t in s:
                df[t] = df.get(t, 0) + 1
        self.idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        self.idf_unseen = math.log(1 + (n + 0.5) / 0.5)
        self.mean_idf = float(np.mean(list(self.idf.values())))
        self.doc_of = np.array([p.doc_id for p in self.provisions])

    # -- question side ---------------------------------------------------------------------------
    @functools.lru_cache(maxsize=4096)
    def _alt_tokens(self, alternative: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys(tokenize(normalise(alternative))))

    @functools.lru_cache(maxsize=4096)
    def unit_weight(self, unit: Unit) -> float:
        """IDF of the concept. A concept the corpus never mentions weighs by how specific the word is
        in everyday language (护照 heavy, 开始 light); an unknown English word by a fixed share."""
        if not unit.alternatives:
            return UNKNOWN_WORD_WEIGHT * self.mean_idf * (0.4 if unit.generic else 1.0)
        if not any(t in self.vocab for alt in unit.alternatives for t in self._alt_tokens(alt)):
            return self.idf_unseen * general_weight(unit.said)
        best = 0.0
        single_char = len(unit.said) == 1 and not unit.english
        for alt in unit.alternatives:
            toks = self._alt_tokens(alt)
            # a synonym the corpus never uses (钱 for 经费) must not make the concept heavier
            if toks and any(t in self.vocab for t in toks):
                best = max(best, sum(self.idf.get(t, self.idf_unseen) for t in toks) / len(toks))
        if not unit.english:
            best *= COMMON_WORD_FLOOR + (1 - COMMON_WORD_FLOOR) * general_weight(unit.said)
        # a lone character (老, 收, 配) is vague whatever its IDF
        return best * 0.5 if single_char else best

    def unit_match(self, unit: Unit, tokens: frozenset[str]) -> float:
        best = 0.0
        for alt in unit.alternatives:
            toks = self._alt_tokens(alt)
            if toks:
                best = max(best, sum(1 for t in toks if t in tokens) / len(toks))
        return best

    def coverage(self, query: Query, i: int) -> float:
        weights = [self.unit_weight(u) for u in query.units]
        total = sum(weights)
        if total <= 0:
            return 0.0
        return sum(w * self.unit_match(u, self.token_sets[i]) for u, w in zip(query.units, weights)) / total

    def search(self, query: Query, doc_ids: tuple[str, ...] | None = None, k: int = 5) -> list[Hit]:
        tokens = list(dict.fromkeys(t for u in query.units for a in u.alternatives
                                    for t in self._alt_tokens(a) if t in self.vocab))
        if not tokens:
            return []
        scores = self.bm25.get_scores(tokens)
        if doc_ids is not None:
            scores = np.where(np.isin(self.doc_of, list(doc_ids)), scores, 0.0)
        order = [i for i in np.argsort(-scores, kind="stable")[: max(k * 3, 10)] if scores[i] > 0]
        hits = [Hit(self.provisions[i], float(scores[i]), self.coverage(query, i),
                    fits=not query.asks_quantity or bool(_FIGURE.search(self.provisions[i].search_text)))
                for i in order]
        hits.sort(key=rank_key)
        return hits[:k]


@functools.lru_cache(maxsize=2)
def index(corpus_path: str | None = None) -> Index:
    return Index(load(corpus_path) if corpus_path else load())


def _doc_ids(docs: dict[str, Document], cities) -> tuple[str, ...]:
    wanted = {normalise(c) for c in cities}
    return tuple(d.id for d in docs.values() if normalise(d.city) in wanted)


def find(question: str, lang: str = "zh-Hans", default_city: str | None = None, k: int = 4) -> Result:
    idx = index()
    query = analyse(question, lang, idx.docs)
    if query.other_place:
        return Result(query, [], (), "other_place", False)
    if query.asks_person:
        return Result(query, [], (), "asks_person", False)
    if query.cities:
        scope = _doc_ids(idx.docs, query.cities)
        hits = idx.search(query, scope, k)
        return Result(query, hits, scope, "named_city", bool(hits) and hits[0].confident)
    if default_city:
        scope = _doc_ids(idx.docs, [default_city])
        if scope:
            hits = idx.search(query, scope, k)
            if hits and hits[0].confident:
                return Result(query, hits, scope, "default_city", True)
            others = tuple(d for d in idx.docs if d not in scope)
            more = idx.search(query, others, k)
            if more and more[0].confident_elsewhere:
                return Result(query, more, others, "fallback", True)
            return Result(query, hits or more, scope, "default_city", False)
    scope = tuple(idx.docs)
    hits = idx.search(query, None, k)
    return Result(query, hits, scope, "all", bool(hits) and hits[0].confident_elsewhere)


def followups(result: Result, n: int = 3) -> list[Hit]:
    """Next-best provisions worth offering: confident enough and not far behind the best hit."""
    if not result.found:
        return []
    best = result.hits[0]
    return [h for h in result.hits[1:] if h.confident and h.score >= FOLLOWUP_RATIO * best.score][:n]
