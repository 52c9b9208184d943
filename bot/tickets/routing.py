"""Routing: category (+ intent, urgency) → handling unit and time limits, from a per-city YAML file.

The file is ``config/routing/<CITY>.yml`` (``CITY`` defaults to ``default``; ``ROUTING_DIR`` overrides the
folder). It is checked when loaded, and every mistake is reported with the file and entry, so a bad
edit fails at start-up rather than on a resident's case. See ``bot/tickets/README.md`` for the format.

The escalation ladder is grid → residents' committee → street office (each unit's ``parent``), then
the department responsible for the case's category. A department is the top: a case late there is
reported to the ``escalation.supervisor`` contact instead of moving further.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple

import yaml

from ..db import REPO_ROOT
from .errors import RoutingConfigError
from .models import PRIORITY_NORMAL, PRIORITY_URGENT
from .workcalendar import TimeLimit, WorkCalendar

LEVELS = ("grid", "committee", "street", "department")  # bottom to top
LEVEL_NAMES = {
    "grid": {"zh": "网格", "en": "grid"},
    "committee": {"zh": "社区居委会", "en": "residents' committee"},
    "street": {"zh": "街道办事处", "en": "street office"},
    "department": {"zh": "职能部门", "en": "district department"},
}
INTENTS = ("complaint", "service_request", "consultation")
# The category keys of shared/spec/taxonomy.md, plus "other" (nothing fits).
CATEGORIES = (
    "noise", "property", "sanitation", "fire_safety", "parking_traffic", "building_construction",
    "public_safety", "neighbor_dispute", "municipal", "social_assistance", "elderly_care", "health",
    "employment", "legal_aid", "environment", "education", "market_consumer", "community_affairs", "other",
)
DEFAULT_DIR = REPO_ROOT / "config" / "routing"

_TOP_KEYS = {"city", "name", "calendar", "limits", "intent_limits", "urgent", "duplicates", "rating",
             "escalation", "dispatcher", "units", "categories"}
_CATEGORY_KEYS = {"unit", "department", "limits", "intents", "urgent_unit"}
_LIMIT_KEYS = {"sign", "resolve"}


@dataclass(frozen=True)
class Contact:
    """Where a unit's on-duty staff are reached: a channel and an id on it (plus a phone for people)."""

    channel: str
    id: str
    name: str = ""
    phone: str = ""


@dataclass(frozen=True)
class Unit:
    id: str
    name_zh: str
    name_en: str
    level: str
    parent: Optional[str]
    on_duty: Contact

    def name(self, language: str = "zh") -> str:
        return self.name_en if language.startswith("en") else self.name_zh


@dataclass(frozen=True)
class Limits:
    sign: TimeLimit
    resolve: TimeLimit


@dataclass(frozen=True)
class RouteDecision:
    unit: Unit
    limits: Limits
    priority: int
    urgent: bool
    alert_units: Tuple[Unit, ...] = ()  # on-duty staff to alert at once (urgent cases)


@dataclass
class RoutingTable:
    city: str
    name_zh: str
    name_en: str
    units: Dict[str, Unit]
    categories: Dict[str, dict]
    default_limits: Limits
    intent_limits: Dict[str, Dict[str, TimeLimit]]
    urgent_limits: Limits
    urgent_unit: Optional[str]
    urgent_alert: Tuple[str, ...]
    dispatcher: str
    supervisor: Optional[Contact]
    duplicate_window_hours: float
    duplicate_similarity: float
    reopen_at_or_below: int
    auto_close_after: Optional[TimeLimit]
    work_start: str
    work_end: str
    source: str = ""
    _calendar: Optional[WorkCalendar] = field(default=None, repr=False)

    # --- decisions -------------------------------------------------------------------------------
    def route(self, category: str, intent: str = "complaint", urgent: bool = False) -> RouteDecision:
        """The unit and time limits for a new case (unknown categories are routed as ``other``)."""
        cat_key = category if category in self.categories else "other"
        cat = self.categories[cat_key]
        if urgent:
            unit = self.units[cat.get("urgent_unit") or self.urgent_unit or cat["unit"]]
            alerts = [unit] + [self.units[u] for u in self.urgent_alert if u != unit.id]
            return RouteDecision(unit, self.urgent_limits, PRIORITY_URGENT, True, tuple(alerts))
        unit = self.units[cat["unit"]]
        return RouteDecision(unit, self.limits_for(cat_key, intent), PRIORITY_NORMAL, False)

    def limits_for(self, category: str, intent: str) -> Limits:
        """Most specific wins: category+intent, category, intent, then the city's defaults."""
        cat = self.categories.get(category) or self.categories["other"]
        layers = [self.default_limits.__dict__, self.intent_limits.get(intent, {}), cat.get("limits", {}),
                  cat.get("intents", {}).get(intent, {})]
        merged: Dict[str, TimeLimit] = {}
        for layer in layers:
            merged.update(layer)
        return Limits(sign=merged["sign"], resolve=merged["resolve"])

    def limits_for_case(self, category: str, intent: str, urgent: bool) -> Limits:
        return self.urgent_limits if urgent else self.limits_for(category, intent)

    def next_unit(self, unit_id: Optional[str], category: str) -> Optional[Unit]:
        """One rung up the ladder from ``unit_id`` for a case of ``category``; None at the top."""
        unit = self.units.get(unit_id or "")
        if unit is None:
            return self.units[self.dispatcher]
        if unit.parent:
            return self.units[unit.parent]
        if unit.level != "department":
            cat = self.categories.get(category) or self.categories["other"]
            dept = cat.get("department")
            if dept and dept != unit.id:
                return self.units[dept]
        return None

    def ladder(self, category: str, urgent: bool = False) -> List[Unit]:
        """Every unit a case of ``category`` passes through if nobody acts on it."""
        rungs = [self.route(category, urgent=urgent).unit]
        while True:
            nxt = self.next_unit(rungs[-1].id, category)
            if nxt is None or nxt in rungs:
                return rungs
            rungs.append(nxt)

    def calendar(self) -> WorkCalendar:
        if self._calendar is None:
            self._calendar = WorkCalendar(self.work_start, self.work_end)
        return self._calendar

    def unit(self, unit_id: Optional[str]) -> Optional[Unit]:
        return self.units.get(unit_id or "")


# --- loading -------------------------------------------------------------------------------------
def routing_path(city: Optional[str] = None, directory: Optional[os.PathLike] = None) -> Path:
    city = city or os.environ.get("CITY") or "default"
    if "/" in city or "\\" in city or city.startswith("."):
        raise RoutingConfigError(f"invalid CITY {city!r}")
    folder = Path(directory or os.environ.get("ROUTING_DIR") or DEFAULT_DIR)
    return folder / f"{city}.yml"


_cache: Dict[Tuple[str, float], RoutingTable] = {}
_cache_lock = threading.Lock()


def load_routing(city: Optional[str] = None, directory: Optional[os.PathLike] = None) -> RoutingTable:
    """The routing table for ``city`` (default ``$CITY``), re-read when the file changes."""
    path = routing_path(city, directory)
    if not path.is_file():
        raise RoutingConfigError(f"no routing file for this city: {path}")
    key = (str(path), path.stat().st_mtime)
    with _cache_lock:
        table = _cache.get(key)
        if table is None:
            with open(path, encoding="utf-8") as fh:
                try:
                    data = yaml.safe_load(fh)
                except yaml.YAMLError as exc:
                    raise RoutingConfigError(f"{path}: not valid YAML: {exc}") from exc
            table = _cache[key] = parse_routing(data, source=str(path))
        return table


def parse_routing(data: Mapping, source: str = "<routing>") -> RoutingTable:
    """Build and check a RoutingTable from the YAML's data."""
    def fail(msg: str):
        raise RoutingConfigError(f"{source}: {msg}")

    if not isinstance(data, Mapping):
        fail("the file must be a mapping")
    unknown = set(data) - _TOP_KEYS
    if unknown:
        fail(f"unknown top-level keys {sorted(unknown)} (allowed: {sorted(_TOP_KEYS)})")

    units = _parse_units(data.get("units"), fail)
    categories = _parse_categories(data.get("categories"), units, fail)

    default_limits = _limits(data.get("limits") or {}, "limits", fail, required=True)
    intent_limits = {}
    for intent, spec in (data.get("intent_limits") or {}).items():
        if intent not in INTENTS:
            fail(f"intent_limits: unknown intent {intent!r} (use {', '.join(INTENTS)})")
        intent_limits[intent] = _limits(spec, f"intent_limits.{intent}", fail)

    urgent = data.get("urgent") or {}
    urgent_limits = _limits({k: v for k, v in urgent.items() if k in _LIMIT_KEYS}, "urgent", fail,
                            required=True)
    urgent_unit = urgent.get("unit")
    if urgent_unit is not None and urgent_unit not in units:
        fail(f"urgent.unit: unknown unit {urgent_unit!r}")
    alerts = tuple(urgent.get("alert") or ())
    for u in alerts:
        if u not in units:
            fail(f"urgent.alert: unknown unit {u!r}")

    dispatcher = data.get("dispatcher")
    if dispatcher is None:  # by default the highest non-department rung dispatches
        candidates = [u for u in units.values() if u.level != "department"]
        if not candidates:
            fail("no unit can act as dispatcher")
        dispatcher = max(candidates, key=lambda u: LEVELS.index(u.level)).id
    elif dispatcher not in units:
        fail(f"dispatcher: unknown unit {dispatcher!r}")

    escalation = data.get("escalation") or {}
    supervisor = _contact(escalation["supervisor"], "escalation.supervisor", fail) \
        if escalation.get("supervisor") else None

    dup = data.get("duplicates") or {}
    rating = data.get("rating") or {}
    reopen_at = int(rating.get("reopen_at_or_below", 2))
    if not 0 <= reopen_at <= 4:
        fail("rating.reopen_at_or_below must be between 0 and 4")
    auto_close = rating.get("auto_close_after")
    try:
        auto_close = TimeLimit.parse(auto_close) if auto_close else None
    except ValueError as exc:
        fail(f"rating.auto_close_after: {exc}")
    similarity = float(dup.get("description_similarity", 0.5))
    if not 0 < similarity <= 1:
        fail("duplicates.description_similarity must be in (0, 1]")

    cal = data.get("calendar") or {}
    name = data.get("name") or {}
    table = RoutingTable(
        city=str(data.get("city") or Path(source).stem), name_zh=name.get("zh", ""), name_en=name.get("en", ""),
        units=units, categories=categories, default_limits=default_limits, intent_limits=intent_limits,
        urgent_limits=urgent_limits, urgent_unit=urgent_unit, urgent_alert=alerts, dispatcher=dispatcher,
        supervisor=supervisor, duplicate_window_hours=float(dup.get("window_hours", 72)),
        duplicate_similarity=similarity, reopen_at_or_below=reopen_at, auto_close_after=auto_close,
        work_start=str(cal.get("work_start", "08:30")), work_end=str(cal.get("work_end", "17:30")),
        source=source,
    )
    try:
        table.calendar()
    except ValueError as exc:
        fail(f"calendar: {exc}")
    return table


def _parse_units(raw, fail) -> Dict[str, Unit]:
    if not isinstance(raw, Mapping) or not raw:
        fail("units: a mapping of unit id → unit is required")
    units: Dict[str, Unit] = {}
    for uid, spec in raw.items():
        where = f"units.{uid}"
        if not isinstance(spec, Mapping):
            fail(f"{where}: must be a mapping")
        level = spec.get("level")
        if level not in LEVELS:
            fail(f"{where}.level: {level!r} is not one of {', '.join(LEVELS)}")
        name = spec.get("name") or {}
        if not name.get("zh") or not name.get("en"):
            fail(f"{where}.name: both zh and en are required")
        if not spec.get("on_duty"):
            fail(f"{where}.on_duty: an on-duty contact is required (channel and id)")
        units[str(uid)] = Unit(str(uid), name["zh"], name["en"], level, spec.get("parent"),
                               _contact(spec["on_duty"], f"{where}.on_duty", fail))
    for unit in units.values():
        if unit.parent is None:
            continue
        parent = units.get(unit.parent)
        if parent is None:
            fail(f"units.{unit.id}.parent: unknown unit {unit.parent!r}")
        # Parents sit strictly higher: this also rules out cycles.
        if LEVELS.index(parent.level) <= LEVELS.index(unit.level):
            fail(f"units.{unit.id}.parent: {parent.id} ({parent.level}) is not above {unit.level}")
    return units


def _parse_categories(raw, units, fail) -> Dict[str, dict]:
    if not isinstance(raw, Mapping) or "other" not in raw:
        fail("categories: a mapping with at least an 'other' entry is required")
    out: Dict[str, dict] = {}
    for key, spec in raw.items():
        where = f"categories.{key}"
        if key not in CATEGORIES:
            fail(f"{where}: unknown category (taxonomy keys: {', '.join(CATEGORIES)})")
        if not isinstance(spec, Mapping):
            fail(f"{where}: must be a mapping")
        unknown = set(spec) - _CATEGORY_KEYS
        if unknown:
            fail(f"{where}: unknown keys {sorted(unknown)}")
        if spec.get("unit") not in units:
            fail(f"{where}.unit: unknown unit {spec.get('unit')!r}")
        entry = {"unit": spec["unit"]}
        dept = spec.get("department")
        if dept is not None:
            if dept not in units:
                fail(f"{where}.department: unknown unit {dept!r}")
            if units[dept].level != "department":
                fail(f"{where}.department: {dept} is a {units[dept].level}, not a department")
            entry["department"] = dept
        if spec.get("urgent_unit") is not None:
            if spec["urgent_unit"] not in units:
                fail(f"{where}.urgent_unit: unknown unit {spec['urgent_unit']!r}")
            entry["urgent_unit"] = spec["urgent_unit"]
        if spec.get("limits"):
            entry["limits"] = _limits(spec["limits"], f"{where}.limits", fail)
        intents = {}
        for intent, lim in (spec.get("intents") or {}).items():
            if intent not in INTENTS:
                fail(f"{where}.intents: unknown intent {intent!r}")
            intents[intent] = _limits(lim, f"{where}.intents.{intent}", fail)
        entry["intents"] = intents
        out[key] = entry
    return out


def _limits(spec, where, fail, required=False):
    if not isinstance(spec, Mapping):
        fail(f"{where}: must be a mapping with sign and/or resolve")
    unknown = set(spec) - _LIMIT_KEYS
    if unknown:
        fail(f"{where}: unknown keys {sorted(unknown)} (use sign, resolve)")
    parsed = {}
    for key, value in spec.items():
        try:
            parsed[key] = TimeLimit.parse(value)
        except ValueError as exc:
            fail(f"{where}.{key}: {exc}")
    if required:
        missing = _LIMIT_KEYS - set(parsed)
        if missing:
            fail(f"{where}: {', '.join(sorted(missing))} is required")
        return Limits(sign=parsed["sign"], resolve=parsed["resolve"])
    return parsed


def _contact(spec, where, fail) -> Contact:
    if not isinstance(spec, Mapping) or not spec.get("channel") or not spec.get("id"):
        fail(f"{where}: needs channel and id")
    return Contact(str(spec["channel"]), str(spec["id"]), str(spec.get("name", "")), str(spec.get("phone", "")))
