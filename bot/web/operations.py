"""The console's operations on cases and handoffs, shared by the HTML pages and the JSON API.

Each one checks the person's scope first (out of scope → NotFound, exactly like a number that does not
exist), then lets the ticket service check the lifecycle (IllegalTransition → Conflict). The staff
member's username is the actor of every audit event.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional

from bot import handoff as handoffs
from bot.db import Database
from bot.staff import Staff
from bot.tickets import lifecycle
from bot.tickets.errors import IllegalTransition, TicketError, TicketNotFound
from bot.tickets.routing import RoutingTable
from bot.tickets.service import TicketService

from . import cases
from .rasa import RasaClient, RasaUnavailable
from .scope import Scope

TICKET_ACTIONS = ("sign", "return", "reassign", "resolve", "close", "note", "merge")
ACTION_ALIASES = {"assign": "reassign", "transfer": "reassign", "return_to_dispatcher": "return",
                  "mark_duplicate": "merge"}
HANDOFF_ACTIONS = ("reply", "return_to_bot", "close")
MAX_TEXT = 4000


class NotFound(LookupError):
    pass


class Invalid(ValueError):
    pass


class Conflict(Exception):
    pass


class Unavailable(Exception):
    pass


@dataclass
class Ctx:
    user: Staff
    scope: Scope
    routing: RoutingTable
    db: Database
    rasa: Optional[RasaClient] = None

    @property
    def actor(self) -> str:
        return self.user.username

    def service(self) -> TicketService:
        return TicketService(self.db, self.routing)


def _text(data: Mapping[str, Any], key: str, required: bool = False, what: str = "") -> str:
    value = data.get(key)
    value = value.strip() if isinstance(value, str) else ""
    if required and not value:
        raise Invalid(what or f"{key} is required")
    return value[:MAX_TEXT]


def ticket_action(ctx: Ctx, number: str, action: str, data: Mapping[str, Any]) -> str:
    """Apply ``action`` to the case; returns a short confirmation for the person."""
    action = ACTION_ALIASES.get(action, action)
    if action not in TICKET_ACTIONS:
        raise Invalid(f"unknown action {action!r}; one of {', '.join(TICKET_ACTIONS)}")
    try:
        t = cases.load_ticket(ctx.db, ctx.scope, number)
    except TicketNotFound:
        raise NotFound(number) from None
    number, svc, actor = t.number, ctx.service(), ctx.actor
    note = _text(data, "note")
    try:
        if action == "sign":
            svc.sign(number, actor, note or None)
            return f"{number} 已签收"
        if action == "return":
            svc.return_to_dispatcher(number, actor, _text(data, "reason", True, "请说明退回原因") or note)
            return f"{number} 已退回派单员"
        if action == "reassign":
            if not ctx.scope.can_dispatch():
                raise Invalid("只有派单员（{}）和管理员可以派单或转派".format(
                    ctx.routing.units[ctx.routing.dispatcher].name_zh))
            unit_id = _text(data, "unit", True, "请选择承办单位")
            unit = ctx.routing.unit(unit_id)
            if unit is None:
                raise Invalid(f"unknown unit {unit_id!r}")
            if t.state != lifecycle.RETURNED:
                if not lifecycle.can(t.state, "return"):
                    raise IllegalTransition(t.state, "reassign")
                # Transfer of a case a unit holds: back to the dispatcher, then out again (both audited).
                svc.return_to_dispatcher(number, actor, f"转派至 {unit.id}" + (f"：{note}" if note else ""))
            svc.reassign(number, unit.id, actor, note or None)
            return f"{number} 已派至 {unit.name_zh}"
        if action == "resolve":
            svc.resolve(number, actor, _text(data, "resolution", True, "请填写给居民的答复"))
            return f"{number} 已办结，答复已发送给居民"
        if action == "close":
            svc.close(number, actor, note or None)
            return f"{number} 已关闭"
        if action == "note":
            cases.add_note(ctx.db, ctx.scope, number, actor, _text(data, "note", True, "备注不能为空"))
            return "备注已记录"
        if action == "merge":
            other = _text(data, "of", True, "请填写原工单号")
            try:
                original = cases.load_ticket(ctx.db, ctx.scope, other)
            except TicketNotFound:
                raise Invalid("原工单不存在") from None
            svc.mark_duplicate(number, original.number, actor)
            return f"{number} 已并入 {original.number}"
    except IllegalTransition as exc:
        raise Conflict(f"当前状态（{cases.STATE_NAMES.get(exc.state, exc.state)}）不能执行此操作") from exc
    except TicketNotFound:
        raise NotFound(number) from None
    except TicketError as exc:
        raise Invalid(str(exc)) from exc
    except ValueError as exc:
        if isinstance(exc, Invalid):
            raise
        raise Invalid(str(exc)) from exc
    raise Invalid(action)  # pragma: no cover


def handoff_action(ctx: Ctx, handoff_id, action: str, data: Mapping[str, Any]) -> str:
    if action not in HANDOFF_ACTIONS:
        raise Invalid(f"unknown action {action!r}; one of {', '.join(HANDOFF_ACTIONS)}")
    try:
        h = cases.load_handoff(ctx.db, ctx.scope, handoff_id)
    except LookupError:
        raise NotFound(handoff_id) from None
    if h.state not in handoffs.OPEN_STATES:
        raise Conflict("此对话已结束")
    if action == "reply":
        text = _text(data, "text", True, "回复不能为空")
        handoffs.reply(h.id, ctx.actor, text, db=ctx.db)
        return "回复已排队发送"
    # Hand back or close: the bot answers this resident again (Rasa resume) first, so that a Rasa
    # server that cannot be reached leaves the handoff open instead of a silent conversation.
    if ctx.rasa is None:
        raise Unavailable("the Rasa server is not configured")
    try:
        ctx.rasa.resume(h.sender_id)
    except RasaUnavailable as exc:
        raise Unavailable(f"无法连接机器人服务，请稍后再试（{exc}）") from exc
    state = "returned_to_bot" if action == "return_to_bot" else "closed"
    try:
        handoffs.finish(h.id, ctx.actor, state, db=ctx.db)
    except ValueError as exc:
        raise Conflict("此对话已结束") from exc
    return "已交回机器人" if state == "returned_to_bot" else "对话已关闭"
