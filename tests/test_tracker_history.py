"""connectors/tracker_history.py must give exactly Rasa's applied events, at every step of a conversation."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from rasa.shared.core import events as e
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
