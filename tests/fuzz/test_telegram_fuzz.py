"""Fuzzing the Telegram webhook (connectors/telegram.py): no crash, only clean rejections.

* ``TelegramInput.receive``: the ``POST /webhooks/telegram/webhook`` route (secret header, JSON body,
  ``update_id``, deduplication, hand-over to the background handler), called with a real Sanic request
  object. It must answer 200, 400 or 403 as predicted from the input, never raise.
* ``TelegramInput.handle_update``: what an update becomes: one message for Rasa, one polite text
  sent back, or nothing. It never raises by design (a catch-all logs "handling failed" at ERROR), so
  the properties look at what it did: for an update shaped as the Bot API documents, any ERROR the
  channel logs counts as a crash; for payloads Telegram never sends (wrong JSON types, missing
  required fields) only that catch-all is tolerated.

The Bot API is answered in-process (a python-telegram-bot ``BaseRequest`` that serves getMe and
records sendMessage), so the real ``telegram.Bot`` parses and sends; nothing touches the network or a
database (deduplication is replaced by a counter).
"""
import asyncio
import json
import logging
import os
import re
from types import SimpleNamespace
from typing import Any, Dict, List, Optional, Tuple
from unittest import mock

from hypothesis import HealthCheck, event, given, settings, strategies as st
from sanic.compat import Header
from sanic.request import Request
from telegram import Bot
from telegram.request import BaseRequest

from bot.texts import render
from connectors.telegram import SECRET_HEADER, TelegramInput, TelegramSettings, language_of_user

# Every example is the same on every run (derandomize): CI is reproducible. FUZZ_SCALE=20 runs twenty
# times as many (a longer hunt); at 1 the whole of tests/fuzz takes about half a minute on two cores.
SCALE = float(os.environ.get("FUZZ_SCALE", "1"))


def fuzz(max_examples: int) -> settings:
    return settings(max_examples=max(1, int(max_examples * SCALE)), deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


BOT_ID, BOT_NAME = 7000000001, "community_test_bot"
TOKEN = f"{BOT_ID}:fuzz-token"
SECRET = "fuzz_secret-0123"
NOW = 1_700_000_000


# --------------------------------------------------------------------------------------------------
# the Bot API in-process, the channel, running an update


class LocalBotAPI(BaseRequest):
    """Answers the Bot API calls the channel makes (getMe, sendMessage) without any network."""

    def __init__(self) -> None:
        self.sent: List[Dict[str, Any]] = []

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def do_request(self, url, method, request_data=None, read_timeout=None, write_timeout=None,
                         connect_timeout=None, pool_timeout=None) -> Tuple[int, bytes]:
        endpoint = url.rsplit("/", 1)[-1]
        params = request_data.parameters if request_data is not None else {}
        if endpoint == "getMe":
            result: Any = {"id": BOT_ID, "is_bot": True, "first_name": "社区助手", "username": BOT_NAME}
        elif endpoint == "sendMessage":
            if not re.fullmatch(r"-?\d+", str(params.get("chat_id"))):  # what Telegram answers
                return 400, json.dumps({"ok": False, "error_code": 400,
                                        "description": "Bad Request: chat not found"}).encode()
            self.sent.append(params)
            result = {"message_id": len(self.sent), "date": NOW, "text": params.get("text"),
                      "chat": {"id": int(params["chat_id"]), "type": "private"}}
        else:
            return 404, json.dumps({"ok": False, "error_code": 404, "description": "Not Found"}).encode()
        return 200, json.dumps({"ok": True, "result": result}).encode()


class Outcome:
    def __init__(self, channel: TelegramInput, api: LocalBotAPI):
        self.channel, self.api = channel, api
        self.to_rasa: List[Any] = []
        self.errors: List[logging.LogRecord] = []

    @property
    def sent(self) -> List[Dict[str, Any]]:
        return self.api.sent

    async def on_new_message(self, message) -> None:
        self.to_rasa.append(message)


class ErrorLog(logging.Handler):
    def __init__(self, records: List[logging.LogRecord]):
        super().__init__(logging.ERROR)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


_CHANNEL: List[Tuple[TelegramInput, LocalBotAPI]] = []


def new_outcome() -> Outcome:
    """The channel (built once: it holds no state between updates but getMe's answer) with a fresh record."""
    if not _CHANNEL:
        api = LocalBotAPI()
        bot = Bot(TOKEN, base_url="http://127.0.0.1:9/bot", request=api, get_updates_request=LocalBotAPI())
        settings_ = TelegramSettings(token=TOKEN, secret_token=SECRET, api_base_url="http://127.0.0.1:9",
                                     webhook_url="", mode="webhook")
        _CHANNEL.append((TelegramInput(settings_, bot=bot), api))
    channel, api = _CHANNEL[0]
    assert not channel._tasks and not channel._locks._locks  # nothing left over from the last update
    api.sent.clear()
    return Outcome(channel, api)


def run(outcome: Outcome, coroutine_factory) -> Any:
    """Run a coroutine of the channel to the end (and the background tasks it started), recording
    what the channel logs at ERROR."""
    logger = logging.getLogger("connectors.telegram")
    handler = ErrorLog(outcome.errors)
    logger.addHandler(handler)

    async def scenario():
        result = await coroutine_factory()
        while outcome.channel._tasks:
            await asyncio.gather(*list(outcome.channel._tasks))
        return result

    try:
        return asyncio.run(scenario())
    finally:
        logger.removeHandler(handler)


def handle(data: Dict[str, Any]) -> Outcome:
    outcome = new_outcome()
    assert run(outcome, lambda: outcome.channel.handle_update(data, outcome.on_new_message)) is None
    return outcome


def assert_rasa_messages_are_clean(outcome: Outcome, data: Dict[str, Any]) -> None:
    """Whatever reaches Rasa is text, never empty, never Rasa's '/intent' syntax, and carries ids
    that belong to the update."""
    assert len(outcome.to_rasa) <= 1 and len(outcome.sent) <= 1
    assert not (outcome.to_rasa and outcome.sent)  # one outcome per update
    for message in outcome.to_rasa:
        assert isinstance(message.text, str) and message.text and not message.text.startswith("/")
        assert message.input_channel == "telegram"
        meta = message.metadata["telegram"]
        assert meta["update_id"] == data["update_id"]
        assert message.message_id == f"telegram-{meta['chat_id']}-{meta['message_id']}"


# --------------------------------------------------------------------------------------------------
# strategies: updates shaped as the Bot API documents them


text = st.text(max_size=40)


class Huge(str):
    """A long repeated string that prints short in Hypothesis' reports."""

    def __repr__(self) -> str:
        return f"({self[:1]!r} * {len(self)})"


def repeated(unit: str, length: int) -> "Huge":
    return Huge((unit * length)[:length])


message_text = st.one_of(text, st.sampled_from(["/start", "/help", "/start@community_test_bot", "/cancel extra",
                                                "/", "//x", " /start", "/greet{\"a\": 1}", "@community_test_bot",
                                                "@Community_Test_Bot 楼道灯坏了", "楼道灯坏了三天", "   ", ""]),
                         st.builds(repeated, st.text(min_size=1, max_size=3), st.integers(4_000, 20_000)))
user = st.fixed_dictionaries({"id": st.integers(1, 2**40), "is_bot": st.booleans(), "first_name": text},
                             optional={"language_code": st.one_of(st.sampled_from(["zh-hans", "zh-hant", "zh-TW", "en",
                                                                                   "de", "", "ZH"]), text),
                                       "username": text, "last_name": text})
bot_user = st.just({"id": BOT_ID, "is_bot": True, "first_name": "社区助手", "username": BOT_NAME})
chat = st.fixed_dictionaries({"id": st.integers(-10**13, 10**13),
                              "type": st.sampled_from(["private"] * 3 + ["group", "supergroup", "channel"])},
                             optional={"title": text, "username": text})


@st.composite
def entities_for(draw, content: str, aligned: bool) -> List[Dict[str, Any]]:
    """Entities of any kind over any part of the text, overlapping, empty. Offsets and lengths are in
    UTF-16 code units; ``aligned``: on character boundaries, as Telegram sends them, else anywhere
    (inside a surrogate pair, past the end)."""
    size = len(content.encode("utf-16-le")) // 2
    if aligned and not content:
        return []
    bounds, at = [0], 0
    for char in content[:200]:
        at += 2 if ord(char) > 0xFFFF else 1
        bounds.append(at)
    kinds = st.sampled_from(["mention", "bot_command", "text_mention", "hashtag", "url", "bold", "custom_emoji",
                             "spoiler", "unknown_kind"])
    out = []
    for _ in range(draw(st.integers(0, 4))):
        if aligned:  # at least one character, starting and ending between characters
            start = draw(st.sampled_from(bounds[:-1]))
            end = draw(st.sampled_from([b for b in bounds if b > start]))
        else:
            start, end = sorted([draw(st.integers(0, size + 3)), draw(st.integers(0, size + 3))])
        entity = {"type": draw(kinds), "offset": start, "length": end - start}
        if entity["type"] == "text_mention":
            entity["user"] = draw(st.one_of(bot_user, user))
        if entity["type"] == "custom_emoji":
            entity["custom_emoji_id"] = draw(text)
        out.append(entity)
    if "@community_test_bot" in content.lower() and draw(st.booleans()):
        at = content.lower().index("@community_test_bot")
        prefix = len(content[:at].encode("utf-16-le")) // 2
        out.append({"type": "mention", "offset": prefix, "length": len("@community_test_bot")})
    return out


photo = st.lists(st.fixed_dictionaries({"file_id": text, "file_unique_id": text, "width": st.integers(1, 5000),
                                        "height": st.integers(1, 5000)}), min_size=1, max_size=3)
location = st.fixed_dictionaries({"latitude": st.floats(-90, 90), "longitude": st.floats(-180, 180)},
                                 optional={"horizontal_accuracy": st.floats(0, 1500)})
media = {
    "photo": photo,
    "sticker": st.fixed_dictionaries({"file_id": text, "file_unique_id": text, "type": st.just("regular"),
                                      "width": st.integers(1, 512), "height": st.integers(1, 512),
                                      "is_animated": st.booleans(), "is_video": st.booleans()}),
    "voice": st.fixed_dictionaries({"file_id": text, "file_unique_id": text, "duration": st.integers(0, 3600)}),
    "document": st.fixed_dictionaries({"file_id": text, "file_unique_id": text}),
    "location": location,
    "venue": st.fixed_dictionaries({"location": location, "title": text, "address": text}),
    "contact": st.fixed_dictionaries({"phone_number": st.one_of(text, st.from_regex(r"\+?86 ?1[3-9]\d{9}",
                                                                                    fullmatch=True)),
                                      "first_name": text}),
    "poll": st.fixed_dictionaries({"id": text, "question": text, "options": st.just([]),
                                   "total_voter_count": st.just(0), "is_closed": st.booleans(),
                                   "is_anonymous": st.booleans(), "type": st.just("regular"),
                                   "allows_multiple_answers": st.booleans()}),
}


@st.composite
def message(draw, aligned: bool = True, depth: int = 0) -> Dict[str, Any]:
    data: Dict[str, Any] = {"message_id": draw(st.integers(1, 2**31)), "date": NOW, "chat": draw(chat)}
    if draw(st.booleans()) or data["chat"]["type"] == "private":
        data["from"] = draw(user)
    if draw(st.integers(0, 9)) == 0:
        data["sender_chat"] = draw(chat)
    kind = draw(st.sampled_from(["text", "text", "text", "caption"] + sorted(media)))
    if kind == "text":
        data["text"] = draw(message_text)
        if data["chat"]["type"] in ("group", "supergroup") and draw(st.booleans()):
            data["text"] = f"@{BOT_NAME} {data['text']}"  # addressed to the bot (an entity follows, mostly)
        data["entities"] = draw(entities_for(data["text"], aligned))
    else:
        if kind == "caption":
            kind = draw(st.sampled_from(["photo", "document"]))
        data[kind] = draw(media[kind])
        if kind in ("photo", "document") and draw(st.booleans()):
            data["caption"] = draw(message_text.filter(bool) if aligned else message_text)  # (never "" from Telegram)
            data["caption_entities"] = draw(entities_for(data["caption"], aligned))
    if depth == 0 and draw(st.integers(0, 3)) == 0:
        reply = draw(message(aligned, depth=1))
        if draw(st.booleans()):
            reply["from"] = draw(bot_user)
        data["reply_to_message"] = reply
    if draw(st.integers(0, 4)) == 0:
        data["message_thread_id"] = draw(st.integers(1, 2**31))
        data["is_topic_message"] = draw(st.booleans())
    if draw(st.booleans()) and depth == 0:
        data["edit_date"] = NOW + 1
    return data


UPDATE_KINDS = ["message"] * 6 + ["edited_message"] * 2 + ["channel_post", "edited_channel_post", "business_message",
                                                            "unknown_kind"]


@st.composite
def update(draw, aligned: bool = True) -> Dict[str, Any]:
    kind = draw(st.sampled_from(UPDATE_KINDS))
    return {"update_id": draw(st.integers(0, 2**31)), kind: draw(message(aligned))}


json_scalar = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False), text)
def json_containers(inner):
    return st.one_of(st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=4))


json_value = st.recursive(json_scalar, json_containers, max_leaves=12)


@st.composite
def damaged_update(draw) -> Dict[str, Any]:
    """A well-shaped update with some fields removed or replaced by a value of any JSON type, and
    entities anywhere."""
    data = draw(update(aligned=draw(st.booleans())))
    paths = []

    def walk(node, path):
        if isinstance(node, dict):
            for key, value in node.items():
                paths.append(path + (key,))
                walk(value, path + (key,))
        elif isinstance(node, list):
            for i, value in enumerate(node):
                paths.append(path + (i,))
                walk(value, path + (i,))

    walk(data, ())
    paths = [p for p in paths if p != ("update_id",)]
    for path in draw(st.lists(st.sampled_from(paths), min_size=1, max_size=3)) if paths else []:
        parent = data
        try:
            for step in path[:-1]:
                parent = parent[step]
            if isinstance(parent, dict) and draw(st.booleans()):
                parent.pop(path[-1], None)
            else:
                parent[path[-1]] = draw(json_value)
        except (KeyError, IndexError, TypeError):
            pass  # an earlier change removed or replaced this path
    return data


# --------------------------------------------------------------------------------------------------
# handle_update: well-shaped updates


def addressed_text(data: Dict[str, Any]) -> str:
    return f"{data.get('text') or ''} {data.get('caption') or ''}".lower()


@fuzz(150)
@given(update())
def test_a_well_shaped_update_gets_the_predicted_outcome(data):
    outcome = handle(data)
    assert outcome.errors == [], [r.getMessage() for r in outcome.errors]
    assert_rasa_messages_are_clean(outcome, data)

    kind = next(k for k in data if k != "update_id")
    msg = data[kind]
    chat_type = msg["chat"]["type"]
    event(f"{kind} in a {chat_type} chat: "
          + ("to Rasa" if outcome.to_rasa else "answered" if outcome.sent else "ignored"))
    if kind not in ("message", "edited_message") or chat_type == "channel":
        assert outcome.to_rasa == [] and outcome.sent == []  # not for this bot
        return
    private = chat_type == "private"
    if not private:
        reply_to_bot = (msg.get("reply_to_message") or {}).get("from", {}).get("id") == BOT_ID
        mentioned = "@community_test_bot" in addressed_text(msg) or any(
            e.get("user", {}).get("id") == BOT_ID for e in msg.get("entities", []) + msg.get("caption_entities", []))
        if not (reply_to_bot or mentioned):
            assert outcome.to_rasa == [] and outcome.sent == []  # a group conversation not meant for the bot
            return
    if outcome.to_rasa == [] and outcome.sent == []:
        assert not private  # in a group the bot may still not be addressed (a mention outside an entity)
        return
    person = (msg.get("sender_chat") or msg.get("from") or msg["chat"])["id"]
    sender_id = str(msg["chat"]["id"]) if private else f"{msg['chat']['id']}_{person}"
    has_text = any(k in msg for k in ("text", "caption", "location", "venue", "contact"))
    lang = language_of_user(SimpleNamespace(language_code=(msg.get("from") or {}).get("language_code")))
    if kind == "edited_message":
        assert outcome.to_rasa == [] and len(outcome.sent) == 1
        assert outcome.sent[0]["text"] == render("telegram.edited", lang)
    elif not has_text:
        assert outcome.to_rasa == [] and len(outcome.sent) == 1
        key = ("telegram.sticker" if "sticker" in msg else "telegram.photo" if "photo" in msg
               else "telegram.voice" if "voice" in msg else "telegram.unsupported")
        assert outcome.sent[0]["text"] == render(key, lang)
    else:
        assert outcome.sent == [] and len(outcome.to_rasa) == 1
        message_ = outcome.to_rasa[0]
        assert message_.sender_id == sender_id and re.fullmatch(r"-?\d+(_-?\d+)?", sender_id)
        plain = msg.get("text")
        if (private and plain is not None and not any(k in msg for k in ("location", "venue", "contact"))
                and plain.strip() and not plain.lstrip().startswith("/")):
            assert message_.text == plain.strip()  # the resident's words reach Rasa unchanged
    for sent in outcome.sent:
        assert str(sent["chat_id"]) == str(msg["chat"]["id"])
        if not private:
            assert sent["reply_parameters"]["message_id"] == msg["message_id"]  # answered in the group, as a reply


# --------------------------------------------------------------------------------------------------
# handle_update: damaged and random payloads


@fuzz(150)
@given(st.one_of(damaged_update(), st.dictionaries(text, json_value, max_size=5).map(dict)))
def test_a_damaged_or_random_update_is_contained(data):
    """Payloads Telegram never sends (fields missing or of the wrong JSON type, entities splitting a
    character): nothing escapes, nothing unclean reaches Rasa, at most one answer. Some of them do
    end in the handler's catch-all ("handling failed", logged at ERROR with a traceback, the update
    dropped), e.g. a message whose chat is missing or not an object, an entity whose offset is not a
    number or falls inside a surrogate pair, a language_code that is not text: that is the only error
    allowed here. (Only Telegram, holding the secret token, can post to the webhook.)"""
    data.setdefault("update_id", 1)
    outcome = handle(data)
    assert_rasa_messages_are_clean(outcome, data)
    for record in outcome.errors:
        assert "handling failed" in record.getMessage(), record.getMessage()
        event(f"contained crash: {type(record.exc_info[1]).__name__}")


# --------------------------------------------------------------------------------------------------
# receive: the HTTP route


def expected_update_id(body: bytes) -> Optional[int]:
    """The update_id the route should accept, or None when it should answer 400 (anything at all
    going wrong while reading it counts as a malformed request)."""
    try:
        return int(json.loads(body or b"")["update_id"])
    except Exception:
        return None


def post(body: bytes, secret: Optional[str]) -> Request:
    headers = {"content-type": "application/json", "content-length": str(len(body))}
    if secret is not None:
        headers[SECRET_HEADER] = secret
    request = Request(b"/webhooks/telegram/webhook", Header(headers), "1.1", "POST", None,
                      SimpleNamespace(ctx=SimpleNamespace()))
    request.body = body
    return request


def nested(depth: int) -> bytes:
    return b'{"update_id": 1, "message": ' + b"[" * depth + b"]" * depth + b"}"


def json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, allow_nan=True).encode("utf-8")


body_strategy = st.one_of(
    st.binary(max_size=200),
    update().map(json_bytes),
    damaged_update().map(json_bytes),
    json_value.map(json_bytes),
    st.sampled_from([b"", b"null", b"[]", b'"update_id"', b'{"update_id": null}', b'{"update_id": "12"}',
                     b'{"update_id": " 7 "}', b'{"update_id": 1.5}', b'{"update_id": true}', b'{"update_id": []}',
                     b'{"update_id": "1e3"}', b'{"update_id": NaN}', b'{"update_id": Infinity}',
                     b'{"update_id": -Infinity}', b'{"update_id": 1e400}', b'{"update_id": "' + b"9" * 5000 + b'"}',
                     b'{"update_id": 1, "message": {"chat": 5}}', b"\xef\xbb\xbf{\"update_id\": 3}",
                     '{"update_id": 4}'.encode("utf-16")]),
    st.integers(10, 200_000).map(nested),
)


@fuzz(150)
@given(body=body_strategy, secret=st.one_of(st.just(SECRET), st.none(), st.just(""), st.just(SECRET.upper()), text))
def test_the_route_answers_200_400_or_403_as_predicted(body, secret):
    outcome = new_outcome()
    deliveries: List[str] = []

    def first_delivery(channel: str, key: str) -> bool:
        deliveries.append(key)
        return True

    with mock.patch("bot.inbound.first_delivery", first_delivery):
        answer = run(outcome, lambda: outcome.channel.receive(post(body, secret), outcome.on_new_message))
    if secret != SECRET:
        assert answer.status == 403 and deliveries == []
        return
    update_id = expected_update_id(body)
    if update_id is None:
        assert answer.status == 400 and deliveries == [] and outcome.to_rasa == []
    else:
        assert answer.status == 200 and deliveries == [str(update_id)]
        assert_rasa_messages_are_clean(outcome, json.loads(body))
    for record in outcome.errors:  # only the handler's catch-all, for payloads Telegram never sends
        assert "handling failed" in record.getMessage(), record.getMessage()
