"""What a message is about (the taxonomy category) and what the resident wants (the intent), learned
from the training examples.

A linear model over TF-IDF of jieba words (1–2 grams) and character n-grams (1–3) of the
normalised text. It is trained by the Rasa component `bot.nlu.components.CategoryClassifier`
and usable without Rasa (tests, benchmarks).
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import joblib
import numpy as np
from scipy.sparse import hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from bot.language import normalise_for_nlu
from bot.tokenize import tokens

OTHER = "other"
MAX_CHARS = 600  # long messages state their subject early; bounds cost on 20,000-character input


# Phone numbers, ID numbers, dates and ticket numbers say nothing about what a message is about or
# what the resident wants, but their many character n-grams did (a complaint ending in a phone number
# read as a bare answer). Runs of four or more digits all look alike to the models; 110/119/120 stay.
# A ticket number (GD20261124-0007; bot/tickets/numbering.py parses it) is a word of its own: once
# its digits are collapsed it would look like a phone number or an address.
_LONG_NUMBER = re.compile(r"\d{4,}")
_TICKET_NUMBER = re.compile(r"gd ?[-#:]? ?\d{4}[\d\-/. ]*\d")


def _prepare(text: str) -> str:
    text = _TICKET_NUMBER.sub(" 工单号 ", normalise_for_nlu(text)[:MAX_CHARS])
    return _LONG_NUMBER.sub("0000", text)


def _words(text: str) -> List[str]:
    return tokens(text)


def _weights_for_sparse_products(classifier: LogisticRegression) -> None:
    """Store the weights column-major (same values). sklearn scores with `features @ coef_.T`, and
    scipy's sparse × dense product copies a transposed C-ordered matrix on every call: the whole
    weight matrix (tens of MB) per message, a quarter of the time a message spent in these models."""
    if hasattr(classifier, "coef_"):
        classifier.coef_ = np.asfortranarray(classifier.coef_)


class _TfidfRow:
    """A fitted TfidfVectorizer's row for one text, as (feature indices, values): the same numbers as
    `vectorizer.transform([text])`, without sklearn's per-call checks and sparse-matrix building,
    which were 90% of a message's time in these models (0.45 of 0.5 ms, three models per message)."""

    def __init__(self, vectorizer: TfidfVectorizer, offset: int) -> None:
        self.analyze = vectorizer.build_analyzer()
        self.vocabulary = vectorizer.vocabulary_
        self.idf = vectorizer.idf_
        self.offset, self.sublinear = offset, vectorizer.sublinear_tf

    @staticmethod
    def supports(vectorizer: TfidfVectorizer) -> bool:
        return vectorizer.use_idf and vectorizer.norm == "l2" and not vectorizer.binary

    def __call__(self, text: str) -> Tuple[np.ndarray, np.ndarray]:
        counts = Counter(i for i in map(self.vocabulary.get, self.analyze(text)) if i is not None)
        indices = np.fromiter(counts.keys(), dtype=np.intp, count=len(counts))
        values = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        if self.sublinear:
            values = np.log(values) + 1.0
        values *= self.idf[indices]
        norm = np.sqrt(values @ values)
        return indices + self.offset, values / norm if norm > 0 else values


class _Scorer:
    """Class probabilities of one text for a multinomial LogisticRegression over [words | chars]:
    softmax(x · coef_ᵀ + intercept_), exactly what predict_proba computes for it."""

    def __init__(self, words: TfidfVectorizer, chars: TfidfVectorizer, classifier: LogisticRegression) -> None:
        self.rows = (_TfidfRow(words, 0), _TfidfRow(chars, len(words.vocabulary_)))
        self.weights = classifier.coef_.T  # C-contiguous (features × classes): coef_ is kept column-major
        self.intercept = classifier.intercept_

    @staticmethod
    def supports(words: TfidfVectorizer, chars: TfidfVectorizer, classifier: LogisticRegression) -> bool:
        multinomial = classifier.multi_class == "multinomial" or (
            classifier.multi_class == "auto" and classifier.solver != "liblinear" and len(classifier.classes_) > 2)
        return multinomial and _TfidfRow.supports(words) and _TfidfRow.supports(chars)

    def __call__(self, text: str) -> np.ndarray:
        scores = self.intercept.copy()
        for row in self.rows:
            indices, values = row(text)
            scores += values @ self.weights[indices]
        scores = np.exp(scores - scores.max())
        return scores / scores.sum()


@dataclass
class CategoryModel:
    words: TfidfVectorizer
    chars: TfidfVectorizer
    classifier: LogisticRegression

    def __post_init__(self) -> None:
        _weights_for_sparse_products(self.classifier)
        for vectorizer in (self.words, self.chars):
            # Only kept to explain feature selection: every character n-gram cut by min_df/max_features.
            vectorizer.stop_words_ = None
        self._scorer: Optional[_Scorer] = (_Scorer(self.words, self.chars, self.classifier)
                                           if _Scorer.supports(self.words, self.chars, self.classifier) else None)

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k != "_scorer"}  # rebuilt on loading

    def __setstate__(self, state) -> None:
        self.__dict__.update(state)
        self.__post_init__()

    @classmethod
    def train(cls, texts: Sequence[str], labels: Sequence[str]) -> "CategoryModel":
        prepared = [_prepare(t) for t in texts]
        words = TfidfVectorizer(analyzer=_words, ngram_range=(1, 1), sublinear_tf=True, min_df=1)
        chars = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True, min_df=2, max_features=60000
        )
        features = hstack([words.fit_transform(prepared), chars.fit_transform(prepared)]).tocsr()
        classifier = LogisticRegression(C=20.0, max_iter=3000, class_weight="balanced")
        classifier.fit(features, list(labels))
        return cls(words, chars, classifier)

    def _features(self, texts: Sequence[str]):
        prepared = [_prepare(t) for t in texts]
        return hstack([self.words.transform(prepared), self.chars.transform(prepared)]).tocsr()

    def predict(self, text: str) -> Tuple[str, float]:
        return self.predict_many([text])[0]

    def predict_many(self, texts: Sequence[str]) -> List[Tuple[str, float]]:
        return [ranking[0] for ranking in self.rank_many(texts, top=1)]

    def rank_many(self, texts: Sequence[str], top: int = 10) -> List[List[Tuple[str, float]]]:
        """Every label with its probability, best first (at most ``top``), for each text."""
        if not texts:
            return []
        if self._scorer is not None:
            probabilities = [self._scorer(_prepare(text)) for text in texts]
        else:  # a two-class or one-vs-rest model: sklearn's own path
            probabilities = self.classifier.predict_proba(self._features(texts))
        labels = self.classifier.classes_
        # Stable sort on the negated probabilities: among equals the first label wins, as argmax would.
        return [[(str(labels[i]), float(p[i])) for i in (-p).argsort(kind="stable")[:top]] for p in probabilities]

    def save(self, path: Path) -> None:
        joblib.dump(self, path)

    @staticmethod
    def load(path: Path) -> "CategoryModel":
        return joblib.load(path)
