"""The Rasa server's HTTP API, as the console uses it (token-protected): read a conversation's tracker,
pause it, resume it. Synchronous: the console's handlers run in Starlette's thread pool."""
from __future__ import annotations

import urllib.parse
from typing import Any, Dict, List, Optional

import httpx


class RasaUnavailable(Exception):
    """The Rasa server could not be reached or refused the request (the message says which)."""


class RasaClient:
    def __init__(self, base_url: str, token: str, timeout: float = 10.0,
                 transport: Optional[httpx.BaseTransport] = None):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.transport = transport

    def _client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=self.timeout, transport=self.transport,
                            trust_env=False)

    @staticmethod
    def _path(conversation_id: str, suffix: str = "") -> str:
        return f"/conversations/{urllib.parse.quote(conversation_id, safe='')}/tracker{suffix}"

    def _call(self, method: str, path: str, params: Dict[str, str], json_body: Any = None):
        try:
            with self._client() as client:
                response = client.request(method, path, params={**params, "token": self.token},
                                          json=json_body)
        except httpx.HTTPError as exc:
            raise RasaUnavailable(f"the Rasa server is not reachable ({type(exc).__name__})") from exc
        if response.status_code >= 400:
            raise RasaUnavailable(f"the Rasa server answered {response.status_code}")
        return response.json() if response.content else None

    def events(self, conversation_id: str) -> List[Dict[str, Any]]:
        """Every event of the conversation (all sessions), oldest first."""
        tracker = self._call("GET", self._path(conversation_id), {"include_events": "ALL"})
        return list((tracker or {}).get("events") or [])

    def append(self, conversation_id: str, events: List[Dict[str, Any]]) -> None:
        self._call("POST", self._path(conversation_id, "/events"), {"include_events": "NONE"}, events)

    def resume(self, conversation_id: str) -> None:
        """The bot answers this conversation again."""
        self.append(conversation_id, [{"event": "resume"}])

    def pause(self, conversation_id: str) -> None:
        """The bot stays silent (messages are still recorded)."""
        self.append(conversation_id, [{"event": "pause"}])
