"""Complaints, service requests, consultations, ticket status and handoff to staff."""
from __future__ import annotations

import os

from rasa_sdk.events import SlotSet

from actions.base import ResidentAction, Turn
from bot.asking import statement_part
from bot.intake import is_substantive
from bot.language import ENGLISH
from bot.policy.answer import answer_question
from bot.texts import render


# Categories whose cases a unit takes on; a question about the community itself (community_affairs)
# or about nothing in particular is better passed to staff.
_CASE_CATEGORIES_EXCLUDED = ("other", "community_affairs")


def _tells_a_problem(turn: Turn) -> bool:
    """Besides asking, does the message tell of a problem someone could deal with?"""
    return turn.category not in _CASE_CATEGORIES_EXCLUDED and is_substantive(statement_part(turn.text))


def policy_city() -> str:
    """The city whose regulations answer questions that name none (POLICY_CITY)."""
    return os.environ.get("POLICY_CITY", "通化")


class ActionConsultation(ResidentAction):
    """Answers from the deployment's practical information or the regulations, quoting the article;
    says plainly when it does not know, and offers staff."""

    def name(self) -> str:
        return "action_consultation"

    async def respond(self, turn: Turn) -> None:
        if not turn.text.strip():
            turn.say(render("fallback", turn.lang))
            return
        answer = answer_question(turn.text, turn.lang, default_city=policy_city())
        if turn.urgency and not answer.found:
            # "楼道里有很大的煤气味" read as a question: the emergency notice is the answer and staff are
            # already alerted, so "the regulations don't say" and an offer of staff would only confuse.
            return
        if not answer.found and _tells_a_problem(turn):
            # "楼上装修太吵了，请问装修时间有规定吗？": no rule to quote, but a problem to deal with. "好的"
            # files it as a report (action_affirm_idle → action_start_report).
            space = " " if turn.lang == ENGLISH else ""
            turn.say(answer.apology + space + render("consult.offer_report", turn.lang))
            message_id = (turn.tracker.latest_message or {}).get("message_id")
            turn.events += [SlotSet("report_offered", message_id), SlotSet("handoff_offered", None)]
            return
        turn.events.append(SlotSet("report_offered", None))
        turn.say(answer.text)
        if answer.followups:
            turn.say(render("consult.followups", turn.lang) + "\n" + "\n".join(f"· {f}" for f in answer.followups))
        # A "yes" to the offer of staff hands the question over (action_affirm_idle).
        turn.events.append(SlotSet("handoff_offered", turn.text[:500] if answer.offer_handoff else None))
