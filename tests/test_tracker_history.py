"""connectors/tracker_history.py must give exactly Rasa's applied events and past states, at every step of a
conversation, however the calls and the events interleave."""
from __future__ import annotations

import warnings

from hypothesis import given, settings
from hypothesis import strategies as st
from rasa.shared.core import events as e
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker

from connectors import tracker_history

tracker_history.install()
RASA = tracker_history.rasa_applied_events

FORMS = ["report_form", "rating_form"]
# Events of real conversations with forms, and the rarer ones that rewind or reset them.
EVENTS = st.one_of(
    st.sampled_from(FORMS + ["action_listen", "utter_greet", "action_answer"]).map(e.ActionExecuted),
    st.sampled_from(["greet", "report", "affirm"]).map(lambda intent: e.UserUttered(intent, {"name": intent})),
    st.sampled_from(FORMS + [None]).map(e.ActiveLoop),
    st.sampled_from(FORMS + ["action_answer"]).map(e.ActionExecutionRejected),
    st.sampled_from(["place", "phone"]).map(lambda slot: e.SlotSet(slot, "x")),
    st.sampled_from([e.ActionReverted, e.UserUtteranceReverted, e.Restarted, e.SessionStarted,
                     lambda: e.DefinePrevUserUtteredFeaturization(False)]).map(lambda make: make()),
)
# Mostly the common events; a form's name often enough that loops run several times.
CONVERSATIONS = st.lists(st.one_of(EVENTS, EVENTS, EVENTS,
                                   st.sampled_from(FORMS).map(e.ActionExecuted)), max_size=60)


def _ids(events):
    return [id(event) for event in events]


@settings(max_examples=400, deadline=None)
@given(CONVERSATIONS, st.sampled_from([None, 7]), st.data())
def test_same_applied_events_as_rasa_after_every_event(conversation, max_history, data):
    tracker = DialogueStateTracker("resident", [], max_event_history=max_history)
    for event in conversation:
        tracker.update(event)
        if data.draw(st.booleans(), label="ask now"):  # not after every event: the carry-on spans several
            assert _ids(tracker.applied_events()) == _ids(RASA(tracker))
    assert _ids(tracker.applied_events()) == _ids(RASA(tracker))


def test_a_loop_named_later_changes_earlier_events():
    """The one way a later event changes the result for earlier ones: the first ActiveLoop of a name
    makes earlier executions of that action loop executions."""
    tracker = DialogueStateTracker("resident", [])
    for event in [e.ActionExecuted("action_listen"), e.UserUttered("a", {"name": "report"}),
                  e.ActionExecuted("report_form"), e.ActionExecuted("action_listen"),
                  e.UserUttered("b", {"name": "report"}), e.ActionExecuted("report_form")]:
        tracker.update(event)
    before = tracker.applied_events()
    assert len(before) == 6
    tracker.update(e.ActiveLoop("report_form"))
    assert _ids(tracker.applied_events()) == _ids(RASA(tracker))
    assert len(tracker.applied_events()) < len(before) + 1  # the repeated form turn is folded now


def test_the_result_is_a_new_list_each_time():
    tracker = DialogueStateTracker("resident", [])
    tracker.update(e.ActionExecuted("action_listen"))
    first = tracker.applied_events()
    first.clear()
    assert len(tracker.applied_events()) == 1


# --- past states ---------------------------------------------------------------------------------
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Rasa 3.6 warns "Slot auto-fill has been removed" for any slots
    DOMAIN = Domain.from_yaml("""
version: "3.1"
intents: [greet, report, affirm, inform]
entities: [place, urgency]
slots:
  place: {type: text, influence_conversation: true, mappings: [{type: from_entity, entity: place}]}
  flag: {type: bool, influence_conversation: true, mappings: [{type: custom}]}
  level: {type: categorical, values: [low, high], influence_conversation: true, mappings: [{type: custom}]}
  note: {type: text, influence_conversation: false, mappings: [{type: custom}]}
forms:
  report_form: {required_slots: [place]}
  rating_form: {required_slots: [level]}
actions: [action_answer, utter_greet]
""")
# Slots that influence the conversation (the project's own do not), a form whose flags change in place,
# and options as RulePolicy, MemoizationPolicy and TEDPolicy ask for them.
RULE_ONLY = {"slots": ["flag"], "loops": ["rating_form"]}
OPTIONS = st.sampled_from([(False, False, None), (True, False, None), (False, True, RULE_ONLY),
                           (True, True, RULE_ONLY)])
DIALOGUE_EVENTS = st.one_of(
    st.tuples(st.sampled_from(FORMS + ["action_listen", "utter_greet", "action_answer"]), st.booleans()).map(
        lambda a: e.ActionExecuted(a[0], hide_rule_turn=a[1])),
    st.tuples(st.sampled_from(["greet", "report", "affirm", "inform"]),
              st.sampled_from([[], ["place"], ["urgency"]])).map(
        lambda u: e.UserUttered(u[0], {"name": u[0]}, [{"entity": name, "value": "v"} for name in u[1]])),
    st.sampled_from(FORMS + [None]).map(e.ActiveLoop),
    st.sampled_from(FORMS + ["action_answer"]).map(e.ActionExecutionRejected),
    st.sampled_from([("place", "x"), ("place", None), ("flag", True), ("level", "high"), ("note", "n")]).map(
        lambda s: e.SlotSet(*s)),
    st.sampled_from([e.ActionReverted, e.UserUtteranceReverted, e.Restarted, e.SessionStarted, e.AllSlotsReset,
                     lambda: e.DefinePrevUserUtteredFeaturization(True), lambda: e.FollowupAction("action_answer"),
                     lambda: e.LoopInterrupted(True), lambda: e.EntitiesAdded([{"entity": "place", "value": "w"}]),
                     lambda: e.BotUttered("hi")]).map(lambda make: make()),
)
DIALOGUES = st.lists(st.one_of(DIALOGUE_EVENTS, DIALOGUE_EVENTS, st.sampled_from(FORMS).map(e.ActionExecuted)),
                     max_size=50)


def _aliasing(states):
    """Which sub-state dicts are one and the same object (Rasa shares some between states)."""
    first_seen = {}
    return [[first_seen.setdefault(id(part), (i, kind)) for kind, part in sorted(state.items())]
            for i, state in enumerate(states)]


@settings(max_examples=300, deadline=None)
@given(DIALOGUES, st.data())
def test_same_past_states_as_rasa_after_every_event(dialogue, data):
    tracker = DialogueStateTracker.from_events("resident", [], slots=DOMAIN.slots)
    for event in dialogue:
        tracker.update(event, DOMAIN)
        if data.draw(st.booleans(), label="ask now"):
            omit, ignore, rule_only = data.draw(OPTIONS, label="options")
            ours = tracker.past_states(DOMAIN, omit, ignore, rule_only)
            rasa = tracker_history.rasa_past_states(tracker, DOMAIN, omit, ignore, rule_only)
            assert ours == rasa
            assert _aliasing(ours) == _aliasing(rasa)


def test_past_states_can_be_changed_by_the_caller():
    tracker = DialogueStateTracker.from_events("resident", [], slots=DOMAIN.slots)
    for event in [e.ActionExecuted("action_listen"), e.UserUttered("hi", {"name": "greet"}),
                  e.ActionExecuted("utter_greet"), e.ActionExecuted("action_listen")]:
        tracker.update(event, DOMAIN)
    states = tracker.past_states(DOMAIN)
    del states[-1]["user"]["intent"]  # as the featurizer does with the last user input
    assert tracker.past_states(DOMAIN) == tracker_history.rasa_past_states(tracker, DOMAIN)
