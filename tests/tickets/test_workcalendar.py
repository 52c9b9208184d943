"""Working-day arithmetic on the official calendar, across 2025 National Day and its 调休 days."""
import datetime as dt
import logging

import pytest

from bot.tickets.workcalendar import TimeLimit, WorkCalendar

from .conftest import shanghai

CAL = WorkCalendar("08:30", "17:30")


def test_national_day_2025_and_adjusted_working_days():
    assert CAL.is_workday(dt.date(2025, 9, 28))  # Sunday, adjusted working day
    assert CAL.is_workday(dt.date(2025, 10, 11))  # Saturday, adjusted working day
    assert not any(CAL.is_workday(dt.date(2025, 10, d)) for d in range(1, 9))  # 1–8 Oct off
    assert not CAL.is_workday(dt.date(2025, 10, 12))  # ordinary Sunday


def test_one_working_day_jumps_the_holiday():
    # Tuesday 30 Sep 10:00 + 1 working day = Thursday 9 Oct 10:00 (1–8 Oct are holidays)
    assert CAL.add_working_days(shanghai(2025, 9, 30, 10), 1) == shanghai(2025, 10, 9, 10)
    # Friday 10 Oct 10:00 + 1 working day = Saturday 11 Oct 10:00 (a 调休 working Saturday)
    assert CAL.add_working_days(shanghai(2025, 10, 10, 10), 1) == shanghai(2025, 10, 11, 10)
    # Saturday 27 Sep (off) + 1 working day = close of Sunday 28 Sep (a working Sunday)
    assert CAL.add_working_days(shanghai(2025, 9, 27, 10), 1) == shanghai(2025, 9, 28, 17, 30)


def test_three_working_days_over_national_day():
    # Sun 28 Sep 09:00 (working) + 3 working days: 28 → 29 → 30 Sep → 9 Oct 09:00
    assert CAL.add_working_days(shanghai(2025, 9, 28, 9), 3) == shanghai(2025, 10, 9, 9)


def test_outside_office_hours():
    # Evening reports start counting the next working morning
    assert CAL.add_working_days(shanghai(2025, 11, 3, 20), 1) == shanghai(2025, 11, 4, 17, 30)
    # Early morning: from opening time
    assert CAL.add_working_days(shanghai(2025, 11, 4, 6), 1) == shanghai(2025, 11, 4, 17, 30)
    # Friday afternoon + 2 working hours runs over the weekend
    assert CAL.add(shanghai(2025, 11, 7, 16, 30), TimeLimit(2, "working_hours")) == shanghai(2025, 11, 10, 9, 30)


def test_wall_clock_hours_ignore_the_calendar():
    # Urgent limits are wall-clock: 4 hours on National Day is 4 hours.
    assert CAL.add(shanghai(2025, 10, 1, 22), TimeLimit(4, "hours")) == shanghai(2025, 10, 2, 2)


def test_utc_input_gives_shanghai_output():
    start = dt.datetime(2025, 9, 30, 2, tzinfo=dt.timezone.utc)  # 10:00 in Shanghai
    result = CAL.add_working_days(start, 1)
    assert result == shanghai(2025, 10, 9, 10)
    assert result.utcoffset() == dt.timedelta(hours=8)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        CAL.add_working_days(dt.datetime(2025, 9, 30, 10), 1)


def test_working_time_between():
    assert CAL.working_time_between(shanghai(2025, 9, 30, 17), shanghai(2025, 10, 9, 9)) == dt.timedelta(hours=1)


def test_years_the_package_does_not_know_fall_back_to_weekends(caplog):
    cal = WorkCalendar()
    with caplog.at_level(logging.WARNING, logger="bot.tickets.workcalendar"):
        assert cal.is_workday(dt.date(2099, 1, 1))  # a Thursday; New Year unknown
        assert not cal.is_workday(dt.date(2099, 1, 3))  # Saturday
        assert cal.add_working_days(shanghai(2099, 1, 2, 10), 1) == shanghai(2099, 1, 5, 10)
    warnings = [r for r in caplog.records if "2099" in r.getMessage()]
    assert len(warnings) == 1  # logged once per year, not per call


def test_configurable_hours():
    cal = WorkCalendar("09:00", "12:00")
    assert cal.day_length == dt.timedelta(hours=3)
    assert cal.add_working_days(shanghai(2025, 11, 3, 11), 1) == shanghai(2025, 11, 4, 11)
    assert WorkCalendar(510, 1050).work_start == dt.time(8, 30)  # YAML's sexagesimal 8:30
    with pytest.raises(ValueError):
        WorkCalendar("18:00", "09:00")
