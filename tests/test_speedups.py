"""connectors/speedups.py must validate action server responses exactly as Rasa does, only faster."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.speedups import _action_result_validator

VALIDATOR = _action_result_validator()
KINDS = sorted(VALIDATOR.by_event)

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=4), inner, max_size=3)),
                      max_leaves=6)
# Keys that the event schemas constrain, so that generated events hit both sides of many rules.
KEYS = ["event", "timestamp", "metadata", "name", "value", "text", "parse_data", "entities", "policy",
        "confidence", "intent", "date_time", "kill_on_user_msg", "action_text", "hide_rule_turn", "data"]

def _real_events():
    """Events as Rasa writes them: valid starting points that the mutations below break or keep."""
    from datetime import datetime

    from rasa.shared.core import events as e

    made = [e.UserUttered("你好", {"name": "greet", "confidence": 0.9}, [{"entity": "x", "value": "y"}]),
            e.BotUttered("您好", {"buttons": [{"title": "a", "payload": "/b"}]}), e.SlotSet("phone", "138"),
            e.ActionExecuted("action_listen", policy="RulePolicy", confidence=1.0), e.ActiveLoop("report_form"),
            e.ActiveLoop(None), e.FollowupAction("utter_x"), e.SessionStarted(), e.Restarted(), e.AllSlotsReset(),
            e.ReminderScheduled("remind", datetime(2026, 11, 25, 8)), e.ReminderCancelled("remind"),
            e.ConversationPaused(), e.ConversationResumed(), e.UserUtteranceReverted(), e.ActionReverted(),
            e.StoryExported(), e.LoopInterrupted(True), e.ActionExecutionRejected("a"), e.EntitiesAdded([]),
            e.DefinePrevUserUtteredFeaturization(True), e.AgentUttered("hi")]
    return [event.as_dict() for event in made]


REAL = _real_events()


@st.composite
def mutated(draw):
    event = dict(draw(st.sampled_from(REAL)))
    for _ in range(draw(st.sampled_from([0, 0, 0, 0, 1, 2]))):  # most stay valid
        key = draw(st.sampled_from(sorted(event) + KEYS))
        if draw(st.booleans()):
            event.pop(key, None)
        else:
            event[key] = draw(values)
    return event


events = st.one_of(
    mutated(), mutated(),
    st.fixed_dictionaries({"event": st.sampled_from(KINDS + ["no_such_event"])},
                          optional={key: values for key in KEYS[1:]}),
    st.fixed_dictionaries({"event": values}), values)
responses = st.one_of(
    st.fixed_dictionaries({"events": st.lists(mutated(), min_size=1, max_size=3),
                           "responses": st.lists(st.dictionaries(st.text(max_size=4), values, max_size=2), max_size=2)}),
    st.fixed_dictionaries({}, optional={"events": st.one_of(st.lists(events, max_size=4), values),
                                        "responses": st.one_of(st.lists(values, max_size=2), values)}),
    values)


def test_the_schema_is_dispatched_by_event_kind():
    # Rasa 3.6's schema has one branch per event kind; without that shape only the full check runs.
    assert VALIDATOR.outer is not None and {"user", "bot", "slot", "active_loop", "action"} <= set(KINDS)


@settings(max_examples=1500, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(responses)
def test_same_verdict_as_the_full_validation(result):
    assert VALIDATOR.is_valid(result) == VALIDATOR.full.is_valid(result)


def test_typical_responses():
    good = {"events": [{"event": "slot", "timestamp": None, "name": "location", "value": "3栋"},
                       {"event": "active_loop", "name": "report_form"}],
            "responses": [{"text": "请问方便留个电话吗？"}]}
    assert VALIDATOR.is_valid(good) and VALIDATOR.is_valid({"events": [], "responses": []})
    for bad in ({"events": [{"event": "slot", "name": 3}]}, {"events": [{"event": "nonsense"}]},
                {"events": [{"name": "x"}]}, {"events": "slot"}, {"events": [{"event": ["slot"]}]}, []):
        assert not VALIDATOR.is_valid(bad) and not VALIDATOR.full.is_valid(bad)


def test_event_classes_are_found_as_rasa_finds_them():
    from rasa.shared.core.events import Event
    from rasa.shared.utils.common import all_subclasses

    from connectors import speedups

    rasas = {cls.type_name: cls for cls in reversed(all_subclasses(Event))}  # the first match wins
    speedups._remembering_event_types()
    for _ in range(2):  # found, then remembered
        for name, cls in rasas.items():
            assert Event.resolve_by_type(name) is cls
    with pytest.raises(ValueError):
        Event.resolve_by_type("no_such_event")


def test_trackers_go_out_as_the_same_json():
    import json

    from connectors.speedups import _json_dumps

    tracker = {"sender_id": "微信/openid", "slots": {"phone": None, "n": 0.1 + 0.2, "ok": True},
               "events": [{"event": "user", "text": "楼道灯坏了 \"急\" \\ 😀", "timestamp": 1764000000.123456}]}
    assert json.loads(_json_dumps(tracker)) == tracker


def test_graph_parts_are_the_same_when_remembered():
    from rasa.engine.graph import GraphComponent, GraphSchema, SchemaNode

    from connectors import speedups

    def node(*needs, target=False):
        return SchemaNode(needs={f"i{n}": name for n, name in enumerate(needs)}, uses=GraphComponent,
                          constructor_name="load", fn="run", config={}, is_target=target)

    nodes = {"a": node(), "b": node("a"), "c": node("a", "b"), "d": node("c", target=True), "e": node("b", target=True)}
    expected = {key: GraphSchema(dict(nodes)).minimal_graph_schema(list(key) if key else None)
                for key in (None, ("d",), ("e",))}
    speedups._remembering_graph_schemas()
    schema = GraphSchema(dict(nodes))
    for _ in range(2):
        for key, minimal in expected.items():
            assert schema.minimal_graph_schema(list(key) if key else None) == minimal
    assert set(schema.minimal_graph_schema(["e"]).nodes) == {"a", "b", "e"}
