"""The frame every resident-facing action shares: language, emergency notice, then its own reply."""
from __future__ import annotations

import abc
import logging
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.intake import parse_rating
from bot.replies import emergency_replies, entity_value, language_for, urgency_of
from bot.texts import render

logger = logging.getLogger(__name__)


@dataclass
class Turn:
    """What the action knows about the resident's latest message."""

    sender_id: str
    text: str
    intent: str
    lang: str
    category: str
    urgency: List[str]
    entities: List[Dict[str, Any]]
    tracker: Tracker
    replies: List[str] = field(default_factory=list)
    events: List[Dict[str, Any]] = field(default_factory=list)

    def say(self, text: str) -> None:
        self.replies.append(text)


def channel_of(tracker: Tracker) -> str:
    """The resident's channel identity is (channel, sender id); REST when Rasa recorded none."""
    return tracker.get_latest_input_channel() or "rest"


def _first_action_after_user(tracker: Tracker) -> bool:
    """True when no bot message was sent since the resident's latest message."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return True
        if event.get("event") == "bot":
            return False
    return True


def _resident_words(tracker: Tracker) -> str:
    """The latest message as the resident wrote it. The parse result's text is what the classifiers
    saw (bot.language.normalise_for_nlu: Simplified, lower-case, full-width marks as ASCII); tickets,
    handoff summaries and quoted addresses keep the resident's own script and characters."""
    for event in reversed(tracker.events or []):
        if event.get("event") == "user":
            return event.get("text") or ""
    return (tracker.latest_message or {}).get("text") or ""


def read_turn(tracker: Tracker, message: Optional[Dict[str, Any]] = None) -> Turn:
    """What an action knows of the latest message, or of `message` (an earlier user event)."""
    latest = (tracker.latest_message or {}) if message is None else (message.get("parse_data") or {})
    entities = latest.get("entities") or []
    return Turn(
        sender_id=tracker.sender_id,
        text=_resident_words(tracker) if message is None else message.get("text") or "",
        intent=(latest.get("intent") or {}).get("name") or "",
        lang=language_for(tracker.get_slot("language"), entities),
        category=entity_value(entities, "category") or "other",
        urgency=urgency_of(entities),
        entities=entities,
        tracker=tracker,
    )


def offered_message(tracker: Tracker) -> Optional[Dict[str, Any]]:
    """The question the bot offered to file as a report (slot report_offered: its message id), when
    the resident's latest message is the reply to that offer; an older offer has lapsed."""
    wanted = tracker.get_slot("report_offered")
    users = [e for e in tracker.events if e.get("event") == "user"] if wanted else []
    return users[-2] if len(users) >= 2 and users[-2].get("message_id") == wanted else None


def emergency_prefix(turn: Turn) -> None:
    """The emergency notice, once per message, before anything else the bot says; the case goes to
    the on-duty staff's queue at once (an urgent handoff; the bot goes on taking details)."""
    if turn.urgency and _first_action_after_user(turn.tracker):
        for text in emergency_replies(turn.urgency, turn.lang):
            turn.say(text)
        from actions.handoff import hand_over

        hand_over(turn, "urgent", urgent=True, pause=False)
        turn.say(render("emergency.staff_alerted", turn.lang))


def record_rating(turn: Turn) -> bool:
    """A reply to a rating request ('5', '不满意 没人来') is recorded on the ticket it rates.

    Checked before any other handling because the classifier cannot know that "4" answers a question
    the delivery service asked; anything that is not a rating goes on as a normal message.
    """
    number = turn.tracker.get_slot("awaiting_rating")
    rating = parse_rating(turn.text) if number else None
    if rating is None:
        return False
    from actions.tickets import ticket_service  # the ticket service loads on first use

    score, comment = rating
    try:
        result = ticket_service().rate(number, channel=channel_of(turn.tracker), sender_id=turn.sender_id,
                                       score=score, comment=comment)
    except Exception:  # an old or foreign number: forget the question, treat the text normally
        logger.warning("rating for %s not recorded", number, exc_info=True)
        turn.events.append(SlotSet("awaiting_rating", None))
        return False
    turn.say(render("rating.reopened" if result.reopened else "rating.thanks", turn.lang, number=number))
    # Whatever the classifier made of "不满意 没人来", no report form follows a rating.
    turn.events += [SlotSet("awaiting_rating", None), FollowupAction("action_listen")]
    return True


def deliver(turn: Turn, dispatcher: CollectingDispatcher) -> List[Dict[Text, Any]]:
    """Send the turn's replies and return its events (language slot first when it changed)."""
    for text in turn.replies:
        dispatcher.utter_message(text=text)
    events = list(turn.events)
    if turn.tracker.get_slot("language") != turn.lang:
        events = [SlotSet("language", turn.lang)] + events
    return events


class ResidentAction(Action, metaclass=abc.ABCMeta):
    """Subclasses implement `respond(turn)`; the emergency notice always comes first."""

    @abc.abstractmethod
    def name(self) -> Text:
        ...

    @abc.abstractmethod
    async def respond(self, turn: Turn) -> None:
        ...

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        turn = read_turn(tracker)
        emergency_prefix(turn)
        if not record_rating(turn):
            await self.respond(turn)
        return deliver(turn, dispatcher)
