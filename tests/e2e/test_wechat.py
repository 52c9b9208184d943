"""The WeChat Official Account channel against the real stack, driven the way WeChat's servers drive
it: signed URL verification, signed plain and AES-encrypted XML messages, retries of the same MsgId;
replies that miss the passive-reply budget and later messages reach the API stand-in's
customer-service endpoint. One stack (safe mode configured, so plain and encrypted both work)."""
import base64
import os
import secrets
import sqlite3
import threading
import time
import uuid
from types import SimpleNamespace

import pytest

from tests.e2e.conftest import running_stack
from tests.standins.wechat_server import (WeChatAPIStandIn, WeChatPlatform, message_xml, new_msg_id)

TOKEN = "community-wechat-" + secrets.token_hex(4)
APP_ID = "wx" + secrets.token_hex(8)
APP_SECRET = secrets.token_hex(16)
AES_KEY = base64.b64encode(os.urandom(32)).decode().rstrip("=")  # the 43-character EncodingAESKey
ACCOUNT = "gh_3f1c2a9b7e01"


@pytest.fixture(scope="module")
def wechat(model_path, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wechat")
    with WeChatAPIStandIn(APP_ID, APP_SECRET) as api:
        env = {"WECHAT_TOKEN": TOKEN, "WECHAT_APP_ID": APP_ID, "WECHAT_APP_SECRET": APP_SECRET,
               "WECHAT_AES_KEY": AES_KEY, "WECHAT_API_BASE_URL": api.base_url}
        with running_stack(tmp, env) as stack:
            stack.say("warm-up", "你好")  # the first answer after start is the slowest
            webhook = f"{stack.base}/webhooks/wechat/webhook"
            yield SimpleNamespace(
                stack=stack, api=api, tmp=tmp,
                plain=WeChatPlatform(webhook, TOKEN, ACCOUNT),
                safe=WeChatPlatform(webhook, TOKEN, ACCOUNT, aes_key=AES_KEY, app_id=APP_ID))


def openid() -> str:
    return "o" + uuid.uuid4().hex[:27]  # WeChat OpenIDs are 28 characters


def user_texts(stack, conversation: str):
    status, tracker = stack.get(f"/conversations/{conversation}/tracker")
    assert status == 200
    return [e.get("text") for e in tracker["events"] if e["event"] == "user"]


def tickets_of(wechat, resident: str) -> int:
    db = sqlite3.connect(wechat.tmp / "community.db")
    try:
        return db.execute("select count(*) from tickets where channel = 'wechat' and sender_id = ?",
                          (resident,)).fetchone()[0]
    finally:
        db.close()


def test_url_verification(wechat):
    assert wechat.plain.verify("echo-8812") == (200, "echo-8812")
    status, _ = wechat.plain.verify("echo-8812", good=False)
    assert status == 403
    status, _ = WeChatPlatform._request("GET", wechat.plain.webhook_url + "?echostr=x", None)
    assert status == 403


def test_plain_text_gets_a_passive_reply_in_chinese(wechat):
    who = openid()
    reply = wechat.plain.text(who, "你好")
    assert reply.status == 200
    fields = reply.fields
    assert fields["ToUserName"] == who and fields["FromUserName"] == ACCOUNT and fields["MsgType"] == "text"
    # the bot's two messages (greeting, help menu) merged into the one reply WeChat allows
    assert "社区服务助手" in reply.text and "投诉" in reply.text


def test_encrypted_message_gets_an_encrypted_reply(wechat):
    who = openid()
    reply = wechat.safe.text(who, "你们能帮我做什么", encrypted=True)
    assert reply.status == 200 and reply.encrypted  # decrypted and its MsgSignature checked
    assert reply.fields["ToUserName"] == who
    assert "投诉" in reply.text


def test_missing_or_wrong_signature_is_refused(wechat):
    who = openid()
    xml = message_xml(ACCOUNT, who, "text", {"Content": "你好"}, new_msg_id())
    assert wechat.plain.push(xml, who, good_signature=False).status == 403
    assert wechat.plain.push(xml, who, signed=False).status == 403
    assert wechat.safe.push(xml, who, encrypted=True, good_msg_signature=False).status == 403
    assert user_texts(wechat.stack, who) == []


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<xml><ToUserName><![CDATA[{account}]]></ToUserName><FromUserName><![CDATA[{who}]]></FromUserName>
<CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content>&lol4;</Content>
<MsgId>{msg_id}</MsgId></xml>"""
EXTERNAL_ENTITY = """<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<xml><ToUserName><![CDATA[{account}]]></ToUserName><FromUserName><![CDATA[{who}]]></FromUserName>
<CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content>&xxe;</Content>
<MsgId>{msg_id}</MsgId></xml>"""


def test_malformed_and_hostile_xml_gets_400_and_nothing_else(wechat):
    who = openid()

    def fill(template):
        return template.replace("{account}", ACCOUNT).replace("{who}", who).replace("{msg_id}", str(new_msg_id()))

    good = message_xml(ACCOUNT, who, "text", {"Content": "你好"}, new_msg_id())
    for body in [fill(BILLION_LAUGHS), fill(EXTERNAL_ENTITY), good[:-12], "not xml at all", "<xml>",
                 "<html><body>hi</body></html>"]:
        assert wechat.plain.push(body, who).status == 400, body[:60]
    # hostile XML inside a correctly signed and encrypted envelope
    assert wechat.safe.push(fill(EXTERNAL_ENTITY), who, encrypted=True).status == 400
    # far larger than any WeChat message
    padded = message_xml(ACCOUNT, who, "text", {"Content": "噪" * 40_000}, new_msg_id())
    assert wechat.plain.push(padded, who).status == 400
    assert wechat.plain.push("<xml>".encode("utf-16"), who).status == 400
    assert user_texts(wechat.stack, who) == []
    assert wechat.api.messages_to(who) == []


def test_a_retried_message_is_answered_once(wechat):
    who = openid()
    msg_id = new_msg_id()
    first = wechat.plain.text(who, "你好", msg_id=msg_id)
    assert "社区服务助手" in first.text
    again = wechat.plain.text(who, "你好", msg_id=msg_id)
    assert (again.status, again.body) == (200, "success")
    assert user_texts(wechat.stack, who) == ["你好"]


def test_a_retried_confirmation_files_one_ticket(wechat):
    who = openid()
    summary = wechat.plain.text(who, "幸福里小区12号楼门口的垃圾三天没人清了 臭死了 电话13812345678")
    assert "请确认" in summary.text
    msg_id = new_msg_id()
    replies = []

    def confirm():
        replies.append(wechat.plain.text(who, "确认", msg_id=msg_id))

    # WeChat's retry can arrive while the first delivery is still being answered
    threads = [threading.Thread(target=confirm) for _ in range(2)]
    for thread in threads:
        thread.start()
        time.sleep(0.05)
    for thread in threads:
        thread.join()
    replies.append(wechat.plain.text(who, "确认", msg_id=msg_id))  # and once more, later
    assert [r.body for r in replies].count("success") == 2
    assert "工单号" in next(r.text for r in replies if r.body != "success")
    assert tickets_of(wechat, who) == 1


def test_subscribe_gets_the_welcome_once(wechat):
    who = openid()
    event = message_xml(ACCOUNT, who, "event", {"Event": "subscribe", "EventKey": ""}, create_time=int(time.time()))
    welcome = wechat.plain.push(event, who)
    assert "社区服务助手" in welcome.text and "投诉" in welcome.text
    assert wechat.plain.push(event, who).body == "success"  # the same event retried


def test_pictures_voice_and_links_get_a_polite_text(wechat):
    who = openid()
    image = message_xml(ACCOUNT, who, "image", {"PicUrl": "http://127.0.0.1:9/pic.jpg", "MediaId": "m1"}, new_msg_id())
    voice = message_xml(ACCOUNT, who, "voice", {"MediaId": "m2", "Format": "amr"}, new_msg_id())
    link = message_xml(ACCOUNT, who, "link", {"Title": "t", "Description": "d", "Url": "http://127.0.0.1:9/"},
                       new_msg_id())
    assert "图片" in wechat.plain.push(image, who).text
    assert "语音" in wechat.safe.push(voice, who, encrypted=True).text
    assert "链接" in wechat.plain.push(link, who).text


def test_a_shared_location_fills_the_ticket_location(wechat):
    who = openid()
    asked = wechat.plain.text(who, "小区东门的路灯坏了一个礼拜了 晚上黑乎乎的")
    assert "在哪里" in asked.text
    location = message_xml(ACCOUNT, who, "location", {"Location_X": 23.134521, "Location_Y": 113.358803,
                                                      "Scale": 20, "Label": "广州市天河区阳光花园3栋"}, new_msg_id())
    assert "手机号" in wechat.plain.push(location, who).text
    summary = wechat.plain.text(who, "不留")
    assert "阳光花园3栋" in summary.text
    status, tracker = wechat.stack.get(f"/conversations/{who}/tracker")
    shared = [e for e in tracker["events"] if e["event"] == "user" and (e.get("metadata") or {}).get("location")]
    assert shared and shared[0]["metadata"]["location"]["latitude"] == pytest.approx(23.134521)


def staff_message(wechat, who: str, text: str, channel: str = "latest", timeout: float = 60):
    """What staff replies and ticket notifications do (bot/delivery.py names the channel)."""
    return wechat.stack.post(f"/conversations/{who}/tracker/events?output_channel={channel}&execute_side_effects=true",
                             [{"event": "bot", "text": text}], timeout=timeout)


def test_a_later_message_reaches_the_resident(wechat):
    who = openid()
    wechat.plain.text(who, "你好")
    status, _ = staff_message(wechat, who, "工作人员：您反映的路灯已经修好了。")
    assert status == 200
    assert "工作人员：您反映的路灯已经修好了。" in wechat.api.wait_for_messages(who, 1)
    status, tracker = wechat.stack.get(f"/conversations/{who}/tracker")
    assert any(e["event"] == "bot" and "路灯已经修好了" in (e.get("text") or "") for e in tracker["events"])


def test_a_slow_answer_is_acknowledged_and_delivered_through_the_api(wechat):
    who = openid()
    wechat.plain.text(who, "你好")
    # A staff message is being delivered over a slow network; Rasa keeps the conversation locked
    # meanwhile, so the resident's next message cannot be answered within the budget (4 s).
    wechat.api.delay[who] = 6.0
    staff = threading.Thread(target=staff_message, args=(wechat, who, "工作人员：明天上午去现场查看。"))
    staff.start()
    time.sleep(0.5)
    started = time.monotonic()
    reply = wechat.plain.text(who, "谢谢")
    elapsed = time.monotonic() - started
    staff.join()
    assert (reply.status, reply.body) == (200, "success")
    assert elapsed < 5.0  # before WeChat gives up and retries
    received = wechat.api.wait_for_messages(who, 2)
    assert received[0] == "工作人员：明天上午去现场查看。"
    assert any("不客气" in text for text in received[1:]), received


def test_outside_the_48_hours_a_message_is_undeliverable(wechat):
    who = openid()
    three_days_ago = time.time() - 3 * 24 * 3600
    status, _ = wechat.stack.post(f"/conversations/{who}/tracker/events",
                                  [{"event": "user", "text": "你好", "timestamp": three_days_ago,
                                    "input_channel": "wechat", "parse_data": {"intent": {"name": "greet"}}}])
    assert status == 200
    # The way the delivery service sends (bot/delivery.py names the resident's channel; here "latest"
    # would not see a user event back-dated before the conversation's session start).
    status, detail = staff_message(wechat, who, "工作人员：请问问题解决了吗？", channel="wechat")
    assert status == 500 and "undeliverable" in detail.lower()
    assert wechat.api.messages_to(who) == []

    # and when WeChat itself refuses (errcode 45015), whatever we knew
    recent = openid()
    wechat.plain.text(recent, "你好")
    wechat.api.refuse[recent] = 45015
    status, detail = staff_message(wechat, recent, "工作人员：请问问题解决了吗？")
    assert status == 500 and "undeliverable" in detail.lower() and "45015" in detail
    assert (recent, 45015) in wechat.api.refused


def test_the_access_token_is_cached_and_renewed_when_expired(wechat):
    who = openid()
    wechat.plain.text(who, "你好")
    before = len(wechat.api.tokens)
    assert before >= 1
    assert staff_message(wechat, who, "第一条")[0] == 200
    assert len(wechat.api.tokens) == before  # cached
    wechat.api.expire_tokens()
    assert staff_message(wechat, who, "第二条")[0] == 200
    assert len(wechat.api.tokens) == before + 1
    assert wechat.api.wait_for_messages(who, 2)[-2:] == ["第一条", "第二条"]
