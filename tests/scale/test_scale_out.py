"""Scale-out on real servers: two Rasa processes share one PostgreSQL tracker store, one Redis lock store
and one action server (endpoints.production.yml). Messages of the same conversations go through both
processes, one after another and all at once, and nothing is lost, doubled or reordered: every
resident message and every bot answer is in the tracker exactly once and in order, and every ticket
exists exactly once in the tickets database."""
from __future__ import annotations

import json
import re
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Tuple

import pytest

NUMBER = re.compile(r"GD\d{8}-\d{4}")
FUTURE_TIMEOUT = 120  # per conversation / message: the whole test stays bounded

# Four complaint forms (what happened → where → "不留" no phone → "确认" confirm), then two more turns.
COMPLAINTS = [
    ("楼上那家每天凌晨一点还在拖椅子 吵得孩子睡不着", "阳光花园3栋2单元502"),
    ("单元门口的垃圾桶满了三天没人清 味道很大", "幸福里小区5号楼"),
    ("小区东门的路灯坏了一个礼拜了 晚上黑乎乎的", "东门口"),
    ("楼下饭店的油烟天天往我家窗户里灌 呛得没法开窗", "和平小区8号楼1单元"),
]
SMALL_TALK = ["你好", "你是机器人吗", "我的工单怎么样了", "谢谢", "hello there", "再见"]
BURST = ["你好", "谢谢", "我的工单怎么样了", "你是机器人吗"]


def _texts(replies: List[Dict]) -> List:
    return [r.get("text") for r in replies]


def _turns(events: List[Dict]) -> Tuple[List[str], List[List], int]:
    """(user texts in order, the bot texts after each user message, number of session starts)."""
    users: List[str] = []
    answers: List[List] = []
    for event in events:
        if event["event"] == "user":
            users.append(event.get("text"))
            answers.append([])
        elif event["event"] == "bot" and answers:
            answers[-1].append(event.get("text"))
    return users, answers, sum(1 for e in events if e["event"] == "session_started")


def _converse(stack, sender: str, messages: List[str], first_server: int) -> List[List]:
    """One resident: each message after the previous answer, alternating between the Rasa processes."""
    return [_texts(stack.say(first_server + i, sender, text)) for i, text in enumerate(messages)]


@pytest.fixture(scope="module")
def run_id() -> str:
    return uuid.uuid4().hex[:8]


def test_both_processes_use_the_shared_redis_lock_store(scale_stack, run_id):
    """A lock held in our Redis database under our prefix makes either process wait for it: both
    really serialise through the shared lock store, not a private in-memory one."""
    client, prefix = scale_stack.redis["client"], scale_stack.redis["prefix"]
    hold = 3.0
    senders = [f"scale-{run_id}-probe{i}" for i in range(len(scale_stack.rasa))]
    for sender in senders:
        # Rasa 3.6's TicketLock as stored by its Redis lock stores: ticket 0 held by "someone else".
        ticket = json.dumps({"number": 0, "expires": time.time() + hold})
        client.set(f"{prefix}:lock:{sender}", json.dumps({"conversation_id": sender, "tickets": [ticket]}))
    def timed_say(i: int, sender: str):
        started = time.monotonic()
        replies = scale_stack.say(i, sender, "你好")
        return time.monotonic() - started, replies

    with ThreadPoolExecutor(len(senders)) as pool:
        futures = [pool.submit(timed_say, i, sender) for i, sender in enumerate(senders)]
        results = [f.result(timeout=FUTURE_TIMEOUT) for f in futures]
    for i, (waited, replies) in enumerate(results):
        assert replies, f"process {i + 1} did not answer"
        assert waited >= hold - 0.5, \
            f"process {i + 1} answered after {waited:.1f} s although the conversation was locked for {hold} s"
    for sender in senders:
        assert client.get(f"{prefix}:lock:{sender}") is None, "the lock was not released after the message"


def test_interleaved_conversations_lose_nothing(scale_stack, run_id):
    """10 residents at once, each message through the other process than the one before; 4 file a
    complaint through the whole form."""
    conversations: Dict[str, List[str]] = {}
    complaint_of: Dict[str, Tuple[str, str]] = {}
    for i in range(10):
        sender = f"scale-{run_id}-c{i}"
        if i < len(COMPLAINTS):
            text, place = COMPLAINTS[i]
            conversations[sender] = [text, place, "不留", "确认", "我的工单怎么样了", "谢谢"]
            complaint_of[sender] = COMPLAINTS[i]
        else:
            conversations[sender] = SMALL_TALK[i % 3:] + SMALL_TALK[:i % 3]
    started = time.monotonic()
    with ThreadPoolExecutor(len(conversations)) as pool:
        futures = {sender: pool.submit(_converse, scale_stack, sender, messages, i)
                   for i, (sender, messages) in enumerate(conversations.items())}
        transcripts = {sender: f.result(timeout=FUTURE_TIMEOUT) for sender, f in futures.items()}
    elapsed = time.monotonic() - started
    sent = sum(len(m) for m in conversations.values())
    print(f"\ninterleaved: {sent} messages in {len(conversations)} conversations in {elapsed:.1f} s; "
          f"served per process: {scale_stack.served}")

    for sender, messages in conversations.items():
        # Both processes read the same tracker store, and tell the same story.
        tracker = scale_stack.tracker(0, sender)
        assert scale_stack.tracker(1, sender)["events"] == tracker["events"]
        users, answers, sessions = _turns(tracker["events"])
        assert users == messages, f"{sender}: the tracker's messages differ from those sent"
        assert answers == transcripts[sender], f"{sender}: the tracker's answers differ from those given"
        assert sessions == 1, f"{sender}: {sessions} session starts"
        assert all(transcripts[sender]), f"{sender}: a message went unanswered: {transcripts[sender]}"

    numbers = {}
    for sender in complaint_of:
        transcript = transcripts[sender]
        done = " ".join(t or "" for t in transcript[3])
        match = NUMBER.search(done)
        assert match, f"{sender}: no ticket number after confirming: {transcript}"
        numbers[sender] = match.group(0)
    assert len(set(numbers.values())) == len(numbers), numbers

    from sqlalchemy import func, select

    from bot.db import Database
    from bot.tickets.models import Ticket, TicketEvent

    db = Database(scale_stack.tickets_url)
    try:
        with db.session(read_only=True) as s:
            tickets = s.execute(select(Ticket).order_by(Ticket.id)).scalars().all()
            created = dict(s.execute(select(TicketEvent.ticket_id, func.count())
                                     .where(TicketEvent.action == "created")
                                     .group_by(TicketEvent.ticket_id)).all())
    finally:
        db.dispose()
    assert sorted(t.number for t in tickets) == sorted(numbers.values()), "tickets in the database ≠ tickets announced"
    for t in tickets:
        assert (t.channel, t.number) == ("rest", numbers[t.sender_id])
        text, place = complaint_of[t.sender_id]
        assert (t.description, t.location, t.phone) == (text, place, None)
        assert t.state != "duplicate"
        assert created.get(t.id) == 1, f"{t.number}: {created.get(t.id)} 'created' events"


def _burst(stack, sender: str, texts: List[str]) -> Dict[str, List]:
    """All of ``texts`` released at the same instant, alternately to each Rasa process."""
    start = threading.Barrier(len(texts))

    def send(j: int, text: str):
        start.wait(timeout=30)
        return _texts(stack.say(j, sender, text))

    with ThreadPoolExecutor(len(texts)) as pool:
        futures = {text: pool.submit(send, j, text) for j, text in enumerate(texts)}
        return {text: f.result(timeout=FUTURE_TIMEOUT) for text, f in futures.items()}


def test_simultaneous_messages_to_one_conversation_are_serialised(scale_stack, run_id):
    """A resident (or a channel retrying) sends several messages at once and they land on both
    processes: each is handled exactly once, one at a time, its answers right after it. (With Rasa's
    own `type: redis` lock store this test failed in each of three runs, for 1 to 8 of the 12
    conversations: a message missing from the tracker; see connectors/lock_store.py.)"""
    senders = [f"scale-{run_id}-b{i}" for i in range(12)]
    sent = {sender: [f"{text} #{j}" for j, text in enumerate(BURST)] for sender in senders}
    started = time.monotonic()
    with ThreadPoolExecutor(2) as pool:  # two conversations at a time, each one's messages all at once
        futures = {sender: pool.submit(_burst, scale_stack, sender, sent[sender]) for sender in senders}
        replies = {sender: f.result(timeout=FUTURE_TIMEOUT * 3) for sender, f in futures.items()}
    elapsed = time.monotonic() - started
    print(f"\nbursts: {len(senders)} conversations × {len(BURST)} messages at once, in {elapsed:.1f} s "
          f"(a waiting message polls Rasa's lock every second); served per process: {scale_stack.served}")

    failures = []
    for sender in senders:
        users, answers, sessions = _turns(scale_stack.tracker(1, sender)["events"])
        if sorted(users) != sorted(sent[sender]):
            failures.append(f"{sender}: messages lost or doubled: {users}")
        elif sessions != 1:
            failures.append(f"{sender}: {sessions} session starts")
        else:
            for text, answer in zip(users, answers):
                # Serialised: nothing of another message's turn between a message and its answers.
                if answer != replies[sender][text] or not answer:
                    failures.append(f"{sender}: the turn of {text!r} is interleaved or unanswered: "
                                    f"{answer} vs {replies[sender][text]}")
    assert not failures, f"{len(failures)} of {len(senders)} conversations:\n" + "\n".join(failures)


def test_the_statistics_count_every_message_once(scale_stack, run_id):
    """Both processes publish their conversations' events to RabbitMQ; the statistics feed counts
    each resident message exactly once (as many as the tracker holds), in the tickets database."""
    from sqlalchemy import func, select

    from bot import conversation_stats as stats
    from bot.db import Database
    from tests.conftest import wait_for
    from tests.scale.conftest import STATS_KEY

    senders = [f"scale-{run_id}-c{i}" for i in range(10)] + [f"scale-{run_id}-b{i}" for i in range(12)]
    expected = {s: sum(e["event"] == "user" for e in scale_stack.tracker(0, s)["events"]) for s in senders}
    keys = {stats.sender_key(s, STATS_KEY.encode()): s for s in senders}
    db = Database(scale_stack.tickets_url)

    def counted():
        with db.session(read_only=True) as s:
            rows = s.execute(select(stats.ConversationFact.sender_key, func.count())
                             .where(stats.ConversationFact.kind == stats.MESSAGE,
                                    stats.ConversationFact.sender_key.in_(list(keys)))
                             .group_by(stats.ConversationFact.sender_key)).all()
        return {keys[k]: n for k, n in rows}

    try:
        wait_for(lambda: counted() == expected, 60, "the statistics feed to count every message")
    except AssertionError:
        raise AssertionError(f"counted {counted()} instead of {expected}\n{scale_stack.feed.log_tail()}")
    finally:
        db.dispose()
    assert sum(expected.values()) >= 10 * 6 + 12 * len(BURST)


def test_no_lock_left_and_no_errors_logged(scale_stack):
    client, prefix = scale_stack.redis["client"], scale_stack.redis["prefix"]
    assert list(client.scan_iter(match=f"{prefix}:*")) == [], "conversation locks left behind in Redis"
    for service in [scale_stack.action, *scale_stack.rasa, scale_stack.feed]:
        assert service.process.poll() is None, f"the {service.name} died\n{service.log_tail()}"
        service.log_file.flush()
        log = service.log_path.read_text(errors="replace")
        bad = [line for line in log.splitlines()
               if re.search(r"LockError|Traceback|rest\.message\.received\.(timeout|failure)|"
                            r"Encountered an exception while running action|\bERROR\b", line)]
        assert not bad, f"{service.name} logged errors:\n" + "\n".join(bad[:20]) + "\n" + service.log_tail()
