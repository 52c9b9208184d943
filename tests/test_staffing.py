import datetime as dt

from bot.staffing import handoff_availability
from bot.tickets.workcalendar import SHANGHAI


def at(*args):
    return dt.datetime(*args, tzinfo=SHANGHAI)


def test_open_during_working_hours():
    a = handoff_availability(at(2025, 9, 29, 10, 0))  # a Monday
    assert a.open_now and a.hours == "08:30–17:30" and a.unit_name_zh


def test_national_day_waits_for_the_next_working_day():
    a = handoff_availability(at(2025, 10, 3, 10, 0))  # National Day holiday
    assert not a.open_now and a.next_open == at(2025, 10, 9, 8, 30)


def test_adjusted_working_saturday_is_open():
    assert handoff_availability(at(2025, 10, 11, 9, 0)).open_now  # 2025-10-11 is a working Saturday


def test_before_opening_waits_until_opening():
    a = handoff_availability(at(2025, 9, 29, 7, 0))
    assert not a.open_now and a.next_open == at(2025, 9, 29, 8, 30)
