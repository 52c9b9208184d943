"""Filing the confirmed report as a ticket, and answering 'how is my ticket doing?'."""
from __future__ import annotations

import datetime as dt
import logging
import uuid
from functools import lru_cache

from rasa_sdk.events import FollowupAction, SlotSet

from actions.base import ResidentAction, Turn, channel_of
from actions.handoff import hand_over
from actions.report_form import FORM_SLOTS, NO_PHONE
from bot.db import is_unavailable
from bot.spool import Spool, spool_directory
from bot.language import ENGLISH, TRADITIONAL, to_traditional
from bot.texts import render
from bot.tickets.errors import TicketNotFound
from bot.tickets.lifecycle import OPEN
from bot.tickets.numbering import parse_ticket_number
from bot.tickets.service import TicketService

logger = logging.getLogger(__name__)
REPORT_SLOTS = FORM_SLOTS + ("report_intent", "report_category", "report_urgency", "report_message_id")


@lru_cache(maxsize=1)
def ticket_service() -> TicketService:
    return TicketService.from_env()


@lru_cache(maxsize=1)
def filing_spool() -> Spool:
    """Reports confirmed while the ticket database was down (filed by the action server's replay loop)."""
    return Spool(spool_directory("filings"))


def chase_open_case(turn: Turn) -> bool:
    """A chase (bot.intake.is_follow_up: "我前天反映的问题怎么还没人管", the caller has found it) from a
    resident with an open case about it (the same category, or any when the message names none): that
    case is chased (bot.tickets urge: recorded for the unit and staff) and its status shown, instead of
    a new report. False when there is no such case."""
    service, channel = ticket_service(), channel_of(turn.tracker)
    lang = "en" if turn.lang == ENGLISH else "zh"
    try:
        cases = [v for v in service.list_tickets_for(channel, turn.sender_id, open_only=True, limit=10, language=lang)
                 if v.state in OPEN and turn.category in ("other", v.category)]
        if not cases:
            return False
        service.urge(cases[0].number, channel=channel, sender_id=turn.sender_id, note=turn.text)
        view = service.ticket_status(cases[0].number, channel, turn.sender_id, language=lang)
    except Exception as error:  # the database: file a new report rather than lose the message
        logger.error("chasing a case failed: %s", type(error).__name__, exc_info=not is_unavailable(error))
        return False
    turn.say(render("status.chased", turn.lang, status=_service_text(view.message, turn.lang)))
    turn.events.append(FollowupAction("action_listen"))  # no report form after it
    return True


def _when(moment: dt.datetime, lang: str) -> str:
    if moment is None:
        return "-"
    return moment.strftime("%d %b %H:%M") if lang == ENGLISH else f"{moment.month}月{moment.day}日 {moment:%H:%M}"


def _service_text(text: str, lang: str) -> str:
    """The ticket service writes zh or en; Traditional is converted like every other reply."""
    return to_traditional(text) if lang == TRADITIONAL else text


class ActionSubmitReport(ResidentAction):
    def name(self) -> str:
        return "action_submit_report"

    async def respond(self, turn: Turn) -> None:
        slot = turn.tracker.get_slot
        decision = slot("report_confirmed")
        turn.events += [SlotSet(name, None) for name in REPORT_SLOTS]
        if decision == "cancelled":
            turn.say(render("report.cancelled", turn.lang))
            return
        if decision == "handoff":
            hand_over(turn, "asked")
            return
        phone = slot("report_phone")
        request = dict(
            channel=channel_of(turn.tracker), sender_id=turn.sender_id,
            intent=slot("report_intent") or "complaint", category=slot("report_category") or "other",
            description=slot("report_description") or turn.text, location=slot("report_location"),
            phone=None if phone in (None, NO_PHONE) else phone, language=turn.lang,
            urgency="urgent" if slot("report_urgency") else "normal",
            # The key makes a retried or replayed filing answer with the case it made, never a second.
            idempotency_key=slot("report_message_id") or f"report-{uuid.uuid4().hex}",
        )
        try:
            result = ticket_service().open_ticket(**request)
        except Exception as error:  # the resident must hear what happened, never silence
            if is_unavailable(error):
                # Keep the confirmed report; the action server files it when the database is back.
                logger.error("ticket database unavailable (%s); report kept in the spool", type(error).__name__)
                filing_spool().put(request)
                turn.say(render("report.queued", turn.lang))
            else:
                logger.exception("filing a ticket failed")
                turn.say(render("report.failed", turn.lang))
            return
        unit = result.unit_name_en if turn.lang == ENGLISH else result.unit_name_zh
        if result.linked:
            turn.say(render("report.linked", turn.lang, number=result.number, unit=unit))
        elif result.urgent:
            turn.say(render("report.created_urgent", turn.lang, number=result.number, unit=unit))
        else:
            turn.say(render("report.created", turn.lang, number=result.number, unit=unit,
                            due=_when(result.due_at, turn.lang)))


class ActionCheckTicketStatus(ResidentAction):
    def name(self) -> str:
        return "action_check_ticket_status"

    async def respond(self, turn: Turn) -> None:
        service = ticket_service()
        channel = channel_of(turn.tracker)
        number = parse_ticket_number(turn.text)
        lang = "en" if turn.lang == ENGLISH else "zh"
        try:
            if number:
                try:
                    view = service.ticket_status(number, channel, turn.sender_id, language=lang)
                except TicketNotFound:
                    # The same answer whether the number does not exist or belongs to someone else.
                    turn.say(render("status.not_found", turn.lang, number=number))
                    return
                turn.say(_service_text(view.message, turn.lang))
                return
            views = service.list_tickets_for(channel, turn.sender_id, limit=3, language=lang)
        except Exception as error:
            logger.error("ticket status lookup failed: %s", type(error).__name__, exc_info=not is_unavailable(error))
            turn.say(render("status.unavailable", turn.lang))
            return
        if not views:
            turn.say(render("status.none", turn.lang))
            return
        for view in views:
            turn.say(_service_text(view.message, turn.lang))
