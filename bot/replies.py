"""Reply decisions that do not need Rasa: emergency notices, entity reading, language choice."""
from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional

from bot.language import resolve_language
from bot.texts import render
from bot.urgency import urgency_kinds


def entity_value(entities: Iterable[Dict[str, Any]], name: str) -> Optional[str]:
    for entity in entities or []:
        if entity.get("entity") == name and entity.get("value") is not None:
            return str(entity["value"])
    return None


def urgency_of(entities: Iterable[Dict[str, Any]]) -> List[str]:
    value = entity_value(entities, "urgency") or ""
    known = urgency_kinds()
    return [kind for kind in value.split(",") if kind in known]


def language_for(previous: Optional[str], entities: Iterable[Dict[str, Any]]) -> str:
    return resolve_language(previous, entity_value(entities, "language"))


def emergency_replies(kinds: List[str], lang: str) -> List[str]:
    """What to do now, one message per kind of danger, most pressing first."""
    return [render(f"emergency.{kind}", lang) for kind in kinds]
