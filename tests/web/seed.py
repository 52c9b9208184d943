"""A small, fixed dataset for the dashboard: eight cases in the last four weeks, with known numbers."""
from __future__ import annotations

import datetime as dt
from typing import Dict

from bot.tickets.service import TicketService
from bot.tickets.workcalendar import SHANGHAI


class _Clock:
    def __init__(self):
        self.now = dt.datetime.now(dt.timezone.utc)

    def __call__(self):
        return self.now


def day(offset: int, hour: int = 10) -> dt.datetime:
    """``offset`` days before today (Asia/Shanghai), at ``hour``:00 local time."""
    today = dt.datetime.now(SHANGHAI).date()
    return dt.datetime.combine(today - dt.timedelta(days=offset), dt.time(hour, 0), SHANGHAI)


# name, category, location, created (days ago), resolved (days ago, hour) or None, rating
CASES = [
    ("N1", "noise", "幸福小区3号楼", 1, None, None),
    ("N2", "noise", "幸福小区5号楼2单元", 2, (2, 11), 5),
    ("N3", "noise", "幸福小区1号楼", 25, (1, 10), 3),   # answered long after its deadline: late
    ("N4", "noise", "和平小区2号楼", 25, None, None),     # still open, past its deadline: late
    ("S1", "sanitation", "幸福小区东门", 3, (3, 12), 4),
    ("S2", "sanitation", "幸福小区北门垃圾站", 3, (3, 13), 5),
    ("S3", "sanitation", "和平小区", 2, None, None),
    ("P1", "parking_traffic", "和平小区南门", 1, None, None),
]

EXPECTED = {
    "total": 8, "open": 4,
    "by_category": {"noise": 4, "sanitation": 3, "parking_traffic": 1},
    "by_day": {1: 2, 2: 2, 3: 2, 25: 2},
    "on_time": {"grid_1": (1, 2, 33.3), "grid_2": (2, 0, 100.0)},
    "ratings": {"count": 4, "average": 4.25, "satisfied_rate": 75.0, "distribution": [0, 0, 1, 1, 2]},
    "hotspots": [("幸福小区", "noise", 3), ("幸福小区", "sanitation", 2)],
}


def seed_dashboard(db, routing) -> Dict[str, str]:
    clock = _Clock()
    svc = TicketService(db, routing, clock=clock)
    numbers = {}
    for name, category, location, created, resolved, rating in CASES:
        clock.now = day(created)
        sender = f"seed-{name}"
        number = svc.open_ticket(channel="rest", sender_id=sender, intent="complaint", category=category,
                                 description=f"{name}: 问题描述", location=location, phone=None,
                                 language="zh").number
        numbers[name] = number
        if resolved is not None:
            clock.now = day(created) + dt.timedelta(minutes=10)
            svc.sign(number, "seed")
            clock.now = day(resolved[0], resolved[1])
            svc.resolve(number, "seed", "已处理")
            if rating is not None:
                clock.now += dt.timedelta(minutes=30)
                svc.rate(number, channel="rest", sender_id=sender, score=rating)
    return numbers


def seed_front_door(db) -> None:
    """Three residents' messages as Rasa publishes them: two on WeChat (one resident), one on Telegram."""
    from rasa.shared.core.events import UserUttered

    from bot import conversation_stats

    messages = [("wx-1", "楼上漏水", "complaint", "wechat"), ("wx-1", "谢谢", "thank", "wechat"),
                ("tg-1", "养狗要登记吗", "consultation", "telegram")]
    events = [{"sender_id": sender, **UserUttered(text, {"name": intent}, parse_data={"intent": {"name": intent}},
                                                  input_channel=channel, timestamp=day(2).timestamp() + i).as_dict()}
              for i, (sender, text, intent, channel) in enumerate(messages)]
    conversation_stats.record(db, [conversation_stats.fact_from_event(e, b"seed" * 8) for e in events])
