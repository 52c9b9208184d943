"""Ticket numbers: format, per-day sequence in Asia/Shanghai, concurrency, parsing free text."""
import datetime as dt
import threading

import pytest
from hypothesis import given, settings, strategies as st
from sqlalchemy import select

from bot.tickets.models import TicketCounter
from bot.tickets.numbering import allocate_number, format_number, parse_ticket_number

from .conftest import shanghai


def test_format():
    assert format_number(dt.date(2026, 11, 24), 7) == "GD20261124-0007"
    assert format_number(dt.date(2026, 11, 24), 12345) == "GD20261124-12345"
    with pytest.raises(ValueError):
        format_number(dt.date(2026, 11, 24), 0)


def test_sequence_per_shanghai_day(db):
    with db.session() as s:
        assert allocate_number(s, shanghai(2026, 11, 24, 9)) == "GD20261124-0001"
        assert allocate_number(s, shanghai(2026, 11, 24, 23, 59)) == "GD20261124-0002"
        # 16:30 UTC is already the next day in Shanghai
        assert allocate_number(s, dt.datetime(2026, 11, 24, 16, 30, tzinfo=dt.timezone.utc)) == "GD20261125-0001"
    with db.session() as s:
        assert allocate_number(s, shanghai(2026, 11, 24, 10)) == "GD20261124-0003"


def test_rolled_back_allocation_is_not_consumed(db):
    with pytest.raises(RuntimeError):
        with db.session() as s:
            allocate_number(s, shanghai(2026, 11, 24, 9))
            raise RuntimeError("crash before commit")
    with db.session() as s:
        assert allocate_number(s, shanghai(2026, 11, 24, 9)) == "GD20261124-0001"


def test_concurrent_allocation_gives_distinct_consecutive_numbers(db):
    """Threads racing on the same (new) day: the first-insert race and the increment race."""
    threads, per_thread = 6, 5
    numbers, errors = [], []
    barrier = threading.Barrier(threads)
    lock = threading.Lock()

    def worker():
        try:
            barrier.wait()
            for _ in range(per_thread):
                with db.session() as s:
                    n = allocate_number(s, shanghai(2026, 12, 1, 10))
                with lock:
                    numbers.append(n)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(30)
    assert not errors
    assert sorted(numbers) == [f"GD20261201-{i:04d}" for i in range(1, threads * per_thread + 1)]
    with db.session(read_only=True) as s:
        assert s.execute(select(TicketCounter.last_seq)).scalar_one() == threads * per_thread


def test_concurrent_ticket_creation_never_shares_a_number(db, svc):
    from .conftest import open_complaint

    results, errors = [], []
    barrier = threading.Barrier(5)

    def worker(i):
        try:
            barrier.wait()
            for j in range(3):
                results.append(open_complaint(svc, sender=f"r{i}", category=("noise", "property", "sanitation")[j],
                                              description=f"第{i}-{j}件事").record_number)
        except Exception as exc:  # pragma: no cover
            errors.append(exc)

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(5)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(30)
    assert not errors
    assert len(results) == 15 and len(set(results)) == 15


@pytest.mark.parametrize("text,expected", [
    ("查询 GD20261124-0007", "GD20261124-0007"),
    ("gd20261124-0007的进度", "GD20261124-0007"),
    ("my ticket is GD 20261124 - 7 thanks", "GD20261124-0007"),
    ("ＧＤ２０２６１１２４－０００７", "GD20261124-0007"),
    ("ｇｄ２０２６１１２４—７", "GD20261124-0007"),
    ("GD202611240007", "GD20261124-0007"),
    ("GD 2026-11-24-0007", "GD20261124-0007"),
    ("工单号20261124-0007", "GD20261124-0007"),
    ("GD20261124-12345", "GD20261124-12345"),
    ("ticketgd20261124-7", "GD20261124-0007"),
    ("第一个GD20261124-0001，第二个GD20261124-0002", "GD20261124-0001"),
    ("What's the status of my ticket", None),
    ("电话13812345678", None),
    ("GD20261399-0001", None),  # no such day
    ("GD20261124-0000", None),
    ("", None),
    (None, None),
    (12345, None),
])
def test_parse(text, expected):
    assert parse_ticket_number(text) == expected


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parse_never_crashes(text):
    result = parse_ticket_number(text)
    assert result is None or result.startswith("GD")


@settings(max_examples=150, deadline=None)
@given(day=st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2199, 12, 31)),
       seq=st.integers(min_value=1, max_value=99999),
       before=st.text(alphabet="查询我的工单状态 ?？:：,", max_size=10),
       after=st.text(alphabet="的进度怎么样了 ?？。!", max_size=10),
       lower=st.booleans(), fullwidth=st.booleans(), spaced=st.booleans())
def test_parse_finds_embedded_numbers(day, seq, before, after, lower, fullwidth, spaced):
    number = format_number(day, seq)
    shown = number.lower() if lower else number
    if spaced:
        shown = shown.replace("-", " - ")
    if fullwidth:
        shown = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in shown)
    assert parse_ticket_number(f"{before}{shown}{after}") == number


def test_parse_is_fast_on_hostile_input():
    import time

    start = time.perf_counter()
    for text in ["G" + " " * 100_000, "GD" + "1" * 100_000, "GD2026 " * 20_000, "-" * 100_000]:
        parse_ticket_number(text)
    assert time.perf_counter() - start < 2
