"""Complaints, service requests, consultations, ticket status and handoff to staff."""
from __future__ import annotations

from actions.base import ResidentAction, Turn
from bot.texts import category_name, render


class ActionConsultation(ResidentAction):
    def name(self) -> str:
        return "action_consultation"

    async def respond(self, turn: Turn) -> None:
        turn.say(render("consult.ack", turn.lang, category_name=category_name(turn.category, turn.lang)))


class ActionRequestHuman(ResidentAction):
    def name(self) -> str:
        return "action_request_human"

    async def respond(self, turn: Turn) -> None:
        turn.say(render("human.handoff", turn.lang))
