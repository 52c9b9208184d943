"""Who answers a handed-off conversation, and when: from the city's routing file (bot/tickets)."""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

from bot.tickets.routing import RoutingTable, load_routing
from bot.tickets.workcalendar import SHANGHAI


@lru_cache(maxsize=1)
def routing() -> RoutingTable:
    return load_routing()


@dataclass(frozen=True)
class Availability:
    unit_id: str
    unit_name_zh: str
    unit_name_en: str
    hours: str  # "08:30–17:30"
    open_now: bool
    next_open: dt.datetime  # now when open, else the start of the next working day


def handoff_availability(now: Optional[dt.datetime] = None, table: Optional[RoutingTable] = None) -> Availability:
    table = table or routing()
    unit_id = os.environ.get("HANDOFF_UNIT", "committee")
    unit = table.unit(unit_id) or next(iter(table.units.values()))
    calendar = table.calendar()
    local = (now or dt.datetime.now(dt.timezone.utc)).astimezone(SHANGHAI)
    start = dt.datetime.combine(local.date(), calendar.work_start, SHANGHAI)
    end = dt.datetime.combine(local.date(), calendar.work_end, SHANGHAI)
    open_now = calendar.is_workday(local.date()) and start <= local < end
    if open_now:
        next_open = local
    elif calendar.is_workday(local.date()) and local < start:
        next_open = start
    else:
        next_open = dt.datetime.combine(calendar.next_workday(local.date()), calendar.work_start, SHANGHAI)
    return Availability(unit.id, unit.name("zh"), unit.name("en"),
                        f"{calendar.work_start:%H:%M}–{calendar.work_end:%H:%M}", open_now, next_open)
