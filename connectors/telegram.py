"""Telegram channel: residents write to the community's Telegram bot (python-telegram-bot 20 `Bot`).

Rasa key ``connectors.telegram.TelegramInput``, switched on when ``TELEGRAM_TOKEN`` is set
(connectors/channels.py). Settings come from the environment, never from a committed file:

    TELEGRAM_TOKEN          the bot token from @BotFather (required)
    TELEGRAM_SECRET_TOKEN   shared secret Telegram sends in ``X-Telegram-Bot-Api-Secret-Token``
                            (required in webhook mode; 1–256 characters of A-Z a-z 0-9 _ -)
    TELEGRAM_API_BASE_URL   Bot API base, default https://api.telegram.org (a self-hosted Bot API
                            server, or a stand-in in tests)
    TELEGRAM_WEBHOOK_URL    public HTTPS URL of /webhooks/telegram/webhook; when set, the server
                            registers it (setWebhook) in the background, retrying with back-off
    TELEGRAM_MODE           ``webhook`` (default) or ``polling`` (python -m connectors.telegram_polling
                            fetches updates and hands them to this same webhook)

Inbound (``POST /webhooks/telegram/webhook``): the secret header is checked (403 otherwise), the update
is deduplicated by ``update_id`` across workers (bot/inbound.py), answered with 200 at once, and handled
in the background; replies go out through the Bot API (:class:`TelegramOutput`).

* Private chat: the conversation (Rasa sender id) is the chat id, which is the resident's user id.
* Group chat: the bot answers only when addressed (``@botname`` mention, a reply to one of the bot's
  messages, or ``/command@botname``). The conversation is ``<chat id>_<user id>``: each member of a
  group has their own conversation and tickets (nobody can query a neighbour's ticket), and answers
  go to the group as replies to the member's message. Later messages (staff replies, status changes)
  for such a conversation also go to that group.
* ``/start`` goes through Rasa as a greeting ("你好" / "哈囉" / "hello", by the conversation's or else
  the Telegram client's language), ``/help`` as a request for the menu, so the welcome is the bot's
  own and the conversation records the channel.
* Edited messages are not re-processed (re-running an edited complaint would file it twice or answer
  a question the form did not ask): the resident gets a short note to send a correction as a new
  message (e.g. "地址改成……").
* A location (or venue) becomes the text "位置：…" / "location: …", a shared contact "电话：…" /
  "phone: …": the report form reads both when it asks for them, and as corrections at the summary.
  A photo, video or document with a caption is handled as its caption; photos, stickers, voice and
  anything else without text get a polite text answer (bot/data/texts, ``telegram.*``).
* Commands never reach Rasa's ``/intent`` syntax: other ``/commands`` lose their slash.
"""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import os
import re
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Dict, List, Optional, Set, Text

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage

from bot.language import ENGLISH, LANGUAGES, SIMPLIFIED, TRADITIONAL
from bot.tickets.outbox import Undeliverable

logger = logging.getLogger(__name__)
# httpx logs every request URL at INFO, and Bot API URLs contain the bot token: keep it out of the logs.
logging.getLogger("httpx").setLevel(logging.WARNING)

CHANNEL = "telegram"
DEFAULT_API_BASE_URL = "https://api.telegram.org"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_MESSAGE_LENGTH = 4096  # Telegram's limit per message, counted here in UTF-16 code units (safe side)
ALLOWED_UPDATES = ["message", "edited_message"]
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
REGISTER_MAX_DELAY = 300.0  # seconds between setWebhook attempts, at most


# ---------------------------------------------------------------------------------------------------
# Settings


@dataclass
class TelegramSettings:
    token: str = field(repr=False)
    secret_token: str = field(repr=False)  # "" when none is configured (webhook mode refuses every update)
    api_base_url: str
    webhook_url: str
    mode: str  # "webhook" or "polling"

    @classmethod
    def from_env(cls, env: Optional[Dict[str, str]] = None) -> "TelegramSettings":
        env = dict(os.environ if env is None else env)
        token = (env.get("TELEGRAM_TOKEN") or "").strip()
        mode = (env.get("TELEGRAM_MODE") or "webhook").strip().lower()
        if mode not in ("webhook", "polling"):
            logger.error("TELEGRAM_MODE=%r is neither 'webhook' nor 'polling'; using webhook", mode)
            mode = "webhook"
        secret = (env.get("TELEGRAM_SECRET_TOKEN") or "").strip()
        if not secret and mode == "polling" and token:
            secret = polling_secret(token)
        base = (env.get("TELEGRAM_API_BASE_URL") or DEFAULT_API_BASE_URL).strip().rstrip("/")
        base = re.sub(r"/bot$", "", base)  # the token path is added here; tolerate ".../bot"
        return cls(token=token, secret_token=secret, api_base_url=base,
                   webhook_url=(env.get("TELEGRAM_WEBHOOK_URL") or "").strip(), mode=mode)

    @property
    def secret_is_valid(self) -> bool:
        return bool(_SECRET_RE.match(self.secret_token))


def polling_secret(token: str) -> str:
    """In polling mode without TELEGRAM_SECRET_TOKEN, the poller and the server (both knowing the bot
    token) authenticate the hand-over with a secret derived from it; Telegram never sees it."""
    return hmac.new(token.encode(), b"community-bot telegram polling hand-over", hashlib.sha256).hexdigest()


def make_requests(long_poll_timeout: float = 0):
    """(getUpdates request, request for everything else): HTTPX with a connection pool, so that
    several chats are answered at once (PTB's default pool has a single connection)."""
    from telegram.request import HTTPXRequest

    return (HTTPXRequest(connection_pool_size=1, connect_timeout=10.0, read_timeout=long_poll_timeout + 15.0,
                         pool_timeout=10.0),
            HTTPXRequest(connection_pool_size=16, connect_timeout=10.0, read_timeout=20.0, write_timeout=20.0,
                         pool_timeout=10.0))


def make_bot(settings: TelegramSettings, requests=None):
    """A python-telegram-bot `Bot` on the configured Bot API base."""
    from telegram import Bot

    updates_request, request = requests or make_requests()
    return Bot(settings.token, base_url=f"{settings.api_base_url}/bot",
               base_file_url=f"{settings.api_base_url}/file/bot", request=request,
               get_updates_request=updates_request)


# ---------------------------------------------------------------------------------------------------
# Sending


def split_text(text: str, limit: int = MAX_MESSAGE_LENGTH) -> List[str]:
    """Pieces of at most ``limit`` UTF-16 code units, cut at a paragraph, line, sentence or word
    boundary where there is one in the second half of the piece."""
    def units(s: str) -> int:
        return len(s.encode("utf-16-le")) // 2

    text = (text or "").strip()
    pieces: List[str] = []
    while text:
        if units(text) <= limit:
            pieces.append(text)
            break
        # The longest prefix (in code points) within the limit.
        end, size = 0, 0
        for ch in text:
            step = 2 if ord(ch) > 0xFFFF else 1
            if size + step > limit:
                break
            size += step
            end += 1
        window = text[:end]
        cut = -1
        for sep in ("\n\n", "\n", "。", "！", "？", ". ", "! ", "? ", "；", "，", ", ", " "):
            at = window.rfind(sep)
            if at >= end // 2:
                cut = at + len(sep)
                break
        if cut <= 0:
            cut = end
        piece = text[:cut].strip()
        if piece:
            pieces.append(piece)
        text = text[cut:].strip()
    return pieces


def conversation_id(chat_id: int, person_id: Optional[int] = None) -> str:
    """Rasa's sender id: the chat (private) or ``<chat>_<member>`` (group). "_" because it is unreserved
    in URLs: the id travels unchanged through /conversations/{id}/… however a client quotes it."""
    return str(chat_id) if person_id is None else f"{chat_id}_{person_id}"


def chat_of(recipient_id: Text) -> str:
    """The Telegram chat of a conversation (see :func:`conversation_id`)."""
    return str(recipient_id).split("_", 1)[0]


class TelegramOutput(OutputChannel):
    """Sends the bot's messages to a Telegram chat through the Bot API, inside a request or outside
    one (``/conversations/{id}/tracker/events?output_channel=latest&execute_side_effects=true``)."""

    @classmethod
    def name(cls) -> Text:
        return CHANNEL

    def __init__(self, bot, reply_to_message_id: Optional[int] = None,
                 message_thread_id: Optional[int] = None) -> None:
        self.bot = bot
        self.reply_to_message_id = reply_to_message_id
        self.message_thread_id = message_thread_id

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        chat_id = chat_of(recipient_id)
        for piece in split_text(text):
            await self._send(chat_id, piece)

    async def send_text_with_buttons(self, recipient_id: Text, text: Text, buttons: List[Dict[Text, Any]],
                                     **kwargs: Any) -> None:
        # No inline keyboards (their callbacks would be a second inbound path): the options as text.
        lines = [text] + [f"{i + 1}. {b.get('title', '')}" for i, b in enumerate(buttons or [])]
        await self.send_text_message(recipient_id, "\n".join(lines))

    async def send_image_url(self, recipient_id: Text, image: Text, **kwargs: Any) -> None:
        await self.send_text_message(recipient_id, image)

    async def _send(self, chat_id: str, text: str) -> None:
        from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter

        attempts = 0
        while True:
            attempts += 1
            try:
                await self.bot.send_message(
                    chat_id=chat_id, text=text, reply_to_message_id=self.reply_to_message_id,
                    allow_sending_without_reply=True if self.reply_to_message_id else None,
                    message_thread_id=self.message_thread_id)
                return
            except Forbidden as exc:  # blocked by the user, kicked from the group, never started
                raise Undeliverable(f"undeliverable: telegram chat {chat_id} refused the message ({exc.message})") from exc
            except ChatMigrated as exc:  # a group became a supergroup: the new chat id, once
                if attempts > 1:
                    raise
                logger.warning("telegram chat %s migrated to %s", chat_id, exc.new_chat_id)
                chat_id = str(exc.new_chat_id)
            except BadRequest as exc:  # chat not found, empty text …: the same request cannot succeed
                raise Undeliverable(f"undeliverable: telegram rejected the message to chat {chat_id} ({exc.message})") from exc
            except RetryAfter as exc:  # flood control: wait once if it is short, else the caller retries later
                wait = float(getattr(exc, "retry_after", 1) or 1)
                if attempts > 1 or wait > 5:  # (the delivery service's request must not time out meanwhile)
                    raise
                await asyncio.sleep(wait)


# ---------------------------------------------------------------------------------------------------
# Reading updates


def language_of_user(user) -> str:
    """The resident's language from the Telegram client's ``language_code`` (Simplified by default)."""
    code = ((getattr(user, "language_code", None) or "") if user else "").lower()
    if not code:
        return SIMPLIFIED
    if code.startswith("zh"):
        return TRADITIONAL if any(tag in code for tag in ("hant", "tw", "hk", "mo")) else SIMPLIFIED
    return ENGLISH


def is_addressed(message, bot_id: Optional[int], username: Optional[str]) -> bool:
    """In a group: a reply to the bot, an @mention of it, or a /command@botname."""
    reply = getattr(message, "reply_to_message", None)
    if reply is not None and reply.from_user is not None and bot_id is not None and reply.from_user.id == bot_id:
        return True
    name = (username or "").lower()
    entities = message.parse_entities() if message.text else message.parse_caption_entities()
    for entity, value in entities.items():
        if entity.type == "mention" and name and value.lower() == f"@{name}":
            return True
        if entity.type == "text_mention" and entity.user is not None and bot_id is not None and entity.user.id == bot_id:
            return True
        if entity.type == "bot_command" and name and "@" in value and value.split("@", 1)[1].lower() == name:
            return True
    return False


def strip_mention(text: str, username: Optional[str]) -> str:
    if username:
        text = re.sub(rf"@{re.escape(username)}\b", " ", text, flags=re.IGNORECASE)
    return re.sub(r"[ \t]+", " ", text).strip()


# What /start and /help say to the bot, per language: phrases the NLU reads as greet / help, in the
# script the answer should have (checked against the trained model).
GREETING = {SIMPLIFIED: "你好", TRADITIONAL: "哈囉", ENGLISH: "hello"}
HELP = {SIMPLIFIED: "你能帮我做什么", TRADITIONAL: "你能幫我做什麼", ENGLISH: "what can you help me with"}


def command_text(text: str, lang: str, username: Optional[str]) -> str:
    """What a command means to the bot: /start greets and /help asks for the menu (through Rasa, so the
    answer is the bot's own and is in the conversation); other commands lose their slash so that
    Rasa never reads them as its '/intent{entities}' syntax."""
    if not text.startswith("/"):
        return text
    head, _, rest = text.partition(" ")
    command = head[1:].split("@", 1)[0].lower()
    if command == "start":
        return GREETING.get(lang, GREETING[SIMPLIFIED])
    if command == "help":
        return HELP.get(lang, HELP[SIMPLIFIED])
    return f"{command} {rest}".strip().lstrip("/")


def _coordinate(value: float) -> str:
    return f"{value:.6f}"


def text_of(message, lang: str) -> Optional[str]:
    """The text a message stands for, or None when it has none (a photo without caption, a sticker…)."""
    from bot.texts import render

    if message.venue is not None:
        venue = message.venue
        place = ", ".join(p for p in (venue.title, venue.address) if p)
        return render("telegram.location_venue", lang, place=place)
    if message.location is not None:
        loc = message.location
        return render("telegram.location_point", lang, latitude=_coordinate(loc.latitude),
                      longitude=_coordinate(loc.longitude))
    if message.contact is not None:
        phone = re.sub(r"[^\d+]", "", message.contact.phone_number or "")
        national = re.sub(r"^\+?86(?=1[3-9]\d{9}$)", "", phone)
        return render("telegram.contact", lang, phone=national)
    return message.text if message.text is not None else message.caption


def polite_key(message) -> str:
    """Which polite answer a message without text gets."""
    if message.sticker is not None:
        return "telegram.sticker"
    if message.photo:
        return "telegram.photo"
    if message.voice is not None or message.audio is not None or message.video_note is not None:
        return "telegram.voice"
    return "telegram.unsupported"


class _KeyedLocks:
    """One FIFO lock per conversation, so a resident's messages are handled in the order they came."""

    def __init__(self) -> None:
        self._locks: Dict[str, asyncio.Lock] = {}
        self._users: Dict[str, int] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str):
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key]
                del self._locks[key]


# ---------------------------------------------------------------------------------------------------
# The input channel


class TelegramInput(InputChannel):
    """Telegram webhook (or polling hand-over) → Rasa; replies through :class:`TelegramOutput`."""

    @classmethod
    def name(cls) -> Text:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "TelegramInput":
        # credentials.yml carries only the switch (an empty mapping); the settings are in the environment.
        settings = TelegramSettings.from_env()
        if not settings.token:
            cls.raise_missing_credentials_exception()
        return cls(settings)

    def __init__(self, settings: TelegramSettings, bot=None) -> None:
        self.settings = settings
        self._requests = make_requests()
        self.bot = bot or make_bot(settings, requests=self._requests)
        self._me = None  # telegram.User of the bot, once getMe answered
        self._tasks: Set[asyncio.Task] = set()
        self._locks = _KeyedLocks()
        self._agent = None
        if not settings.secret_token:
            logger.error("Telegram webhook refused: TELEGRAM_SECRET_TOKEN is not set, so every update to "
                         "/webhooks/telegram/webhook gets 403. Set it (see connectors/README_telegram.md) "
                         "or use TELEGRAM_MODE=polling.")
        elif settings.mode == "webhook" and not settings.secret_is_valid:
            logger.error("TELEGRAM_SECRET_TOKEN may contain only A-Z, a-z, 0-9, _ and - (1-256 characters); "
                         "Telegram will refuse it in setWebhook")

    @property
    def webhook_enabled(self) -> bool:
        return bool(self.settings.secret_token)

    def get_output_channel(self) -> Optional[OutputChannel]:
        return TelegramOutput(self.bot)

    # -- start-up and shut-down ---------------------------------------------------------------------

    async def _ensure_me(self):
        """getMe once (the bot's id and username, needed in groups); retried on the next update."""
        if self._me is None:
            try:
                self._me = await self.bot.get_me()
            except Exception as exc:
                logger.warning("telegram getMe failed (%s); group messages cannot be checked for mentions yet",
                               self._safe(exc))
        return self._me

    def _safe(self, exc: BaseException) -> str:
        """An error for the log, without the bot token (some errors quote it)."""
        return str(exc).replace(self.settings.token, "<TELEGRAM_TOKEN>") if self.settings.token else str(exc)

    async def register_webhook(self, first_delay: float = 1.0) -> None:
        """setWebhook with the secret token, retried with exponential back-off until it succeeds (only an
        invalid token stops it). Runs in the background: the server is up whatever Telegram says."""
        from telegram.error import InvalidToken

        delay = first_delay
        attempt = 0
        while True:
            attempt += 1
            try:
                await self.bot.set_webhook(url=self.settings.webhook_url, secret_token=self.settings.secret_token,
                                           allowed_updates=ALLOWED_UPDATES)
                logger.info("telegram webhook registered at %s (attempt %d)", self.settings.webhook_url, attempt)
                return
            except InvalidToken as exc:
                logger.error("telegram rejected TELEGRAM_TOKEN (%s); webhook not registered", self._safe(exc))
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("telegram setWebhook failed (attempt %d: %s); retrying in %.0f s", attempt,
                               self._safe(exc), delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, REGISTER_MAX_DELAY)

    def _spawn(self, coroutine: Awaitable[Any]) -> asyncio.Task:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _after_start(self, app, _loop) -> None:
        self._agent = getattr(app.ctx, "agent", None)
        if self.settings.mode == "webhook" and self.settings.webhook_url:
            if self.webhook_enabled and self.settings.secret_is_valid:
                self._spawn(self.register_webhook())
            else:
                logger.error("TELEGRAM_WEBHOOK_URL is set but TELEGRAM_SECRET_TOKEN is missing or invalid: "
                             "the webhook is not registered")
        self._spawn(self._ensure_me())

    async def _before_stop(self, _app, _loop) -> None:
        pending = [t for t in self._tasks if not t.done()]
        if pending:  # let messages being answered finish, briefly
            _, still = await asyncio.wait(pending, timeout=5)
            for task in still:
                task.cancel()
        for request in self._requests:
            with contextlib.suppress(Exception):
                await request.shutdown()

    # -- the webhook --------------------------------------------------------------------------------

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        telegram_webhook = Blueprint("telegram_webhook", __name__)
        telegram_webhook.listener("after_server_start")(self._after_start)
        telegram_webhook.listener("before_server_stop")(self._before_stop)

        @telegram_webhook.route("/", methods=["GET"])
        async def health(_request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @telegram_webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            return await self.receive(request, on_new_message)

        return telegram_webhook

    async def receive(self, request: Request, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> HTTPResponse:
        from bot.inbound import first_delivery

        given = request.headers.get(SECRET_HEADER, "")
        if not self.webhook_enabled or not hmac.compare_digest(given.encode(), self.settings.secret_token.encode()):
            return response.json({"ok": False, "description": "Forbidden"}, status=403)
        try:
            data = json.loads(request.body or b"")
            update_id = int(data["update_id"])
        # (OverflowError: an update_id of Infinity or 1e400; RecursionError: JSON nested too deeply)
        except (ValueError, TypeError, KeyError, OverflowError, RecursionError):
            return response.json({"ok": False, "description": "not a Telegram update"}, status=400)
        try:
            first = await asyncio.get_running_loop().run_in_executor(None, first_delivery, CHANNEL, str(update_id))
        except Exception:
            logger.exception("telegram update %s: deduplication store unavailable; Telegram will retry", update_id)
            return response.json({"ok": False}, status=503)
        if first:
            self._spawn(self.handle_update(data, on_new_message))
        else:
            logger.info("telegram update %s delivered again; ignored", update_id)
        return response.json({"ok": True})

    async def handle_update(self, data: Dict[str, Any], on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        """Everything after the 200: read the update, answer it. Never raises."""
        from telegram import Update

        try:
            update = Update.de_json(data, self.bot)
        except Exception as exc:
            logger.warning("telegram update %s could not be read (%s); ignored", data.get("update_id"), exc)
            return
        message = update.message or update.edited_message
        if message is None:
            logger.debug("telegram update %s without a message (%s); ignored", update.update_id, list(data))
            return
        try:
            await self._handle_message(update, message, edited=update.edited_message is not None,
                                       on_new_message=on_new_message)
        except Exception:
            logger.exception("telegram update %s: handling failed", update.update_id)

    async def _handle_message(self, update, message, edited: bool, on_new_message) -> None:
        from bot.texts import render

        chat = message.chat
        if chat.type == "channel":
            return
        private = chat.type == "private"
        me = await self._ensure_me()
        username = me.username if me else None
        if not private and not is_addressed(message, me.id if me else None, username):
            return
        person = message.sender_chat.id if message.sender_chat is not None else (
            message.from_user.id if message.from_user is not None else chat.id)
        sender_id = conversation_id(chat.id, None if private else person)
        output = TelegramOutput(
            self.bot, reply_to_message_id=None if private else message.message_id,
            message_thread_id=message.message_thread_id if message.is_topic_message else None)
        # One message of a conversation at a time, in the order they came (the polite answers too).
        async with self._locks.hold(sender_id):
            plain_text = private and not edited and message.text is not None and not message.text.startswith("/")
            # The language matters only for the channel's own words: not looked up for plain text.
            lang = SIMPLIFIED if plain_text else await self._language(sender_id, message.from_user)
            if edited:
                await self._say(output, sender_id, render("telegram.edited", lang))
                return
            text = text_of(message, lang)
            if text is None:
                await self._say(output, sender_id, render(polite_key(message), lang))
                return
            if not private:
                text = strip_mention(text, username)
            text = command_text(text.strip(), lang, username)
            if not text:  # a bare "@botname"
                text = GREETING.get(lang, GREETING[SIMPLIFIED])
            metadata = {"telegram": {"update_id": update.update_id, "message_id": message.message_id,
                                     "chat_id": chat.id, "chat_type": chat.type,
                                     "language_code": getattr(message.from_user, "language_code", None)}}
            await on_new_message(UserMessage(
                text, output, sender_id, input_channel=CHANNEL, metadata=metadata,
                message_id=f"telegram-{chat.id}-{message.message_id}"))

    async def _say(self, output: TelegramOutput, sender_id: str, text: str) -> None:
        try:
            await output.send_text_message(sender_id, text)
        except Undeliverable as exc:
            logger.warning("%s", exc)

    async def _language(self, sender_id: str, user) -> str:
        """The conversation's language when the bot has one (its `language` slot), else the client's."""
        try:
            if self._agent is not None and self._agent.tracker_store is not None:
                tracker = await self._agent.tracker_store.retrieve(sender_id)
                value = tracker.get_slot("language") if tracker is not None else None
                if value in LANGUAGES:
                    return value
        except Exception as exc:  # the language of a polite note is not worth failing for
            logger.debug("telegram: no tracker language for %s (%s)", sender_id, exc)
        return language_of_user(user)
