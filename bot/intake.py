"""Reading a report's details out of free text: where, a phone number, a decline, a correction.

Plain functions over resident text (any script); the ticket form in actions/ calls them.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Optional, Tuple

from bot.language import to_simplified

# Mainland mobile numbers (11 digits, 1[3-9]…), optionally split by spaces or dashes, and landlines.
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)[\s-]?(\d{4})[\s-]?(\d{4})(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3})[\s-]?(\d{7,8})(?!\d)")
# Strong suffixes name a place on their own; weak ones (幸福里, 万科城) only before a building number,
# so that 家里 / 楼道里 / 心里 are not taken for an address.
_STRONG_SUFFIX = r"(?:小区|花园|苑|公寓|大厦|新村|家园|社区|大院|宿舍|商城|广场)"
_WEAK_SUFFIX = r"(?:里|城|府|湾|庭|园|村|中心)"
_BUILDING = r"\d+\s*(?:栋|号楼|幢|座|号|楼)"
_UNIT_ROOM = r"(?:\s*\d+\s*单元)?(?:\s*\d{2,5}\s*(?:室|号|房)?)?"
_LOCATION_ZH = re.compile(
    rf"[\u4e00-\u9fffA-Za-z0-9]{{1,12}}{_STRONG_SUFFIX}(?:\s*{_BUILDING})?{_UNIT_ROOM}"
    rf"|[\u4e00-\u9fffA-Za-z0-9]{{1,12}}{_WEAK_SUFFIX}\s*{_BUILDING}{_UNIT_ROOM}"
    rf"|{_BUILDING}{_UNIT_ROOM}"
    r"|[\u4e00-\u9fff]{1,10}(?:路|街|大道|巷|弄)\s*\d+\s*号"
)
_LOCATION_EN = re.compile(
    r"\b(?:block|building|bldg|tower)\s*[a-z0-9]+(?:[\s,]+(?:unit|room|flat|apt\.?|apartment|no\.?)\s*[a-z0-9-]+)*"
    r"|\b(?:room|flat|apt\.?|apartment)\s*\d+[a-z]?\b"
    r"|\b\d+\s+[a-z]+(?:\s+[a-z]+)?\s+(?:road|street|avenue|lane|rd|st)\b",
    re.IGNORECASE,
)
_DECLINE = re.compile(
    r"^(不|不用|不留|不想|不方便|不要|没有|没|算了|跳过|免了|保密|no|nope|skip|none|no thanks|rather not|don'?t want)"
    r"|不想留|不留电话|不方便留|不用留|rather not|prefer not|no phone|skip",
    re.IGNORECASE,
)


def _plain(text: str) -> str:
    return to_simplified(unicodedata.normalize("NFKC", text or "")).strip()


def extract_phone(text: str) -> Optional[str]:
    """The first phone number in the text, digits only."""
    plain = _plain(text)
    match = _MOBILE.search(plain)
    if match:
        return "".join(match.groups())
    match = _LANDLINE.search(plain)
    return "".join(match.groups()) if match else None


# Words a span may begin with that are not part of the place ("我是幸福里小区5栋" → 幸福里小区5栋).
_LEAD_IN = re.compile(r"^(?:投诉|举报|反映|关于|尊敬的|您好|你好|我们家|我们是|我们|我家|我是|本人|住在|家住|我住|位于|地址是|地址|地点是|地点|就在|在)+")
# 社区 after one of these is the residents' committee as an institution ("向社区反映", "尊敬的社区领导"),
# not a named place.
_INSTITUTION = re.compile(r"(?:^|[向找给到跟和与问让请被由对从的])社区$")
_SPECIFIC = re.compile(r"\d\s*(?:栋|号楼|幢|座|单元|室|楼)|\d{3,}|[路街巷弄]\s*\d+\s*号")


# Characters that end a clause's subject or verb, not a place name's: a name starts after the last
# of them ("去年我父亲在小区" is not a place; "和平路", "都市花园" keep their 和 and 都).
_NOT_IN_NAMES = re.compile(r"[我你他她们的了是在被把说也就又还很太要能望入进住搬到去或打]")


def _zh_candidates(simplified: str):
    for match in _LOCATION_ZH.finditer(simplified):
        start, end = match.span()
        lead = _LEAD_IN.match(match.group(0))
        if lead and lead.end() < end - start:
            start += lead.end()
        cut = [m.end() for m in _NOT_IN_NAMES.finditer(simplified, start, end)]
        if cut and cut[-1] < end:
            start = cut[-1]
        span = simplified[start:end]
        if _INSTITUTION.search(span) or span in {"小区", "社区"}:
            continue
        yield start, end


def extract_location(text: str) -> Optional[str]:
    """An address-like span (compound, building, unit, room) if the text names one; in a long
    message the most specific (with a building, room or street number), else the first."""
    plain = unicodedata.normalize("NFKC", text or "")
    simplified = _plain(text)
    candidates = list(_zh_candidates(simplified))
    if candidates:
        start, end = max(candidates, key=lambda span: bool(_SPECIFIC.search(simplified[span[0]:span[1]])))
        # Quote the resident's own characters (Traditional stays Traditional).
        original = plain[start:end] if len(plain) == len(simplified) else simplified[start:end]
        return original.strip(" ,，")
    match = _LOCATION_EN.search(plain)
    return match.group(0).strip(" ,，") if match else None


# The answer to "where exactly?" is itself the place: kept whole when it is short and one phrase
# ("幸福小区3栋门口", "Sunshine Garden building 5"), where extract_location would keep only the address
# core ("幸福小区3栋", "building 5"). Its lead-in ("就在", "地址是", "it's at") is dropped.
_SHORT_ANSWER = 30
_SENTENCE_BREAK = re.compile(r"[。！？!?；;，,]")
_ANSWER_LEAD_IN = re.compile(r"^(?:就在|是在|在|地址是|地点是|位置是|位置在|地址:|地址：|"
                             r"(?:it'?s |it is )?(?:at|in|near) |the address is )", re.IGNORECASE)


def location_answer(text: str) -> Optional[str]:
    """The place a resident gives when asked where: the short answer itself, else the address-like
    span of a longer one (extract_location), else None."""
    plain = unicodedata.normalize("NFKC", text or "").strip().rstrip("。.!！~～")
    if 0 < len(plain) <= _SHORT_ANSWER and not _SENTENCE_BREAK.search(plain):
        answer = _ANSWER_LEAD_IN.sub("", plain).strip()
        if len(answer) >= 2:
            return answer
    return extract_location(text)


# Chasing a case already reported ("我前天反映的问题怎么还没人管", "I reported this last week and nobody came"),
# not a new report.
_FOLLOW_UP = re.compile(
    r"(反映|投诉|报修|举报|报|提交|登记|打电话|说)(过|的|了).{0,15}(怎么还|还没|还是没|一直没|没人|到现在|什么时候|啥时候|有结果吗|有进展吗)"
    r"|催(一下|一催|办|促)|怎么还没(人|有)?(处理|管|来|修|回复|解决|动静)"
    r"|\b(reported|complained|told you)\b.{0,40}\b(still|nobody|no one|nothing|never)\b", re.IGNORECASE)


def is_follow_up(text: str) -> bool:
    return bool(_FOLLOW_UP.search(_plain(text)))


def is_decline(text: str) -> bool:
    return bool(_DECLINE.search(_plain(text)))


_FIELD_WORDS = {
    "location": r"地址|位置|地点|address|location|place",
    "phone": r"电话|手机|号码|phone|number|mobile",
    "description": r"描述|情况|内容|问题|description|details|problem",
}
_CORRECTION = re.compile(r"^(?:把|将)?\s*(?P<field>{words})\s*(?:改成|改为|换成|应该是|是|写成|to|should be|is|:|：)\s*(?P<value>.+)$")


def parse_correction(text: str) -> Optional[Tuple[str, str]]:
    """'地址改成阳光花园5栋' → ('location', '阳光花园5栋'); also 'change the phone to 138…'."""
    plain = _plain(text)
    plain = re.sub(r"^(?:请|麻烦)?(?:帮我)?(?:修改|更改|改一下|改|change|correct|update)\s*(?:the\s+|my\s+)?", "", plain, flags=re.I)
    for field, words in _FIELD_WORDS.items():
        match = re.match(_CORRECTION.pattern.format(words=words), plain, re.IGNORECASE)
        if match and match.group("value").strip():
            value = match.group("value").strip()
            original = unicodedata.normalize("NFKC", text or "").strip()
            # Keep the resident's script for the value where the lengths line up.
            if original.endswith(value) is False and len(original) >= len(value):
                tail = original[-len(value):]
                if _plain(tail) == value:
                    value = tail
            return field, value
    return None


_GENERIC = re.compile(
    r"我要|我想|想要|请|麻烦|帮我|帮忙|投诉|举报|反映|报修|申请|一下|一个|问题|事情|情况|你们|您好|你好|"
    r"\b(i|we|want|would|like|to|make|a|an|file|complaint|complain|report|request|please|help|hello|hi)\b",
    re.IGNORECASE,
)
_HAN = re.compile(r"[\u4e00-\u9fff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def is_substantive(text: str) -> bool:
    """Does the message say what happened, beyond 'I want to complain'?"""
    rest = _GENERIC.sub(" ", _plain(text))
    return len(_HAN.findall(rest)) >= 4 or len(_LATIN_WORD.findall(rest)) >= 3


_CANCEL = re.compile(r"^(取消|算了|不要了|不用了|不报了|撤销|cancel|never ?mind|forget it|stop)", re.IGNORECASE)
_CONFIRM = re.compile(r"^(确认|确定|对|对的|是|是的|没错|没问题|提交|好|好的|可以|行|ok|okay|yes|yep|yeah|correct|confirm|submit|sure)\b|^(确认|确定|对|是|好|行)",
                      re.IGNORECASE)


def is_cancel(text: str) -> bool:
    return bool(_CANCEL.search(_plain(text)))


def is_confirm(text: str) -> bool:
    return bool(_CONFIRM.search(_plain(text)))


_RATING_WORDS = [  # longest first: 非常不满意 before 不满意 before 满意
    ("非常不满意", 1), ("很不满意", 1), ("太差", 1), ("very dissatisfied", 1), ("terrible", 1),
    ("不满意", 2), ("不太满意", 2), ("dissatisfied", 2), ("unhappy", 2), ("poor", 2), ("bad", 2),
    ("一般", 3), ("还行", 3), ("ok", 3), ("so-so", 3), ("average", 3),
    ("非常满意", 5), ("很满意", 5), ("特别满意", 5), ("very satisfied", 5), ("excellent", 5), ("great", 5),
    ("满意", 4), ("satisfied", 4), ("good", 4),
]
_CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
_RATING_NUMBER = re.compile(r"^\s*(?:打|给|评)?\s*([1-5一二两三四五])\s*(?:分|星|颗星|stars?|/\s*5)?(?![0-9])(.*)$", re.I | re.S)


def parse_rating(text: str) -> Optional[Tuple[int, Optional[str]]]:
    """'5', '4分 挺快的', '★★★', '不满意 没人来' → (score, comment); None when it is not a rating."""
    plain = _plain(text)
    stars = plain.count("★") or plain.count("⭐")
    if 1 <= stars <= 5 and not re.search(r"\d", plain):
        rest = plain.replace("★", "").replace("⭐", "").strip()
        return stars, rest or None
    match = _RATING_NUMBER.match(plain)
    if match:
        raw = match.group(1)
        score = _CN_DIGITS.get(raw) or int(raw)
        comment = match.group(2).strip(" ，,。.!！") or None
        return score, comment
    lowered = plain.lower()
    for word, score in _RATING_WORDS:
        if lowered.startswith(word):
            return score, plain[len(word):].strip(" ，,。.!！") or None
    return None
