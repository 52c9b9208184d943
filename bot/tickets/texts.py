"""Renders the ticket texts of ``config/texts/tickets.yml`` in the resident's language."""
from __future__ import annotations

import datetime as dt
import functools
import os
from pathlib import Path
from typing import Dict

import yaml

from ..db import REPO_ROOT
from .workcalendar import SHANGHAI

TEXTS_PATH = Path(os.environ.get("TICKET_TEXTS", REPO_ROOT / "config" / "texts" / "tickets.yml"))
LANGUAGES = ("zh", "zh-Hant", "en")


def normalise_language(language) -> str:
    """``zh``, ``zh-Hant`` or ``en`` from whatever the NLU reported (zh-TW, zh_hant, en-US, …)."""
    lang = str(language or "zh").strip().lower().replace("_", "-")
    if lang.startswith("en"):
        return "en"
    if any(tag in lang for tag in ("hant", "tw", "hk", "mo", "traditional")):
        return "zh-Hant"
    return "zh"


@functools.lru_cache(maxsize=4)
def _load(path: str) -> Dict:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def texts() -> Dict:
    return _load(str(TEXTS_PATH))


class _Blank(dict):
    def __missing__(self, key):  # a template asking for something we lack shows nothing, not a crash
        return ""


def _fill(template: str, params: Dict) -> str:
    return template.format_map(_Blank(params))


def format_time(moment, language: str = "zh") -> str:
    if moment is None:
        return ""
    local = moment.astimezone(SHANGHAI)
    if normalise_language(language) == "en":
        return local.strftime("%d %b %Y, %H:%M").lstrip("0")
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def _localised(params: Dict, language: str) -> Dict:
    out = {}
    for key, value in params.items():
        out[key] = format_time(value, language) if isinstance(value, dt.datetime) else value
    return out


def _render(entry: Dict, language: str, params: Dict) -> str:
    """Texts are written in zh and en only; Traditional is converted from the Simplified text, as
    every reply of the bot is (bot/texts.py)."""
    lang = normalise_language(language)
    if lang == "zh-Hant":
        from bot.language import to_traditional

        return to_traditional(_fill(entry["zh"], _localised(params, "zh")))
    return _fill(entry[lang], _localised(params, lang))


def reply(key: str, language: str, **params) -> str:
    return _render(texts()["replies"][key], language, params)


def resident(kind: str, language: str, **params) -> str:
    return _render(texts()["resident"][kind], language, params)


def staff(kind: str, **params) -> str:
    return _fill(texts()["staff"][kind], _localised(params, "zh"))


def reason(code: str, language: str = "zh") -> str:
    entry = texts()["reasons"].get(code, {})
    return entry.get("en" if normalise_language(language) == "en" else "zh", code)


def category_label(category: str, language: str = "zh") -> str:
    from bot.texts import category_name  # the one list of category names

    lang = {"zh": "zh-Hans"}.get(normalise_language(language), normalise_language(language))
    try:
        return category_name(category, lang)
    except KeyError:
        return category_name("other", lang)
