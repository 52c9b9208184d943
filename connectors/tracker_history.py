"""Rasa's `DialogueStateTracker.applied_events` and `past_states`, carried on from their last result
instead of computed again from the first event of the session for every prediction. Both give what
Rasa's own methods give (tests/test_tracker_history.py compares them on generated conversations,
with every kind of event that rewinds, resets or changes a conversation); past states are below.

The applied events are the conversation without reverted turns and without the repeated executions
of a form. Rasa computes them from the first event at every call, several times for each message
(every policy's state history, the session check, "last user message"), and for a form each
execution looks back for the previous one: O(events) per call, O(events²) with forms. In the
benchmark's 40-message sessions that was 11% of the Rasa server's time.

A tracker's events are only ever appended (`update`, `recreate_from_dialogue`). So the result and
the state of Rasa's loop after the first k events are kept on the tracker, and a later call runs the
loop over the events after k only. One thing makes the result for an early event depend on later
ones: whether an `ActionExecuted` counts as a loop execution depends on the names of the loops that
`ActiveLoop` events name anywhere in the conversation. The names are kept with the result, and a new
name makes the computation start again from the first event.
"""
from __future__ import annotations

import itertools
from collections import deque
from typing import Any, FrozenSet, Iterable, List, Tuple

_KEPT = "_applied_events_kept"


class _Kept:
    __slots__ = ("events", "count", "first", "last", "loop_names", "applied")

    def __init__(self, events, loop_names: FrozenSet[str], applied: List[Any]) -> None:
        # The deque itself and its first and last event: if any of them is not the same any more
        # (a new deque, events dropped at the front by max_event_history), the kept result is not used.
        self.events, self.count = events, len(events)
        self.first, self.last = events[0], events[-1]
        self.loop_names, self.applied = loop_names, applied

    def continues(self, events) -> bool:
        return (events is self.events and len(events) >= self.count
                and events[0] is self.first and events[self.count - 1] is self.last)


def _loop_names(events: Iterable[Any]) -> FrozenSet[str]:
    from rasa.shared.core.events import ActiveLoop

    return frozenset(event.name for event in events if isinstance(event, ActiveLoop) and event.name)


def _apply(tracker, events: Iterable[Any], loop_names: FrozenSet[str], applied: List[Any]) -> List[Any]:
    """The loop of Rasa 3.6's `applied_events`, over `events`, carrying on from `applied`."""
    from rasa.shared.core.events import (ActionExecuted, ActionReverted, Restarted, SessionStarted,
                                         UserUttered, UserUtteranceReverted)

    for event in events:
        if isinstance(event, (Restarted, SessionStarted)):
            applied = []
        elif isinstance(event, ActionReverted):
            tracker._undo_till_previous(ActionExecuted, applied)
        elif isinstance(event, UserUtteranceReverted):
            tracker._undo_till_previous(UserUttered, applied)
            tracker._undo_till_previous(ActionExecuted, applied)
        elif (isinstance(event, ActionExecuted) and event.action_name in loop_names
              and not tracker._first_loop_execution_or_unhappy_path(event.action_name, applied)):
            tracker._undo_till_previous_loop_execution(event.action_name, applied)
        else:
            applied.append(event)
    return applied


def applied_events(self) -> List[Any]:
    """Same list as Rasa's `DialogueStateTracker.applied_events` (a new list at every call)."""
    events = self.events
    if not events:
        return []
    kept = self.__dict__.get(_KEPT)
    if kept is not None and kept.continues(events):
        new = list(itertools.islice(events, kept.count, None))
        if not new:
            return list(kept.applied)
        loop_names = kept.loop_names | _loop_names(new)
        if loop_names == kept.loop_names:
            applied = _apply(self, new, loop_names, list(kept.applied))
            self.__dict__[_KEPT] = _Kept(events, loop_names, applied)
            return list(applied)
    loop_names = _loop_names(events)
    applied = _apply(self, events, loop_names, [])
    self.__dict__[_KEPT] = _Kept(events, loop_names, applied)
    return list(applied)


# ---------------------------------------------------------------------------------------------------
# Past states: `DialogueStateTracker.past_states`, carried on from checkpoints of its last run.
#
# Every policy asks for the dialogue state before each action of the session (RulePolicy two or three
# times per prediction, with different options). Rasa replays the applied events into a fresh tracker
# for each request: 10-15% of the server's time in 40-message sessions. The state before action i
# depends only on the applied events before it, so a run is kept per tracker and set of options, with
# checkpoints (the replayed tracker and the loop's variables) at its last CHECKPOINTS actions and at
# its end. The next run starts from the last checkpoint inside the part of the applied events that
# has not changed (new events are appended; a revert or a form's next execution rewrites the end).

CHECKPOINTS = 3  # a form's next execution rewinds to its previous one (two actions back), a revert one turn
_STATES = "_past_states_kept"
_PLACEHOLDER = "_empty_latest_message"


class _Checkpoint:
    __slots__ = ("position", "tracker", "state_count", "last_ml_action", "turn_was_hidden")

    def __init__(self, position: int, tracker, state_count: int, last_ml_action, turn_was_hidden: bool) -> None:
        self.position, self.tracker, self.state_count = position, _snapshot(tracker), state_count
        self.last_ml_action, self.turn_was_hidden = last_ml_action, turn_was_hidden


class _Run:
    """The variables of Rasa's loop in `Domain.states_for_tracker_history`."""

    __slots__ = ("domain", "applied", "states", "last_ml_action", "turn_was_hidden", "checkpoints", "messages")

    def __init__(self, domain, applied: List[Any]) -> None:
        self.domain, self.applied, self.states = domain, applied, []
        self.last_ml_action, self.turn_was_hidden = None, False
        self.checkpoints: List[_Checkpoint] = []
        # (position, user message, _as_read(message)) for the user messages among the applied events
        self.messages: List[Tuple[int, Any, Tuple]] = []


def _as_read(message) -> Tuple:
    """What of a user message can change after it was logged, and changes its state: later events
    change the latest message in place (DefinePrevUserUtteredFeaturization its featurization,
    EntitiesAdded its entities). A state made from it before such a change is made again."""
    return message.use_text_for_featurization, id(message.entities), len(message.entities)


def _snapshot(tracker):
    """What `_resume` needs to go on from where the replay tracker is now, untouched by later updates.
    Replay trackers hold no events (see _replay_tracker); applying events changes in place only the
    slots (kept as their values: a slot's state is its `_value` and `_has_been_set`), the active loop
    and the replay's own empty latest message (both copied). Everything else is replaced, not changed,
    by Rasa's tracker methods, so a shallow copy keeps it."""
    kept = _shallow(tracker)
    kept.slots = tuple((name, slot._value, slot._has_been_set) for name, slot in tracker.slots.items())
    _own_mutables(kept, tracker)
    return kept


def _resume(snapshot, tracker):
    """A replay tracker in the state `snapshot` was taken in; `tracker` is the conversation's."""
    replay = _shallow(snapshot)
    replay.slots = _replay_tracker(tracker).slots  # new slot objects, then the kept values
    for name, value, has_been_set in snapshot.slots:
        slot = replay.slots[name]
        slot._value, slot._has_been_set = value, has_been_set
    _own_mutables(replay, snapshot)
    return replay


def _own_mutables(copied, original) -> None:
    if original.active_loop is not None:
        copied.active_loop = _shallow(original.active_loop)
    if original.latest_message is original.__dict__.get(_PLACEHOLDER):
        # the replay's own empty "latest message", which EntitiesAdded and DefinePrevUserUtteredFeaturization
        # change in place like a real one (real ones are the conversation's events, shared as in Rasa)
        message = _shallow(original.latest_message)
        message.entities = list(message.entities)
        copied.latest_message = copied.__dict__[_PLACEHOLDER] = message


def _shallow(thing):
    """copy.copy for plain objects (trackers, slots, active loops), without copy's generic protocol."""
    copied = object.__new__(type(thing))
    copied.__dict__.update(thing.__dict__)
    return copied


def _replay_tracker(tracker):
    """Rasa's `init_copy()` (the tracker that `generate_all_prior_trackers` replays the events into), holding
    no events: nothing that the states are made of reads them, and copying them would make every
    checkpoint as long as the conversation."""
    replay = tracker.init_copy()
    replay.events = deque(maxlen=0)
    replay.__dict__[_PLACEHOLDER] = replay.latest_message
    return replay


def _emit(run: _Run, replay, hide_rule_turn: bool, omit_unset_slots: bool, ignore_rule_only_turns: bool,
          rule_only_data) -> None:
    """The body of Rasa 3.6's loop in `Domain.states_for_tracker_history`, for one prior tracker."""
    from rasa.shared.core.constants import PREVIOUS_ACTION

    domain = run.domain
    if ignore_rule_only_turns:
        if not run.turn_was_hidden:
            run.last_ml_action = domain._get_prev_action_sub_state(replay)
        if not replay.followup_action and not replay.latest_action_name == replay.active_loop_name:
            run.turn_was_hidden = hide_rule_turn
        if run.turn_was_hidden:
            return
    state = domain.get_active_state(replay, omit_unset_slots=omit_unset_slots)
    if ignore_rule_only_turns:
        domain._remove_rule_only_features(state, rule_only_data)
        if run.states:
            domain._substitute_rule_only_user_input(state, run.states[-1])
        if run.last_ml_action:
            state[PREVIOUS_ACTION] = run.last_ml_action
    run.states.append(domain._clean_state(state))


def _common_prefix(kept: List[Any], applied: List[Any]) -> int:
    count = 0
    for old, new in zip(kept, applied):
        if old is not new:
            break
        count += 1
    return count


def _copy_states(states: List[Any]) -> List[Any]:
    """New state dicts with new sub-state dicts, shared where Rasa's are shared (a rule turn takes the
    previous state's user sub-state): callers change states in place (the featurizer deletes the text
    or the intent of user sub-states)."""
    copies: dict = {}
    result = []
    for state in states:
        new = {}
        for kind, part in state.items():
            if type(part) is dict:
                copied = copies.get(id(part))
                if copied is None:
                    copied = copies[id(part)] = part.copy()
                part = copied
            new[kind] = part
        result.append(new)
    return result


def past_states(self, domain, omit_unset_slots: bool = False, ignore_rule_only_turns: bool = False,
                rule_only_data=None) -> List[Any]:
    """Same states as Rasa's `DialogueStateTracker.past_states` (new dicts at every call)."""
    from rasa.shared.core.events import ActionExecuted, UserUttered

    applied = self.applied_events()
    key = (id(domain), omit_unset_slots, ignore_rule_only_turns, repr(rule_only_data))
    kept_runs = self.__dict__.setdefault(_STATES, {})
    kept = kept_runs.get(key)
    run = _Run(domain, applied)
    start, replay = 0, None
    if kept is not None and kept.domain is domain:
        unchanged = _common_prefix(kept.applied, applied)
        changed = [position for position, message, read in kept.messages if _as_read(message) != read]
        unchanged = min([unchanged] + changed)
        usable = [c for c in kept.checkpoints if c.position <= unchanged]
        if usable:
            checkpoint = usable[-1]
            start, replay = checkpoint.position, _resume(checkpoint.tracker, self)
            run.states = kept.states[:checkpoint.state_count]
            run.last_ml_action, run.turn_was_hidden = checkpoint.last_ml_action, checkpoint.turn_was_hidden
            run.checkpoints = usable  # those at or before the one resumed from
            run.messages = [m for m in kept.messages if m[0] < start]
    if replay is None:
        replay = _replay_tracker(self)
    for position in range(start, len(applied)):
        event = applied[position]
        if isinstance(event, ActionExecuted):
            if position > start or not run.checkpoints:
                run.checkpoints.append(_Checkpoint(position, replay, len(run.states), run.last_ml_action,
                                                   run.turn_was_hidden))
            _emit(run, replay, event.hide_rule_turn, omit_unset_slots, ignore_rule_only_turns, rule_only_data)
        elif isinstance(event, UserUttered):
            run.messages.append((position, event, ()))
        replay.update(event)
    if len(applied) > start or not run.checkpoints:
        run.checkpoints.append(_Checkpoint(len(applied), replay, len(run.states), run.last_ml_action,
                                           run.turn_was_hidden))
    del run.checkpoints[:-CHECKPOINTS - 1]
    _emit(run, replay, False, omit_unset_slots, ignore_rule_only_turns, rule_only_data)
    # as the next replay will find them (the replay applied the in-place changes again, in order)
    run.messages = [(position, message, _as_read(message)) for position, message, _ in run.messages]
    kept_runs[key] = run
    return _copy_states(run.states)


# Rasa's own methods, kept by install() (the tests compare with them).
rasa_applied_events = rasa_past_states = None


def install() -> None:
    global rasa_applied_events, rasa_past_states
    from rasa.shared.core.trackers import DialogueStateTracker

    if DialogueStateTracker.applied_events is not applied_events:
        rasa_applied_events = DialogueStateTracker.applied_events
        DialogueStateTracker.applied_events = applied_events
    if DialogueStateTracker.past_states is not past_states:
        rasa_past_states = DialogueStateTracker.past_states
        DialogueStateTracker.past_states = past_states
