"""A Telegram Bot API stand-in on 127.0.0.1 for the end-to-end tests.

Speaks the Bot API's HTTP protocol (``POST /bot<token>/<method>``, form-encoded or JSON parameters,
``{"ok": true, "result": …}`` answers, Telegram's error shapes) for the methods the channel uses:
getMe, sendMessage (recorded), setWebhook / deleteWebhook / getWebhookInfo (recorded), getUpdates
(serves queued updates, long polling with ``timeout`` and confirmation by ``offset``). A chat can be
marked blocked (sendMessage → 403 "Forbidden: bot was blocked by the user"), and the next N calls of a
method can be made to fail with 500 (to exercise retries).

    with TelegramStandIn(token) as api:
        api.base_url            # TELEGRAM_API_BASE_URL for the server under test
        api.queue_update({...}) # for getUpdates
        api.wait_for_messages(chat_id, 2)
"""
from __future__ import annotations

import itertools
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Optional

_INT_PARAMS = {"chat_id", "offset", "limit", "timeout", "message_thread_id", "reply_to_message_id",
               "max_connections"}
_JSON_PARAMS = {"allowed_updates", "reply_parameters", "reply_markup", "link_preview_options", "entities",
                "drop_pending_updates", "disable_notification", "protect_content",
                "allow_sending_without_reply"}


def _decode(params: Dict[str, Any]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, str) and key in _INT_PARAMS:
            try:
                value = int(value)
            except ValueError:
                pass
        elif isinstance(value, str) and key in _JSON_PARAMS:
            try:
                value = json.loads(value)
            except ValueError:
                pass
        out[key] = value
    return out


class TelegramStandIn:
    def __init__(self, token: str, username: str = "community_test_bot", bot_id: int = 7000000001) -> None:
        self.token = token
        self.username = username
        self.bot_id = bot_id
        self.sent: List[Dict[str, Any]] = []  # sendMessage parameters, in order
        self.calls: List[tuple] = []  # (method, parameters) of every call
        self.blocked_chats: set = set()
        self.fail_next: Dict[str, int] = {}  # method → how many calls still answer 500
        self.webhook: Dict[str, Any] = {}
        self._updates: List[Dict[str, Any]] = []
        self._message_ids = itertools.count(1000)
        self._cond = threading.Condition()
        self._server: Optional[ThreadingHTTPServer] = None
        self._closed = False
        self._thread: Optional[threading.Thread] = None

    # -- life cycle ---------------------------------------------------------------------------------

    def start(self) -> "TelegramStandIn":
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                stand_in._handle(self)

            do_GET = do_POST

            def log_message(self, *_args):  # quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="telegram-standin", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> "TelegramStandIn":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- what tests use -----------------------------------------------------------------------------

    def queue_update(self, update: Dict[str, Any]) -> None:
        with self._cond:
            self._updates.append(update)
            self._cond.notify_all()

    def pending_updates(self) -> List[Dict[str, Any]]:
        with self._cond:
            return list(self._updates)

    def messages_to(self, chat_id) -> List[Dict[str, Any]]:
        with self._cond:
            return [m for m in self.sent if str(m.get("chat_id")) == str(chat_id)]

    def calls_of(self, method: str) -> List[Dict[str, Any]]:
        with self._cond:
            return [params for name, params in self.calls if name == method]

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value or time.monotonic() > deadline:
                return value
            time.sleep(0.1)

    def wait_for_messages(self, chat_id, count: int = 1, timeout: float = 30.0) -> List[Dict[str, Any]]:
        """The messages sent to ``chat_id`` once there are at least ``count`` (or at the timeout), after
        a short quiet period so that a reply's further messages are included."""
        self.wait_for(lambda: len(self.messages_to(chat_id)) >= count, timeout)
        seen = -1
        while len(self.messages_to(chat_id)) != seen:
            seen = len(self.messages_to(chat_id))
            time.sleep(0.5)
        return self.messages_to(chat_id)

    # -- the protocol -------------------------------------------------------------------------------

    def _params(self, handler: BaseHTTPRequestHandler) -> Dict[str, Any]:
        url = urllib.parse.urlsplit(handler.path)
        params: Dict[str, Any] = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        kind = (handler.headers.get("Content-Type") or "").split(";")[0].strip()
        if body and kind == "application/json":
            params.update(json.loads(body))
        elif body and kind == "application/x-www-form-urlencoded":
            params.update({k: v[-1] for k, v in urllib.parse.parse_qs(body.decode(), keep_blank_values=True).items()})
        return _decode(params)

    def _reply(self, handler: BaseHTTPRequestHandler, status: int, payload: Dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a long poll at shutdown)
            pass

    def _error(self, handler, code: int, description: str) -> None:
        self._reply(handler, code, {"ok": False, "error_code": code, "description": description})

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        path = urllib.parse.urlsplit(handler.path).path
        prefix = f"/bot{self.token}/"
        if not path.startswith("/bot"):
            return self._error(handler, 404, "Not Found")
        if not path.startswith(prefix):
            return self._error(handler, 401, "Unauthorized")
        method = path[len(prefix):]
        params = self._params(handler)
        with self._cond:
            self.calls.append((method, params))
            failing = self.fail_next.get(method, 0)
            if failing:
                self.fail_next[method] = failing - 1
        if failing:
            return self._error(handler, 500, "Internal Server Error: stand-in told to fail")
        handle = getattr(self, f"_api_{method}", None)
        if handle is None:
            return self._error(handler, 404, "Not Found: method not found")
        status, result = handle(params)
        if status != 200:
            return self._error(handler, status, result)
        self._reply(handler, 200, {"ok": True, "result": result})

    def _api_getMe(self, _params):
        return 200, {"id": self.bot_id, "is_bot": True, "first_name": "Community", "username": self.username,
                     "can_join_groups": True, "can_read_all_group_messages": False,
                     "supports_inline_queries": False}

    def _api_sendMessage(self, params):
        chat_id, text = params.get("chat_id"), params.get("text")
        if chat_id in (None, ""):
            return 400, "Bad Request: chat_id is empty"
        if not text:
            return 400, "Bad Request: message text is empty"
        if len(text.encode("utf-16-le")) // 2 > 4096:
            return 400, "Bad Request: message is too long"
        if str(chat_id) in {str(c) for c in self.blocked_chats}:
            return 403, "Forbidden: bot was blocked by the user"
        with self._cond:
            self.sent.append(params)
            message_id = next(self._message_ids)
        chat_type = "private" if int(chat_id) > 0 else "supergroup"
        return 200, {"message_id": message_id, "date": int(time.time()), "text": text,
                     "chat": {"id": int(chat_id), "type": chat_type},
                     "from": {"id": self.bot_id, "is_bot": True, "first_name": "Community",
                              "username": self.username}}

    def _api_setWebhook(self, params):
        if not str(params.get("url", "")).startswith("https://"):
            return 400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
        with self._cond:
            self.webhook = dict(params)
        return 200, True

    def _api_deleteWebhook(self, _params):
        with self._cond:
            self.webhook = {}
        return 200, True

    def _api_getWebhookInfo(self, _params):
        with self._cond:
            url = self.webhook.get("url", "")
            pending = len(self._updates)
        return 200, {"url": url, "has_custom_certificate": False, "pending_update_count": pending}

    def _api_getUpdates(self, params):
        offset = params.get("offset")
        timeout = min(float(params.get("timeout") or 0), 50.0)
        deadline = time.monotonic() + timeout
        with self._cond:
            if self.webhook.get("url"):
                return 409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
            if offset is not None:  # confirms every update before offset
                self._updates = [u for u in self._updates if u["update_id"] >= int(offset)]
            while not self._updates and time.monotonic() < deadline and not self._closed:
                self._cond.wait(max(0.0, min(1.0, deadline - time.monotonic())))
            return 200, list(self._updates[: int(params.get("limit") or 100)])
