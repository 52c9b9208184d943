import pytest

from bot.language import (AMBIGUOUS_CHINESE, ENGLISH, SIMPLIFIED, TRADITIONAL, detect_language,
                          normalise_for_nlu, resolve_language, to_traditional)


@pytest.mark.parametrize("text,expected", [
    ("楼上装修吵死了", SIMPLIFIED),
    ("樓上裝修吵死了", TRADITIONAL),
    ("谢谢", SIMPLIFIED),
    ("謝謝", TRADITIONAL),
    ("the lift in block 5 is broken", ENGLISH),
    ("ok", ENGLISH),
    ("我住在5栋 block B", SIMPLIFIED),
    ("好的", AMBIGUOUS_CHINESE),  # no character tells the scripts apart
    ("請問網格員是誰", TRADITIONAL),
])
def test_detects_language_and_script(text, expected):
    assert detect_language(text).language == expected


@pytest.mark.parametrize("text", ["", "   ", "😀😀", "１２３", "!!!"])
def test_no_language_without_words(text):
    assert detect_language(text).language is None


def test_long_text_is_cheap_and_correct():
    assert detect_language("電梯壞了" * 5000).language == TRADITIONAL


def test_ambiguous_chinese_keeps_the_conversation_script():
    assert resolve_language(TRADITIONAL, AMBIGUOUS_CHINESE) == TRADITIONAL
    assert resolve_language(ENGLISH, AMBIGUOUS_CHINESE) == SIMPLIFIED
    assert resolve_language(None, AMBIGUOUS_CHINESE) == SIMPLIFIED


def test_message_without_words_keeps_the_language():
    assert resolve_language(ENGLISH, None) == ENGLISH
    assert resolve_language(None, None) == SIMPLIFIED


def test_a_clear_message_switches_language():
    assert resolve_language(SIMPLIFIED, ENGLISH) == ENGLISH


def test_normalisation_for_the_classifier():
    assert normalise_for_nlu("樓上ＡＢＣ裝修") == "楼上abc装修"
    assert to_traditional("楼上装修") == "樓上裝修"
