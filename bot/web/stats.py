"""The dashboard's numbers for a weekly meeting: cases by category and by day, on-time rate per unit,
satisfaction, and hotspots (compound × category), over the last weeks and within the viewer's scope.

Definitions (also shown on the page):

* a case counts on the day it was filed (Asia/Shanghai); duplicates are left out (they are repeats);
* on time: of the cases whose answer was due, or that were answered, in the period — answered by the
  deadline of the unit handling it (``resolved_at <= due_at``); late: answered after it, or still
  open past it. Counted for the unit handling the case now;
* satisfaction: the residents' ratings (1–5) of cases filed in the period;
* front door (dispatcher and admins only): residents' messages to the bot, from its conversation
  events (bot/conversation_stats.py; needs the event broker), whatever unit their cases went to;
* compound: the place named in the case's location up to the residential compound
  ("幸福小区3号楼2单元" → "幸福小区").
"""
from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from typing import Any, Dict, Optional

from sqlalchemy import select

from bot import conversation_stats
from bot.db import Database, utcnow
from bot.tickets import lifecycle
from bot.tickets.models import Ticket
from bot.tickets.retention import coarse_location
from bot.tickets.routing import RoutingTable
from bot.tickets.workcalendar import SHANGHAI

from .cases import CATEGORY_NAMES, CHANNEL_NAMES, scope_clause
from .scope import Scope

_COMPOUND = re.compile(
    r"^\s*(.{1,24}?(?:小区|花园|家园|新村|新城|公寓|大厦|广场|社区|苑|庭|院|村|府|城|湾|里|园|坊|居))"
)


def compound_of(location: Optional[str]) -> str:
    if not location or not location.strip():
        return "（未知地点）"
    text = location.strip()
    for prefix in ("在", "位于", "地址是", "地址："):
        if text.startswith(prefix):
            text = text[len(prefix):]
    match = _COMPOUND.match(text)
    if match:
        return match.group(1).strip()
    coarse = coarse_location(text) or text
    return coarse[:24]


def dashboard(db: Database, scope: Scope, routing: RoutingTable, weeks: int = 4,
              now: Optional[dt.datetime] = None) -> Dict[str, Any]:
    now = now or utcnow()
    weeks = max(1, min(int(weeks), 52))
    today = now.astimezone(SHANGHAI).date()
    first_day = today - dt.timedelta(days=7 * weeks - 1)
    since = dt.datetime.combine(first_day, dt.time(0, 0), SHANGHAI)
    conditions = [Ticket.created_at >= since, Ticket.state != lifecycle.DUPLICATE]
    clause = scope_clause(scope)
    if clause is not None:
        conditions.append(clause)
    with db.session(read_only=True) as s:
        rows = s.execute(select(Ticket.created_at, Ticket.category, Ticket.unit_id, Ticket.state, Ticket.due_at,
                                Ticket.resolved_at, Ticket.rating, Ticket.location, Ticket.urgency)
                         .where(*conditions)).all()

    by_category = Counter(r.category for r in rows)
    by_day = Counter(r.created_at.astimezone(SHANGHAI).date() for r in rows)
    days = [first_day + dt.timedelta(days=i) for i in range((today - first_day).days + 1)]

    per_unit: Dict[str, Dict[str, int]] = defaultdict(lambda: {"on_time": 0, "late": 0})
    for r in rows:
        if r.due_at is None:
            continue
        if r.resolved_at is not None:
            per_unit[r.unit_id or ""]["on_time" if r.resolved_at <= r.due_at else "late"] += 1
        elif r.state in lifecycle.OPEN and r.due_at < now:
            per_unit[r.unit_id or ""]["late"] += 1
    on_time = []
    for unit_id, counts in per_unit.items():
        total = counts["on_time"] + counts["late"]
        if not total:
            continue
        unit = routing.unit(unit_id)
        on_time.append({"unit_id": unit_id, "unit_name": unit.name_zh if unit else unit_id,
                        "on_time": counts["on_time"], "late": counts["late"], "total": total,
                        "rate": round(100.0 * counts["on_time"] / total, 1)})
    on_time.sort(key=lambda u: (u["rate"], u["unit_name"]))

    ratings = [r.rating for r in rows if r.rating is not None]
    distribution = Counter(ratings)
    satisfaction = {
        "count": len(ratings),
        "average": round(sum(ratings) / len(ratings), 2) if ratings else None,
        "satisfied_rate": round(100.0 * sum(1 for x in ratings if x >= 4) / len(ratings), 1) if ratings else None,
        "distribution": [{"score": score, "count": distribution.get(score, 0)} for score in range(1, 6)],
    }

    hot = Counter((compound_of(r.location), r.category) for r in rows)
    hotspots = [{"compound": compound, "category": category, "category_label": CATEGORY_NAMES.get(category, category),
                 "count": count} for (compound, category), count in hot.most_common() if count >= 2][:15]

    # The bot's front door is not any unit's: shown to whoever dispatches (street office) and to admins.
    front_door = conversation_stats.activity(db, first_day, today) if scope.covers(None) else None
    for row in (front_door or {}).get("by_channel", []):
        row["label"] = CHANNEL_NAMES.get(row["channel"], row["channel"] or "（未知）")
    return {
        "front_door": front_door,
        "weeks": weeks, "since": first_day.isoformat(), "until": today.isoformat(), "total": len(rows),
        "urgent": sum(1 for r in rows if r.urgency == "urgent"),
        "open": sum(1 for r in rows if r.state in lifecycle.OPEN),
        "by_category": [{"category": c, "label": CATEGORY_NAMES.get(c, c), "count": n}
                        for c, n in sorted(by_category.items(), key=lambda kv: (-kv[1], kv[0]))],
        "by_day": [{"day": d.isoformat(), "count": by_day.get(d, 0)} for d in days],
        "on_time": on_time,
        "satisfaction": satisfaction,
        "hotspots": hotspots,
    }
