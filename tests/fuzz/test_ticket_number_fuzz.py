"""Fuzzing the ticket-number parser (bot/tickets/numbering.py) with arbitrary Unicode text.

Residents type ticket numbers by hand in any script and width: whatever arrives, the parser must
answer None or a well-formed number that is really in the text, and a number that is in the text
(in any of the accepted spellings) must be found."""
import datetime as dt
import os
import re
import unicodedata

from hypothesis import HealthCheck, assume, given, settings, strategies as st

from bot.tickets.numbering import (MAX_INPUT_CHARS, _DASHES, _canonical, format_number, normalise_text,
                                   parse_ticket_number)

# Every example is the same on every run (derandomize): CI is reproducible. FUZZ_SCALE=20 runs twenty
# times as many (a longer hunt); at 1 the whole of tests/fuzz takes about half a minute on two cores.
SCALE = float(os.environ.get("FUZZ_SCALE", "1"))


def fuzz(max_examples: int) -> settings:
    return settings(max_examples=max(1, int(max_examples * SCALE)), deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


WELL_FORMED = re.compile(r"GD(\d{4})(\d{2})(\d{2})-(\d{4,6})")
ANY_DIGIT = re.compile(r"\d")  # Unicode decimal digits, as the parser's own \d
SEPARATORS = re.compile(r"[ \-/.#:]")  # what the parser allows between the parts of a number

# Every code point, lone surrogates included (Rasa hands over whatever JSON decoded to).
any_char = st.characters(blacklist_categories=())
# Characters that make up (almost-)numbers: ASCII, full-width and Arabic-Indic digits, G/D in both
# widths and cases, every dash the parser knows, separators, CJK around them.
ticketish_char = st.sampled_from(list("0123456789０１２３４５６７８９٠١٢٣٤٥٦٧٨٩GDgdＧＤｇｄ #:/.：工单号查询，。\u3000\t\n")
                                 + list(_DASHES))
ticketish = st.text(ticketish_char, max_size=60)
mixed_scripts = st.text(st.sampled_from(list("GD20261124-0007 工单號查询 ｇｄ２０２６ абв αβγ ١٢٣ ①②③ ²³ 𝟐𝟎 ا\u200b\u0301")
                                        + ["\ud800", "\udfff", "\ufffd", "\x00"]),  # lone surrogates, NUL
                        max_size=80)


@st.composite
def spelled(draw, number: str):
    """``number`` as a resident might type it: any case and width, any dash, spaces, separators."""
    match = WELL_FORMED.fullmatch(number)
    year, month, day, seq = match.groups()
    gap = st.sampled_from(["", " "])
    dash = st.sampled_from(["-", ""] + list(_DASHES))
    seq_digits = str(int(seq)).zfill(draw(st.integers(1, 6)))
    date_sep = draw(st.sampled_from(["", "-", "/", "."]))
    text = (draw(st.sampled_from(["GD", "gd", "Gd", "G D"])) + draw(gap) + draw(st.sampled_from(["", "-", "#", ":"]))
            + draw(gap) + year + draw(gap) + date_sep + draw(gap) + month + draw(gap) + date_sep + draw(gap) + day
            + draw(gap) + draw(dash) + draw(gap) + seq_digits)
    if draw(st.booleans()):  # full width (the space too: U+3000)
        text = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else ("\u3000" if c == " " else c) for c in text)
    return text


@st.composite
def raw_number(draw):
    """A number-shaped string whose date or sequence may be out of range: year 1999 or 2200, month 13,
    day 32, sequence 0 or seven digits; with or without the prefix."""
    year = draw(st.sampled_from([1999, 2000, 2026, 2199, 2200, 9999]))
    month, day = draw(st.integers(0, 13)), draw(st.integers(0, 32))
    seq = draw(st.integers(0, 1_000_000))
    prefix = draw(st.sampled_from(["GD", "gd", "", "工单"]))
    return f"{prefix}{year:04d}{month:02d}{day:02d}-{seq:0{draw(st.integers(1, 7))}d}"


@st.composite
def damaged(draw, text):
    """One character deleted, replaced or inserted."""
    at = draw(st.integers(0, len(text)))
    op = draw(st.sampled_from(["delete", "replace", "insert"]))
    char = draw(st.one_of(ticketish_char, any_char))
    if op == "delete":
        return text[:at] + text[at + 1:]
    return text[:at] + char + text[at + (op == "replace"):]


@st.composite
def near_numbers(draw):
    """Random text around real, damaged and out-of-range numbers in every spelling."""
    real = st.builds(format_number, st.dates(dt.date(2000, 1, 1), dt.date(2199, 12, 31)), st.integers(1, 999_999))
    piece = st.one_of(real.flatmap(spelled), real.flatmap(spelled).flatmap(damaged), raw_number(),
                      raw_number().flatmap(damaged), ticketish, st.text(any_char, max_size=8))
    return "".join(draw(st.lists(piece, min_size=1, max_size=6)))


@st.composite
def long_text(draw):
    """Up to 20,000 characters, built from a few pieces repeated (cheap to generate)."""
    pieces = draw(st.lists(st.one_of(st.text(any_char, max_size=40), ticketish, near_numbers()),
                           min_size=1, max_size=6))
    repeat = draw(st.integers(1, 2000))
    return ("".join(pieces) * repeat)[:20_000]


@st.composite
def number_far_in(draw):
    """A number after a long run of text without digits: it may lie past the part that is read."""
    filler = draw(st.text(st.sampled_from("查询工单号 abc,。\n\u3000"), min_size=1, max_size=10))
    length = draw(st.integers(3_900, 4_100))
    return (filler * length)[:length] + draw(near_numbers())


any_text = st.one_of(st.text(any_char, max_size=300), ticketish, mixed_scripts, near_numbers(), long_text(),
                     number_far_in())


def ascii_digits(text: str) -> str:
    return "".join(str(unicodedata.decimal(c)) if ANY_DIGIT.match(c) else c for c in text)


def assert_well_formed_and_present(text: str, number: str) -> None:
    match = WELL_FORMED.fullmatch(number)
    assert match, number
    year, month, day, seq = (int(g) for g in match.groups())
    assert 2000 <= year <= 2199
    dt.date(year, month, day)  # a real day (raises otherwise)
    assert seq >= 1
    assert format_number(dt.date(year, month, day), seq) == number  # the canonical spelling
    # It is in the text: in the part the parser reads, once normalised (width, case, dashes,
    # digits of any script read by value) and with the separators between its parts dropped.
    squeezed = SEPARATORS.sub("", ascii_digits(normalise_text(text[:MAX_INPUT_CHARS])))
    assert re.search(f"{year:04d}{month:02d}{day:02d}0*{seq}", squeezed), (number, squeezed[:200])


@fuzz(200)
@given(any_text)
def test_any_text_gives_none_or_a_number_that_is_in_the_text(text):
    number = parse_ticket_number(text)
    if number is not None:
        assert_well_formed_and_present(text, number)
        assert parse_ticket_number(number) == number  # canonical numbers read back as themselves
    # only the first MAX_INPUT_CHARS characters are read: bounded work on a 20,000-character message
    assert parse_ticket_number(text[:MAX_INPUT_CHARS]) == number


@fuzz(100)
@given(any_text)
def test_normalisation_never_raises_and_keeps_no_dash_variants(text):
    norm = normalise_text(text)
    assert isinstance(norm, str)
    assert not any(c in norm for c in _DASHES)  # every dash-like character became "-"
    assert not re.search(r"\s\s", norm)  # whitespace runs collapsed


@fuzz(150)
@given(st.text(st.sampled_from("0123456789٠١٢٣٤٥٦٧٨٩０１２３４５６７８９"), min_size=8, max_size=8),
       st.text(st.sampled_from("0123456789٣٧"), min_size=1, max_size=6))
def test_the_date_and_sequence_check_never_raises(yyyymmdd, seq):
    number = _canonical(yyyymmdd, seq)
    assert number is None or WELL_FORMED.fullmatch(number)


@fuzz(100)
@given(st.one_of(st.none(), st.integers(), st.floats(), st.binary(max_size=30), st.lists(st.text(max_size=5)),
                 st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)))
def test_what_is_not_text_is_no_number(value):
    assert parse_ticket_number(value) is None


def first_3900(text: str) -> str:
    return text[:3900]


@st.composite
def embedded_number(draw):
    number = format_number(draw(st.dates(dt.date(2000, 1, 1), dt.date(2199, 12, 31))), draw(st.integers(1, 99_999)))
    before = draw(st.one_of(st.text(any_char, max_size=200), mixed_scripts, long_text().map(first_3900)))
    after = draw(st.one_of(st.text(any_char, max_size=200), mixed_scripts, long_text()))
    return number, before, draw(spelled(number)), after


@fuzz(120)
@given(embedded_number())
def test_a_number_in_random_text_is_found(case):
    number, before, shown, after = case
    # What would legitimately give another answer: an earlier number in the text before it, a digit
    # right after it (it would continue the sequence number), or being past the part that is read.
    assume(parse_ticket_number(before) is None)
    assume(not ANY_DIGIT.match(normalise_text(after)[:1]))
    assume(len(before) + len(shown) <= MAX_INPUT_CHARS)
    assert parse_ticket_number(before + shown + after) == number
