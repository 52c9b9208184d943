"""Small-talk and navigation actions: greeting, help, thanks, goodbye, fallback."""
from __future__ import annotations

from rasa_sdk.events import FollowupAction, SlotSet

from actions.base import ResidentAction, Turn, offered_message
from actions.cases import ActionConsultation
from actions.handoff import hand_over
from bot.intake import is_confirm, is_substantive
from bot.texts import render

LONG_MESSAGE = 80  # characters: a message this long that the bot cannot place goes to staff at once


def in_form(turn: Turn) -> bool:
    return bool((turn.tracker.active_loop or {}).get("name"))


class _TextAction(ResidentAction):
    """An action that answers with fixed texts from the catalogue."""

    action_name = ""
    text_keys: tuple = ()
    # Replies to a yes, a no or a bare detail said outside any task. In the report form the form
    # reads the same message next and answers in its own words; "有需要随时找我" or "我没太明白"
    # before that read as if the report had been dropped.
    silent_in_form = False

    def name(self) -> str:
        return self.action_name

    async def respond(self, turn: Turn) -> None:
        if self.silent_in_form and in_form(turn):
            return
        for key in self.text_keys:
            turn.say(render(key, turn.lang))


class ActionGreet(_TextAction):
    action_name, text_keys = "action_greet", ("greet", "help")


class ActionHelp(_TextAction):
    action_name, text_keys = "action_help", ("help",)


class ActionGoodbye(_TextAction):
    action_name, text_keys = "action_goodbye", ("goodbye",)


class ActionThank(_TextAction):
    action_name, text_keys = "action_thank", ("thank",)


class ActionBotChallenge(_TextAction):
    action_name, text_keys = "action_bot_challenge", ("bot_challenge",)


class ActionOutOfScope(_TextAction):
    action_name, text_keys = "action_out_of_scope", ("out_of_scope", "help")


SURE_YES = 0.6  # intent confidence of a yes that hands a conversation to staff without a yes-word


def _surely_yes(turn: Turn) -> bool:
    confidence = ((turn.tracker.latest_message or {}).get("intent") or {}).get("confidence") or 0.0
    return is_confirm(turn.text) or confidence >= SURE_YES


class ActionAffirmIdle(ResidentAction):
    """"Yes" after the bot offered to file an unanswered question as a report files it; after it
    offered staff, hands the conversation over."""

    def name(self) -> str:
        return "action_affirm_idle"

    async def respond(self, turn: Turn) -> None:
        if offered_message(turn.tracker) is not None and _surely_yes(turn):
            # The bot offered to file an unanswered question that told a problem: file it.
            turn.events.append(FollowupAction("action_start_report"))
        elif turn.tracker.get_slot("handoff_offered") and not _surely_yes(turn):
            # "那社区工作者呢" after the offer, read as a hesitant yes: a new question, not a yes.
            await ActionConsultation().respond(turn)
        elif turn.tracker.get_slot("handoff_offered"):
            turn.events.append(SlotSet("handoff_offered", None))
            hand_over(turn, "policy_unanswered")
        # In a form ("方便留个手机号吗？" "好的") the form runs next and asks in its own words.
        elif not in_form(turn):
            turn.say(render("affirm_idle", turn.lang))


class ActionDenyIdle(_TextAction):
    action_name, text_keys = "action_deny_idle", ("deny_idle",)
    silent_in_form = True

    async def respond(self, turn: Turn) -> None:
        await super().respond(turn)
        turn.events += [SlotSet("handoff_offered", None), SlotSet("report_offered", None)]


class ActionInformIdle(_TextAction):
    """A bare address or phone number with no report under way: the resident is starting one."""
    action_name, text_keys = "action_inform_idle", ("inform_idle",)
    silent_in_form = True


def _user_intents(turn: Turn, count: int) -> list:
    intents = [e.get("parse_data", {}).get("intent", {}).get("name")
               for e in turn.tracker.events if e.get("event") == "user"]
    return intents[-count:]


class ActionFallback(ResidentAction):
    def name(self) -> str:
        return "action_fallback"

    async def respond(self, turn: Turn) -> None:
        if not turn.text.strip():
            turn.say(render("empty_message", turn.lang))
        elif turn.urgency:
            # The emergency notice already went out; the classifier's doubt changes nothing.
            return
        elif in_form(turn):
            # The form reads the answer next and says what it still needs (as _TextAction.silent_in_form).
            return
        elif _user_intents(turn, 2) == ["nlu_fallback", "nlu_fallback"]:
            # Not understood twice in a row: a person takes over.
            turn.say(render("fallback_twice", turn.lang))
            hand_over(turn, "not_understood")
        elif len(turn.text.strip()) >= LONG_MESSAGE and is_substantive(turn.text):
            # Someone who wrote a whole letter is not asked to say it again in other words.
            turn.say(render("fallback_long", turn.lang))
            hand_over(turn, "not_understood")
        else:
            turn.say(render("fallback", turn.lang))
