"""Handing a conversation to staff through the REST channel: the bot goes silent, keeps recording,
staff replies reach the conversation, and the bot speaks again only when staff hand it back."""
import time
import uuid

from bot import handoff
from bot.db import Database


def sender() -> str:
    return f"handoff-{uuid.uuid4().hex[:10]}"


def tracker(stack, who):
    status, body = stack.get(f"/conversations/{who}/tracker")
    assert status == 200
    return body


def test_asking_for_a_person_pauses_the_bot_until_staff_hand_back(stack):
    who = sender()
    told = " ".join(stack.say(who, "转人工"))
    assert "转接" in told and "工作" in told
    assert tracker(stack, who)["paused"] is True

    assert stack.say(who, "我家楼上漏水 你们什么时候来") == []  # the bot stays silent...
    texts = [e.get("text") for e in tracker(stack, who)["events"] if e["event"] == "user"]
    assert "我家楼上漏水 你们什么时候来" in texts  # ...but records every message

    db = Database(stack.database_url)
    case = handoff.open_for("rest", who, db=db)
    assert case is not None and case.reason == "asked"
    handoff.reply(case.id, "staff-wang", "您好，下午三点维修师傅上门。", db=db)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        bots = [e.get("text") for e in tracker(stack, who)["events"] if e["event"] == "bot"]
        if "您好，下午三点维修师傅上门。" in bots:
            break
        time.sleep(0.5)
    else:
        raise AssertionError("the staff reply never reached the conversation")

    handoff.finish(case.id, "staff-wang", "returned_to_bot", db=db)
    stack.post(f"/conversations/{who}/tracker/events", {"event": "resume"})
    assert stack.say(who, "你好")  # the bot answers again
    db.dispose()


def test_not_understood_twice_goes_to_staff(stack):
    who = sender()
    stack.say(who, "zxqv blorp")
    second = " ".join(stack.say(who, "asdfgh jkl"))
    assert "passing you to a member of staff" in second
    assert tracker(stack, who)["paused"] is True


def test_a_long_message_not_understood_goes_to_staff_at_once(stack):
    who = sender()
    replies = " ".join(stack.say(who, "zxqv blorp quindle " * 6))
    assert "passing it to a member of staff" in replies
    assert tracker(stack, who)["paused"] is True


def test_an_urgent_message_reaches_the_staff_queue_at_once_and_the_bot_keeps_helping(stack):
    who = sender()
    replies = stack.say(who, "楼道里全是烟 好像着火了")
    assert replies[0].startswith("🚨") and "119" in replies[0]
    assert any("值班" in r for r in replies)
    db = Database(stack.database_url)
    case = handoff.open_for("rest", who, db=db)
    assert case is not None and case.urgent
    assert handoff.queue(db=db)[0].urgent
    assert tracker(stack, who)["paused"] is False
    db.dispose()


def test_an_emergency_while_staff_have_the_conversation_still_gets_the_number_at_once(stack):
    who = sender()
    stack.say(who, "转人工")
    assert stack.say(who, "楼上漏水好几天了") == []  # staff have it: the bot is silent...
    db = Database(stack.database_url)
    assert not handoff.open_for("rest", who, db=db).urgent
    replies = stack.say(who, "楼道里着火了 好多烟")  # ...except for an emergency
    assert replies and replies[0].startswith("🚨") and "119" in replies[0], replies
    assert handoff.open_for("rest", who, db=db).urgent  # the case tops the staff queue
    assert tracker(stack, who)["paused"] is True  # and staff keep the conversation
    assert stack.say(who, "你们什么时候来") == []
    db.dispose()
