"""When the action server cannot run an action, the resident hears an apology instead of silence.

Rasa 3.6 logs a failed custom action (action server down, crashed mid-call, 5xx) and carries on with
no events: the resident gets no answer at all. Here the failed action is replaced by one apology in
the resident's language. Nothing of the failed action is applied, so an active form keeps its state
and continues with the resident's next message; the ticket itself is filed idempotently, so a
"confirm" repeated after a crash cannot make a second ticket.
"""
from __future__ import annotations

import logging
from typing import Any, List

from rasa.core.actions.action import ActionExecutionRejection, ActionSessionStart
from rasa.core.processor import MessageProcessor
from rasa.shared.core.constants import ACTION_SESSION_START_NAME
from rasa.shared.core.events import BotUttered, Event, UserUttered

from bot.texts import render_for_message

logger = logging.getLogger(__name__)
APOLOGY_KEY = "system.action_unavailable"
FAULT = "fault"  # metadata key marking a reply the bot sent because something failed


def apology_for(tracker: Any) -> str:
    """The apology in the conversation's language (or the latest message's, on a first message)."""
    previous = tracker.get_slot("language") if tracker is not None else None
    text = tracker.latest_message.text if tracker is not None and tracker.latest_message else None
    return render_for_message(APOLOGY_KEY, text or "", previous)


class _GuardedAction:
    """Delegates to the real action; a failure becomes the apology (and is logged once)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def run(self, output_channel, nlg, tracker, domain) -> List[Event]:
        try:
            return await self._inner.run(output_channel, nlg, tracker, domain)
        except ActionExecutionRejection:
            raise  # a form rejecting its input is normal dialogue, not a fault
        except Exception as error:
            name = self._inner.name()
            logger.error("action %s failed (%s); the resident gets an apology", name, error)
            if name == ACTION_SESSION_START_NAME:
                # Start the session Rasa's own way; the apology comes with the failing reply itself.
                return await ActionSessionStart().run(output_channel, nlg, tracker, domain)
            if _apologised_this_turn(tracker):
                return []
            return [BotUttered(apology_for(tracker), metadata={FAULT: "action_unavailable"})]


def _apologised_this_turn(tracker: Any) -> bool:
    """One apology per message, however many actions fail after it."""
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return False
        if isinstance(event, BotUttered) and (event.metadata or {}).get(FAULT):
            return True
    return False


def _needs_guard(action: Any) -> bool:
    # Built-in actions (listen, session start defaults, utter_*) run inside Rasa and do not fail this way.
    from rasa.core.actions.action import RemoteAction
    from rasa.core.actions.loops import LoopAction

    return isinstance(action, (RemoteAction, LoopAction))


def install() -> None:
    """Wrap MessageProcessor._run_action once; idempotent."""
    if getattr(MessageProcessor, "_action_guard_installed", False):
        return
    original = MessageProcessor._run_action

    async def _run_action(self, action, tracker, output_channel, nlg, prediction):
        if _needs_guard(action):
            action = _GuardedAction(action)
        return await original(self, action, tracker, output_channel, nlg, prediction)

    MessageProcessor._run_action = _run_action
    MessageProcessor._action_guard_installed = True
