"""Fuzzing the WeChat Official Account webhook (connectors/wechat.py): no crash, only clean rejections.

Two levels, neither needing Rasa:

* ``parse_xml``: the guard and parser every body (and every decrypted safe-mode message) goes
  through. It returns the message's fields or raises ``BadXML``; nothing else.
* ``WeChatInput._receive``: everything the ``POST /webhooks/wechat/webhook`` route does (signature,
  body size, XML, safe-mode decryption, what the message becomes, the passive reply), called with a
  real Sanic request object whose body stream is fed from memory. The bot is a stand-in coroutine and
  deduplication is switched off (every delivery counts as new), so nothing touches a database or the
  network. The answer must be 200, 400 or 403, and which one is predicted from the input.
"""
import asyncio
import base64
import logging
import math
import os
import re
import urllib.parse
from collections import deque
from types import SimpleNamespace
from typing import Any, Dict, List, Optional, Tuple
from xml.parsers import expat
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st
from sanic.compat import Header
from sanic.request import Request

from bot.texts import render
from connectors.wechat import (MAX_BODY_BYTES, BadXML, WeChatInput, WeChatSettings, field, merge, parse_xml,
                               signature, split_text)

# Every example is the same on every run (derandomize): CI is reproducible. FUZZ_SCALE=20 runs twenty
# times as many (a longer hunt); at 1 the whole of tests/fuzz takes about half a minute on two cores.
SCALE = float(os.environ.get("FUZZ_SCALE", "1"))


def fuzz(max_examples: int) -> settings:
    return settings(max_examples=max(1, int(max_examples * SCALE)), deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


TOKEN = "fuzz-token-7d1c"
APP_ID = "wx0123456789abcdef"
AES_KEY = base64.b64encode(bytes(range(32))).decode().rstrip("=")  # a 43-character EncodingAESKey
ACCOUNT = "gh_0123456789ab"
TIMESTAMP, NONCE = "1700000000", "n0nce"
# Characters XML 1.0 does not allow, even in CDATA (lone surrogates cannot even be sent as UTF-8).
XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
KNOWN_TYPES = {"text", "image", "voice", "video", "shortvideo", "location", "link", "event", "file"}
KNOWN_FIELDS = ["ToUserName", "FromUserName", "CreateTime", "MsgType", "Content", "MsgId", "Location_X",
                "Location_Y", "Scale", "Label", "Event", "EventKey", "Recognition", "MediaId", "PicUrl", "Url"]


# --------------------------------------------------------------------------------------------------
# helpers: XML text, requests, the bot stand-in


def xml_text(value: str) -> str:
    """What an XML parser makes of character data: line ends normalised (XML 1.0, 2.11), and
    xmltodict's stripping of surrounding whitespace."""
    return value.replace("\r\n", "\n").replace("\r", "\n").strip()


def cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def total_chars(node: Any) -> int:
    """All the characters of a parsed message: element names and text (iteratively: any depth)."""
    total, stack = 0, [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            total += sum(len(k) for k in item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            total += len(item)
    return total


class _Stream:
    """The request body as Sanic's streaming route hands it over: chunks, then None."""

    def __init__(self, body: bytes, chunk: int):
        chunk = max(chunk, len(body) // 1000)  # at most ~1000 reads
        self._chunks = deque(body[i:i + chunk] for i in range(0, len(body), chunk))

    async def read(self) -> Optional[bytes]:
        return self._chunks.popleft() if self._chunks else None


_APP = SimpleNamespace(ctx=SimpleNamespace())  # no agent: the language falls back to zh-Hans


def post(query: Dict[str, str], body: bytes, content_length: Optional[str] = "auto", chunk: int = 8192) -> Request:
    headers = {"content-type": "text/xml"}
    if content_length == "auto":
        headers["content-length"] = str(len(body))
    elif content_length is not None:
        headers["content-length"] = content_length
    url = b"/webhooks/wechat/webhook?" + urllib.parse.urlencode(query).encode("ascii")
    request = Request(url, Header(headers), "1.1", "POST", None, _APP)
    request.stream = _Stream(body, chunk)
    return request


def signed_query(encrypt: Optional[str] = None) -> Dict[str, str]:
    query = {"signature": signature(TOKEN, TIMESTAMP, NONCE), "timestamp": TIMESTAMP, "nonce": NONCE,
             "openid": "oFuzz"}
    if encrypt is not None:
        query.update(encrypt_type="aes", msg_signature=signature(TOKEN, TIMESTAMP, NONCE, encrypt))
    return query


class Bot:
    """Stands in for Rasa: records each message and answers with ``reply`` (if any)."""

    def __init__(self, reply: Optional[str] = None):
        self.reply = reply
        self.messages: List[Any] = []

    async def __call__(self, message) -> None:
        self.messages.append(message)
        if self.reply is not None:
            await message.output_channel.send_text_message(message.sender_id, self.reply)


class ErrorLog(logging.Handler):
    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: List[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def new_channel(aes: bool = True) -> WeChatInput:
    channel = WeChatInput(WeChatSettings(token=TOKEN, app_id=APP_ID if aes else "", aes_key=AES_KEY if aes else "",
                                         api_base_url="http://127.0.0.1:9", reply_budget=4.0))
    channel.delivered = []

    async def first_delivery(key: str) -> bool:  # deduplication off: every delivery is new
        channel.delivered.append(key)
        return True

    channel._first_delivery = first_delivery
    return channel


def receive(channel: WeChatInput, request: Request, bot: Bot) -> Tuple[int, str]:
    errors = ErrorLog()
    logger = logging.getLogger("connectors.wechat")
    logger.addHandler(errors)
    try:
        reply = asyncio.run(channel._receive(request, bot))
    finally:
        logger.removeHandler(errors)
    assert not errors.records, [r.getMessage() for r in errors.records]
    assert reply.status in (200, 400, 403), reply.status
    return reply.status, reply.body.decode("utf-8")


def encrypted_envelope(inner: str) -> Tuple[str, bytes]:
    """What WeChat posts in safe mode: the message encrypted into ``<Encrypt>``, signed by msg_signature."""
    import xmltodict
    from wechatpy.crypto import WeChatCrypto

    envelope = WeChatCrypto(TOKEN, AES_KEY, APP_ID).encrypt_message(inner, NONCE, TIMESTAMP)
    encrypt = xmltodict.parse(envelope)["xml"]["Encrypt"]
    return encrypt, f"<xml><ToUserName>{cdata(ACCOUNT)}</ToUserName><Encrypt>{cdata(encrypt)}</Encrypt></xml>".encode()


def decrypt_reply(body: str) -> str:
    from wechatpy.crypto import WeChatCrypto

    outer = parse_xml(body)
    return WeChatCrypto(TOKEN, AES_KEY, APP_ID).decrypt_message(body, outer["MsgSignature"], outer["TimeStamp"],
                                                               outer["Nonce"])


# --------------------------------------------------------------------------------------------------
# strategies

safe_char = st.characters(blacklist_categories=("Cs",))  # anything that can be sent as UTF-8
any_text = st.text(safe_char, max_size=40)
# Text XML allows (control characters are drawn often by Hypothesis; they get their own strategy)
xml_char = st.one_of(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"),
                     st.sampled_from("\t\n\r\x85\x7f"))
text = st.text(xml_char, max_size=40)
control_heavy = st.text(st.one_of(st.characters(max_codepoint=0x1f), st.sampled_from("\ufffe\uffff\x7f\x85]]><&")),
                        max_size=20)


class Huge(str):
    """A long repeated string that prints short in Hypothesis' reports."""

    def __repr__(self) -> str:
        return f"({self[:1]!r} * {len(self)})"


def repeated(unit, length: int):
    return (unit * length)[:length]


def in_cdata(value: str) -> Tuple[str, str]:
    return ("text", value)


def as_number(value: int) -> Tuple[str, str]:
    return ("bare", str(value))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def b64_blocks(data: bytes) -> str:
    """Base64 of whole AES blocks: decrypts to garbage rather than failing on the length."""
    return b64(data[:len(data) // 16 * 16])


def unknown_name(name: str) -> bool:
    return name not in KNOWN_FIELDS


def not_a_signature_parameter(name: str) -> bool:
    return name not in ("signature", "timestamp", "nonce", "encrypt_type", "msg_signature")


def joined_bytes(parts: List[str]) -> bytes:
    return "".join(parts).encode("utf-8")


huge = st.builds(Huge, st.builds(repeated, safe_char, st.integers(5_000, 70_000)))  # around the 64 KiB limit
number_like = st.one_of(st.floats(-180, 180).map(repr), st.floats(allow_nan=True, allow_infinity=True).map(repr),
                        st.sampled_from(["23.134521", "-0", "1e400", "nan", "-inf", "١٢.٥", "1_000", " 7 ", "",
                                         "23,1", "0x1p3", "abc"]),
                        text)
xml_name = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.-]{0,12}", fullmatch=True)


def value_of(strings):
    """A field's value: ("text", s) in CDATA, as WeChat sends text, mostly; sometimes ("bare", s):
    escaped character data, as WeChat sends numbers; ("nested", s): an element inside the field;
    ("twice", s): the field given twice."""
    return st.tuples(st.sampled_from(["text"] * 6 + ["bare", "nested", "twice"]), strings)


def often(draw, likely, unlikely, odds: int = 3):
    """``likely`` ``odds`` times out of ``odds + 1``. (Not ``one_of(s, s, s, t)``: Hypothesis merges
    repeated branches.)"""
    return draw(unlikely) if draw(st.integers(0, odds)) == 0 else draw(likely)


openid = st.from_regex(r"o[A-Za-z0-9_-]{27}", fullmatch=True)  # WeChat's OpenIDs: 28 characters
KNOWN_TYPE_NAMES = st.sampled_from(["text"] * 3 + ["location"] * 3 + ["event"] * 2 + ["voice"] * 2 + [
    "image", "video", "shortvideo", "link", "file", "TEXT", " text ", "Location", "EVENT"])


@st.composite
def wechat_message(draw):
    """A message shaped like WeChat's, every field random, possibly missing, nested or repeated."""
    fields: Dict[str, Optional[Tuple[str, str]]] = {
        "ToUserName": often(draw, st.just(("text", ACCOUNT)), st.one_of(st.none(), value_of(text))),
        "FromUserName": often(draw, openid.map(in_cdata), st.one_of(st.none(), value_of(text))),
        "CreateTime": often(draw, st.integers(0, 2**40).map(as_number), st.one_of(st.none(), value_of(text))),
        "MsgType": often(draw, value_of(KNOWN_TYPE_NAMES), st.one_of(st.none(), value_of(text))),
        "Content": often(draw, value_of(text),
                         st.one_of(st.none(), value_of(st.one_of(any_text, control_heavy, huge)))),
        "MsgId": often(draw, st.integers(0, 2**64).map(as_number), st.one_of(st.none(), value_of(text))),
    }
    for name in ["Location_X", "Location_Y", "Scale"]:
        fields[name] = often(draw, value_of(number_like), st.none())
    fields["Label"] = often(draw, st.none(), value_of(st.one_of(text, any_text)), odds=1)
    fields["Recognition"] = often(draw, st.none(), value_of(st.one_of(text, any_text, control_heavy)), odds=1)
    fields["Event"] = often(draw, value_of(st.sampled_from(["subscribe", "subscribe", "unsubscribe", "CLICK", "SCAN",
                                                            "LOCATION", " Subscribe "])),
                            st.one_of(st.none(), value_of(text)), odds=1)
    extras = draw(st.dictionaries(xml_name.filter(unknown_name), value_of(text), max_size=4))
    fields.update(extras)
    order = draw(st.permutations(sorted(fields)))
    return {name: fields[name] for name in order}


def render_message(fields: Dict[str, Optional[Tuple[str, str]]]) -> str:
    parts = []
    for name, value in fields.items():
        if value is None:
            continue
        kind, string = value
        if kind == "bare":
            parts.append(f"<{name}>{escape(string)}</{name}>")
        elif kind == "nested":
            parts.append(f"<{name}><Inner>{cdata(string)}</Inner></{name}>")
        else:
            parts.append(f"<{name}>{cdata(string)}</{name}>" * (2 if kind == "twice" else 1))
    return "<xml>" + "".join(parts) + "</xml>"


def parsed_value(fields, name: str) -> Any:
    """What ``message.get(name)`` is after parsing: None, a string, a list (repeated) or a dict (nested)."""
    value = fields.get(name)
    if value is None:
        return None
    kind, string = value
    if kind == "nested":
        return {"Inner": xml_text(string) or None}
    if kind == "twice":
        return [xml_text(string) or None] * 2
    return xml_text(string) or None


def field_text(fields, name: str) -> str:
    value = parsed_value(fields, name)
    return value.strip() if isinstance(value, str) else ""


def number_or_none(text_value: str) -> Optional[float]:
    try:
        return float(text_value)
    except ValueError:
        return None


def check_answer(fields, status: int, body: str, bot: Bot, channel: WeChatInput, oversized: bool,
                 encrypted: bool = False) -> None:
    """The webhook's answer to a message, predicted from the message alone."""
    well_formed = not any(v is not None and XML_INVALID.search(v[1]) for v in fields.values())
    sender, msg_type = field_text(fields, "FromUserName"), field_text(fields, "MsgType").lower()
    event(f"HTTP {status}" + (f", {msg_type if msg_type in KNOWN_TYPES else 'other type'}" if status == 200 else ""))
    if oversized or not well_formed or not sender or not msg_type:
        assert (status, bot.messages) == (400, []), (status, body[:200])
        return
    assert status == 200, body[:200]
    assert channel.delivered[-1].startswith(f"{sender}:")

    expected_text: Optional[str] = None  # what reaches the bot
    say: Optional[str] = None  # or what the channel answers itself
    if msg_type == "text":
        content = parsed_value(fields, "Content")
        expected_text = content if isinstance(content, str) else ""
    elif msg_type == "location":
        expected_text = "location"
    elif msg_type == "voice" and field_text(fields, "Recognition"):
        expected_text = field_text(fields, "Recognition")
    elif msg_type == "event":
        expected_text = "你好" if field_text(fields, "Event").lower() == "subscribe" else None
    else:
        say = "wechat.link" if msg_type == "link" else "wechat.unsupported"

    if expected_text is None:
        assert bot.messages == []
        if say is None:
            assert body == "success"
            return
        reply_text = render(say, "zh-Hans")
    else:
        assert len(bot.messages) == 1
        message = bot.messages[0]
        assert message.sender_id == sender and message.input_channel == "wechat"
        assert message.metadata["wechat"]["msg_type"] == msg_type
        msg_id = field_text(fields, "MsgId")
        assert message.metadata["wechat"]["msg_id"] == (msg_id or None)
        if msg_id:
            assert message.message_id == msg_id
        if msg_type == "location":
            location = message.metadata["location"]
            for key, name in [("latitude", "Location_X"), ("longitude", "Location_Y"), ("scale", "Scale")]:
                want, got = number_or_none(field_text(fields, name)), location[key]  # a number or None
                if want is None or got is None:
                    assert got is want, (key, got, want)
                else:
                    assert got == want or (math.isnan(want) and math.isnan(got)), (key, got, want)
            assert location["label"] == (field_text(fields, "Label") or None)
            assert isinstance(message.text, str) and message.text
            if location["label"]:
                assert location["label"] in message.text
        else:
            assert message.text == expected_text.strip()
        if bot.reply is None:
            assert body == "success"
            return
        chunks = split_text(merge([bot.reply]))
        if not chunks:
            assert body == "success"
            return
        reply_text = chunks[0]

    # The passive reply: WeChat's XML (encrypted in safe mode), addressed back to the resident.
    if encrypted:
        body = decrypt_reply(body)
    reply = parse_xml(body)
    assert reply.get("ToUserName") == sender
    assert reply.get("FromUserName") == (field_text(fields, "ToUserName") or None)
    assert reply.get("MsgType") == "text"
    assert reply.get("Content") == (xml_text(XML_INVALID.sub("", reply_text)) or None)


# --------------------------------------------------------------------------------------------------
# parse_xml: the guard


def parse_or_reject(data) -> Optional[Dict[str, Any]]:
    """parse_xml's result, or None for its one clean rejection (BadXML); anything else propagates."""
    try:
        fields = parse_xml(data)
    except BadXML:
        return None
    assert isinstance(fields, dict)
    assert all(isinstance(k, str) for k in fields)
    return fields


@fuzz(150)
@given(st.one_of(st.binary(max_size=600),
                 st.builds(repeated, st.binary(min_size=1, max_size=64), st.integers(60_000, 70_000))))
def test_arbitrary_bytes_are_parsed_or_refused_with_badxml(data):
    fields = parse_or_reject(data)
    if fields is not None:
        assert len(data) <= MAX_BODY_BYTES
        assert total_chars(fields) <= len(data)  # nothing was expanded


# Markup fragments, assembled at random: declarations, entities, CDATA, comments, processing
# instructions in every order, to look for a way past the guard.
FRAGMENTS = ['<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-8"?>',
             "<?xml version='1.0' encoding='latin-1'?>", "\ufeff", "<!DOCTYPE xml [", "<!doctype xml>",
             '<!ENTITY e "', '<!ENTITY % p "', '">', "]>", "&e;", "%p;",
             '<!ENTITY x SYSTEM "file:///etc/passwd">', '<!ENTITY y SYSTEM "http://127.0.0.1:9/y">', "&x;", "&y;",
             "<![CDATA[", "]]>", "<!--", "-->", "<?pi ", "?>", "<xml>", "</xml>", "<A>", "</A>", "<B/>", "&amp;",
             "&#x41;", "&#0;", "&lt;", "<", ">", "&", '"', "'", "[", "]", " ", "\n", "x", "中"]
# ... and as whole documents: a prolog, <xml> with tricky content, an epilogue.
PROLOG = ['<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>', "\ufeff", "\n ",
          "<!-- c -->", "<?pi x?>", "<!DOCTYPE xml>", "<!doctype xml>",
          '<!DOCTYPE xml SYSTEM "http://127.0.0.1:9/x.dtd">', '<!DOCTYPE xml [<!ELEMENT xml ANY>]>',
          '<!DOCTYPE xml [<!ENTITY e "e">]>', '<!DOCTYPE xml [<!ATTLIST xml a CDATA "d">]>',
          "<![CDATA[<!DOCTYPE x>]]>"]
CONTENT = ["<A>1</A>", "<A><![CDATA[<!DOCTYPE x [<!ENTITY e 'e'>]>]]></A>", "<A><![CDATA[]]]]><![CDATA[>]]></A>",
           "<!-- <![CDATA[ -->", "<![CDATA[ <!-- ]]>", "<A>&amp;&lt;&#x4e2d;</A>", "<A>&e;</A>", "<?pi <![CDATA[ ?>",
           "<A/>", "\n", "<A>x<![CDATA[y]]>z</A>", "]]>", "<B><C>deep</C></B>"]
EPILOGUE = ["", "\n", "<!-- end -->", "<?pi?>"]


def soup_document(prolog: List[str], content: List[str], epilog: List[str]) -> str:
    return "".join(prolog) + "<xml>" + "".join(content) + "</xml>" + "".join(epilog)


markup_soup = st.one_of(
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(safe_char, max_size=5)), max_size=25).map("".join),
    st.builds(soup_document, st.lists(st.sampled_from(PROLOG), max_size=3),
              st.lists(st.sampled_from(CONTENT), max_size=5), st.lists(st.sampled_from(EPILOGUE), max_size=2)),
)


@fuzz(200)
@given(markup_soup)
def test_markup_soup_never_gets_a_dtd_past_the_guard(text_value):
    fields = parse_or_reject(text_value)
    if fields is None:
        return
    event("accepted")
    assert total_chars(fields) <= len(text_value)
    # Whatever the guard let through, expat itself finds no DTD and no entity in it.
    seen = []
    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = lambda *a: seen.append("doctype")
    parser.EntityDeclHandler = lambda *a: seen.append("entity")
    parser.SkippedEntityHandler = lambda *a: seen.append("skipped entity")
    parser.ExternalEntityRefHandler = lambda *a: seen.append("external entity") or 1
    try:
        parser.Parse(text_value.lstrip("\ufeff"), True)
    except expat.ExpatError:
        pass
    assert seen == []


@st.composite
def xml_bomb(draw):
    """Entity expansion (billion laughs, quadratic blow-up) and external entities (file, URL,
    parameter entities), behind any prolog (declaration, byte order mark, whitespace, comment)."""
    name = draw(st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True))
    kind = draw(st.sampled_from(["laughs", "quadratic", "external", "parameter", "public"]))
    if kind == "laughs":
        depth, width = draw(st.integers(2, 9)), draw(st.integers(2, 10))
        decls = [f'<!ENTITY {name}0 "lol">'] + [
            f'<!ENTITY {name}{i} "{("&" + name + str(i - 1) + ";") * width}">' for i in range(1, depth + 1)]
        use = f"&{name}{depth};"
    elif kind == "quadratic":
        decls = [f'<!ENTITY {name} "{"A" * draw(st.integers(1_000, 20_000))}">']
        use = f"&{name};" * draw(st.integers(10, 2_000))
    elif kind == "external":
        target = draw(st.sampled_from(["file:///etc/passwd", "file:///dev/random", "http://127.0.0.1:9/x.dtd"]))
        decls, use = [f'<!ENTITY {name} SYSTEM "{target}">'], f"&{name};"
    elif kind == "parameter":
        decls, use = [f'<!ENTITY % {name} SYSTEM "http://127.0.0.1:9/p.dtd"> %{name};'], "x"
    else:
        decls, use = [f'<!ENTITY {name} PUBLIC "-//X//Y" "http://127.0.0.1:9/pub">'], f"&{name};"
    doctype = draw(st.sampled_from(["DOCTYPE", "doctype", "DocType"]))
    prolog = draw(st.sampled_from(["", '<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-8"?>\n', "\ufeff",
                                   "\n\t ", "<!-- hi -->"]))
    body = (f"{prolog}<!{doctype} xml [{''.join(decls)}]>"
            f"<xml><ToUserName>{cdata(ACCOUNT)}</ToUserName><FromUserName>{cdata('oBomb')}</FromUserName>"
            f"<CreateTime>1700000000</CreateTime><MsgType>{cdata('text')}</MsgType>"
            f"<Content>{use}</Content><MsgId>1</MsgId></xml>")
    return body.encode("utf-8") if draw(st.booleans()) else body


@fuzz(100)
@given(xml_bomb())
def test_entity_declarations_are_refused_not_expanded(body):
    # refused by the guard, before any XML parser sees the text
    with pytest.raises(BadXML, match="DTDs, entity declarations"):
        parse_xml(body)


@fuzz(80)
@given(fields=st.dictionaries(xml_name, st.tuples(st.sampled_from(["cdata", "escaped"]),
                                                   st.text(xml_char, max_size=60)),
                              min_size=1, max_size=8),
       declaration=st.sampled_from(["", '<?xml version="1.0"?>', '<?xml version="1.0" encoding="utf-8"?>',
                                    "<?xml version='1.0' encoding='UTF8'?>\n", "\ufeff"]),
       spacing=st.sampled_from(["", "\n", "\n    ", "\r\n\t"]))
def test_any_well_formed_message_parses_to_exactly_its_fields(fields, declaration, spacing):
    def element(name, style, value):
        if style == "cdata":
            return f"<{name}>{cdata(value)}</{name}>"
        return f"<{name}>{escape(value, {chr(13): '&#13;'})}</{name}>"  # a character reference keeps \r

    xml = declaration + "<xml>" + "".join(spacing + element(n, *v) for n, v in fields.items()) + spacing + "</xml>"
    expected = {}
    for name, (style, value) in fields.items():
        kept = xml_text(value) if style == "cdata" else value.strip()
        expected[name] = kept or None
    assert parse_xml(xml) == expected
    assert parse_xml(xml.encode("utf-8")) == expected


# --------------------------------------------------------------------------------------------------
# the webhook


@fuzz(100)
@given(fields=wechat_message(), reply=st.one_of(st.none(), any_text, control_heavy, huge),
       chunk=st.sampled_from([1, 7, 512, 65536]))
def test_plain_message_gets_the_predicted_answer(fields, reply, chunk):
    channel, bot = new_channel(), Bot(reply)
    body = render_message(fields).encode("utf-8")
    status, answer = receive(channel, post(signed_query(), body, chunk=chunk), bot)
    check_answer(fields, status, answer, bot, channel, oversized=len(body) > MAX_BODY_BYTES)


@fuzz(80)
@given(fields=wechat_message(), reply=st.one_of(st.none(), any_text, control_heavy))
def test_encrypted_message_gets_the_predicted_answer(fields, reply):
    channel, bot = new_channel(), Bot(reply)
    inner = render_message(fields)
    encrypt, body = encrypted_envelope(inner)
    status, answer = receive(channel, post(signed_query(encrypt), body), bot)
    oversized = len(body) > MAX_BODY_BYTES or len(inner.encode("utf-8")) > MAX_BODY_BYTES
    check_answer(fields, status, answer, bot, channel, oversized=oversized, encrypted=True)


def deeply_nested(depth: int) -> bytes:
    """A message whose Content is ``depth`` elements deep (9,000 fit in the 64 KiB limit)."""
    return (f"<xml><FromUserName>{cdata('oDeep')}</FromUserName><MsgType>{cdata('text')}</MsgType><Content>"
            + "<a>" * depth + "x" + "</a>" * depth + "</Content></xml>").encode()


@fuzz(80)
@given(body=st.one_of(st.binary(max_size=400), st.text(safe_char, max_size=400).map(str.encode),
                      st.lists(st.sampled_from(FRAGMENTS), max_size=20).map(joined_bytes),
                      st.integers(1, 10_000).map(deeply_nested)),
       aes=st.booleans())
def test_arbitrary_body_is_a_message_or_400(body, aes):
    channel, bot = new_channel(), Bot("ok")
    query = signed_query()
    if aes:
        query.update(encrypt_type="aes", msg_signature="0" * 40)
    status, _ = receive(channel, post(query, body), bot)
    fields = parse_or_reject(body)
    if fields is None:
        assert status == 400
    elif aes:
        assert status in (400, 403)  # no Encrypt field, or it does not match msg_signature
    else:
        assert status == (200 if field(fields, "FromUserName") and field(fields, "MsgType") else 400)
    if status != 200:
        assert bot.messages == []


@fuzz(60)
@given(xml_bomb(), st.booleans())
def test_entity_declarations_get_400_plain_or_encrypted(bomb, encrypted):
    channel, bot = new_channel(), Bot("ok")
    bomb_text = bomb.decode("utf-8") if isinstance(bomb, bytes) else bomb
    if encrypted:
        encrypt, body = encrypted_envelope(bomb_text)
        request = post(signed_query(encrypt), body)
    else:
        request = post(signed_query(), bomb_text.encode("utf-8"))
    assert receive(channel, request, bot)[0] == 400
    assert bot.messages == []


@fuzz(80)
@given(encrypt=st.one_of(any_text, st.binary(max_size=300).map(b64),
                         st.binary(min_size=16, max_size=300).map(b64_blocks)),
       signed=st.booleans(), key_configured=st.booleans())
def test_forged_or_garbled_ciphertext_is_refused(encrypt, signed, key_configured):
    """A random Encrypt: with a wrong msg_signature 403; with a right one it cannot be decrypted (400)."""
    channel, bot = new_channel(aes=key_configured), Bot("ok")
    body = f"<xml><ToUserName>{cdata(ACCOUNT)}</ToUserName><Encrypt>{cdata(encrypt)}</Encrypt></xml>".encode()
    as_parsed = xml_text(encrypt)  # what the server reads from the Encrypt element
    query = signed_query(as_parsed)
    if not signed:
        query["msg_signature"] = signature("not-the-token", TIMESTAMP, NONCE, as_parsed)
    status, _ = receive(channel, post(query, body), bot)
    if XML_INVALID.search(encrypt) or not key_configured or not as_parsed:
        assert status == 400
    else:
        assert status == (400 if signed else 403)
    assert bot.messages == []


query_value = st.one_of(any_text, st.sampled_from(["", " ", "aes", "AES", "raw", "0" * 40]))


@fuzz(100)
@given(timestamp=query_value, nonce=query_value, good=st.booleans(), upper=st.booleans(),
       encrypt_type=st.one_of(st.none(), query_value),
       extra=st.dictionaries(text.filter(not_a_signature_parameter), text, max_size=3),
       content_length=st.one_of(st.just("auto"), st.none(), text,
                                st.sampled_from(["abc", "-1", "1e3", "99999999", " 120 ", ""])))
def test_signature_and_headers_decide_403_or_400_before_anything_else(timestamp, nonce, good, upper, encrypt_type,
                                                                       extra, content_length):
    channel, bot = new_channel(), Bot("ok")
    sig = signature(TOKEN if good else "not-the-token", timestamp, nonce)
    query = {**extra, "signature": sig.upper() if upper else sig, "timestamp": timestamp, "nonce": nonce}
    if encrypt_type is not None:
        query["encrypt_type"] = encrypt_type
    body = render_message({"ToUserName": ("text", ACCOUNT), "FromUserName": ("text", "oSig"),
                           "MsgType": ("text", "text"), "Content": ("text", "你好"), "MsgId": ("bare", "1")}).encode()
    status, _ = receive(channel, post(query, body, content_length=content_length), bot)
    # (the query string drops empty values, as Sanic parses it)
    try:
        declared_ok = content_length in ("auto", None) or int(content_length) <= MAX_BODY_BYTES
    except ValueError:
        declared_ok = False
    if not (good and timestamp and nonce):
        assert status == 403
    elif not declared_ok:
        assert status == 400  # a Content-Length that is no number, or too large: not read at all
    elif encrypt_type is not None and encrypt_type.lower() == "aes":
        assert status == 403  # no msg_signature
    else:
        assert status == 200
    assert len(bot.messages) == (1 if status == 200 else 0)
