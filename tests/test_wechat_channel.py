"""The WeChat channel's parts without the Rasa server: XML guard, signatures, splitting, the 48-hour
rule, the late-reply path (a tiny budget) and the customer-service API client against the stand-in."""
import asyncio
import datetime as dt
import time

import pytest

from bot.tickets.outbox import Undeliverable
from connectors.wechat import (TEXT_LIMIT_BYTES, BadXML, WeChatAPI, WeChatInput, WeChatOutput, WeChatSettings,
                               delivery_key, parse_xml, plan_for, signature_ok, split_text, text_reply_xml,
                               wechat_window_open)
from tests.standins.wechat_server import WeChatAPIStandIn, message_xml, sign


def test_signature():
    args = {"signature": sign("tok", "1700000000", "n1"), "timestamp": "1700000000", "nonce": "n1"}
    assert signature_ok("tok", args)
    assert not signature_ok("other", args)
    assert not signature_ok("tok", {**args, "signature": ""})
    assert not signature_ok("", {"signature": sign("", "1", "2"), "timestamp": "1", "nonce": "2"})


@pytest.mark.parametrize("body", [
    '<!DOCTYPE xml [<!ENTITY a "b">]><xml><A>&a;</A></xml>',
    '<?xml version="1.0"?>\n<!DOCTYPE xml SYSTEM "http://127.0.0.1:9/x.dtd"><xml><A>1</A></xml>',
    '<xml><A>&undefined;</A></xml>',
    '<?xml version="1.0" encoding="ISO-8859-1"?><xml><A>1</A></xml>',
    '<xml><A>1</A><?php echo 1; ?></xml>',
    '<xml><A>1</A><!-- <!DOCTYPE --></xml>',
    '<xml><A>1</A>',
    '<notxml><A>1</A></notxml>',
    '<xml>text only</xml>',
    b'\xff\xfe<\x00x\x00',
    "<xml><A>" + "x" * 70_000 + "</A></xml>",
])
def test_hostile_or_malformed_xml_is_refused(body):
    with pytest.raises(BadXML):
        parse_xml(body)


def test_markup_inside_cdata_is_just_text():
    fields = parse_xml('<?xml version="1.0" encoding="UTF-8"?><xml><Content><![CDATA[<!DOCTYPE 嗨]]></Content>'
                       '<MsgId>1</MsgId></xml>')
    assert fields == {"Content": "<!DOCTYPE 嗨", "MsgId": "1"}


def test_passive_reply_round_trips_even_with_cdata_terminators():
    xml = text_reply_xml("oUser", "gh_acc", "a]]>b\x01c 中文")
    assert parse_xml(xml)["Content"] == "a]]>bc 中文"


def test_long_text_is_split_at_sentence_boundaries_within_the_byte_limit():
    sentence = "楼道的灯坏了三天了，晚上看不见路。"
    text = sentence * 200
    parts = split_text(text)
    assert len(parts) > 1
    assert all(len(p.encode("utf-8")) <= TEXT_LIMIT_BYTES for p in parts)
    assert all(p.endswith("。") for p in parts)
    assert "".join(parts) == text
    assert split_text("短") == ["短"] and split_text("  ") == []
    lines = "\n".join(f"{i}. " + "很长的一行" * 20 for i in range(40))
    assert all(p.split("\n")[0].split(".")[0].isdigit() for p in split_text(lines))  # cut between lines
    assert "".join(split_text("x" * 5000)) == "x" * 5000  # one endless word is still cut


def test_the_48_hour_window():
    now = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.timezone.utc)
    assert wechat_window_open(now - dt.timedelta(hours=47, minutes=59), now=now)
    assert not wechat_window_open(now - dt.timedelta(hours=48, minutes=1), now=now)
    assert not wechat_window_open(None, now=now)
    assert wechat_window_open((now - dt.timedelta(hours=1)).timestamp(), now=now)
    assert wechat_window_open((now - dt.timedelta(hours=1)).replace(tzinfo=None), now=now)  # naive = UTC


def test_delivery_keys():
    text = parse_xml(message_xml("gh", "oA", "text", {"Content": "hi"}, msg_id=123, create_time=1))
    event = parse_xml(message_xml("gh", "oA", "event", {"Event": "subscribe"}, create_time=1700000000))
    assert delivery_key(text) == "oA:123"
    assert delivery_key(event) == "oA:1700000000:subscribe"


def test_what_each_message_type_becomes():
    def plan(msg_type, **fields):
        return plan_for(parse_xml(message_xml("gh", "oA", msg_type, fields, msg_id=1)))

    assert plan("text", Content="你好")[:2] == ("bot", "你好")
    assert plan("image", PicUrl="x", MediaId="m") == ("say", "wechat.unsupported")
    assert plan("voice", MediaId="m", Format="amr") == ("say", "wechat.unsupported")
    assert plan("voice", MediaId="m", Format="amr", Recognition="楼道灯坏了")[:2] == ("bot", "楼道灯坏了")
    assert plan("video", MediaId="m") == ("say", "wechat.unsupported")
    assert plan("link", Title="t", Url="u") == ("say", "wechat.link")
    assert plan("event", Event="subscribe")[:2] == ("bot", "你好")
    assert plan("event", Event="unsubscribe") == ("ignore",)
    location = plan("location", Location_X=23.1, Location_Y=113.3, Scale=15, Label="阳光花园")
    assert location[0] == "bot" and location[2]["location"]["label"] == "阳光花园"


def test_settings_from_the_environment():
    settings = WeChatSettings.from_env({"WECHAT_TOKEN": "t", "WECHAT_API_BASE_URL": "http://127.0.0.1:1/",
                                        "WECHAT_REPLY_BUDGET": "9"})
    assert settings.api_base_url == "http://127.0.0.1:1" and settings.reply_budget == 4.5
    assert WeChatSettings.from_env({"WECHAT_TOKEN": "t"}).api_base_url == "https://api.weixin.qq.com"


@pytest.fixture
def api_stand_in():
    with WeChatAPIStandIn("wxunit", "secret") as api:
        yield api


def _channel(api, budget=4.0) -> WeChatInput:
    return WeChatInput(WeChatSettings(token="t", app_id="wxunit", app_secret="secret", api_base_url=api.base_url,
                                      reply_budget=budget))


def test_a_slow_bot_is_answered_through_the_customer_service_api(api_stand_in):
    channel = _channel(api_stand_in, budget=0.01)
    message = parse_xml(message_xml("gh", "oSlow", "text", {"Content": "hi"}, msg_id=7))

    async def slow_bot(user_message):
        await asyncio.sleep(0.2)
        await user_message.output_channel.send_text_message(user_message.sender_id, "第一条")
        await user_message.output_channel.send_text_message(user_message.sender_id, "第二条")

    async def scenario():
        started = time.monotonic()
        reply = await channel.answer(slow_bot, message)
        assert time.monotonic() - started < 0.15
        await asyncio.gather(*list(channel._background))  # the message finishes after the answer
        return reply

    assert asyncio.run(scenario()) is None  # `success`
    assert api_stand_in.messages_to("oSlow") == ["第一条\n\n第二条"]


def test_a_quick_bot_is_answered_passively_in_one_merged_reply(api_stand_in):
    channel = _channel(api_stand_in)
    message = parse_xml(message_xml("gh", "oQuick", "text", {"Content": "hi"}, msg_id=8))

    async def bot(user_message):
        await user_message.output_channel.send_text_message(user_message.sender_id, "您好")
        await user_message.output_channel.send_text_with_buttons(user_message.sender_id, "请选择",
                                                                 [{"title": "投诉"}, {"title": "咨询"}])

    assert asyncio.run(channel.answer(bot, message)) == "您好\n\n请选择\n1. 投诉\n2. 咨询"
    assert api_stand_in.messages_to("oQuick") == []


def test_an_answer_too_long_for_one_reply_goes_through_the_api_in_order(api_stand_in):
    channel = _channel(api_stand_in)
    message = parse_xml(message_xml("gh", "oLong", "text", {"Content": "hi"}, msg_id=9))
    long_text = "这是一句很长的话。" * 300

    async def bot(user_message):
        await user_message.output_channel.send_text_message(user_message.sender_id, "您好")
        await user_message.output_channel.send_text_message(user_message.sender_id, long_text)

    async def scenario():
        reply = await channel.answer(bot, message)
        await asyncio.gather(*list(channel._background))
        return reply

    assert asyncio.run(scenario()) is None  # `success`
    parts = api_stand_in.messages_to("oLong")
    assert len(parts) == 4 and parts[0].startswith("您好\n\n这是")  # 8,100 bytes
    assert all(len(p.encode()) <= TEXT_LIMIT_BYTES for p in parts)
    assert "".join(parts).replace("\n", "") == "您好" + long_text


def test_output_channel_raises_undeliverable(api_stand_in):
    api = WeChatAPI(WeChatSettings(token="t", app_id="wxunit", app_secret="secret", api_base_url=api_stand_in.base_url))

    async def long_ago(_openid):
        return dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=3)

    async def just_now(_openid):
        return dt.datetime.now(dt.timezone.utc)

    with pytest.raises(Undeliverable):
        asyncio.run(WeChatOutput(api, long_ago).send_text_message("oOld", "hello"))
    assert api_stand_in.tokens == []  # refused before calling WeChat
    api_stand_in.refuse["oGone"] = 45015
    with pytest.raises(Undeliverable, match="45015"):
        asyncio.run(WeChatOutput(api, just_now).send_text_message("oGone", "hello"))
    asyncio.run(WeChatOutput(api, just_now).send_text_message("oFine", "hello"))
    assert api_stand_in.messages_to("oFine") == ["hello"]


def test_api_errors_name_the_cause(api_stand_in):
    from connectors.wechat import WeChatAPIError

    api = WeChatAPI(WeChatSettings(token="t", app_id="wxunit", app_secret="wrong", api_base_url=api_stand_in.base_url))
    with pytest.raises(WeChatAPIError, match="40125.*APP_SECRET"):
        asyncio.run(api.send_text("oA", "hello"))
