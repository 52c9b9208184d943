"""An emergency written while staff have the conversation still gets the emergency number at once.

While a handoff is open the conversation is paused and Rasa runs no action for a new message: staff
answer it in the console, perhaps the next morning. A resident who then writes "楼道着火了" must not
wait for them. Such a message (the NLU found an `urgency` entity) runs one action,
`action_emergency_notice` (actions/handoff.py): the emergency number first, the open handoff marked
urgent so it tops the staff queue. The conversation stays paused; nothing else is answered by the bot.
"""
from __future__ import annotations

from rasa.core.policies.policy import PolicyPrediction
from rasa.core.processor import MessageProcessor

ACTION = "action_emergency_notice"


def is_urgent(tracker) -> bool:
    latest = tracker.latest_message
    return latest is not None and any(e.get("entity") == "urgency" for e in latest.entities or [])


def install() -> None:
    """Wrap MessageProcessor._run_prediction_loop once; idempotent."""
    if getattr(MessageProcessor, "_paused_emergency_installed", False):
        return
    original = MessageProcessor._run_prediction_loop

    async def _run_prediction_loop(self, output_channel, tracker):
        if tracker.is_paused() and is_urgent(tracker):
            from rasa.core.actions.action import action_for_name_or_text

            action = action_for_name_or_text(ACTION, self.domain, self.action_endpoint)
            prediction = PolicyPrediction.for_action_name(self.domain, ACTION, "paused_emergency")
            await self._run_action(action, tracker, output_channel, self.nlg, prediction)
        return await original(self, output_channel, tracker)

    MessageProcessor._run_prediction_loop = _run_prediction_loop
    MessageProcessor._paused_emergency_installed = True
