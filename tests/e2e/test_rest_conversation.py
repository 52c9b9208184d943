"""Conversations through the REST channel against the real Rasa server and action server."""
import uuid

import pytest

from bot.urgency import emergency_number


def sender() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


def test_http_api_needs_the_token(stack):
    status, _ = stack.post("/model/parse", {"text": "你好"}, token=False)
    assert status == 401
    status, _ = stack.get("/status", token=False)
    assert status == 401


def test_parse_returns_intent_and_category_entity(stack):
    status, parsed = stack.post("/model/parse", {"text": "楼上邻居天天半夜装修电钻响得我睡不着"})
    assert status == 200
    assert parsed["intent"]["name"] == "complaint"
    categories = [e["value"] for e in parsed["entities"] if e["entity"] == "category"]
    assert categories == ["noise"]


def test_greeting_in_chinese_gets_the_help_menu_in_chinese(stack):
    replies = stack.say(sender(), "你好")
    assert replies and "社区服务助手" in replies[0]
    assert any("投诉" in r for r in replies)


def test_greeting_in_english_is_answered_in_english(stack):
    replies = stack.say(sender(), "hello there")
    assert replies and "community service assistant" in replies[0]


def test_traditional_chinese_gets_traditional_replies_and_keeps_it(stack):
    who = sender()
    first = stack.say(who, "您好，請問你們能幫什麼忙")
    assert any("社區" in r for r in first), first
    # "好的" carries no script signal: the conversation's script is kept.
    later = stack.say(who, "謝謝")
    assert later and all("谢" not in r for r in later)


def test_complaint_path_reaches_the_report_action(stack):
    replies = stack.say(sender(), "小区门口的饭店天天晚上把垃圾堆在路边，臭得不行，没人管")
    assert replies
    assert all(not r.startswith("🚨") for r in replies)


def test_english_service_request_is_answered_in_english(stack):
    replies = stack.say(sender(), "the light in our stairwell in block 3 is broken, can someone come and fix it")
    assert replies and all(r.isascii() or "🚨" in r for r in replies)


@pytest.mark.parametrize("text,kind", [
    ("救命 楼下厨房着火了 烟很大", "fire"),
    ("樓道裡有很濃的煤氣味", "fire"),
    ("楼道里有很大的煤气味", "fire"),
    ("my grandfather collapsed in the kitchen and is not breathing", "medical"),
    ("有人拿着刀在小区门口追着人砍", "police"),
])
def test_first_reply_to_an_urgent_message_is_the_emergency_number(stack, text, kind):
    replies = stack.say(sender(), text)
    assert replies, "an urgent message must never go unanswered"
    assert emergency_number(kind) in replies[0]
    assert replies[0].startswith("🚨")
    # Whatever the classifier made of it, the bot does not go on to say the regulations have no answer.
    assert not any(word in reply.lower() for reply in replies for word in ("法规", "法規", "regulation")), replies


@pytest.mark.parametrize("text", [
    "", "   ", "😀😀😀", "a" * 20000, "投诉" * 10000, "<script>alert('x')</script>",
    "楼上漏水\x00\x07\x1b[31m", "我住在Sunshine Garden 3栋 block B, 電梯壞了 lift broken",
])
def test_bad_input_gets_an_answer_and_breaks_nothing(stack, text):
    who = sender()
    replies = stack.say(who, text)
    assert replies, f"no reply to {text[:20]!r}"
    # The servers are still fine afterwards.
    assert stack.say(who, "你好")
    status, _ = stack.get("/status")
    assert status == 200


def test_the_conversation_is_stored_in_the_tracker(stack):
    who = sender()
    stack.say(who, "你好")
    status, tracker = stack.get(f"/conversations/{who}/tracker")
    assert status == 200
    texts = [e.get("text") for e in tracker["events"] if e["event"] == "user"]
    assert "你好" in texts
    assert tracker["slots"]["language"] == "zh-Hans"
