"""When the conversation store is unreachable, the resident is told so and the message is kept.

Rasa 3.6 cannot handle a message while its tracker store (PostgreSQL) or lock store (Redis) is down:
it logs the error and the resident gets no answer. Here such a message gets a "temporarily
unavailable" answer in its own language, and the message is kept in a local spool (bot/spool.py).
Once the store answers again it is written into the conversation, with the answer that was given,
so staff see everything the resident wrote. The bot does not act on it a second time: the resident
was asked to send it again, and acting twice (a ticket, a hand-off) would be worse than asking.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any, Dict, Optional

from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage
from rasa.shared.core.events import BotUttered, UserUttered

from bot.db import is_unavailable
from bot.spool import Spool, spool_directory
from bot.texts import render_for_message
from connectors.action_guard import FAULT

logger = logging.getLogger(__name__)
NOTICE_KEY = "system.store_unavailable"
REPLAY_SECONDS = float(os.environ.get("INBOUND_REPLAY_SECONDS", "10"))


def store_unavailable(error: BaseException) -> bool:
    """The tracker store (SQLAlchemy) or the lock store (Redis) could not be reached."""
    try:
        from redis import exceptions as redis_errors

        if isinstance(error, (redis_errors.ConnectionError, redis_errors.TimeoutError)):
            return True
    except ImportError:  # Redis is optional
        pass
    return is_unavailable(error) or isinstance(error, (ConnectionError, TimeoutError))


def notice_for(text: Optional[str]) -> str:
    return render_for_message(NOTICE_KEY, text or "")


class InboundKeeper:
    """Keeps messages the store could not take, and writes them into their conversations later."""

    def __init__(self, agent: Agent, spool: Optional[Spool] = None) -> None:
        self.agent = agent
        self.spool = spool or Spool(spool_directory("inbound"))
        self._task: Optional[asyncio.Task] = None

    def keep(self, message: UserMessage, notice: str) -> None:
        self.spool.put({"sender_id": message.sender_id, "text": message.text, "input_channel": message.input_channel,
                        "message_id": message.message_id, "received_at": time.time(), "notice": notice})
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._replay_until_empty())

    async def _replay_until_empty(self) -> None:
        loop = asyncio.get_running_loop()

        def write(item: Dict[str, Any]) -> str:
            # The spool is synchronous (files); the store is async on this loop.
            return asyncio.run_coroutine_threadsafe(self._write(item), loop).result(timeout=60)

        while self.spool.pending():
            await asyncio.sleep(REPLAY_SECONDS)
            report = await loop.run_in_executor(None, self.spool.replay, write)
            if report.filed:
                logger.info("kept messages written into %d conversation(s); %d waiting", len(report.filed),
                            report.remaining)

    async def _write(self, item: Dict[str, Any]) -> str:
        sender = item["sender_id"]
        async with self.agent.lock_store.lock(sender):
            tracker = await self.agent.tracker_store.get_or_create_tracker(sender)
            tracker.update(UserUttered(item["text"], input_channel=item.get("input_channel"),
                                       message_id=item.get("message_id"), timestamp=item["received_at"],
                                       metadata={FAULT: "store_unavailable"}))
            tracker.update(BotUttered(item["notice"], metadata={FAULT: "store_unavailable"},
                                      timestamp=item["received_at"]))
            await self.agent.tracker_store.save(tracker)
        return sender


def _no_silent_fallback() -> None:
    """Rasa's FailSafeTrackerStore answers a store outage by carrying on with an empty in-memory
    conversation: the form in progress is forgotten and everything said meanwhile vanishes when the
    store returns. An unreachable store is raised instead, so the message is answered and kept here."""
    from rasa.core.tracker_store import FailSafeTrackerStore

    for name in ("on_tracker_store_error", "on_tracker_store_retrieve_error"):
        fallback = getattr(FailSafeTrackerStore, name)

        def on_error(self, error: Exception, _fallback=fallback) -> None:
            if store_unavailable(error):
                raise error
            _fallback(self, error)

        setattr(FailSafeTrackerStore, name, on_error)


def install() -> None:
    """Wrap Agent.handle_message once; idempotent."""
    if getattr(Agent, "_outage_guard_installed", False):
        return
    _no_silent_fallback()
    original = Agent.handle_message

    async def handle_message(self: Agent, message: UserMessage):
        try:
            return await original(self, message)
        except Exception as error:
            if not store_unavailable(error):
                raise
            logger.error("conversation store unavailable (%s); message kept, resident told", type(error).__name__)
            notice = notice_for(message.text)
            keeper = getattr(self, "_inbound_keeper", None)
            if keeper is None:
                keeper = self._inbound_keeper = InboundKeeper(self)
            keeper.keep(message, notice)
            try:
                await message.output_channel.send_text_message(message.sender_id, notice)
            except Exception:  # the channel may be down too; the message is kept either way
                logger.exception("could not send the unavailability notice")
            return None

    Agent.handle_message = handle_message
    Agent._outage_guard_installed = True
