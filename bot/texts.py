"""The bot's words: written once per language (zh, en); Traditional is converted from Simplified."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Optional

import yaml

from bot.language import ENGLISH, TRADITIONAL, detect_language, resolve_language, to_traditional

TEXTS_DIR = Path(__file__).parent / "data" / "texts"


@lru_cache(maxsize=None)
def _catalogue(base: str) -> Dict[str, Any]:
    return yaml.safe_load((TEXTS_DIR / f"{base}.yml").read_text(encoding="utf-8"))


def _lookup(base: str, key: str) -> Any:
    node: Any = _catalogue(base)
    for part in key.split("."):
        node = node[part]
    return node


def render(key: str, lang: str, **params: Any) -> str:
    """The text for `key` in the resident's language; `params` fill {placeholders}."""
    base = "en" if lang == ENGLISH else "zh"
    text = str(_lookup(base, key)).format(**params)
    return to_traditional(text) if lang == TRADITIONAL else text


def render_for_message(key: str, text: str, previous: Optional[str] = None, **params: Any) -> str:
    """`render` in the language of the message `text` (or the conversation's `previous` language
    when the message has none of its own): for replies sent before any action knew the language."""
    return render(key, resolve_language(previous, detect_language(text or "").language), **params)


def category_name(category: str, lang: str) -> str:
    return render(f"categories.{category}", lang)


def keys(base: str = "zh") -> list:
    """All leaf keys of a catalogue, for the test that both languages say the same things."""
    out = []

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{prefix}{k}.")
        else:
            out.append(prefix[:-1])

    walk(_catalogue(base), "")
    return out
