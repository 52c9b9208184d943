"""A WeChat stand-in on 127.0.0.1 for the end-to-end tests: both sides of the platform.

``WeChatAPIStandIn`` imitates the Official Account API the bot calls:

* ``GET /cgi-bin/token?grant_type=client_credential&appid=…&secret=…`` → ``{"access_token", "expires_in"}``
  (errcode 40013 / 40125 for a wrong AppID / secret);
* ``POST /cgi-bin/message/custom/send?access_token=…`` with ``{"touser", "msgtype": "text", "text":
  {"content"}}`` → ``{"errcode": 0, "errmsg": "ok"}``, recorded. An unknown or expired token gets
  40001 / 42001, content over 2048 bytes 45002, and a resident can be made to answer 45015 (the
  48-hour window is closed) or to hold the answer for a while (a slow network).

``WeChatPlatform`` sends to the bot's webhook what WeChat's servers send: the signed URL
verification, and signed plain or AES-encrypted (safe mode, wechatpy's crypto) XML messages; it
decrypts and parses the passive reply.

    with WeChatAPIStandIn(app_id, secret) as api:
        api.base_url                        # WECHAT_API_BASE_URL for the server under test
        api.wait_for_messages(openid, 1)    # what reached the customer-service endpoint
"""
from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple

import xmltodict

TEXT_LIMIT_BYTES = 2048


class WeChatAPIStandIn:
    def __init__(self, app_id: str, app_secret: str, expires_in: int = 7200) -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self.expires_in = expires_in
        self.tokens: List[str] = []  # every access token issued, in order
        self.valid_tokens: set = set()
        self.sent: List[Dict[str, Any]] = []  # accepted customer-service messages, in order
        self.refused: List[Tuple[str, int]] = []  # (openid, errcode) of refused sends
        self.refuse: Dict[str, int] = {}  # openid → errcode to answer (e.g. 45015)
        self.delay: Dict[str, float] = {}  # openid → seconds to hold the next answer
        self._cond = threading.Condition()
        self._server: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None

    # -- life cycle ---------------------------------------------------------------------------------

    def start(self) -> "WeChatAPIStandIn":
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                stand_in._handle(self)

            do_POST = do_GET

            def log_message(self, *_args):  # quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> "WeChatAPIStandIn":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- test controls ------------------------------------------------------------------------------

    def expire_tokens(self) -> None:
        """Every token issued so far stops working (as after its 7200 s)."""
        with self._cond:
            self.valid_tokens.clear()

    def messages_to(self, openid: str) -> List[str]:
        with self._cond:
            return [m["text"]["content"] for m in self.sent if m.get("touser") == openid]

    def wait_for_messages(self, openid: str, count: int = 1, timeout: float = 20.0) -> List[str]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                got = [m["text"]["content"] for m in self.sent if m.get("touser") == openid]
                left = deadline - time.monotonic()
                if len(got) >= count or left <= 0:
                    return got
                self._cond.wait(left)

    # -- the API ------------------------------------------------------------------------------------

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        url = urllib.parse.urlsplit(request.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        if url.path == "/cgi-bin/token" and request.command == "GET":
            answer = self._token(query)
        elif url.path == "/cgi-bin/message/custom/send" and request.command == "POST":
            answer = self._custom_send(query, body)
        else:
            self._reply(request, 404, {"errcode": 404, "errmsg": "not found"})
            return
        self._reply(request, 200, answer)

    def _token(self, query: Dict[str, str]) -> Dict[str, Any]:
        if query.get("grant_type") != "client_credential":
            return {"errcode": 40002, "errmsg": "invalid grant_type"}
        if query.get("appid") != self.app_id:
            return {"errcode": 40013, "errmsg": "invalid appid"}
        if query.get("secret") != self.app_secret:
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        token = secrets.token_urlsafe(48)
        with self._cond:
            self.tokens.append(token)
            self.valid_tokens.add(token)
        return {"access_token": token, "expires_in": self.expires_in}

    def _custom_send(self, query: Dict[str, str], body: bytes) -> Dict[str, Any]:
        with self._cond:
            token_ok = query.get("access_token") in self.valid_tokens
            issued = query.get("access_token") in self.tokens
        if not token_ok:
            return ({"errcode": 42001, "errmsg": "access_token expired"} if issued
                    else {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"})
        try:
            message = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return {"errcode": 47001, "errmsg": "data format error"}
        openid = message.get("touser", "")
        if message.get("msgtype") != "text" or not isinstance(message.get("text"), dict):
            return {"errcode": 40008, "errmsg": "invalid message type"}
        content = message["text"].get("content", "")
        if len(content.encode("utf-8")) > TEXT_LIMIT_BYTES:
            return {"errcode": 45002, "errmsg": "content size out of limit"}
        delay = self.delay.pop(openid, 0.0)
        if delay:
            time.sleep(delay)
        with self._cond:
            errcode = self.refuse.get(openid)
            if errcode:
                self.refused.append((openid, errcode))
                self._cond.notify_all()
                return {"errcode": errcode, "errmsg": "response out of time limit or subscription is canceled"
                        if errcode == 45015 else "refused"}
            self.sent.append(message)
            self._cond.notify_all()
        return {"errcode": 0, "errmsg": "ok"}

    @staticmethod
    def _reply(request: BaseHTTPRequestHandler, status: int, payload: Dict[str, Any]) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        request.send_response(status)
        request.send_header("Content-Type", "application/json; charset=utf-8")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)


# --------------------------------------------------------------------------------------------------
# the platform side: what WeChat's servers send to the webhook


def sign(*values: str) -> str:
    return hashlib.sha1("".join(sorted(values)).encode("utf-8")).hexdigest()


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def message_xml(account: str, openid: str, msg_type: str, fields: Dict[str, Any],
                msg_id: Optional[int] = None, create_time: Optional[int] = None) -> str:
    """A message as WeChat pushes it (strings as CDATA, numbers bare)."""
    parts = [f"<ToUserName>{_cdata(account)}</ToUserName>", f"<FromUserName>{_cdata(openid)}</FromUserName>",
             f"<CreateTime>{create_time or int(time.time())}</CreateTime>", f"<MsgType>{_cdata(msg_type)}</MsgType>"]
    for name, value in fields.items():
        parts.append(f"<{name}>{value}</{name}>" if isinstance(value, (int, float)) else f"<{name}>{_cdata(str(value))}</{name}>")
    if msg_id is not None:
        parts.append(f"<MsgId>{msg_id}</MsgId>")
    return "<xml>" + "".join(parts) + "</xml>"


_msg_ids = iter(range(24_000_000_000_000_000, 25_000_000_000_000_000, 7919))


def new_msg_id() -> int:
    return next(_msg_ids) + secrets.randbelow(7000)


@dataclass
class Reply:
    status: int
    body: str  # the raw answer (decrypted in safe mode)
    encrypted: bool = False

    @property
    def fields(self) -> Dict[str, Any]:
        return xmltodict.parse(self.body)["xml"] if self.body.startswith("<xml>") else {}

    @property
    def text(self) -> str:
        return self.fields.get("Content") or ""


class WeChatPlatform:
    """Talks to the webhook the way WeChat's servers do."""

    def __init__(self, webhook_url: str, token: str, account: str = "gh_0123456789ab",
                 aes_key: Optional[str] = None, app_id: Optional[str] = None):
        self.webhook_url = webhook_url
        self.token = token
        self.account = account
        self.crypto = None
        if aes_key:
            from wechatpy.crypto import WeChatCrypto

            self.crypto = WeChatCrypto(token, aes_key, app_id)

    # -- URL verification -------------------------------------------------------------------------------

    def verify(self, echostr: str, good: bool = True) -> Tuple[int, str]:
        timestamp, nonce = str(int(time.time())), secrets.token_hex(5)
        signature = sign(self.token, timestamp, nonce) if good else sign("not-the-token", timestamp, nonce)
        query = urllib.parse.urlencode({"signature": signature, "timestamp": timestamp, "nonce": nonce,
                                        "echostr": echostr})
        return self._request("GET", f"{self.webhook_url}?{query}", None)

    # -- messages ---------------------------------------------------------------------------------------

    def text(self, openid: str, content: str, msg_id: Optional[int] = None, **kw) -> Reply:
        return self.push(message_xml(self.account, openid, "text", {"Content": content},
                                     msg_id if msg_id is not None else new_msg_id()), openid, **kw)

    def push(self, xml: str, openid: str = "", encrypted: bool = False, good_signature: bool = True,
             good_msg_signature: bool = True, signed: bool = True, timeout: float = 30) -> Reply:
        """POST one message (an XML string, or raw bytes sent as they are) the way WeChat does."""
        timestamp, nonce = str(int(time.time())), secrets.token_hex(5)
        query = {"timestamp": timestamp, "nonce": nonce, "openid": openid}
        if signed:
            query["signature"] = sign(self.token if good_signature else "not-the-token", timestamp, nonce)
        body = xml if isinstance(xml, bytes) else xml.encode("utf-8")
        if encrypted:
            envelope = xmltodict.parse(self.crypto.encrypt_message(xml, nonce, timestamp))["xml"]
            encrypt = envelope["Encrypt"]
            query["encrypt_type"] = "aes"
            query["msg_signature"] = sign(self.token if good_msg_signature else "not-the-token", timestamp,
                                          nonce, encrypt)
            body = (f"<xml><ToUserName>{_cdata(self.account)}</ToUserName>"
                    f"<Encrypt>{_cdata(encrypt)}</Encrypt></xml>").encode("utf-8")
        status, answer = self._request("POST", f"{self.webhook_url}?{urllib.parse.urlencode(query)}", body,
                                       timeout=timeout)
        if encrypted and status == 200 and answer.startswith("<xml>"):
            outer = xmltodict.parse(answer)["xml"]
            answer = self.crypto.decrypt_message(answer, outer["MsgSignature"], outer["TimeStamp"], outer["Nonce"])
            return Reply(status, answer, encrypted=True)
        return Reply(status, answer)

    @staticmethod
    def _request(method: str, url: str, body: Optional[bytes], timeout: float = 30) -> Tuple[int, str]:
        request = urllib.request.Request(url, data=body, method=method,
                                         headers={"Content-Type": "text/xml"} if body is not None else {})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.read().decode("utf-8")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode("utf-8", errors="replace")
