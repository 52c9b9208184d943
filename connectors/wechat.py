"""WeChat Official Account (微信公众号) channel for Rasa.

Rasa credentials key ``connectors.wechat.WeChatInput`` (switched on by ``WECHAT_TOKEN``, see
connectors/channels.py); settings come from the environment, see ``WeChatSettings`` and
connectors/README_wechat.md. The webhook is ``/webhooks/wechat/webhook``:

* ``GET``: server URL verification: the signature is checked and ``echostr`` echoed (403 otherwise).
* ``POST``: a message in plain or safe (AES, ``encrypt_type=aes``) mode. A missing or wrong signature
  gets 403; a body that is too large, not UTF-8, carries a DTD / entity declaration or is not the XML
  WeChat sends gets 400, before anything else happens.
* WeChat waits 5 s and retries a message up to 3 times: every delivery is recorded once in the
  database (``bot.inbound.first_delivery``, keyed by the resident's OpenID and ``MsgId``, or time and
  event name for events) and a repeat is answered ``success`` without reaching Rasa.
* When the bot has answered within ``WECHAT_REPLY_BUDGET`` seconds (default 4), all its messages go
  back merged into one passive reply (encrypted in safe mode). Otherwise the request is answered
  ``success`` at once; the message keeps being processed and the replies go out through the
  customer-service message API (``/cgi-bin/message/custom/send``) as they come.
* ``WeChatOutput`` (``get_output_channel``) carries messages sent later through Rasa's
  ``/conversations/{id}/tracker/events?output_channel=latest&execute_side_effects=true``. WeChat allows
  them only within 48 hours of the resident's last message: outside that window, or when the API
  answers errcode 45015, :class:`bot.tickets.outbox.Undeliverable` is raised so the delivery service
  records the message as undeliverable.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import re
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Set, Text, Tuple, Union

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage

from bot.tickets.outbox import Undeliverable

logger = logging.getLogger(__name__)

DEFAULT_API_BASE_URL = "https://api.weixin.qq.com"
DEFAULT_REPLY_BUDGET = 4.0
MAX_REPLY_BUDGET = 4.5  # WeChat gives up on a request after 5 s and retries
TEXT_LIMIT_BYTES = 2048  # a text message's content, UTF-8 (customer-service API and passive reply)
MAX_BODY_BYTES = 64 * 1024  # WeChat's XML messages are a few hundred bytes; encrypted ones ~1.4x that
REPLY_WINDOW = dt.timedelta(hours=48)
SUCCESS = "success"  # "received, no reply": WeChat neither retries nor tells the resident anything
CHANNEL = "wechat"

# errcodes of the customer-service message API after which retrying cannot help
UNDELIVERABLE_ERRCODES = {
    45015: "more than 48 hours since the resident's last message",
    45047: "too many customer-service messages since the resident's last message",
    43004: "the resident has unsubscribed",
    40003: "unknown OpenID for this Official Account",
}
TOKEN_ERRCODES = {40001, 40014, 42001}  # invalid / expired access_token: fetch a new one once
ERRCODE_HINTS = {
    40164: "this server's IP address is not on the Official Account's IP whitelist (README_wechat.md, step 4)",
    40125: "WECHAT_APP_SECRET is wrong",
    40013: "WECHAT_APP_ID is wrong",
    48001: "the account is not authorised for this API (customer-service messages need a verified service account)",
}


# --------------------------------------------------------------------------------------------------
# settings


@dataclass
class WeChatSettings:
    token: str
    app_id: str = ""
    app_secret: str = ""
    aes_key: str = ""  # EncodingAESKey: 43 characters; set for safe (or compatible) mode
    api_base_url: str = DEFAULT_API_BASE_URL
    reply_budget: float = DEFAULT_REPLY_BUDGET
    api_timeout: float = 10.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "WeChatSettings":
        budget_text = env.get("WECHAT_REPLY_BUDGET", "").strip()
        try:
            budget = float(budget_text) if budget_text else DEFAULT_REPLY_BUDGET
        except ValueError:
            raise ValueError(f"WECHAT_REPLY_BUDGET must be a number of seconds, not {budget_text!r}")
        if budget > MAX_REPLY_BUDGET:
            logger.warning("WECHAT_REPLY_BUDGET=%s is more than WeChat waits; using %s s", budget, MAX_REPLY_BUDGET)
            budget = MAX_REPLY_BUDGET
        return cls(
            token=env.get("WECHAT_TOKEN", "").strip(),
            app_id=env.get("WECHAT_APP_ID", "").strip(),
            app_secret=env.get("WECHAT_APP_SECRET", "").strip(),
            aes_key=env.get("WECHAT_AES_KEY", "").strip(),
            api_base_url=(env.get("WECHAT_API_BASE_URL", "").strip() or DEFAULT_API_BASE_URL).rstrip("/"),
            reply_budget=max(0.0, budget),
        )


# --------------------------------------------------------------------------------------------------
# signatures, XML in and out


def signature(token: str, timestamp: str, nonce: str, *more: str) -> str:
    """WeChat's signature: SHA-1 over the sorted, concatenated values."""
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, *more])).encode("utf-8")).hexdigest()


def signature_ok(token: str, args: Mapping[str, str]) -> bool:
    given, timestamp, nonce = args.get("signature", ""), args.get("timestamp", ""), args.get("nonce", "")
    if not (token and given and timestamp and nonce):
        return False
    return hmac.compare_digest(signature(token, timestamp, nonce).encode(), given.lower().encode())


class BadXML(ValueError):
    """The body is not the XML WeChat sends (or is hostile): answered 400, nothing else happens."""


_CDATA = re.compile(r"<!\[CDATA\[.*?\]\]>", re.S)
_XML_DECLARATION = re.compile(r"\A\s*<\?xml\s[^<>?]*\?>")
_DECLARED_ENCODING = re.compile(r"""encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


def parse_xml(data: Union[bytes, str]) -> Dict[str, Any]:
    """The fields of a WeChat XML message (the children of ``<xml>``), or :class:`BadXML`.

    wechatpy parses with xmltodict (expat). Before any parser sees the text we refuse what WeChat never
    sends and an attacker needs: a DOCTYPE or any other ``<!`` declaration (entity expansion, external
    entities), processing instructions, non-UTF-8 text, oversized bodies. xmltodict's own
    ``disable_entities`` stays on as a second line."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) > MAX_BODY_BYTES:
        raise BadXML(f"body larger than {MAX_BODY_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadXML("body is not UTF-8")
    text = text.lstrip("\ufeff")
    declaration = _XML_DECLARATION.match(text)
    if declaration:
        encoding = _DECLARED_ENCODING.search(declaration.group(0))
        if encoding and encoding.group(1).lower().replace("_", "-") not in ("utf-8", "utf8"):
            raise BadXML("only UTF-8 XML is accepted")
        text = text[declaration.end():]
    outside_cdata = _CDATA.sub("", text)
    if "<!" in outside_cdata:
        raise BadXML("DTDs, entity declarations and comments are not accepted")
    if "<?" in outside_cdata:
        raise BadXML("processing instructions are not accepted")

    import xmltodict
    from xml.parsers.expat import ExpatError

    try:
        parsed = xmltodict.parse(text, disable_entities=True)
    except (ExpatError, ValueError, TypeError) as exc:
        raise BadXML(f"malformed XML: {exc}") from None
    fields = parsed.get("xml") if isinstance(parsed, dict) else None
    if not isinstance(fields, dict):
        raise BadXML("the root element must be <xml> with child elements")
    return fields


def field(message: Mapping[str, Any], name: str) -> str:
    """A text field of a parsed message ('' when absent, repeated or not text)."""
    value = message.get(name)
    return value.strip() if isinstance(value, str) else ""


_XML_INVALID_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _cdata(value: str) -> str:
    value = _XML_INVALID_CHARS.sub("", value)
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_reply_xml(to_user: str, from_account: str, content: str, create_time: Optional[int] = None) -> str:
    """A passive text reply (the XML wechatpy's TextReply renders, with CDATA made safe)."""
    return (
        "<xml>"
        f"<ToUserName>{_cdata(to_user)}</ToUserName>"
        f"<FromUserName>{_cdata(from_account)}</FromUserName>"
        f"<CreateTime>{int(create_time or time.time())}</CreateTime>"
        "<MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{_cdata(content)}</Content>"
        "</xml>"
    )


# --------------------------------------------------------------------------------------------------
# long texts


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


# Boundaries from coarse to fine: paragraph, line, sentence, clause / word. The separator stays with
# the text before it.
_BOUNDARIES = [
    re.compile(r"(?<=\n\n)"),
    re.compile(r"(?<=\n)"),
    re.compile(r"(?<=[。！？!?；;…])|(?<=\.)(?=\s)"),
    re.compile(r"(?<=[，,、：:])|(?<=\s)"),
]


def _units(text: str, limit: int, level: int = 0) -> List[str]:
    if _utf8_len(text) <= limit:
        return [text]
    if level >= len(_BOUNDARIES):  # one endless "word": cut between characters
        out, current = [], ""
        for char in text:
            if _utf8_len(current + char) > limit:
                out.append(current)
                current = ""
            current += char
        return out + ([current] if current else [])
    out = []
    for part in _BOUNDARIES[level].split(text):
        if part:
            out.extend(_units(part, limit, level + 1))
    return out


def split_text(text: str, limit: int = TEXT_LIMIT_BYTES) -> List[str]:
    """``text`` in pieces of at most ``limit`` UTF-8 bytes, cut at paragraph, line or sentence
    boundaries where possible (a piece is as long as it can be)."""
    text = (text or "").strip()
    if not text:
        return []
    chunks: List[str] = []
    current = ""
    for unit in _units(text, limit):
        if current and _utf8_len(current + unit) > limit:
            chunks.append(current)
            current = ""
        current += unit
    chunks.append(current)
    out = []
    for chunk in chunks:
        chunk = chunk.strip()
        if chunk:
            out.append(chunk)
    return out


def merge(texts: List[str]) -> str:
    return "\n\n".join(t.strip() for t in texts if t and t.strip())


# --------------------------------------------------------------------------------------------------
# the 48-hour rule


def _as_utc(moment: Union[dt.datetime, float, int]) -> dt.datetime:
    if isinstance(moment, (int, float)):
        return dt.datetime.fromtimestamp(moment, dt.timezone.utc)
    if moment.tzinfo is None:  # naive: taken as UTC (as the database stores it)
        return moment.replace(tzinfo=dt.timezone.utc)
    return moment


def wechat_window_open(last_user_message_at: Optional[Union[dt.datetime, float, int]],
                       now: Optional[dt.datetime] = None) -> bool:
    """May a customer-service message still be sent? WeChat allows it within 48 hours of the
    resident's last message (or other interaction); None (never wrote) means no."""
    if last_user_message_at is None:
        return False
    now = _as_utc(now) if now is not None else dt.datetime.now(dt.timezone.utc)
    return now - _as_utc(last_user_message_at) < REPLY_WINDOW


def last_inbound_at(openid: str, db=None) -> Optional[dt.datetime]:
    """When this resident last sent the Official Account anything (message or event), from the
    inbound-delivery record that deduplication keeps (keys start with the OpenID)."""
    from sqlalchemy import select

    from bot.db import get_database
    from bot.inbound import InboundMessage

    db = db or get_database()
    with db.session(read_only=True) as session:
        query = (select(InboundMessage.received_at)
                 .where(InboundMessage.channel == CHANNEL,
                        InboundMessage.message_key.startswith(f"{openid}:", autoescape=True))
                 .order_by(InboundMessage.received_at.desc()).limit(1))
        return session.execute(query).scalar()


def delivery_key(message: Mapping[str, Any]) -> str:
    """What identifies one delivery across WeChat's retries: MsgId for messages, sender + time +
    event for events. Prefixed with the OpenID, so the same record also tells when the resident
    last wrote (:func:`last_inbound_at`)."""
    openid = field(message, "FromUserName")
    msg_id = field(message, "MsgId") or field(message, "MsgID")
    if msg_id:
        return f"{openid}:{msg_id}"
    kind = field(message, "Event") or field(message, "MsgType")
    return f"{openid}:{field(message, 'CreateTime')}:{kind}"


# --------------------------------------------------------------------------------------------------
# the customer-service message API


class WeChatAPIError(Exception):
    """The WeChat API refused or failed; retrying later may help (the outbox retries with back-off)."""

    def __init__(self, errcode: Any, errmsg: str = ""):
        self.errcode = errcode
        hint = ERRCODE_HINTS.get(errcode) if isinstance(errcode, int) else None
        super().__init__(f"WeChat API errcode {errcode}: {errmsg}" + (f" ({hint})" if hint else ""))


_TOKENS: Dict[Tuple[str, str], Tuple[str, float]] = {}  # (base URL, app id) → (token, good until)


class WeChatAPI:
    """Access token (cached until shortly before it expires) and customer-service text messages."""

    def __init__(self, settings: WeChatSettings):
        self.settings = settings
        self._lock: Optional[asyncio.Lock] = None
        self._lock_loop = None

    def _token_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock

    async def _get_json(self, session, method: str, path: str, **kwargs) -> Dict[str, Any]:
        url = f"{self.settings.api_base_url}{path}"
        async with session.request(method, url, **kwargs) as resp:
            if resp.status != 200:
                raise WeChatAPIError(f"HTTP {resp.status}", (await resp.text())[:200])
            try:
                return json.loads(await resp.read())
            except ValueError:
                raise WeChatAPIError("bad-json", "the API did not answer JSON") from None

    async def access_token(self, session, stale: Optional[str] = None) -> str:
        key = (self.settings.api_base_url, self.settings.app_id)
        async with self._token_lock():
            cached = _TOKENS.get(key)
            if cached and cached[0] != stale and cached[1] > time.monotonic():
                return cached[0]
            if not (self.settings.app_id and self.settings.app_secret):
                raise WeChatAPIError("config", "WECHAT_APP_ID and WECHAT_APP_SECRET are needed to send "
                                               "messages outside a passive reply")
            data = await self._get_json(session, "GET", "/cgi-bin/token", params={
                "grant_type": "client_credential", "appid": self.settings.app_id,
                "secret": self.settings.app_secret})
            token = data.get("access_token")
            if not token:
                raise WeChatAPIError(data.get("errcode"), data.get("errmsg", ""))
            expires_in = int(data.get("expires_in") or 7200)
            # renew five minutes early (WeChat keeps the old token valid for five minutes after renewal)
            _TOKENS[key] = (token, time.monotonic() + max(30, expires_in - 300))
            return token

    async def send_text(self, openid: str, text: str) -> None:
        """Send ``text`` (split to WeChat's limit) to one resident; raises :class:`Undeliverable` when
        WeChat says retrying cannot help, :class:`WeChatAPIError` or a network error otherwise."""
        import aiohttp

        chunks = split_text(text)
        if not chunks:
            return
        timeout = aiohttp.ClientTimeout(total=self.settings.api_timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for chunk in chunks:
                await self._send_chunk(session, openid, chunk)

    async def _send_chunk(self, session, openid: str, content: str) -> None:
        payload = json.dumps({"touser": openid, "msgtype": "text", "text": {"content": content}},
                             ensure_ascii=False).encode("utf-8")  # WeChat shows \\u escapes literally
        stale = None
        for _attempt in range(2):
            token = await self.access_token(session, stale=stale)
            data = await self._get_json(session, "POST", "/cgi-bin/message/custom/send",
                                        params={"access_token": token}, data=payload,
                                        headers={"Content-Type": "application/json; charset=utf-8"})
            errcode = data.get("errcode", 0)
            if errcode == 0:
                return
            if errcode in TOKEN_ERRCODES:
                stale = token
                continue
            if errcode in UNDELIVERABLE_ERRCODES:
                raise Undeliverable(f"wechat: undeliverable: {UNDELIVERABLE_ERRCODES[errcode]} "
                                    f"(errcode {errcode}: {data.get('errmsg', '')})")
            raise WeChatAPIError(errcode, data.get("errmsg", ""))
        raise WeChatAPIError(errcode, data.get("errmsg", ""))


# --------------------------------------------------------------------------------------------------
# output channels


def _with_buttons(text: str, buttons: List[Dict[str, Any]]) -> str:
    lines = [text] if text else []
    lines += [f"{i}. {b.get('title') or b.get('payload') or ''}" for i, b in enumerate(buttons or [], 1)]
    return "\n".join(lines)


class _TextOnlyOutput(OutputChannel):
    """Everything as plain text: WeChat text messages have no buttons."""

    @classmethod
    def name(cls) -> Text:
        return CHANNEL

    async def _text(self, recipient_id: Text, text: Text) -> None:
        raise NotImplementedError

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        if text and text.strip():
            await self._text(recipient_id, text)

    async def send_text_with_buttons(self, recipient_id: Text, text: Text, buttons: List[Dict[Text, Any]],
                                     **kwargs: Any) -> None:
        await self.send_text_message(recipient_id, _with_buttons(text, buttons))

    async def send_quick_replies(self, recipient_id: Text, text: Text, quick_replies: List[Dict[Text, Any]],
                                 **kwargs: Any) -> None:
        await self.send_text_message(recipient_id, _with_buttons(text, quick_replies))

    async def send_image_url(self, recipient_id: Text, image: Text, **kwargs: Any) -> None:
        await self.send_text_message(recipient_id, image)

    async def send_attachment(self, recipient_id: Text, attachment: Text, **kwargs: Any) -> None:
        await self.send_text_message(recipient_id, str(attachment))

    async def send_custom_json(self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any) -> None:
        text = json_message.get("text") if isinstance(json_message, dict) else None
        if isinstance(text, str):
            await self.send_text_message(recipient_id, text)
        else:
            logger.info("wechat: a custom payload has no text for WeChat; not sent")


class WeChatOutput(_TextOnlyOutput):
    """Sends through the customer-service message API, outside any request (staff replies, ticket
    notifications) or after the passive-reply budget ran out."""

    def __init__(self, api: WeChatAPI,
                 last_message_at: Optional[Callable[[str], Awaitable[Optional[dt.datetime]]]] = None,
                 check_window: bool = True):
        self.api = api
        self.last_message_at = last_message_at
        self.check_window = check_window

    async def _text(self, recipient_id: Text, text: Text) -> None:
        if self.check_window and self.last_message_at is not None:
            last = await self.last_message_at(recipient_id)
            # Unknown (no record kept): WeChat decides, and answers 45015 when the window is closed.
            if last is not None and not wechat_window_open(last):
                raise Undeliverable(
                    f"wechat: undeliverable: more than 48 hours since the resident's last message "
                    f"(last at {_as_utc(last).isoformat(timespec='seconds')}); WeChat would refuse it (45015)")
        await self.api.send_text(recipient_id, text)


class _Exchange(_TextOnlyOutput):
    """The output channel of one incoming message: collects the bot's replies for the passive reply
    and, once the budget has run out, forwards them (in order, merged when several are waiting)
    through the customer-service API."""

    def __init__(self, sender: WeChatOutput):
        self.sender = sender
        self.collected: List[str] = []
        self.queue: Optional[asyncio.Queue] = None
        self.recipient = ""
        self.drainer: Optional[asyncio.Task] = None

    async def _text(self, recipient_id: Text, text: Text) -> None:
        self.recipient = recipient_id
        if self.queue is None:
            self.collected.append(text)
        else:
            self.queue.put_nowait(text)

    def go_late(self, recipient_id: str, processing: "asyncio.Future") -> asyncio.Task:
        """From now on replies go through the API; what was collected so far goes first."""
        self.recipient = recipient_id
        self.queue = asyncio.Queue()
        if self.collected:
            self.queue.put_nowait(merge(self.collected))
            self.collected = []
        processing.add_done_callback(lambda _f: self.queue.put_nowait(None))
        self.drainer = asyncio.ensure_future(self._drain())
        return self.drainer

    async def _drain(self) -> None:
        finished = False
        while not finished:
            item = await self.queue.get()
            if item is None:
                break
            batch = [item]
            while not self.queue.empty():
                more = self.queue.get_nowait()
                if more is None:
                    finished = True
                    break
                batch.append(more)
            try:
                await self.sender.send_text_message(self.recipient, merge(batch))
            except Exception as exc:  # logged; the conversation history still has the reply
                logger.warning("wechat: a late reply could not be delivered: %s", exc)


# --------------------------------------------------------------------------------------------------
# the input channel


def _location(message: Mapping[str, Any]) -> Dict[str, Any]:
    def number(name: str) -> Optional[float]:
        try:
            return float(field(message, name))
        except ValueError:
            return None

    return {"latitude": number("Location_X"), "longitude": number("Location_Y"),
            "label": field(message, "Label") or None, "scale": number("Scale")}


def location_text(location: Mapping[str, Any], lang: str) -> str:
    """What a shared location says to the bot: "位置：<label>（纬度 …，经度 …）", the same form the
    Telegram channel uses, so the report form takes it as the address (or a correction of it)."""
    from bot.texts import render

    def coordinate(value: Optional[float]) -> str:
        return "?" if value is None else f"{value:.6f}".rstrip("0").rstrip(".")

    lat, lon = coordinate(location.get("latitude")), coordinate(location.get("longitude"))
    if location.get("label"):
        return render("wechat.location", lang, label=location["label"], latitude=lat, longitude=lon)
    return render("wechat.location_point", lang, latitude=lat, longitude=lon)


# What a message becomes: ("bot", text, metadata) goes through Rasa; ("say", text key) is answered
# directly; ("ignore",) is acknowledged with `success`.
Plan = Tuple[Any, ...]


def plan_for(message: Mapping[str, Any]) -> Plan:
    msg_type = field(message, "MsgType").lower()
    meta: Dict[str, Any] = {"wechat": {"msg_type": msg_type, "msg_id": field(message, "MsgId") or None}}
    if msg_type == "text":
        return ("bot", message.get("Content") if isinstance(message.get("Content"), str) else "", meta)
    if msg_type == "location":
        meta["location"] = _location(message)
        return ("bot", None, meta)  # the text is written in the resident's language by `answer`
    if msg_type == "voice" and field(message, "Recognition"):
        # WeChat's own speech recognition (if switched on for the account) gives us the words
        meta["wechat"]["voice_recognition"] = True
        return ("bot", field(message, "Recognition"), meta)
    if msg_type == "event":
        event = field(message, "Event").lower()
        if event == "subscribe":
            # The welcome is the bot's own greeting: "你好" goes through Rasa, so the conversation
            # starts (and is recorded) on the WeChat channel.
            meta["wechat"]["event"] = "subscribe"
            return ("bot", "你好", meta)
        return ("ignore",)  # unsubscribe, menu clicks, SCAN, periodic LOCATION reports, …
    if msg_type == "link":
        return ("say", "wechat.link")
    return ("say", "wechat.unsupported")  # image, voice, video, shortvideo, file, anything new


class WeChatInput(InputChannel):
    """The WeChat Official Account webhook."""

    @classmethod
    def name(cls) -> Text:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "InputChannel":
        settings = WeChatSettings.from_env(os.environ)
        if not settings.token:
            cls.raise_missing_credentials_exception()
        return cls(settings)

    def __init__(self, settings: WeChatSettings):
        self.settings = settings
        self.crypto = None
        if settings.aes_key:
            from wechatpy.crypto import WeChatCrypto

            try:
                self.crypto = WeChatCrypto(settings.token, settings.aes_key, settings.app_id)
            except (AssertionError, ValueError, TypeError):
                from rasa.shared.exceptions import RasaException

                raise RasaException("WECHAT_AES_KEY must be the 43-character EncodingAESKey from the "
                                    "Official Account's server settings") from None
            if not settings.app_id:
                from rasa.shared.exceptions import RasaException

                raise RasaException("safe mode (WECHAT_AES_KEY) needs WECHAT_APP_ID")
        if not (settings.app_id and settings.app_secret):
            logger.warning("wechat: WECHAT_APP_ID / WECHAT_APP_SECRET not set: only passive replies work; "
                           "late replies and staff messages cannot be sent")
        self.api = WeChatAPI(settings)
        self.app = None
        self._background: Set[asyncio.Future] = set()

    # ---- helpers -------------------------------------------------------------------------------

    def _keep(self, future: asyncio.Future) -> None:
        self._background.add(future)
        future.add_done_callback(self._background.discard)

    async def _last_message_at(self, openid: str) -> Optional[dt.datetime]:
        """The resident's latest interaction we know of: the inbound record, else the conversation."""
        known: List[dt.datetime] = []
        loop = asyncio.get_running_loop()
        try:
            last = await loop.run_in_executor(None, last_inbound_at, openid)
            if last is not None:
                known.append(_as_utc(last))
        except Exception as exc:
            logger.warning("wechat: could not read the inbound record: %s", exc)
        store = getattr(getattr(getattr(self.app, "ctx", None), "agent", None), "tracker_store", None)
        if store is not None:
            try:
                tracker = await store.retrieve_full_tracker(openid)
                from rasa.shared.core.events import UserUttered

                for event in reversed(tracker.events if tracker else []):
                    if isinstance(event, UserUttered) and event.input_channel == CHANNEL:
                        known.append(_as_utc(event.timestamp))
                        break
            except Exception as exc:
                logger.warning("wechat: could not read the conversation: %s", exc)
        return max(known) if known else None

    def get_output_channel(self) -> Optional[OutputChannel]:
        return WeChatOutput(self.api, self._last_message_at)

    async def _language(self, openid: str) -> str:
        store = getattr(getattr(getattr(self.app, "ctx", None), "agent", None), "tracker_store", None)
        try:
            tracker = await store.retrieve(openid) if store is not None else None
            return (tracker.get_slot("language") if tracker else None) or "zh-Hans"
        except Exception:
            return "zh-Hans"

    async def _first_delivery(self, key: str) -> bool:
        from bot.inbound import first_delivery

        try:
            return await asyncio.get_running_loop().run_in_executor(None, first_delivery, CHANNEL, key)
        except Exception as exc:  # better to answer twice than never
            logger.error("wechat: deduplication unavailable (%s); handling the message anyway", exc)
            return True

    @staticmethod
    async def _read_body(request: Request) -> Optional[bytes]:
        """The body, or None when it is larger than WeChat ever sends (read no further)."""
        declared = request.headers.get("content-length")
        if declared is not None:
            try:
                if int(declared) > MAX_BODY_BYTES:
                    return None
            except ValueError:
                return None
        body = bytearray()
        while True:
            chunk = await request.stream.read()
            if chunk is None:
                break
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return None
        return bytes(body)

    async def _run_bot(self, on_new_message: Callable[[UserMessage], Awaitable[Any]], message: UserMessage) -> None:
        try:
            await on_new_message(message)
        except Exception:
            logger.exception("wechat: the bot failed on a message")

    async def answer(self, on_new_message: Callable[[UserMessage], Awaitable[Any]],
                     message: Mapping[str, Any]) -> Optional[str]:
        """The text to reply passively to a (new, valid) message, or None for `success`; replies that
        are late or do not fit go through the customer-service API."""
        openid = field(message, "FromUserName")
        plan = plan_for(message)
        if plan[0] == "ignore":
            return None
        if plan[0] == "say":
            from bot.texts import render

            return render(plan[1], await self._language(openid))
        _, text, metadata = plan
        if text is None and "location" in metadata:
            text = location_text(metadata["location"], await self._language(openid))
        exchange = _Exchange(WeChatOutput(self.api, check_window=False))
        user_message = UserMessage(text, exchange, openid, input_channel=CHANNEL,
                                   message_id=field(message, "MsgId") or None, metadata=metadata)
        processing = asyncio.ensure_future(self._run_bot(on_new_message, user_message))
        self._keep(processing)
        try:
            await asyncio.wait_for(asyncio.shield(processing), timeout=self.settings.reply_budget)
        except asyncio.TimeoutError:
            self._keep(exchange.go_late(openid, processing))
            return None
        except asyncio.CancelledError:  # WeChat hung up: the replies go through the API
            self._keep(exchange.go_late(openid, processing))
            raise
        chunks = split_text(merge(exchange.collected))
        if len(chunks) > 1 and self.settings.app_id and self.settings.app_secret:
            # Too long for one passive reply: all parts through the API, so they arrive in order
            # (a passive reply plus API messages could overtake each other).
            self._keep(asyncio.ensure_future(self._send_parts(openid, chunks)))
            return None
        if len(chunks) > 1:
            logger.warning("wechat: a reply longer than %s bytes was cut (no WECHAT_APP_SECRET to send the rest)",
                           TEXT_LIMIT_BYTES)
        return chunks[0] if chunks else None

    async def _send_parts(self, openid: str, chunks: List[str]) -> None:
        try:
            for chunk in chunks:
                await self.api.send_text(openid, chunk)
        except Exception as exc:
            logger.warning("wechat: a long reply could not be delivered: %s", exc)

    # ---- the webhook ---------------------------------------------------------------------------

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        wechat = Blueprint("wechat_webhook", __name__)

        @wechat.listener("before_server_start")
        async def remember_app(app, _loop) -> None:
            self.app = app

        @wechat.route("/", methods=["GET"])
        async def health(_request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @wechat.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            if not signature_ok(self.settings.token, request.args):
                return response.text("forbidden", status=403)
            echostr = request.args.get("echostr")
            if not echostr:
                return response.text("echostr missing", status=400)
            return response.text(echostr)

        @wechat.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            return await self._receive(request, on_new_message)

        return wechat

    async def _receive(self, request: Request, on_new_message) -> HTTPResponse:
        if self.app is None:
            self.app = request.app
        args = request.args
        if not signature_ok(self.settings.token, args):
            return response.text("forbidden", status=403)
        body = await self._read_body(request)
        if body is None:
            return response.text("body too large", status=400)
        try:
            outer = parse_xml(body)
        except BadXML as exc:
            logger.warning("wechat: rejected a request: %s", exc)
            return response.text("bad request", status=400)

        encrypted = args.get("encrypt_type", "raw").lower() == "aes"
        if encrypted:
            message_or_status = self._decrypt(outer, args)
            if isinstance(message_or_status, int):
                return response.text("forbidden" if message_or_status == 403 else "bad request",
                                     status=message_or_status)
            message = message_or_status
        else:
            message = outer
        if not field(message, "FromUserName") or not field(message, "MsgType"):
            return response.text("bad request", status=400)

        if not await self._first_delivery(delivery_key(message)):
            return response.text(SUCCESS)  # WeChat's retry of a message being (or already) answered

        reply = await self.answer(on_new_message, message)
        if not reply:
            return response.text(SUCCESS)
        xml = text_reply_xml(field(message, "FromUserName"), field(message, "ToUserName"), reply)
        if encrypted:
            xml = self.crypto.encrypt_message(xml, args.get("nonce", ""))
        return response.text(xml, content_type="application/xml; charset=utf-8")

    def _decrypt(self, outer: Mapping[str, Any], args: Mapping[str, str]) -> Union[Dict[str, Any], int]:
        """The inner message of a safe-mode request, or the HTTP status to answer."""
        if self.crypto is None:
            logger.warning("wechat: an encrypted message arrived but WECHAT_AES_KEY is not set")
            return 400
        encrypt = field(outer, "Encrypt")
        msg_signature, timestamp, nonce = args.get("msg_signature", ""), args.get("timestamp", ""), args.get("nonce", "")
        if not msg_signature:
            return 403
        if not encrypt:
            return 400
        if not hmac.compare_digest(signature(self.settings.token, timestamp, nonce, encrypt).encode(),
                                   msg_signature.lower().encode()):
            return 403
        try:
            from wechatpy.crypto import PrpCrypto

            inner = PrpCrypto(self.crypto.key).decrypt(encrypt, self.settings.app_id)
        except Exception as exc:  # bad base64 / padding / another account's AppID
            logger.warning("wechat: could not decrypt a message: %s", type(exc).__name__)
            return 400
        try:
            return parse_xml(inner)
        except BadXML as exc:
            logger.warning("wechat: rejected an encrypted message: %s", exc)
            return 400
