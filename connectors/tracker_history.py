"""Rasa's `DialogueStateTracker.applied_events`, carried on from its last result instead of redone.

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
name makes the computation start again from the first event. tests/test_tracker_history.py compares
with Rasa's own method on generated conversations.
"""
from __future__ import annotations

import itertools
from typing import Any, FrozenSet, Iterable, List

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


# Rasa's own method, kept by install() (the tests compare with it).
rasa_applied_events = None


def install() -> None:
    global rasa_applied_events
    from rasa.shared.core.trackers import DialogueStateTracker

    if DialogueStateTracker.applied_events is not applied_events:
        rasa_applied_events = DialogueStateTracker.applied_events
        DialogueStateTracker.applied_events = applied_events
