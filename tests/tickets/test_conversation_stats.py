"""The dashboard's conversation statistics from Rasa's published events (bot/conversation_stats.py),
on SQLite and PostgreSQL. The events are made by Rasa's own classes, as the broker publishes them."""
from __future__ import annotations

import datetime as dt

from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered

from bot import conversation_stats as stats
from tests.tickets.conftest import shanghai

KEY = b"k" * 32


def published(sender: str, event) -> dict:
    """What Rasa's tracker store hands the event broker (rasa.core.tracker_store._stream_new_events)."""
    return {"sender_id": sender, **event.as_dict()}


def message(sender: str, text, intent: str, at: dt.datetime, channel: str = "wechat") -> dict:
    return published(sender, UserUttered(text, {"name": intent, "confidence": 0.9},
                                         parse_data={"intent": {"name": intent, "confidence": 0.9}, "text": text},
                                         input_channel=channel, timestamp=at.timestamp()))


def facts(*events) -> list:
    return [f for f in (stats.fact_from_event(e, KEY) for e in events) if f is not None]


def test_only_what_the_dashboard_counts_becomes_a_fact():
    at = shanghai(2026, 11, 20, 23, 30)  # 15:30 UTC: counted on the Shanghai day
    events = [
        published("u1", SessionStarted(timestamp=at.timestamp())),
        message("u1", "楼道灯坏了 电话13812345678", "service_request", at),
        published("u1", BotUttered("好的", timestamp=at.timestamp())),
        published("u1", ActionExecuted("action_consultation", timestamp=at.timestamp() + 1)),
        published("u1", SlotSet("handoff_offered", "问题", timestamp=at.timestamp() + 2)),
        published("u1", SlotSet("handoff_offered", None, timestamp=at.timestamp() + 3)),
        published("u1", ActionExecuted("action_listen", timestamp=at.timestamp() + 4)),
        published("u1", UserUttered(None, {"name": "EXTERNAL_reminder"}, timestamp=at.timestamp() + 5)),
        {"sender_id": "u1", "event": "user"},  # no timestamp: not countable
        "not an event",
    ]
    got = facts(*events)
    assert [f.kind for f in got] == [stats.SESSION, stats.MESSAGE, stats.CONSULTATION, stats.UNANSWERED]
    assert got[1].intent == "service_request" and got[1].channel == "wechat"
    assert got[1].day == "2026-11-20"
    # nothing of the resident is kept but a keyed hash
    assert all("u1" not in f.sender_key and "1381234" not in repr(f) for f in got)
    assert len({f.sender_key for f in got}) == 1
    assert stats.fact_from_event(events[1], b"other key" * 4).sender_key != got[1].sender_key
    # a message Rasa could not classify counts as not understood
    unknown = published("u2", UserUttered("？？", None, timestamp=at.timestamp()))
    assert facts(unknown)[0].intent == stats.FALLBACK_INTENT


def test_an_event_delivered_twice_is_counted_once(db):
    at = shanghai(2026, 11, 20, 10, 0)
    events = [message("u1", "你好", "greet", at), message("u1", "你好", "greet", at + dt.timedelta(seconds=1))]
    assert stats.record(db, facts(*events)) == 2
    assert stats.record(db, facts(*events, events[0])) == 0  # redelivered, and twice in one batch
    figures = stats.activity(db, at.date(), at.date())
    assert figures["messages"] == 2 and figures["residents"] == 1


def test_activity_figures(db):
    day = shanghai(2026, 11, 20, 9, 0)
    events = [
        published("a", SessionStarted(timestamp=day.timestamp())),
        message("a", "楼上太吵", "complaint", day),
        message("a", "什么", "nlu_fallback", day + dt.timedelta(minutes=1)),
        message("b", "养犬要登记吗", "consultation", day + dt.timedelta(days=1), channel="telegram"),
        published("b", ActionExecuted("action_consultation", timestamp=(day + dt.timedelta(days=1)).timestamp())),
        message("b", "电梯坏了能修吗", "consultation", day + dt.timedelta(days=1, minutes=1), channel="telegram"),
        published("b", ActionExecuted("action_consultation",
                                      timestamp=(day + dt.timedelta(days=1, minutes=1)).timestamp())),
        published("b", SlotSet("handoff_offered", "电梯坏了能修吗",
                               timestamp=(day + dt.timedelta(days=1, minutes=1, seconds=1)).timestamp())),
        message("c", "谢谢", "thank", day + dt.timedelta(days=9)),  # outside the window
    ]
    stats.record(db, facts(*events))
    figures = stats.activity(db, day.date(), day.date() + dt.timedelta(days=2))
    assert figures["enabled"] is True
    assert (figures["messages"], figures["residents"], figures["sessions"]) == (4, 2, 1)
    assert figures["understood_rate"] == 75.0
    assert (figures["consultations"], figures["answered_rate"]) == (2, 50.0)
    assert [d["count"] for d in figures["by_day"]] == [2, 2, 0]
    assert figures["by_channel"] == [{"channel": "telegram", "messages": 2, "residents": 1},
                                     {"channel": "wechat", "messages": 2, "residents": 1}]
    assert figures["by_intent"] == [{"label": "咨询", "count": 2}, {"label": "投诉", "count": 1},
                                    {"label": "未听懂", "count": 1}]


def test_no_facts_means_not_enabled_and_old_facts_are_pruned(db):
    today = dt.date(2026, 11, 24)
    empty = stats.activity(db, today, today)
    assert empty["enabled"] is False and empty["messages"] == 0 and empty["understood_rate"] is None
    old = shanghai(2025, 1, 1, 12, 0)
    stats.record(db, facts(message("a", "你好", "greet", old), message("a", "在吗", "greet", shanghai(2026, 11, 1, 9))))
    assert stats.prune(db, now=shanghai(2026, 11, 24, 12), days=400) == 1
    assert stats.activity(db, dt.date(2025, 1, 1), today)["messages"] == 1
