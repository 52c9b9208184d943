"""Ticket numbers: ``GD`` + the day in Asia/Shanghai + a per-day sequence, e.g. ``GD20261124-0007``.

Short enough to read over the phone, unique, and free of personal data. The sequence is allocated in
the caller's transaction (the ticket insert commits it or the rollback returns it), so a crash never
burns a number into a half-made ticket and two concurrent tickets never share one:

* the counter row is bumped with ``UPDATE … SET last_seq = last_seq + 1``; on PostgreSQL the row lock
  makes a concurrent allocation wait for our commit, on SQLite the transaction already holds the write
  lock (``BEGIN IMMEDIATE``);
* the first ticket of a day INSERTs the row inside a savepoint; if another transaction inserted it
  first, the unique key refuses ours and we fall back to the UPDATE.
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Optional

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from .models import TicketCounter
from .workcalendar import SHANGHAI

PREFIX = "GD"  # 工单
MAX_INPUT_CHARS = 4000  # parse only this much of a message: bounded time on any input

_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc\uff70\u2500\u2501\u2e3a\u2e3b\ufe58\ufe63\uff0d_"
_DASH_TRANSLATION = {ord(c): "-" for c in _DASHES}
# After normalisation (NFKC, upper case, dashes unified, whitespace runs collapsed to one space).
_WITH_PREFIX = re.compile(r"G ?D ?[-#:]? ?(\d{4}) ?[-/.]? ?(\d{2}) ?[-/.]? ?(\d{2}) ?-? ?(\d{1,6})(?!\d)")
# Without the prefix only the exact dashed form counts, to avoid reading a phone number as a ticket.
_BARE = re.compile(r"(?<![\dA-Z])(\d{8})-(\d{4,6})(?!\d)")


def local_day(moment: dt.datetime) -> dt.date:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pass an aware datetime")
    return moment.astimezone(SHANGHAI).date()


def format_number(day: dt.date, seq: int) -> str:
    """``GD20261124-0007``; a day with more than 9999 tickets simply gets longer numbers."""
    if seq < 1:
        raise ValueError("sequence numbers start at 1")
    return f"{PREFIX}{day:%Y%m%d}-{seq:04d}"


def allocate_number(session, now: dt.datetime) -> str:
    """The next number for ``now``'s day, allocated in ``session``'s transaction."""
    day = local_day(now).strftime("%Y%m%d")
    seq = _bump(session, day)
    if seq is None:
        try:
            with session.begin_nested():
                session.add(TicketCounter(day=day, last_seq=1))
            seq = 1
        except IntegrityError:  # someone else created today's row first: now it exists
            seq = _bump(session, day)
            if seq is None:
                raise
    return format_number(dt.datetime.strptime(day, "%Y%m%d").date(), seq)


def _bump(session, day: str) -> Optional[int]:
    result = session.execute(
        update(TicketCounter).where(TicketCounter.day == day)
        .values(last_seq=TicketCounter.last_seq + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 0:
        return None
    return session.execute(select(TicketCounter.last_seq).where(TicketCounter.day == day)).scalar_one()


def normalise_text(text: str) -> str:
    """Full-width to ASCII, upper case, every dash-like character to '-', whitespace runs to one space."""
    text = unicodedata.normalize("NFKC", text[:MAX_INPUT_CHARS]).translate(_DASH_TRANSLATION).upper()
    return re.sub(r"\s+", " ", text)


def parse_ticket_number(text) -> Optional[str]:
    """The first ticket number in free text, in canonical form, or None.

    Tolerates lower case, spaces, full-width characters and other dashes: "查询 gd 20261124 - 7",
    "ＧＤ２０２６１１２４－０００７" and "GD202611240007" all give ``GD20261124-0007``. Never raises.
    """
    try:
        if not isinstance(text, str) or not text:
            return None
        norm = normalise_text(text)
        for m in _WITH_PREFIX.finditer(norm):
            number = _canonical(m.group(1) + m.group(2) + m.group(3), m.group(4))
            if number:
                return number
        for m in _BARE.finditer(norm):
            number = _canonical(m.group(1), m.group(2))
            if number:
                return number
        return None
    except Exception:  # a parser on user input must never take the conversation down
        return None


def _canonical(yyyymmdd: str, seq: str) -> Optional[str]:
    try:
        day = dt.datetime.strptime(yyyymmdd, "%Y%m%d").date()
        n = int(seq)
    except ValueError:
        return None
    if n < 1 or not 2000 <= day.year <= 2199:
        return None
    return format_number(day, n)
