import pytest

from bot.intake import (extract_location, extract_phone, is_decline, is_follow_up, location_answer,
                        parse_correction)


@pytest.mark.parametrize("text,phone", [
    ("我电话13812345678", "13812345678"),
    ("138-1234-5678 找王阿姨", "13812345678"),
    ("联系我 139 0000 1111", "13900001111"),
    ("call me on 15912345678", "15912345678"),
    ("座机 0755-12345678", "075512345678"),
    ("１３８１２３４５６７８", "13812345678"),
])
def test_phone_numbers(text, phone):
    assert extract_phone(text) == phone


@pytest.mark.parametrize("text", ["1381234567", "12345678901", "房间号1203", "没有电话", ""])
def test_not_phone_numbers(text):
    assert extract_phone(text) is None


@pytest.mark.parametrize("text,expected", [
    ("阳光花园3栋2单元502楼道灯坏了", "阳光花园3栋2单元502"),
    ("幸福里小区12号楼门口垃圾没人清", "幸福里小区12号楼"),
    ("5栋1202装修太吵", "5栋1202"),
    ("陽光花園3棟樓下很吵", "陽光花園3棟"),
    ("the lift in block 5 room 1203 is broken", "block 5 room 1203"),
    ("人民路88号门口的井盖丢了", "人民路88号"),
])
def test_locations(text, expected):
    assert extract_location(text) == expected


def test_no_location():
    assert extract_location("楼上太吵了") is None


@pytest.mark.parametrize("text,expected", [
    # The answer to "where exactly?" is the place, kept whole: 门口 and the estate's name matter.
    ("幸福小区3栋门口", "幸福小区3栋门口"),
    ("Sunshine Garden building 5", "Sunshine Garden building 5"),
    ("在东门", "东门"),
    ("地址是阳光花园5栋。", "阳光花园5栋"),
    ("it's at the east gate", "the east gate"),
    ("東門口", "東門口"),
    # A sentence: only its address-like part.
    ("就在幸福小区3栋门口，快来看看吧", "幸福小区3栋"),
    ("我也说不清楚，反正在小区里面靠近北门那边", None),
    ("x", None),
])
def test_location_answers(text, expected):
    assert location_answer(text) == expected


@pytest.mark.parametrize("text", ["不留了", "不想留电话", "no", "skip", "I'd rather not", "算了不用"])
def test_declines(text):
    assert is_decline(text)


def test_a_number_is_not_a_decline():
    assert not is_decline("13812345678")


@pytest.mark.parametrize("text,expected", [
    ("地址改成阳光花园5栋", ("location", "阳光花园5栋")),
    ("把电话改为13900001111", ("phone", "13900001111")),
    ("change the address to block 7", ("location", "block 7")),
    ("地址改成陽光花園5棟", ("location", "陽光花園5棟")),
])
def test_corrections(text, expected):
    assert parse_correction(text) == expected


def test_not_a_correction():
    assert parse_correction("好的没问题") is None


from bot.intake import is_cancel, is_confirm, is_substantive


@pytest.mark.parametrize("text,expected", [
    ("我要投诉", False), ("I want to make a complaint", False), ("报修", False),
    ("楼上天天半夜跺脚", True), ("the lift in block 5 is broken", True), ("樓上裝修太吵", True),
])
def test_substantive(text, expected):
    assert is_substantive(text) is expected


def test_confirm_and_cancel():
    assert is_confirm("确认") and is_confirm("yes please") and is_confirm("對的")
    assert is_cancel("取消") and is_cancel("cancel it") and not is_cancel("确认")
    assert not is_confirm("地址改成阳光花园5栋")


@pytest.mark.parametrize("text", ["楼道里堆满了杂物", "心里很烦", "家里漏水了"])
def test_everyday_words_are_not_addresses(text):
    assert extract_location(text) is None


def test_weak_place_names_need_a_building():
    assert extract_location("幸福里12号楼门口") == "幸福里12号楼"


from bot.intake import parse_rating


@pytest.mark.parametrize("text,expected", [
    ("5", (5, None)), ("4分 处理挺快的", (4, "处理挺快的")), ("★★★", (3, None)), ("五星", (5, None)),
    ("不满意 根本没人来", (2, "根本没人来")), ("非常满意", (5, None)), ("1/5 nobody came", (1, "nobody came")),
    ("很不满意", (1, None)), ("滿意", (4, None)),
])
def test_ratings(text, expected):
    assert parse_rating(text) == expected


@pytest.mark.parametrize("text", ["楼上又在装修了", "13812345678", "6", "0", "查询 GD20261124-0007"])
def test_not_ratings(text):
    assert parse_rating(text) is None


# Letters name the institution before the place, and the place inside a sentence.
@pytest.mark.parametrize("text,expected", [
    ("尊敬的社区领导：您好！我是幸福里小区5栋2单元的住户。楼道里长期停放电动车", "幸福里小区5栋2单元"),
    ("下个月要搬进阳光花园8栋1506室，想问一下", "阳光花园8栋1506室"),
    ("投诉和平小区门口的烧烤摊", "和平小区"),
    ("我们多次向社区反映，至今没有解决", None),
    ("去年我父亲在小区东门外摔倒，至今没人管", None),
    # the first specific place: where the problem is comes before where the resident lives
    ("小区东门外和平路12号门口的井盖丢了，我住在幸福里小区3栋", "小区东门外和平路12号"),
    ("我是幸福里小区的居民，3栋门口的井盖丢了", "3栋"),
])
def test_locations_in_letters(text, expected):
    assert extract_location(text) == expected


@pytest.mark.parametrize("text,chasing", [
    ("我前天反映的问题怎么还没人管", True),
    ("上周报修的水管到现在还没人来", True),
    ("帮我催一下", True),
    ("I reported the broken light last week and nobody came", True),
    ("我要投诉楼上装修", False),
    ("楼道灯坏了", False),
    ("你们什么时候来", False),
])
def test_chasing_a_case_already_reported(text, chasing):
    assert is_follow_up(text) is chasing

