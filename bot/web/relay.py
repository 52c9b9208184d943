"""Same-origin relay for the resident chat page: `/socket.io/` on the web app is passed through to
Rasa's socket.io channel, so the page works without Rasa allowing cross-origin requests (CORS) and
only the web app has to be reachable by residents. Nothing else of the Rasa server is exposed.

Both engine.io transports are relayed: HTTP long-polling (GET/POST) and the WebSocket upgrade.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Optional
from urllib.parse import urlsplit

import httpx
import websockets
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.websockets import WebSocket, WebSocketDisconnect

log = logging.getLogger(__name__)

PATH = "/socket.io/"
MAX_BODY = 1_000_000  # engine.io's own default for a message
POLL_TIMEOUT = 70.0  # a long-poll waits up to the ping interval (25 s) plus the ping timeout
_FORWARD_REQUEST_HEADERS = ("content-type", "accept", "user-agent", "accept-language")
_FORWARD_RESPONSE_HEADERS = ("content-type", "cache-control")


class SocketRelay:
    def __init__(self, rasa_url: str):
        self.rasa_url = rasa_url.rstrip("/")
        self._client: Optional[httpx.AsyncClient] = None

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=httpx.Timeout(POLL_TIMEOUT, connect=5.0), trust_env=False,
                                             limits=httpx.Limits(max_connections=500, max_keepalive_connections=50))
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def http(self, request: Request) -> Response:
        if request.method not in ("GET", "POST"):
            return PlainTextResponse("method not allowed", status_code=405)
        body = b""
        if request.method == "POST":
            async for chunk in request.stream():
                body += chunk
                if len(body) > MAX_BODY:
                    return PlainTextResponse("message too large", status_code=413)
        headers = {k: v for k, v in request.headers.items() if k in _FORWARD_REQUEST_HEADERS}
        url = f"{self.rasa_url}{PATH}"
        try:
            upstream = await self.client().request(request.method, url, params=request.query_params.multi_items(),
                                                   content=body or None, headers=headers)
        except httpx.HTTPError as exc:
            log.warning("socket.io relay: Rasa not reachable (%s)", type(exc).__name__)
            return PlainTextResponse("the chat service is not reachable", status_code=502)
        out = {k: v for k, v in upstream.headers.items() if k.lower() in _FORWARD_RESPONSE_HEADERS}
        return Response(upstream.content, status_code=upstream.status_code, headers=out)

    async def websocket(self, ws: WebSocket) -> None:
        origin = ws.headers.get("origin")
        if origin and urlsplit(origin).netloc != ws.headers.get("host"):
            await ws.close(code=1008)  # another site's page: not ours to relay
            return
        target = self.rasa_url.replace("http://", "ws://", 1).replace("https://", "wss://", 1) + PATH
        query = ws.url.query
        try:
            upstream = await websockets.connect(f"{target}?{query}" if query else target, open_timeout=10,
                                                max_size=MAX_BODY, ping_interval=None)
        except Exception as exc:  # noqa: BLE001 - refused, timed out, rejected handshake…
            log.warning("socket.io relay: websocket to Rasa failed (%s)", type(exc).__name__)
            await ws.close(code=1011)
            return
        await ws.accept()

        async def client_to_rasa():
            try:
                while True:
                    message = await ws.receive()
                    if message["type"] == "websocket.disconnect":
                        break
                    if message.get("text") is not None:
                        await upstream.send(message["text"])
                    elif message.get("bytes") is not None:
                        await upstream.send(message["bytes"])
            except (WebSocketDisconnect, websockets.ConnectionClosed):
                pass

        async def rasa_to_client():
            try:
                async for message in upstream:
                    if isinstance(message, bytes):
                        await ws.send_bytes(message)
                    else:
                        await ws.send_text(message)
            except (websockets.ConnectionClosed, RuntimeError):
                pass

        tasks = [asyncio.ensure_future(client_to_rasa()), asyncio.ensure_future(rasa_to_client())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await upstream.close()
            try:
                await ws.close()
            except RuntimeError:
                pass
