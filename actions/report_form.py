"""Taking down a complaint or service request: what happened, where, a phone number, confirmation.

The first message fills what it already says; the form asks only for the rest. Every answer is
read by `validate_report_form` (custom slot mappings), which also handles corrections, cancelling
and a request for a person in the middle of the form.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Text

from rasa_sdk import Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction

from actions.base import ResidentAction, Turn, deliver, emergency_prefix, offered_message, read_turn
from bot.asking import asks
from bot.intake import (extract_location, extract_phone, is_cancel, is_confirm, is_decline, is_follow_up,
                        is_substantive, location_answer, parse_correction)
from bot.texts import category_name, render

FORM_SLOTS = ("report_description", "report_location", "report_phone", "report_confirmed")
NO_PHONE = "none"
_DIGITS = re.compile(r"\d{5,}")  # a mistyped phone number, not a place
# A letter to the community (often 300–1,500 characters) is kept whole in the ticket; a 20,000-character
# message is kept in the transcript, not in a ticket field.
MAX_FIELD = 2000
PREVIEW = 120  # characters of a long description shown back in the confirmation


def _clip(text: str) -> str:
    text = " ".join((text or "").split())
    return text[:MAX_FIELD]


def _preview(text: str) -> str:
    return text if len(text) <= PREVIEW else text[:PREVIEW] + "…"


class ActionStartReport(ResidentAction):
    def name(self) -> str:
        return "action_start_report"

    async def respond(self, turn: Turn) -> None:
        # Started by "好的" to the offer to file an unanswered question: the report is that question.
        offered = offered_message(turn.tracker)
        chasing = not offered and is_follow_up(turn.text)
        if chasing:
            from actions.tickets import chase_open_case  # (actions.tickets imports this module)

            if chase_open_case(turn):
                return
        source = read_turn(turn.tracker, offered) if offered else turn
        message = offered or turn.tracker.latest_message or {}
        intent = _report_intent(source, message)
        # Chasing a case we have no record of (reported by phone, from another account) without saying
        # what it is: taken down anew; "前天反映的问题怎么还没人管" is not a description ("物业怎么还没来修电梯" is).
        unknown_case = chasing and source.category == "other"
        turn.say(_start_text(intent, source.category, unknown_case, turn.lang))
        described = is_substantive(source.text) and not unknown_case
        turn.events += [
            SlotSet("report_intent", intent),
            SlotSet("report_category", source.category),
            SlotSet("report_urgency", ",".join(source.urgency) or None),
            SlotSet("report_message_id", message.get("message_id")),
            SlotSet("report_description", _clip(source.text) if described else None),
            SlotSet("report_location", extract_location(source.text)),
            SlotSet("report_phone", extract_phone(source.text)),
            SlotSet("report_confirmed", None),
        ]
        if offered:  # no rule leads from "好的" to the form
            turn.events += [SlotSet("report_offered", None), FollowupAction("report_form")]


def _start_text(intent: str, category: str, unknown_case: bool, lang: str) -> str:
    if unknown_case:
        return render("report.start_unknown_case", lang)
    key = "report.start_service_request" if intent == "service_request" else "report.start_complaint"
    # "我要投诉" says nothing of the subject yet: no "其他投诉"; the description will tell.
    key += "_general" if category == "other" else ""
    return render(key, lang, category_name=category_name(category, lang))


def _report_intent(source: Turn, message: Dict[str, Any]) -> str:
    """complaint or service_request: the message's own, else the likelier of the two for it."""
    if source.intent in ("complaint", "service_request"):
        return source.intent
    ranking = (message.get("parse_data") or message).get("intent_ranking") or []
    scores = {r.get("name"): r.get("confidence") or 0.0 for r in ranking}
    return "service_request" if scores.get("service_request", 0) > scores.get("complaint", 0) else "complaint"


def _summary(tracker: Tracker, lang: str, slots: Dict[str, Any]) -> str:
    def value(name: str) -> Any:
        return slots.get(name, tracker.get_slot(name))

    phone = value("report_phone")
    shown_phone = render("report.no_phone", lang) if phone in (None, NO_PHONE) else phone
    return render("report.confirm", lang, description=_preview(value("report_description") or ""),
                  location=value("report_location") or "", phone=shown_phone)


class _Ask(ResidentAction):
    slot = ""
    text_key = ""

    def name(self) -> str:
        return f"action_ask_{self.slot}"

    async def respond(self, turn: Turn) -> None:
        turn.say(render(self.text_key, turn.lang))


class ActionAskReportDescription(_Ask):
    slot, text_key = "report_description", "report.ask_description"


class ActionAskReportLocation(_Ask):
    slot, text_key = "report_location", "report.ask_location"


class ActionAskReportPhone(_Ask):
    slot, text_key = "report_phone", "report.ask_phone"

    async def respond(self, turn: Turn) -> None:
        # "Would you leave a number?" is a yes/no question: a bare "yes" asks for the number itself.
        said_yes = _is_bare_yes(turn) and turn.tracker.get_slot("requested_slot") == self.slot
        turn.say(render("report.phone_please" if said_yes else self.text_key, turn.lang))


def _is_bare_yes(turn: Turn) -> bool:
    return (is_confirm(turn.text) or turn.intent == "affirm") and not extract_phone(turn.text)


class ActionAskReportConfirmed(ResidentAction):
    def name(self) -> str:
        return "action_ask_report_confirmed"

    async def respond(self, turn: Turn) -> None:
        turn.say(_summary(turn.tracker, turn.lang, {}))


_SMALL_TALK = ("greet", "thank", "goodbye", "help", "bot_challenge")


def _not_an_answer(turn: Turn) -> bool:
    """"请问物业费多少钱一平" or "谢谢" to "where exactly?": not the answer (they were stored as the place).
    Left unfilled, the form is rejected, Rasa's rules answer the message (action_consultation,
    action_thank …) and the form asks again."""
    if extract_location(turn.text) or extract_phone(turn.text):
        return False
    if turn.intent == "consultation":
        return asks(turn.text)
    return turn.intent in _SMALL_TALK and not is_substantive(turn.text)


def _subject_from_description(tracker: Tracker, turn: Turn, events: List[Dict[Text, Any]]) -> List[Dict[Text, Any]]:
    """A report begun with "我要投诉" learns what it is about, and any danger, from the description.
    (Set here, not by extract_report_description: rasa_sdk keeps only the form's own slots from those.)"""
    described = any(e.get("event") == "slot" and e.get("name") == "report_description" and e.get("value")
                    not in (None, "-") for e in events)
    if not described or tracker.get_slot("requested_slot") != "report_description":
        return []
    found = []
    if tracker.get_slot("report_category") in (None, "other") and turn.category != "other":
        found.append(SlotSet("report_category", turn.category))
    if turn.urgency and not tracker.get_slot("report_urgency"):
        found.append(SlotSet("report_urgency", ",".join(turn.urgency)))
    return found


class ValidateReportForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_report_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain) -> List[Dict[Text, Any]]:
        turn = read_turn(tracker)
        emergency_prefix(turn)
        if turn.intent == "request_human" and tracker.get_slot("requested_slot"):
            # The resident wants a person: close the form without a ticket; the submit action hands off.
            turn.events += [SlotSet(s, tracker.get_slot(s) or "-") for s in FORM_SLOTS[:-1]]
            turn.events += [SlotSet("report_confirmed", "handoff"), SlotSet("requested_slot", None)]
            return deliver(turn, dispatcher)
        prefix = deliver(turn, dispatcher)
        events = prefix + await super().run(dispatcher, tracker, domain)
        return events + _subject_from_description(tracker, turn, events)

    def _asked(self, tracker: Tracker, slot: str) -> bool:
        return tracker.get_slot("requested_slot") == slot

    async def extract_report_description(self, dispatcher, tracker, domain) -> Dict[Text, Any]:
        if not self._asked(tracker, "report_description"):
            return {}
        turn = read_turn(tracker)
        if is_cancel(turn.text):
            return self._cancel()
        if _not_an_answer(turn) or (turn.intent in ("affirm", "deny") and not is_substantive(turn.text)):
            return {}  # "好的" does not say what happened: the form asks again
        if len(turn.text.strip()) < 2:
            dispatcher.utter_message(text=render("report.too_short", turn.lang))
            return {}
        slots = {"report_description": _clip(turn.text)}
        # As for a first message: the place or number it already gives is not asked for again.
        place, phone = extract_location(turn.text), extract_phone(turn.text)
        if place and not tracker.get_slot("report_location"):
            slots["report_location"] = place
        if phone and not tracker.get_slot("report_phone"):
            slots["report_phone"] = phone
        return slots

    async def extract_report_location(self, dispatcher, tracker, domain) -> Dict[Text, Any]:
        if not self._asked(tracker, "report_location"):
            return {}
        turn = read_turn(tracker)
        if is_cancel(turn.text):
            return self._cancel()
        if _not_an_answer(turn) or (turn.intent == "affirm" and not extract_location(turn.text)):
            return {}  # "好的" is not a place either: the form asks again
        location = location_answer(turn.text) or _clip(turn.text)
        if len(location.strip()) < 2:
            dispatcher.utter_message(text=render("report.too_short", turn.lang))
            return {}
        return {"report_location": location}

    async def extract_report_phone(self, dispatcher, tracker, domain) -> Dict[Text, Any]:
        if not self._asked(tracker, "report_phone"):
            return {}
        turn = read_turn(tracker)
        phone = extract_phone(turn.text)
        if phone:
            return {"report_phone": phone}
        if is_cancel(turn.text) and not is_decline(turn.text):
            return self._cancel()
        if is_decline(turn.text) or turn.intent == "deny":
            return {"report_phone": NO_PHONE}
        if _not_an_answer(turn):
            return {}
        # "Sunshine Garden building 5" to the phone question: the resident is still saying where. An
        # address-like answer (extract_location finds one) is taken whole as the place; the form then
        # asks for the number again.
        addressed = extract_location(turn.text) and not _DIGITS.search(turn.text)
        place = location_answer(turn.text) if addressed else None
        if place and place not in (tracker.get_slot("report_location") or ""):
            dispatcher.utter_message(text=render("report.location_noted", turn.lang, location=place))
            return {"report_location": _clip(place)}
        if not _is_bare_yes(turn):  # a yes gets its own prompt (ActionAskReportPhone)
            dispatcher.utter_message(text=render("report.bad_phone", turn.lang))
        return {}

    async def extract_report_confirmed(self, dispatcher, tracker, domain) -> Dict[Text, Any]:
        if not self._asked(tracker, "report_confirmed"):
            return {}
        turn = read_turn(tracker)
        correction = parse_correction(turn.text)
        if correction:
            field, value = correction
            if field == "phone":
                value = extract_phone(value) or (NO_PHONE if is_decline(value) else None)
                if value is None:
                    dispatcher.utter_message(text=render("report.bad_phone", turn.lang))
                    return {}
            slot = f"report_{field}"
            # Leaving report_confirmed empty makes the form show the corrected summary again.
            return {slot: _clip(value)}
        if is_cancel(turn.text):
            return self._cancel()
        if is_confirm(turn.text) or turn.intent == "affirm":
            return {"report_confirmed": "yes"}
        if _not_an_answer(turn):
            return {}
        dispatcher.utter_message(text=render("report.confirm_hint", turn.lang))
        return {}

    @staticmethod
    def _cancel() -> Dict[Text, Any]:
        return {slot: "-" for slot in FORM_SLOTS[:-1]} | {"report_confirmed": "cancelled"}
