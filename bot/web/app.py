"""The web app: the resident chat page at `/`, the staff console under `/console/`, the JSON API under
`/api/`, health at `/healthz`. Starlette + Jinja2 (autoescaped everywhere) on uvicorn.

Handlers are plain functions run in Starlette's thread pool (the database layer and the Rasa client
are synchronous); a thin async wrapper reads the request body, checks the session and the CSRF token,
and maps the operations' errors to pages or JSON.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Callable, Dict, Optional
from urllib.parse import quote, urlencode, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from bot import staff as accounts
from bot.db import Database, get_database
from bot.privacy import mask_text
from bot.tickets import lifecycle
from bot.tickets.routing import CATEGORIES, load_routing

from . import cases, stats
from .auth import (CSRF_FIELD, CSRF_HEADER, bearer_user, client_ip, csrf_ok, csrf_token, log_in, log_out,
                   safe_next, session_user)
from .config import WebSettings
from .operations import Conflict, Ctx, Invalid, NotFound, Unavailable, handoff_action, ticket_action
from .rasa import RasaClient, RasaUnavailable
from .relay import SocketRelay
from .scope import scope_for

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
VENDOR = STATIC / "vendor"
PAGE_SIZE = 50
MAX_FORM_BYTES = 256_000


# ------------------------------------------------------------------------------------ middleware
class SecurityHeaders:
    """Content-Security-Policy and friends on every response. The console runs no inline script and
    loads nothing from elsewhere; the chat widget injects its own <style> elements."""

    def __init__(self, app, settings: WebSettings):
        self.app = app
        extra = ""
        if settings.webchat_socket_url:
            parts = urlsplit(settings.webchat_socket_url)
            ws_scheme = "wss" if parts.scheme == "https" else "ws"
            extra = f" {parts.scheme}://{parts.netloc} {ws_scheme}://{parts.netloc}"
        self.extra_connect = extra

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
        if path.startswith("/console") or path.startswith("/api"):
            csp = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                   "connect-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
                   "form-action 'self'; object-src 'none'")
        else:
            csp = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                   "img-src 'self' data: blob:; font-src 'self' data:; "
                   f"connect-src 'self' ws://{host} wss://{host}{self.extra_connect}; "
                   "frame-ancestors 'self'; base-uri 'none'; object-src 'none'")

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                names = {k.lower() for k, _ in headers}
                for key, value in ((b"content-security-policy", csp.encode()),
                                   (b"x-content-type-options", b"nosniff"),
                                   (b"referrer-policy", b"same-origin"),
                                   (b"x-frame-options", b"DENY" if path.startswith(("/console", "/api")) else b"SAMEORIGIN")):
                    if key not in names:
                        headers.append((key, value))
                if path.startswith(("/console", "/api")):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class LimitBody:
    """Refuse request bodies above a size (the relay and the forms have their own, smaller limits)."""

    def __init__(self, app, max_bytes: int = 2_000_000):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            return await Response("request too large", status_code=413)(scope, receive, send)
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise ValueError("request body too large")
            return message

        await self.app(scope, limited, send)


# ------------------------------------------------------------------------------------ helpers
def _when(value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.astimezone(cases.SHANGHAI).strftime(fmt)
    return str(value)


def jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


class WebApp:
    """The app's state and handlers (one instance per Starlette app)."""

    def __init__(self, settings: WebSettings, db: Database, rasa: RasaClient):
        self.settings = settings
        self.db = db
        self.rasa = rasa
        env = Environment(loader=FileSystemLoader(str(TEMPLATES)),
                          autoescape=select_autoescape(enabled_extensions=("html", "xml"), default=True))
        env.filters["when"] = _when
        env.globals.update(CATEGORY_NAMES=cases.CATEGORY_NAMES, STATE_NAMES=cases.STATE_NAMES,
                           STATUS_NAMES=cases.STATUS_NAMES, CSRF_FIELD=CSRF_FIELD)
        self.templates = Jinja2Templates(env=env)
        self.relay = SocketRelay(settings.rasa_url)

    def routing(self):
        return load_routing(self.settings.city, self.settings.routing_dir)

    # --- rendering ------------------------------------------------------------------------------
    def render(self, request: Request, name: str, context: Dict[str, Any], status: int = 200,
               user: Optional[accounts.Staff] = None, flashes: bool = True) -> Response:
        flashes = request.session.pop("flash", []) if flashes else []
        base = {"user": user, "csrf": csrf_token(request), "flashes": flashes, "path": request.url.path}
        return self.templates.TemplateResponse(request, name, {**base, **context}, status_code=status)

    def flash(self, request: Request, text_: str, kind: str = "ok") -> None:
        request.session["flash"] = list(request.session.get("flash", []))[-4:] + [[kind, text_]]

    def not_found(self, request: Request, user=None) -> Response:
        return self.render(request, "error.html", {"title": "未找到", "message": "没有这个页面，或您无权查看。"},
                           status=404, user=user)

    # --- wrappers -------------------------------------------------------------------------------
    def page(self, handler: Callable, admin: bool = False):
        async def endpoint(request: Request) -> Response:
            form = None
            if request.method == "POST":
                try:
                    form = await request.form(max_files=0, max_fields=50)
                except Exception:  # noqa: BLE001 - malformed or oversized body
                    return Response("bad request", status_code=400)
            return await run_in_threadpool(self._run_page, request, form, handler, admin)

        return endpoint

    def _run_page(self, request: Request, form, handler: Callable, admin: bool) -> Response:
        user = session_user(request, self.db)
        if user is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            if request.method != "GET":
                target = "/console/"
            return RedirectResponse(f"/console/login?{urlencode({'next': target})}", status_code=303)
        if form is not None and not csrf_ok(request, form.get(CSRF_FIELD)):
            return self.render(request, "error.html", {"title": "表单已过期",
                                                       "message": "安全校验失败（CSRF），请返回刷新页面后重试。"},
                               status=403, user=user)
        if admin and not user.is_admin:
            return self.not_found(request, user)
        routing = self.routing()
        ctx = Ctx(user, scope_for(user, routing), routing, self.db, self.rasa)
        try:
            return handler(request, ctx, form)
        except NotFound:
            return self.not_found(request, user)

    def api(self, handler: Callable):
        async def endpoint(request: Request) -> Response:
            body = None
            if request.method in ("POST", "PATCH", "PUT"):
                try:
                    raw = await request.body()
                    body = json.loads(raw or b"{}")
                except (ValueError, UnicodeDecodeError):
                    return JSONResponse({"error": "the body must be JSON"}, status_code=400)
                if not isinstance(body, dict):
                    return JSONResponse({"error": "the body must be a JSON object"}, status_code=400)
            return await run_in_threadpool(self._run_api, request, body, handler)

        return endpoint

    def _run_api(self, request: Request, body, handler: Callable) -> Response:
        user = bearer_user(request, self.db)
        if user is None and request.headers.get("authorization"):
            return JSONResponse({"error": "invalid API token"}, status_code=401)
        if user is None:
            user = session_user(request, self.db)
            if user is None:
                return JSONResponse({"error": "log in or send an API token"}, status_code=401)
            if body is not None and not csrf_ok(request, request.headers.get(CSRF_HEADER)):
                return JSONResponse({"error": "missing or wrong X-CSRF-Token header"}, status_code=403)
        routing = self.routing()
        ctx = Ctx(user, scope_for(user, routing), routing, self.db, self.rasa)
        try:
            result = handler(request, ctx, body or {})
        except NotFound:
            return JSONResponse({"error": "not found"}, status_code=404)
        except Invalid as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        except Conflict as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        except Unavailable as exc:
            return JSONResponse({"error": str(exc)}, status_code=503)
        if isinstance(result, Response):
            return result
        return JSONResponse(jsonable(result))

    # --- public pages ---------------------------------------------------------------------------
    async def chat(self, request: Request) -> Response:
        return self.templates.TemplateResponse(request, "chat.html", {
            "socket_url": self.settings.webchat_socket_url,
            "installed": (VENDOR / "rasa-webchat.js").exists(),
        })

    async def healthz(self, request: Request) -> Response:
        def check():
            with self.db.session(read_only=True) as s:
                s.execute(text("SELECT 1"))
        try:
            await run_in_threadpool(check)
        except Exception as exc:  # noqa: BLE001
            return JSONResponse({"status": "error", "database": type(exc).__name__}, status_code=503)
        return JSONResponse({"status": "ok", "webchat": (VENDOR / "rasa-webchat.js").exists()})

    # --- login ----------------------------------------------------------------------------------
    async def login(self, request: Request) -> Response:
        if request.method == "GET":
            return await run_in_threadpool(self._login_form, request)
        try:
            form = await request.form(max_files=0, max_fields=10)
        except Exception:  # noqa: BLE001
            return Response("bad request", status_code=400)
        return await run_in_threadpool(self._login_post, request, form)

    def _login_form(self, request: Request, error: str = "", status: int = 200, username: str = "") -> Response:
        user = session_user(request, self.db)
        next_url = safe_next(request.query_params.get("next"))
        if user is not None and status == 200:
            return RedirectResponse(next_url, status_code=303)
        return self.render(request, "login.html", {"error": error, "next": next_url, "username": username},
                           status=status)

    def _login_post(self, request: Request, form) -> Response:
        username = str(form.get("username") or "")[:64]
        password = str(form.get("password") or "")[:1024]
        next_url = safe_next(str(form.get("next") or ""))
        if not csrf_ok(request, form.get(CSRF_FIELD)):
            return self._login_form(request, "页面已过期，请重新输入。", 403, username)
        try:
            user = accounts.authenticate(username, password, client_ip(request), db=self.db)
        except accounts.TooManyAttempts as exc:
            minutes = max(1, int(exc.retry_after.total_seconds() // 60) + 1)
            response = self._login_form(request, f"登录失败次数过多，请 {minutes} 分钟后再试。", 429, username)
            response.headers["Retry-After"] = str(int(exc.retry_after.total_seconds()) + 1)
            return response
        if user is None:
            return self._login_form(request, "用户名或密码错误。", 401, username)
        log_in(request, user)
        log.info("staff %s logged in", user.username)
        return RedirectResponse(next_url, status_code=303)

    def logout(self, request: Request, ctx: Ctx, form) -> Response:
        accounts.end_sessions(ctx.user.id, db=self.db)
        log_out(request)
        return RedirectResponse("/console/login", status_code=303)

    # --- handoffs -------------------------------------------------------------------------------
    def queue_page(self, request: Request, ctx: Ctx, form) -> Response:
        rows = cases.queue(self.db, ctx.scope, ctx.routing)
        return self.render(request, "queue.html", {"rows": rows}, user=ctx.user)

    def _handoff_view(self, ctx: Ctx, handoff_id) -> Dict[str, Any]:
        try:
            h = cases.load_handoff(self.db, ctx.scope, handoff_id)
        except LookupError:
            raise NotFound(handoff_id) from None
        row = cases.handoff_row(h, ctx.scope, ctx.routing)
        mask = (lambda s: s) if ctx.scope.handles(h.unit_id) else mask_text
        error = ""
        try:
            events = self.rasa.events(h.sender_id)
        except RasaUnavailable as exc:
            events, error = [], str(exc)
        notes = cases.notifications_for(self.db, h.channel, h.sender_id)
        lines = cases.transcript(events, notes, mask)
        related = []
        for view in ctx.service().list_tickets_for(h.channel, h.sender_id, limit=10):
            related.append({"number": view.number, "state_label": view.state_label, "category": view.category,
                            "category_label": cases.CATEGORY_NAMES.get(view.category, view.category),
                            "unit_name": view.unit_name_zh, "created_at": view.created_at, "urgent": view.urgent,
                            "in_scope": ctx.scope.covers(view.unit_id)})
        return {"handoff": row, "lines": lines, "transcript_error": error, "related": related}

    def handoff_page(self, request: Request, ctx: Ctx, form) -> Response:
        view = self._handoff_view(ctx, request.path_params["handoff_id"])
        return self.render(request, "handoff.html", view, user=ctx.user)

    def transcript_fragment(self, request: Request, ctx: Ctx, form) -> Response:
        view = self._handoff_view(ctx, request.path_params["handoff_id"])
        return self.render(request, "_transcript.html", view, user=ctx.user, flashes=False)

    def handoff_post(self, action: str):
        def handler(request: Request, ctx: Ctx, form) -> Response:
            hid = request.path_params["handoff_id"]
            try:
                message = handoff_action(ctx, hid, action, form)
            except (Invalid, Conflict, Unavailable) as exc:
                self.flash(request, str(exc), "error")
                return RedirectResponse(f"/console/handoffs/{hid}", status_code=303)
            self.flash(request, message)
            target = f"/console/handoffs/{hid}" if action == "reply" else "/console/queue"
            return RedirectResponse(target, status_code=303)

        return handler

    # --- tickets --------------------------------------------------------------------------------
    def _unit_choices(self, ctx: Ctx, all_units: bool = False):
        units = ctx.routing.units.values()
        return [{"id": u.id, "name": u.name_zh, "level": u.level} for u in units
                if all_units or ctx.scope.everything or u.id in (ctx.scope.unit_ids or ())]

    def tickets_page(self, request: Request, ctx: Ctx, form) -> Response:
        filters = cases.TicketFilters.from_params(request.query_params)
        try:
            page = max(1, int(request.query_params.get("page", "1")))
        except ValueError:
            page = 1
        rows, total = cases.list_tickets(self.db, ctx.scope, ctx.routing, filters, limit=PAGE_SIZE,
                                         offset=(page - 1) * PAGE_SIZE)
        query = filters.as_query()
        return self.render(request, "tickets.html", {
            "rows": rows, "total": total, "filters": filters, "page": page,
            "pages": max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE), "query": urlencode(query),
            "states": sorted(lifecycle.STATES), "categories": CATEGORIES, "units": self._unit_choices(ctx),
        }, user=ctx.user)

    def ticket_page(self, request: Request, ctx: Ctx, form) -> Response:
        number = request.path_params["number"]
        try:
            cases.load_ticket(self.db, ctx.scope, number)
            detail = cases.ticket_detail(self.db, ctx.scope, ctx.routing, number, ctx.service().history(number))
        except cases.TicketNotFound:
            raise NotFound(number) from None
        return self.render(request, "ticket.html", {
            "t": detail, "can_dispatch": ctx.scope.can_dispatch(), "units": self._unit_choices(ctx, all_units=True),
        }, user=ctx.user)

    def ticket_post(self, request: Request, ctx: Ctx, form) -> Response:
        number = request.path_params["number"]
        action = str(form.get("action") or "")
        try:
            message = ticket_action(ctx, number, action, {k: form.get(k) for k in form.keys()})
        except (Invalid, Conflict, Unavailable) as exc:
            self.flash(request, str(exc), "error")
            return RedirectResponse(f"/console/tickets/{quote(number)}", status_code=303)
        self.flash(request, message)
        try:
            cases.load_ticket(self.db, ctx.scope, number)
        except cases.TicketNotFound:  # e.g. returned to the dispatcher: no longer ours to see
            return RedirectResponse("/console/tickets", status_code=303)
        return RedirectResponse(f"/console/tickets/{quote(number)}", status_code=303)

    # --- dashboard ------------------------------------------------------------------------------
    def _weeks(self, request: Request) -> int:
        try:
            return max(1, min(52, int(request.query_params.get("weeks", "4"))))
        except ValueError:
            return 4

    def dashboard_page(self, request: Request, ctx: Ctx, form) -> Response:
        data = stats.dashboard(self.db, ctx.scope, ctx.routing, self._weeks(request))
        return self.render(request, "dashboard.html", {"stats": data,
                                                       "charts_installed": (VENDOR / "chart.umd.js").exists()},
                           user=ctx.user)

    # --- account and users ----------------------------------------------------------------------
    def account_page(self, request: Request, ctx: Ctx, form, new_token: str = "", error: str = "",
                     status: int = 200) -> Response:
        unit = ctx.routing.unit(ctx.user.unit_id)
        return self.render(request, "account.html", {"unit": unit, "new_token": new_token, "error": error,
                                                      "scope_units": self._unit_choices(ctx)},
                           status=status, user=ctx.user)

    def account_password(self, request: Request, ctx: Ctx, form) -> Response:
        current, new, again = (str(form.get(k) or "") for k in ("current", "new", "again"))
        if not accounts.verify_password(ctx.user.id, current, db=self.db):
            return self.account_page(request, ctx, form, error="当前密码不正确。", status=400)
        if new != again:
            return self.account_page(request, ctx, form, error="两次输入的新密码不一致。", status=400)
        try:
            accounts.set_password(ctx.user.username, new, db=self.db)
        except accounts.AccountError as exc:
            return self.account_page(request, ctx, form, error=str(exc), status=400)
        log_in(request, accounts.get_user(ctx.user.id, db=self.db))  # the other sessions have ended
        self.flash(request, "密码已修改，其他设备上的登录已退出。")
        return RedirectResponse("/console/account", status_code=303)

    def account_token(self, request: Request, ctx: Ctx, form) -> Response:
        if form.get("revoke"):
            accounts.revoke_api_token(ctx.user.username, db=self.db)
            self.flash(request, "API 令牌已作废。")
            return RedirectResponse("/console/account", status_code=303)
        token = accounts.issue_api_token(ctx.user.username, db=self.db)
        ctx.user = accounts.get_user(ctx.user.id, db=self.db)
        return self.account_page(request, ctx, form, new_token=token)

    def users_page(self, request: Request, ctx: Ctx, form, error: str = "", status: int = 200) -> Response:
        return self.render(request, "users.html", {"users": accounts.list_users(db=self.db),
                                                   "units": self._unit_choices(ctx, all_units=True),
                                                   "unit_names": {u.id: u.name_zh for u in ctx.routing.units.values()},
                                                   "error": error}, status=status, user=ctx.user)

    def users_create(self, request: Request, ctx: Ctx, form) -> Response:
        try:
            created = accounts.create_user(
                str(form.get("username") or ""), str(form.get("password") or ""),
                role="admin" if form.get("role") == "admin" else "staff", unit_id=str(form.get("unit") or "") or None,
                display_name=str(form.get("display_name") or ""), known_units=set(ctx.routing.units), db=self.db)
        except accounts.AccountError as exc:
            return self.users_page(request, ctx, form, error=str(exc), status=400)
        self.flash(request, f"已创建账号 {created.username}")
        return RedirectResponse("/console/users", status_code=303)

    def users_update(self, request: Request, ctx: Ctx, form) -> Response:
        try:
            uid = int(request.path_params["user_id"])
        except ValueError:
            raise NotFound(request.path_params["user_id"]) from None
        target = accounts.get_user(uid, db=self.db)
        if target is None:
            raise NotFound(uid)
        try:
            if form.get("password"):
                accounts.set_password(target.username, str(form.get("password")), db=self.db)
            active = form.get("active") == "1"
            if target.id == ctx.user.id and (not active or form.get("role") != "admin"):
                raise accounts.AccountError("不能停用自己的账号或取消自己的管理员权限")
            accounts.update_user(uid, role="admin" if form.get("role") == "admin" else "staff",
                                 unit_id=str(form.get("unit") or "") or None, active=active,
                                 display_name=str(form.get("display_name") or target.display_name),
                                 known_units=set(ctx.routing.units), db=self.db)
        except accounts.AccountError as exc:
            return self.users_page(request, ctx, form, error=str(exc), status=400)
        self.flash(request, f"账号 {target.username} 已更新")
        return RedirectResponse("/console/users", status_code=303)

    # --- JSON API -------------------------------------------------------------------------------
    def api_me(self, request: Request, ctx: Ctx, body) -> Dict[str, Any]:
        unit = ctx.routing.unit(ctx.user.unit_id)
        return {"username": ctx.user.username, "display_name": ctx.user.display_name, "role": ctx.user.role,
                "unit_id": ctx.user.unit_id, "unit_level": unit.level if unit else None,
                "scope": None if ctx.scope.everything else sorted(ctx.scope.unit_ids or ())}

    def api_tickets(self, request: Request, ctx: Ctx, body) -> Dict[str, Any]:
        filters = cases.TicketFilters.from_params(request.query_params)
        try:
            limit = max(1, min(200, int(request.query_params.get("limit", "50"))))
            offset = max(0, int(request.query_params.get("offset", "0")))
        except ValueError:
            raise Invalid("limit and offset are whole numbers") from None
        rows, total = cases.list_tickets(self.db, ctx.scope, ctx.routing, filters, limit=limit, offset=offset)
        return {"total": total, "limit": limit, "offset": offset, "tickets": rows}

    def api_ticket(self, request: Request, ctx: Ctx, body) -> Dict[str, Any]:
        number = request.path_params["number"]
        if request.method == "POST":
            message = ticket_action(ctx, number, str(body.get("action") or ""), body)
            try:
                cases.load_ticket(self.db, ctx.scope, number)
            except cases.TicketNotFound:
                return {"ok": True, "message": message, "ticket": None}
            detail = cases.ticket_detail(self.db, ctx.scope, ctx.routing, number, ctx.service().history(number))
            return {"ok": True, "message": message, "ticket": detail}
        try:
            cases.load_ticket(self.db, ctx.scope, number)
        except cases.TicketNotFound:
            raise NotFound(number) from None
        return cases.ticket_detail(self.db, ctx.scope, ctx.routing, number, ctx.service().history(number))

    def api_handoffs(self, request: Request, ctx: Ctx, body) -> Dict[str, Any]:
        return {"handoffs": cases.queue(self.db, ctx.scope, ctx.routing)}

    def api_handoff(self, request: Request, ctx: Ctx, body) -> Dict[str, Any]:
        hid = request.path_params["handoff_id"]
        if request.method == "POST":
            message = handoff_action(ctx, hid, str(body.get("action") or ""), body)
            return {"ok": True, "message": message,
                    "handoff": cases.handoff_row(cases.load_handoff(self.db, ctx.scope, hid), ctx.scope, ctx.routing)}
        view = self._handoff_view(ctx, hid)
        return {"handoff": view["handoff"], "transcript": [line.as_dict() for line in view["lines"]],
                "transcript_error": view["transcript_error"] or None, "related_tickets": view["related"]}

    def api_dashboard(self, request: Request, ctx: Ctx, body) -> Dict[str, Any]:
        return stats.dashboard(self.db, ctx.scope, ctx.routing, self._weeks(request))


def create_app(settings: Optional[WebSettings] = None, db: Optional[Database] = None,
               rasa: Optional[RasaClient] = None) -> Starlette:
    settings = settings or WebSettings.from_env()
    if len(settings.secret_key or "") < 32:
        raise ValueError("WEB_SECRET_KEY must have at least 32 characters")
    db = db or get_database(settings.database_url)
    rasa = rasa or RasaClient(settings.rasa_url, settings.rasa_token, settings.rasa_timeout)
    web = WebApp(settings, db, rasa)
    page, api = web.page, web.api

    routes = [
        Route("/", web.chat),
        Route("/healthz", web.healthz),
        Route("/favicon.ico", lambda request: Response(status_code=204)),
        Route("/socket.io/", web.relay.http, methods=["GET", "POST"]),
        WebSocketRoute("/socket.io/", web.relay.websocket),
        Mount("/static", app=StaticFiles(directory=str(STATIC)), name="static"),
        Route("/console", lambda request: RedirectResponse("/console/", status_code=307)),
        Route("/console/", lambda request: RedirectResponse("/console/queue", status_code=303)),
        Route("/console/login", web.login, methods=["GET", "POST"]),
        Route("/console/logout", page(web.logout), methods=["POST"]),
        Route("/console/queue", page(web.queue_page)),
        Route("/console/handoffs/{handoff_id:int}", page(web.handoff_page)),
        Route("/console/handoffs/{handoff_id:int}/transcript", page(web.transcript_fragment)),
        Route("/console/handoffs/{handoff_id:int}/reply", page(web.handoff_post("reply")), methods=["POST"]),
        Route("/console/handoffs/{handoff_id:int}/return", page(web.handoff_post("return_to_bot")), methods=["POST"]),
        Route("/console/handoffs/{handoff_id:int}/close", page(web.handoff_post("close")), methods=["POST"]),
        Route("/console/tickets", page(web.tickets_page)),
        Route("/console/tickets/{number}", page(web.ticket_page)),
        Route("/console/tickets/{number}/action", page(web.ticket_post), methods=["POST"]),
        Route("/console/dashboard", page(web.dashboard_page)),
        Route("/console/account", page(web.account_page)),
        Route("/console/account/password", page(web.account_password), methods=["POST"]),
        Route("/console/account/token", page(web.account_token), methods=["POST"]),
        Route("/console/users", page(web.users_page, admin=True)),
        Route("/console/users/create", page(web.users_create, admin=True), methods=["POST"]),
        Route("/console/users/{user_id}", page(web.users_update, admin=True), methods=["POST"]),
        Route("/api/me", api(web.api_me)),
        Route("/api/tickets", api(web.api_tickets)),
        Route("/api/tickets/{number}", api(web.api_ticket), methods=["GET", "POST"]),
        Route("/api/handoffs", api(web.api_handoffs)),
        Route("/api/handoffs/{handoff_id:int}", api(web.api_handoff), methods=["GET", "POST"]),
        Route("/api/dashboard", api(web.api_dashboard)),
    ]

    @asynccontextmanager
    async def lifespan(app):
        yield
        await web.relay.close()

    middleware = [
        Middleware(LimitBody),
        Middleware(SecurityHeaders, settings=settings),
        Middleware(SessionMiddleware, secret_key=settings.secret_key, session_cookie="console_session",
                   max_age=settings.session_max_age, same_site="lax", https_only=settings.cookie_secure),
    ]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.web = web
    return app
