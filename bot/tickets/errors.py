"""Errors raised by the ticket services (plain exceptions, no Rasa types)."""
from __future__ import annotations

from typing import Optional


class TicketError(Exception):
    """Base class for every ticket error."""


class TicketNotFound(TicketError, LookupError):
    """No such ticket *for this caller*: a ticket that exists but belongs to someone else raises the
    same error with the same message, so a stranger learns nothing about it."""

    def __init__(self, number: Optional[str] = None):
        super().__init__("ticket not found")
        self.number = number


class IllegalTransition(TicketError):
    def __init__(self, state: str, action: str, reason: str = "not allowed from this state"):
        super().__init__(f"cannot {action!r} a ticket in state {state!r}: {reason}")
        self.state = state
        self.action = action


class InvalidRating(TicketError, ValueError):
    pass


class InvalidPhone(TicketError, ValueError):
    pass


class RoutingConfigError(TicketError, ValueError):
    """The city's routing YAML is inconsistent; the message names the file and the entry."""
