"""Working-time arithmetic on the official Chinese calendar (Asia/Shanghai).

Holidays and the adjusted working weekends (调休) come from ``chinese_calendar``. For a year the package
does not know yet, weekends-only is used and a warning is logged once per year, so deadlines stay
computable (and a little generous) until the package is updated.

A *working day* is the length of the configured office day: "1 working day" from Friday 16:00 is the
next working day at 16:00; from Saturday it is the close of the next working day.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from typing import Optional, Set

import chinese_calendar

log = logging.getLogger(__name__)

try:
    from zoneinfo import ZoneInfo

    SHANGHAI: dt.tzinfo = ZoneInfo("Asia/Shanghai")
except Exception:  # no tz database on this machine: China has had no DST since 1991
    SHANGHAI = dt.timezone(dt.timedelta(hours=8), "CST")

_MAX_DAYS_SCANNED = 3660  # a limit longer than ten years is a configuration error, not a deadline


@dataclass(frozen=True)
class TimeLimit:
    """A time limit: ``amount`` of ``unit`` (hours = wall clock, working_hours, working_days)."""

    amount: float
    unit: str

    UNITS = ("hours", "working_hours", "working_days")

    @classmethod
    def parse(cls, spec) -> "TimeLimit":
        """``{working_days: 3}``, ``{hours: 4}``, ``{working_hours: 6}`` or the strings
        ``"3 working_days"`` / ``"4h"`` / ``"2d"`` (d = working days)."""
        if isinstance(spec, TimeLimit):
            return spec
        if isinstance(spec, dict):
            if len(spec) != 1:
                raise ValueError(f"a time limit has exactly one unit, got {spec!r}")
            (unit, amount), = spec.items()
        elif isinstance(spec, str):
            m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-z_]+)\s*", spec)
            if not m:
                raise ValueError(f"cannot read time limit {spec!r}")
            amount, unit = m.group(1), {"h": "hours", "d": "working_days", "wh": "working_hours"}.get(
                m.group(2), m.group(2))
        else:
            raise ValueError(f"cannot read time limit {spec!r}")
        if unit not in cls.UNITS:
            raise ValueError(f"unknown time unit {unit!r} (use one of {', '.join(cls.UNITS)})")
        amount = float(amount)
        if amount <= 0:
            raise ValueError(f"a time limit must be positive, got {amount}")
        return cls(amount, unit)

    def describe(self, language: str = "zh") -> str:
        n = int(self.amount) if float(self.amount).is_integer() else self.amount
        if language.startswith("en"):
            word = {"hours": "hour", "working_hours": "working hour", "working_days": "working day"}[self.unit]
            return f"{n} {word}{'' if n == 1 else 's'}"
        return f"{n}{ {'hours': '小时', 'working_hours': '个工作小时', 'working_days': '个工作日'}[self.unit] }"


def _parse_clock(value) -> dt.time:
    if isinstance(value, dt.time):
        return value
    if isinstance(value, int):  # YAML reads 08:30 as sexagesimal 510
        return dt.time(value // 60, value % 60)
    h, m = str(value).split(":")
    return dt.time(int(h), int(m))


class WorkCalendar:
    def __init__(self, work_start="08:30", work_end="17:30", tz: dt.tzinfo = SHANGHAI):
        self.work_start = _parse_clock(work_start)
        self.work_end = _parse_clock(work_end)
        if self.work_end <= self.work_start:
            raise ValueError("working hours must end after they start")
        self.tz = tz
        self._warned_years: Set[int] = set()

    @property
    def day_length(self) -> dt.timedelta:
        d = dt.date(2000, 1, 3)
        return dt.datetime.combine(d, self.work_end) - dt.datetime.combine(d, self.work_start)

    def is_workday(self, day: dt.date) -> bool:
        try:
            return chinese_calendar.is_workday(day)
        except NotImplementedError:
            if day.year not in self._warned_years:
                self._warned_years.add(day.year)
                log.warning("chinese_calendar has no holiday data for %s: counting weekends only "
                            "(update the chinese-calendar package)", day.year)
            return day.weekday() < 5

    def next_workday(self, day: dt.date) -> dt.date:
        for _ in range(_MAX_DAYS_SCANNED):
            day += dt.timedelta(days=1)
            if self.is_workday(day):
                return day
        raise ValueError("no working day found within ten years")

    def add(self, start: dt.datetime, limit: TimeLimit) -> dt.datetime:
        """The deadline ``limit`` after ``start`` (aware datetime in, aware Asia/Shanghai datetime out)."""
        limit = TimeLimit.parse(limit)
        if limit.unit == "hours":
            return self._local(start) + dt.timedelta(hours=limit.amount)
        if limit.unit == "working_hours":
            return self.add_working_time(start, dt.timedelta(hours=limit.amount))
        return self.add_working_time(start, self.day_length * limit.amount)

    def add_working_days(self, start: dt.datetime, days: float) -> dt.datetime:
        return self.add(start, TimeLimit(days, "working_days"))

    def add_working_time(self, start: dt.datetime, amount: dt.timedelta) -> dt.datetime:
        cursor = self._local(start)
        remaining = amount
        for _ in range(_MAX_DAYS_SCANNED):
            day = cursor.date()
            if self.is_workday(day):
                opens = dt.datetime.combine(day, self.work_start, self.tz)
                closes = dt.datetime.combine(day, self.work_end, self.tz)
                cursor = max(cursor, opens)
                if cursor <= closes:
                    available = closes - cursor
                    if remaining <= available:
                        return cursor + remaining
                    remaining -= available
            cursor = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), self.tz)
        raise ValueError("time limit longer than ten years")

    def working_time_between(self, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
        """Working time elapsed from ``start`` to ``end`` (zero if end is earlier)."""
        start, end = self._local(start), self._local(end)
        total = dt.timedelta(0)
        day = start.date()
        for _ in range(_MAX_DAYS_SCANNED):
            if day > end.date():
                break
            if self.is_workday(day):
                opens = max(start, dt.datetime.combine(day, self.work_start, self.tz))
                closes = min(end, dt.datetime.combine(day, self.work_end, self.tz))
                if closes > opens:
                    total += closes - opens
            day += dt.timedelta(days=1)
        return total

    def _local(self, moment: dt.datetime) -> dt.datetime:
        if moment.tzinfo is None:
            raise ValueError("naive datetime: pass an aware datetime")
        return moment.astimezone(self.tz)


def local_now(tz: Optional[dt.tzinfo] = None) -> dt.datetime:
    return dt.datetime.now(tz or SHANGHAI)
