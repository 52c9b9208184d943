"""The Telegram channel end to end: the real stack (`python -m bot.cli run`) with TELEGRAM_* set,
its Bot API pointed at a local stand-in (tests/standins/telegram_server.py), driven the way Telegram
drives it: updates POSTed to /webhooks/telegram/webhook with the secret header (webhook mode), or
served through getUpdates (polling mode). Everything talks to 127.0.0.1 only."""
from __future__ import annotations

import itertools
import json
import random
import re
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.e2e.conftest import running_stack
from tests.standins.telegram_server import TelegramStandIn

TOKEN = "123456789:TEST-token_for-the-stand-in"
SECRET = "e2e-secret_" + "x" * 20
BOT = "community_test_bot"
WEBHOOK_URL = "https://community.example/webhooks/telegram/webhook"  # only handed to the stand-in
LOCAL_ONLY = {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}

_update_ids = itertools.count(random.randint(10_000, 90_000) * 1000)
_message_ids = itertools.count(1)


def new_chat() -> int:
    return random.randint(100_000_000, 999_999_999)


def message(chat_id: int, text=None, *, user_id=None, chat_type="private", lang="zh-hans", **fields):
    user_id = user_id or chat_id
    chat = {"id": chat_id, "type": chat_type}
    chat.update({"first_name": "居民"} if chat_type == "private" else {"title": "阳光花园业主群"})
    body = {"message_id": next(_message_ids), "date": int(time.time()), "chat": chat,
            "from": {"id": user_id, "is_bot": False, "first_name": "居民", "language_code": lang}}
    if text is not None:
        body["text"] = text
    body.update(fields)
    return body


def update(msg: dict, kind: str = "message") -> dict:
    return {"update_id": next(_update_ids), kind: msg}


def post_update(stack, payload, secret=SECRET):
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    request = urllib.request.Request(f"{stack.base}/webhooks/telegram/webhook", data=json.dumps(payload).encode(),
                                     headers=headers)
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, time.monotonic() - started
    except urllib.error.HTTPError as error:
        return error.code, time.monotonic() - started


def texts(messages):
    return [m["text"] for m in messages]


def later_message(stack, conversation_id: str, text: str):
    path = (f"/conversations/{urllib.parse.quote(conversation_id, safe='')}/tracker/events"
            "?output_channel=latest&execute_side_effects=true")
    return stack.post(path, [{"event": "bot", "text": text}])


# ---------------------------------------------------------------------------------------------------
# Webhook mode


@pytest.fixture(scope="module")
def api():
    with TelegramStandIn(TOKEN, username=BOT) as stand_in:
        stand_in.fail_next["setWebhook"] = 2  # registration must survive a Bot API that fails at first
        yield stand_in


@pytest.fixture(scope="module")
def tg(model_path, tmp_path_factory, api):
    env = {"TELEGRAM_TOKEN": TOKEN, "TELEGRAM_SECRET_TOKEN": SECRET, "TELEGRAM_API_BASE_URL": api.base_url,
           "TELEGRAM_WEBHOOK_URL": WEBHOOK_URL, **LOCAL_ONLY}
    with running_stack(tmp_path_factory.mktemp("telegram"), env) as stack:
        yield stack
    log = stack.log_path.read_text(errors="replace")
    assert "handling failed" not in log and "could not be read" not in log, log[-3000:]


def test_webhook_needs_the_secret_token(tg, api):
    chat = new_chat()
    assert post_update(tg, update(message(chat, "你好")), secret=None)[0] == 403
    assert post_update(tg, update(message(chat, "你好")), secret="wrong-secret")[0] == 403
    assert post_update(tg, update(message(chat, "你好")), secret=SECRET)[0] == 200
    replies = texts(api.wait_for_messages(chat))  # the one accepted update, answered once
    assert sum("社区服务助手" in r for r in replies) == 1, replies


def test_message_gets_the_bots_chinese_answer_quickly(tg, api):
    chat = new_chat()
    status, elapsed = post_update(tg, update(message(chat, "楼上邻居天天半夜装修电钻响，吵得睡不着")))
    assert status == 200 and elapsed < 3, elapsed  # answered at once; the reply goes via sendMessage
    replies = texts(api.wait_for_messages(chat))
    assert replies, "no answer reached the Bot API"
    assert any("噪声" in r or "投诉" in r for r in replies), replies
    assert all("reply_parameters" not in m for m in api.messages_to(chat))  # private chat: plain answers


def test_same_update_twice_is_answered_once(tg, api):
    chat = new_chat()
    payload = update(message(chat, "你好"))
    assert post_update(tg, payload)[0] == 200
    assert post_update(tg, payload)[0] == 200  # Telegram re-sends what it thinks was lost
    # A repeat is dropped before anything is started, so once the answer to a later update has
    # arrived, a second greeting would have too.
    post_update(tg, update(message(chat, "谢谢")))
    api.wait_for(lambda: any("不客气" in t for t in texts(api.messages_to(chat))))
    replies = texts(api.messages_to(chat))
    assert sum("社区服务助手" in r for r in replies) == 1, replies


def test_start_gets_the_welcome(tg, api):
    chat = new_chat()
    msg = message(chat, "/start", entities=[{"type": "bot_command", "offset": 0, "length": 6}])
    assert post_update(tg, update(msg))[0] == 200
    replies = texts(api.wait_for_messages(chat))
    assert replies and "社区服务助手" in replies[0], replies
    assert any("投诉" in r for r in replies)  # the help menu follows the greeting


@pytest.mark.parametrize("lang,welcome", [("en", "community service assistant"), ("zh-hant", "社區服務助手")])
def test_start_is_welcomed_in_the_language_of_the_telegram_app(tg, api, lang, welcome):
    chat = new_chat()
    msg = message(chat, "/start", lang=lang, entities=[{"type": "bot_command", "offset": 0, "length": 6}])
    assert post_update(tg, update(msg))[0] == 200
    replies = texts(api.wait_for_messages(chat))
    assert replies and welcome in replies[0], replies


def test_edited_message_photo_sticker_and_voice_get_polite_answers(tg, api):
    chat = new_chat()
    first = message(chat, "你好")
    post_update(tg, update(first))
    before = len(api.wait_for_messages(chat))
    edited = dict(first, text="你好呀", edit_date=int(time.time()))
    assert post_update(tg, update(edited, kind="edited_message"))[0] == 200
    assert "修改" in api.wait_for_messages(chat, before + 1)[-1]["text"]

    photo = [{"file_id": "AgAD-small", "file_unique_id": "u1", "width": 90, "height": 90, "file_size": 1200},
             {"file_id": "AgAD-large", "file_unique_id": "u2", "width": 800, "height": 800, "file_size": 72000}]
    sticker = {"file_id": "CAAD", "file_unique_id": "s1", "type": "regular", "width": 512, "height": 512,
               "is_animated": False, "is_video": False, "emoji": "👍"}
    voice = {"file_id": "AwAD", "file_unique_id": "v1", "duration": 3, "mime_type": "audio/ogg"}
    for fields, expected in ((dict(photo=photo), "图片"), (dict(sticker=sticker), "表情"), (dict(voice=voice), "语音")):
        count = len(api.messages_to(chat))
        assert post_update(tg, update(message(chat, **fields)))[0] == 200
        answers = api.wait_for_messages(chat, count + 1)
        assert len(answers) == count + 1 and expected in answers[-1]["text"], texts(answers)


def test_photo_with_caption_is_read_as_its_caption(tg, api):
    chat = new_chat()
    photo = [{"file_id": "AgAD", "file_unique_id": "u3", "width": 800, "height": 600}]
    post_update(tg, update(message(chat, photo=photo, caption="你好")))
    replies = texts(api.wait_for_messages(chat))
    assert replies and "社区服务助手" in replies[0], replies


def test_a_shared_location_fills_the_report_location(tg, api):
    chat = new_chat()
    post_update(tg, update(message(chat, "楼道里的灯坏了好几天了，晚上上下楼黑漆漆的很不安全，麻烦派人来修一下")))
    asked = texts(api.wait_for_messages(chat))
    assert any("哪里" in r for r in asked), asked
    count = len(asked)
    location = {"latitude": 31.2304, "longitude": 121.4737}
    post_update(tg, update(message(chat, location=location)))
    after = texts(api.wait_for_messages(chat, count + 1))[count:]
    assert any("手机号" in r for r in after), after  # location taken; the form moves on to the phone
    count += len(after)
    post_update(tg, update(message(chat, "不留")))
    summary = texts(api.wait_for_messages(chat, count + 1))[count:]
    assert any("31.230400" in r and "121.473700" in r for r in summary), summary


def test_group_answers_only_when_addressed(tg, api):
    group, member = -1000000000000 - new_chat(), new_chat()
    mention = f"@{BOT}"

    def group_message(text, **fields):
        return message(group, text, user_id=member, chat_type="supergroup", **fields)

    def addressed(text="你好"):
        return group_message(f"{mention} {text}", entities=[{"type": "mention", "offset": 0, "length": len(mention)}])

    def replies_to(msg):
        return [m for m in api.messages_to(group) if m["reply_parameters"]["message_id"] == msg["message_id"]]

    def answered(msg):
        post_update(tg, update(msg))
        return api.wait_for(lambda: replies_to(msg), timeout=30)

    def ignored(msg):
        """Post `msg`, then a message that mentions the bot, and wait for the answer to that: updates are
        taken in order and an unaddressed one is dropped at once, so `msg` has had its chance by then."""
        marker = addressed()
        post_update(tg, update(msg))
        answered(marker)
        return replies_to(msg) == []

    # Not addressed: nothing. Addressed by a mention: the answer threads to the member's message.
    assert ignored(group_message("楼下的垃圾好几天没人收了"))
    assert all("reply_parameters" in m for m in api.messages_to(group))
    assert "社区服务助手" in api.messages_to(group)[0]["text"]
    # A reply to one of the bot's messages, and /command@botname, are addressed too.
    bots_message = {"message_id": 5, "date": int(time.time()), "chat": {"id": group, "type": "supergroup"},
                    "from": {"id": api.bot_id, "is_bot": True, "first_name": "Community", "username": BOT},
                    "text": "您好！我是社区服务助手，24小时在线。"}
    assert answered(group_message("谢谢", reply_to_message=bots_message))
    command = f"/help@{BOT}"
    menu = answered(group_message(command, entities=[{"type": "bot_command", "offset": 0, "length": len(command)}]))
    assert menu and "我可以帮您" in menu[0]["text"]
    other = "/help@some_other_bot"
    assert ignored(group_message(other, entities=[{"type": "bot_command", "offset": 0, "length": len(other)}]))
    count = len(api.wait_for_messages(group))

    # Each member has their own conversation in the group; a later message reaches the group.
    status, _ = later_message(tg, f"{group}_{member}", "工作人员回复：垃圾今天下午清运。")
    assert status == 200
    assert api.wait_for_messages(group, count + 1)[-1]["text"] == "工作人员回复：垃圾今天下午清运。"


def test_later_message_reaches_the_chat_and_the_history(tg, api):
    chat = new_chat()
    post_update(tg, update(message(chat, "你好")))
    count = len(api.wait_for_messages(chat))
    staff = "工作人员回复：已安排维修师傅明天上午九点上门。"
    status, body = later_message(tg, str(chat), staff)
    assert status == 200, body
    assert api.wait_for_messages(chat, count + 1)[-1]["text"] == staff
    status, tracker = tg.get(f"/conversations/{chat}/tracker")
    assert status == 200 and any(e.get("event") == "bot" and e.get("text") == staff for e in tracker["events"])


def test_long_later_message_is_split_at_telegrams_limit(tg, api):
    chat = new_chat()
    post_update(tg, update(message(chat, "你好")))
    count = len(api.wait_for_messages(chat))
    paragraph = "社区通知：" + "本周六上午九点在活动室召开居民议事会，请各位居民准时参加。" * 20
    long_text = "\n\n".join([paragraph] * 16)
    assert len(long_text) > 2 * 4096
    status, body = later_message(tg, str(chat), long_text)
    assert status == 200, body
    pieces = texts(api.wait_for_messages(chat, count + 3))[count:]
    assert len(pieces) >= 3 and all(len(p) <= 4096 for p in pieces)
    assert "".join(pieces).replace("\n", "") == long_text.replace("\n", "")


def test_a_chat_that_blocked_the_bot_is_undeliverable(tg, api):
    chat = new_chat()
    post_update(tg, update(message(chat, "你好")))
    api.wait_for_messages(chat)
    api.blocked_chats.add(chat)
    status, body = later_message(tg, str(chat), "您的工单已办结，请评价。")
    assert status == 500 and "undeliverable" in str(body).lower(), body  # bot/delivery.py reads this
    status, tracker = tg.get(f"/conversations/{chat}/tracker")
    assert not any(e.get("text") == "您的工单已办结，请评价。" for e in tracker["events"])  # retried later, not lost


def test_ticket_news_reach_telegram_through_the_delivery_service(tg, api):
    """The one delivery path: a ticket filed on Telegram; its status change is queued by the ticket
    service, sent by bot/delivery.py through Rasa to this chat, and recorded as sent; once the resident
    has blocked the bot, the next notices are recorded as undeliverable with the reason."""
    from bot.db import Database
    from bot.tickets.models import Notification
    from bot.tickets.routing import load_routing
    from bot.tickets.service import TicketService

    chat = new_chat()

    def say(text):
        count = len(api.messages_to(chat))
        post_update(tg, update(message(chat, text)))
        return texts(api.wait_for_messages(chat, count + 1))[count:]

    say("单元门口的垃圾桶满了三天没人清 味道很大")
    for answer in ("幸福里小区5号楼", "不留"):
        say(answer)
    done = " ".join(say("确认"))
    number = re.search(r"GD\d{8}-\d{4}", done)
    assert number, done
    number = number.group(0)
    db = Database(tg.database_url)
    service = TicketService(db, load_routing())

    count = len(api.messages_to(chat))
    service.sign(number, "grid-worker")
    news = api.wait_for_messages(chat, count + 1, timeout=30)[count:]
    assert news and number in news[0]["text"], texts(news)

    api.blocked_chats.add(chat)
    service.resolve(number, "grid-worker", "已联系环卫清运")

    def outcomes():
        with db.session(read_only=True) as s:
            return {n.kind: (n.status, n.last_error or "") for n in
                    s.query(Notification).filter_by(recipient_channel="telegram", recipient_id=str(chat))}

    assert api.wait_for(lambda: outcomes().get("rating_request", ("pending",))[0] == "undeliverable", timeout=30), outcomes()
    result = outcomes()
    assert result["status_changed"][0] == "sent"
    assert "blocked" in result["rating_request"][1] and result["resolved"][0] == "undeliverable"


def test_webhook_is_registered_in_the_background_with_back_off(tg, api):
    assert api.wait_for(lambda: api.webhook.get("url"), timeout=20), api.calls_of("setWebhook")
    assert api.webhook["url"] == WEBHOOK_URL and api.webhook["secret_token"] == SECRET
    assert len(api.calls_of("setWebhook")) == 3  # two failures (500), then success


# ---------------------------------------------------------------------------------------------------
# Polling mode


def test_polling_mode_answers_updates_from_get_updates(model_path, tmp_path_factory):
    with TelegramStandIn(TOKEN, username=BOT) as polled:
        polled.webhook = {"url": "https://old.example/hook"}  # a webhook left over: the poller removes it
        chat = new_chat()
        polled.queue_update(update(message(chat, "你好")))
        env = {"TELEGRAM_TOKEN": TOKEN, "TELEGRAM_MODE": "polling", "TELEGRAM_API_BASE_URL": polled.base_url,
               "TELEGRAM_POLL_TIMEOUT": "2", **LOCAL_ONLY}  # no secret token: derived for the hand-over
        with running_stack(tmp_path_factory.mktemp("telegram-polling"), env) as stack:
            replies = texts(polled.wait_for_messages(chat, timeout=40))
            assert replies and "社区服务助手" in replies[0], (replies, stack.log_path.read_text()[-3000:])
            assert polled.calls_of("deleteWebhook")
            assert polled.wait_for(lambda: not polled.pending_updates(), timeout=10)  # confirmed by offset
            assert post_update(stack, update(message(chat, "你好")), secret=None)[0] == 403
            # The conversation's channel is telegram: a later message goes out through the Bot API.
            count = len(polled.messages_to(chat))
            status, _ = later_message(stack, str(chat), "工作人员回复：收到。")
            assert status == 200
            assert polled.wait_for_messages(chat, count + 1)[-1]["text"] == "工作人员回复：收到。"
