"""Routing tables from YAML: the shipped city files, the decisions, and the checks on bad files."""
import copy

import pytest
import yaml

from bot.db import REPO_ROOT
from bot.tickets.errors import RoutingConfigError
from bot.tickets.models import PRIORITY_NORMAL, PRIORITY_URGENT
from bot.tickets.routing import CATEGORIES, load_routing, parse_routing
from bot.tickets.workcalendar import TimeLimit

CITY_FILES = sorted(p.stem for p in (REPO_ROOT / "config" / "routing").glob("*.yml"))


@pytest.mark.parametrize("city", CITY_FILES)
def test_shipped_city_files_load_and_route_every_category(city):
    table = load_routing(city)
    for category in CATEGORIES:
        for intent in ("complaint", "service_request", "consultation"):
            decision = table.route(category, intent)
            assert decision.unit.id in table.units
            assert decision.priority == PRIORITY_NORMAL
        ladder = table.ladder(category)
        levels = [u.level for u in ladder]
        assert levels == sorted(levels, key=("grid", "committee", "street", "department").index)
        assert table.next_unit(ladder[-1].id, category) is None


def test_default_city_follows_12345_practice():
    table = load_routing("default")
    assert table.city == "default"
    assert [u.id for u in table.ladder("noise")] == ["grid", "committee", "street", "police"]
    assert [u.level for u in table.ladder("noise")] == ["grid", "committee", "street", "department"]
    sign_1wd = TimeLimit(1, "working_days")
    assert table.limits_for("noise", "consultation").resolve == TimeLimit(3, "working_days")
    assert table.limits_for("noise", "service_request").resolve == TimeLimit(3, "working_days")
    assert table.limits_for("noise", "complaint").resolve == TimeLimit(5, "working_days")
    assert table.limits_for("building_construction", "complaint").resolve == TimeLimit(10, "working_days")
    assert table.limits_for("building_construction", "consultation").resolve == TimeLimit(3, "working_days")
    assert all(table.limits_for(c, "complaint").sign == sign_1wd for c in CATEGORIES)
    urgent = table.route("fire_safety", "complaint", urgent=True)
    assert urgent.priority == PRIORITY_URGENT and urgent.urgent
    assert urgent.limits.resolve.unit == "hours" and 2 <= urgent.limits.resolve.amount <= 4
    assert {u.id for u in urgent.alert_units} == {"committee", "street"}


def test_unknown_category_is_routed_as_other():
    table = load_routing("default")
    assert table.route("astrology", "complaint").unit.id == table.categories["other"]["unit"]


def test_city_comes_from_env(monkeypatch):
    monkeypatch.setenv("CITY", "tonghua")
    assert load_routing().city == "tonghua"
    monkeypatch.setenv("CITY", "atlantis")
    with pytest.raises(RoutingConfigError, match="atlantis"):
        load_routing()
    monkeypatch.setenv("CITY", "../etc/passwd")
    with pytest.raises(RoutingConfigError):
        load_routing()


def test_a_new_city_file_in_its_own_folder(tmp_path, monkeypatch):
    data = yaml.safe_load((REPO_ROOT / "config" / "routing" / "default.yml").read_text(encoding="utf-8"))
    data["city"] = "newtown"
    data["limits"]["resolve"] = {"working_days": 4}
    (tmp_path / "newtown.yml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("ROUTING_DIR", str(tmp_path))
    table = load_routing("newtown")
    assert table.limits_for("noise", "service_request").resolve == TimeLimit(3, "working_days")  # intent wins
    assert table.default_limits.resolve == TimeLimit(4, "working_days")


def _default_data():
    return yaml.safe_load((REPO_ROOT / "config" / "routing" / "default.yml").read_text(encoding="utf-8"))


BROKEN = {
    "unknown unit in category": (lambda d: d["categories"]["noise"].update(unit="nobody"), "categories.noise.unit"),
    "unknown category": (lambda d: d["categories"].update(noize={"unit": "grid"}), "categories.noize"),
    "parent not above": (lambda d: d["units"]["committee"].update(parent="grid"), "units.committee.parent"),
    "cycle": (lambda d: d["units"]["street"].update(parent="grid"), "units.street.parent"),
    "bad level": (lambda d: d["units"]["grid"].update(level="block"), "units.grid.level"),
    "department not a department": (lambda d: d["categories"]["noise"].update(department="street"),
                                    "categories.noise.department"),
    "bad time unit": (lambda d: d["limits"].update(sign={"weeks": 1}), "limits.sign"),
    "negative limit": (lambda d: d["limits"].update(resolve={"working_days": -1}), "limits.resolve"),
    "no other": (lambda d: d["categories"].pop("other"), "other"),
    "missing on_duty": (lambda d: d["units"]["grid"].pop("on_duty"), "units.grid.on_duty"),
    "missing english name": (lambda d: d["units"]["grid"]["name"].pop("en"), "units.grid.name"),
    "typo at top": (lambda d: d.update(limts={}), "limts"),
    "urgent alert unknown": (lambda d: d["urgent"].update(alert=["ghost"]), "urgent.alert"),
    "bad hours": (lambda d: d["calendar"].update(work_end="07:00"), "calendar"),
    "bad intent": (lambda d: d["intent_limits"].update(gossip={"resolve": {"hours": 1}}), "intent_limits"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_files_are_refused_with_the_place(case):
    mutate, where = BROKEN[case]
    data = copy.deepcopy(_default_data())
    mutate(data)
    with pytest.raises(RoutingConfigError) as info:
        parse_routing(data, source="broken.yml")
    assert "broken.yml" in str(info.value) and where in str(info.value)


def test_time_limit_forms():
    assert TimeLimit.parse({"hours": 4}) == TimeLimit(4, "hours")
    assert TimeLimit.parse("3 working_days") == TimeLimit(3, "working_days")
    assert TimeLimit.parse("4h") == TimeLimit(4, "hours")
    assert TimeLimit.parse("2d") == TimeLimit(2, "working_days")
    for bad in ({"hours": 1, "working_days": 1}, "soon", {"hours": 0}, None):
        with pytest.raises(ValueError):
            TimeLimit.parse(bad)
