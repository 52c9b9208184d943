"""The Telegram channel's plain parts, without a server (the end-to-end tests: tests/e2e/test_telegram.py)."""
import asyncio
import time

import pytest
from telegram import Message
from telegram.error import BadRequest, Forbidden, NetworkError

from bot.tickets.outbox import Undeliverable
from connectors.telegram import (TelegramInput, TelegramOutput, TelegramSettings, chat_of, command_text,
                                 conversation_id, is_addressed, language_of_user, polling_secret, split_text,
                                 text_of)

BOT_ID, BOT = 7000000001, "community_test_bot"


def msg(text=None, chat_type="private", **fields):
    data = {"message_id": 1, "date": int(time.time()), "chat": {"id": -100123 if chat_type != "private" else 42,
                                                                  "type": chat_type},
            "from": {"id": 42, "is_bot": False, "first_name": "A", "language_code": "zh-hans"}}
    if text is not None:
        data["text"] = text
    data.update(fields)
    return Message.de_json(data, None)


def test_split_keeps_every_piece_within_the_limit_and_loses_nothing():
    text = "\n\n".join(["第一段。" * 300, "第二段" * 700, "x" * 5000])
    pieces = split_text(text)
    assert all(len(p.encode("utf-16-le")) // 2 <= 4096 for p in pieces)
    assert "".join(pieces).replace("\n", "") == text.replace("\n", "")
    assert split_text("  short  ") == ["short"] and split_text("") == []


def test_split_counts_emoji_as_two_units():
    pieces = split_text("🚨" * 3000)
    assert len(pieces) == 2 and all(len(p) <= 2048 for p in pieces)


def test_group_conversations_belong_to_the_member_and_go_to_the_group():
    assert conversation_id(42) == "42" and chat_of("42") == "42"
    assert conversation_id(-100123, 42) == "-100123_42" and chat_of("-100123_42") == "-100123"


@pytest.mark.parametrize("code,lang", [(None, "zh-Hans"), ("zh-hans", "zh-Hans"), ("zh-hant", "zh-Hant"),
                                       ("zh-TW", "zh-Hant"), ("en", "en"), ("de", "en")])
def test_language_from_the_client(code, lang):
    user = type("U", (), {"language_code": code})()
    assert language_of_user(user) == lang


def test_commands_never_reach_rasas_intent_syntax():
    assert command_text("/start", "zh-Hans", BOT) == "你好"
    assert command_text("/start@community_test_bot", "en", BOT) == "hello"
    assert command_text("/cancel", "zh-Hans", BOT) == "cancel"
    assert command_text("/greet{\"x\": 1}", "zh-Hans", BOT).startswith("greet")
    assert command_text("楼道灯坏了", "zh-Hans", BOT) == "楼道灯坏了"


def test_addressed_in_a_group():
    mention = f"@{BOT}"
    assert is_addressed(msg(f"{mention} 你好", "group", entities=[{"type": "mention", "offset": 0, "length": len(mention)}]),
                        BOT_ID, BOT)
    assert not is_addressed(msg("@someone 你好", "group", entities=[{"type": "mention", "offset": 0, "length": 8}]),
                            BOT_ID, BOT)
    assert is_addressed(msg(f"/help@{BOT}", "group", entities=[{"type": "bot_command", "offset": 0, "length": 24}]),
                        BOT_ID, BOT)
    assert not is_addressed(msg("/help", "group", entities=[{"type": "bot_command", "offset": 0, "length": 5}]), BOT_ID, BOT)
    reply = {"message_id": 9, "date": int(time.time()), "chat": {"id": -100123, "type": "group"},
             "from": {"id": BOT_ID, "is_bot": True, "first_name": "B"}, "text": "hi"}
    assert is_addressed(msg("谢谢", "group", reply_to_message=reply), BOT_ID, BOT)
    assert not is_addressed(msg("谢谢", "group"), BOT_ID, BOT)


def test_location_and_contact_become_text_the_form_reads():
    from bot.intake import extract_phone, parse_correction

    point = text_of(msg(location={"latitude": 31.2304, "longitude": 121.4737}), "zh-Hans")
    assert "31.230400" in point and parse_correction(point)[0] == "location"
    venue = text_of(msg(venue={"location": {"latitude": 31.2, "longitude": 121.4}, "title": "阳光花园",
                               "address": "幸福路12号"}), "zh-Hans")
    assert "阳光花园" in venue and "幸福路12号" in venue
    contact = text_of(msg(contact={"phone_number": "+8613812345678", "first_name": "A"}), "en")
    assert extract_phone(contact) == "13812345678" and parse_correction(contact)[0] == "phone"
    assert text_of(msg(photo=[{"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1}],
                       caption="楼道灯坏了"), "zh-Hans") == "楼道灯坏了"
    assert text_of(msg(photo=[{"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1}]), "zh-Hans") is None


def test_webhook_refused_without_a_secret_token():
    settings = TelegramSettings.from_env({"TELEGRAM_TOKEN": "1:a"})
    assert settings.mode == "webhook" and settings.secret_token == ""
    assert not TelegramInput(settings).webhook_enabled
    assert TelegramSettings.from_env({"TELEGRAM_TOKEN": "1:a", "TELEGRAM_SECRET_TOKEN": "bad secret!"}).secret_is_valid is False


def test_polling_derives_a_hand_over_secret_and_base_url_is_configurable():
    settings = TelegramSettings.from_env({"TELEGRAM_TOKEN": "1:a", "TELEGRAM_MODE": "polling",
                                          "TELEGRAM_API_BASE_URL": "http://127.0.0.1:8081/"})
    assert settings.secret_token == polling_secret("1:a") and settings.secret_is_valid
    assert settings.api_base_url == "http://127.0.0.1:8081"
    assert TelegramSettings.from_env({"TELEGRAM_TOKEN": "1:a"}).api_base_url == "https://api.telegram.org"


class FakeBot:
    def __init__(self, error=None):
        self.error, self.sent = error, []

    async def send_message(self, **kwargs):
        if self.error:
            raise self.error
        self.sent.append(kwargs)


def test_blocked_chat_is_undeliverable_and_network_trouble_is_not():
    with pytest.raises(Undeliverable, match="undeliverable"):
        asyncio.run(TelegramOutput(FakeBot(Forbidden("Forbidden: bot was blocked by the user"))).send_text_message("42", "hi"))
    with pytest.raises(Undeliverable):
        asyncio.run(TelegramOutput(FakeBot(BadRequest("Bad Request: chat not found"))).send_text_message("42", "hi"))
    with pytest.raises(NetworkError):
        asyncio.run(TelegramOutput(FakeBot(NetworkError("connection reset"))).send_text_message("42", "hi"))
    bot = FakeBot()
    asyncio.run(TelegramOutput(bot).send_text_message("-100123_42", "hi"))
    assert bot.sent[0]["chat_id"] == "-100123" and bot.sent[0]["text"] == "hi"


def test_errors_are_logged_without_the_bot_token():
    channel = TelegramInput(TelegramSettings.from_env({"TELEGRAM_TOKEN": "123:secret-part", "TELEGRAM_SECRET_TOKEN": "s"}))
    assert "secret-part" not in channel._safe(Exception("The token `123:secret-part` was rejected by the server."))
    assert "secret-part" not in repr(channel.settings)
