"""Case handling (工单): intake, routing, time limits, escalation, lifecycle, rating, retention.

Entry point for the bot and the staff console::

    from bot.tickets import TicketService
    svc = TicketService.from_env()          # DATABASE_URL + CITY
    result = svc.open_ticket(channel="telegram", sender_id="42", intent="complaint",
                             category="noise", description="楼上半夜跺脚", idempotency_key=msg_id)

No Rasa imports here: the actions are thin adapters over this package.
"""
from .errors import (IllegalTransition, InvalidPhone, InvalidRating, RoutingConfigError, TicketError,
                     TicketNotFound)
from .numbering import parse_ticket_number
from .service import EventView, OpenResult, RateResult, TicketService, TicketView

__all__ = [
    "TicketService", "OpenResult", "TicketView", "RateResult", "EventView", "parse_ticket_number",
    "TicketError", "TicketNotFound", "IllegalTransition", "InvalidRating", "InvalidPhone", "RoutingConfigError",
]
