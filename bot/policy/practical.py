"""Practical questions with no regulation behind them, answered from the deployment's configuration.

`config/practical_info.yml` holds the topics (opening hours, grid workers' phones, the service centre's
address …), the words that recognise them and the replies. Nothing here is cited as law.
"""
from __future__ import annotations

import functools
import os
import re
from pathlib import Path

import yaml

from .clean import tidy_spacing
from .script import to_simplified, to_traditional

CONFIG_FILE = Path(os.environ.get("PRACTICAL_INFO_FILE",
                                  Path(__file__).resolve().parents[2] / "config" / "practical_info.yml"))


@functools.lru_cache(maxsize=4)
def load(path: str = str(CONFIG_FILE)) -> dict:
    p = Path(path)
    if not p.exists():
        return {"topics": [], "policy_words": []}
    return yaml.safe_load(p.read_text(encoding="utf-8")) or {}


def _contains(text: str, word: str) -> bool:
    word = str(word)
    if word.startswith("re:"):          # a regular expression, for words that depend on position
        return re.search(word[3:], text) is not None
    word = to_simplified(word).lower()
    if re.search(r"[a-z]", word):
        return re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", text) is not None
    return word in text


def match_topic(question: str, config: dict | None = None) -> dict | None:
    config = config if config is not None else load()
    text = to_simplified(question).lower().replace("’", "'")
    if any(_contains(text, w) for w in config.get("policy_words") or []):
        return None
    for topic in config.get("topics") or []:
        if all(any(_contains(text, w) for w in group) for group in topic.get("match") or []):
            return topic
    return None


def answer_practical(question: str, lang: str):
    """A PolicyAnswer from the configuration, or None when the question is not a practical one."""
    from .answer import PolicyAnswer, normalise_lang   # answer.py imports this module

    topic = match_topic(question)
    if topic is None:
        return None
    lang = normalise_lang(lang)
    replies = topic.get("answer") or {}
    if lang == "zh-Hant":
        text = replies.get("zh-Hant") or to_traditional(replies.get("zh-Hans", ""))
    else:
        text = replies.get(lang) or replies.get("zh-Hans", "")
    if not text:
        return None
    # YAML folding puts a space at each line break; Chinese text must not have them.
    text = tidy_spacing(text) if lang != "en" else text.strip()
    return PolicyAnswer(found=True, text=text, source="practical", score=1.0)
