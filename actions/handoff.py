"""Handing a conversation to staff: record the handoff, tell the resident who answers and when,
and pause the bot (Rasa's ConversationPaused) so it stays silent while staff answer."""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, ConversationPaused, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.base import ResidentAction, Turn, channel_of, deliver, emergency_prefix, read_turn
from bot import handoff
from bot.language import ENGLISH
from bot.staffing import handoff_availability
from bot.texts import render

logger = logging.getLogger(__name__)


def hand_over(turn: Turn, reason: str, urgent: bool = False, pause: bool = True) -> None:
    """Open (or reuse) the resident's handoff and say who will answer and when."""
    staff = handoff_availability()
    try:
        handoff.open_handoff(channel_of(turn.tracker), turn.sender_id, reason, language=turn.lang,
                             urgent=urgent, summary=turn.text, unit_id=staff.unit_id)
    except Exception:
        logger.exception("recording the handoff failed")
        turn.say(render("report.failed", turn.lang))
        return
    if not pause:
        return
    unit = staff.unit_name_en if turn.lang == ENGLISH else staff.unit_name_zh
    if staff.open_now:
        turn.say(render("human.handoff_open", turn.lang, unit=unit, hours=staff.hours))
    else:
        when = (f"{staff.next_open:%d %b %H:%M}" if turn.lang == ENGLISH
                else f"{staff.next_open.month}月{staff.next_open.day}日 {staff.next_open:%H:%M}")
        turn.say(render("human.handoff_closed", turn.lang, unit=unit, hours=staff.hours, next=when))
    turn.events.append(ConversationPaused())


class ActionRequestHuman(ResidentAction):
    def name(self) -> str:
        return "action_request_human"

    async def respond(self, turn: Turn) -> None:
        hand_over(turn, "asked")


class ActionEmergencyNotice(Action):
    """Run by connectors/paused_emergency.py for an urgent message while staff have the conversation:
    the emergency number, and the open handoff marked urgent. The conversation stays paused."""

    def name(self) -> Text:
        return "action_emergency_notice"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        turn = read_turn(tracker)
        emergency_prefix(turn)
        return deliver(turn, dispatcher)


class ActionSessionStart(Action):
    """A new Rasa session must not wake the bot while staff have the conversation."""

    def name(self) -> Text:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        events: List[Dict[Text, Any]] = [SessionStarted()]
        # Carry the slots over (domain: carry_over_slots_to_new_session).
        events += [SlotSet(name, value) for name, value in tracker.slots.items()
                   if value is not None and name != "requested_slot"]
        try:
            paused = handoff.open_for(channel_of(tracker), tracker.sender_id) is not None
        except Exception:
            logger.exception("could not check for an open handoff")
            paused = False
        if paused:
            events.append(ConversationPaused())
        events.append(ActionExecuted("action_listen"))
        return events
