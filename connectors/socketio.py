"""The web chat's socket.io channel across several Rasa processes.

Rasa 3.6's socket.io channel keeps each resident's socket inside the process that accepted it. A
message pushed to that resident later (a staff reply, a ticket update: the delivery service appends
it with `output_channel=socketio` through whichever process the load balancer picks) reached the
resident only when it happened to land on that same process.

With SOCKETIO_MESSAGE_QUEUE set (a Redis URL), every process's socket.io server shares a Redis
pub/sub channel: an emit in one process reaches the socket wherever it is connected (python-socketio's
AsyncRedisManager). Its messages are JSON here: python-socketio's own manager uses pickle, which would
let anyone able to publish to that Redis run code in every Rasa process.

    SOCKETIO_MESSAGE_QUEUE=redis://127.0.0.1:6379/0
    SOCKETIO_CHANNEL=community-bot-socketio   # optional; one per deployment sharing a Redis

connectors/channels.py switches the `socketio` entry of credentials.yml to this class when the
variable is set; the channel's name, paths and settings stay those of Rasa's.
"""
from __future__ import annotations

import json
import logging
import os
from functools import partial
from typing import Any, Awaitable, Callable

import rasa.core.channels.socketio as rasa_socketio
from rasa.core.channels.channel import UserMessage
from sanic import Blueprint
from socketio import AsyncRedisManager

from connectors.channels import SOCKETIO_QUEUE_VARIABLE

logger = logging.getLogger(__name__)

DEFAULT_CHANNEL = "community-bot-socketio"


class JsonRedisManager(AsyncRedisManager):
    """AsyncRedisManager whose messages between processes are JSON, never unpickled."""

    async def _publish(self, data: Any) -> Any:
        try:
            return await self.redis.publish(self.channel, json.dumps(data))
        except Exception as exc:  # the resident misses a push; the message is in the conversation
            logger.error("socket.io: could not publish to the message queue: %s", exc)
            return None

    async def _listen(self):
        async for message in super()._listen():
            try:
                data = json.loads(message)
            except (TypeError, ValueError):
                logger.warning("socket.io: ignored a message queue entry that is not JSON")
                continue
            if isinstance(data, dict):
                yield data  # a dict is used as it is: the pickle path is never reached


class SocketIOInput(rasa_socketio.SocketIOInput):
    """Rasa's socket.io channel with its server on the shared message queue."""

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        url = os.environ.get(SOCKETIO_QUEUE_VARIABLE, "").strip()
        if not url:
            return super().blueprint(on_new_message)
        manager = JsonRedisManager(url, channel=os.environ.get("SOCKETIO_CHANNEL", DEFAULT_CHANNEL))
        # Rasa builds its AsyncServer inside blueprint(); it is given our manager for that one call.
        original = rasa_socketio.AsyncServer
        rasa_socketio.AsyncServer = partial(original, client_manager=manager)
        try:
            return super().blueprint(on_new_message)
        finally:
            rasa_socketio.AsyncServer = original
