"""What a message is about (the taxonomy category) and what the resident wants (the intent), learned
from the training examples.

A linear model over TF-IDF of jieba words (1–2 grams) and character n-grams (1–3) of the
normalised text. It is trained by the Rasa component `bot.nlu.components.CategoryClassifier`
and usable without Rasa (tests, benchmarks).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import List, Sequence, Tuple

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

    def __setstate__(self, state) -> None:  # models saved before the layout above
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
        probabilities = self.classifier.predict_proba(self._features(texts))
        labels = self.classifier.classes_
        # Stable sort on the negated probabilities: among equals the first label wins, as argmax would.
        return [[(str(labels[i]), float(p[i])) for i in (-p).argsort(kind="stable")[:top]] for p in probabilities]

    def save(self, path: Path) -> None:
        joblib.dump(self, path)

    @staticmethod
    def load(path: Path) -> "CategoryModel":
        return joblib.load(path)
