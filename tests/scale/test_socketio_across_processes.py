"""A push to a web chat resident reaches them whichever Rasa process handles it (connectors/socketio.py).

The resident's socket is connected to Rasa process 1; the delivery service's push (a bot message
appended with output_channel=socketio, as bot/delivery.py sends it) goes to process 2.
"""
from __future__ import annotations

import asyncio
import json
import urllib.parse
import urllib.request
import uuid

import socketio


def _push(stack, index: int, sender: str, text: str) -> None:
    query = urllib.parse.urlencode({"token": stack.token, "output_channel": "socketio",
                                    "execute_side_effects": "true"})
    url = f"{stack.base(index)}/conversations/{urllib.parse.quote(sender, safe='')}/tracker/events?{query}"
    request = urllib.request.Request(url, data=json.dumps([{"event": "bot", "text": text}]).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200


async def _resident_receives_push(stack) -> list:
    session_id, received = uuid.uuid4().hex, asyncio.Queue()
    client = socketio.AsyncClient(reconnection=False)
    client.on("session_confirm", lambda sid: received.put_nowait(("confirm", sid)))
    client.on("bot_uttered", lambda message: received.put_nowait(("bot", message)))
    await client.connect(stack.base(0), socketio_path="/socket.io", transports=["websocket"])
    try:
        await client.emit("session_request", {"session_id": session_id})
        assert await asyncio.wait_for(received.get(), 20) == ("confirm", session_id)
        await asyncio.get_running_loop().run_in_executor(
            None, _push, stack, 1, session_id, "您反映的路灯问题已处理（工作人员回复）")
        kind, message = await asyncio.wait_for(received.get(), 20)
        return [kind, message]
    finally:
        await client.disconnect()


def test_a_push_through_the_other_process_reaches_the_web_chat(scale_stack):
    kind, message = asyncio.run(_resident_receives_push(scale_stack))
    assert kind == "bot" and message.get("text") == "您反映的路灯问题已处理（工作人员回复）"
