"""Settings of the web app, from the environment (and the repository's .env, like the other services)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from bot.settings import ENV_FILE, ensure_secret


def ensure_secret_key(path: Path = ENV_FILE) -> str:
    """WEB_SECRET_KEY (signs the console's session cookies), generated into .env when missing so
    sessions survive a restart."""
    key = ensure_secret("WEB_SECRET_KEY", 48, path)
    if len(key) < 32:
        raise SystemExit("error: WEB_SECRET_KEY must have at least 32 characters")
    return key


@dataclass
class WebSettings:
    secret_key: str
    rasa_url: str  # where the web app reaches the Rasa server (token API, socket.io proxy)
    rasa_token: str
    database_url: Optional[str] = None  # None: bot.db's default ($DATABASE_URL or var/community.db)
    city: Optional[str] = None  # None: $CITY
    routing_dir: Optional[str] = None  # None: $ROUTING_DIR or config/routing
    # What the resident chat page connects to. Empty: this app's own /socket.io/, relayed to Rasa
    # (same origin, nothing else exposed). A URL: the Rasa server directly (Rasa must then allow
    # this page's origin: CORS).
    webchat_socket_url: str = ""
    cookie_secure: bool = False  # set WEB_COOKIE_SECURE=1 behind HTTPS
    session_max_age: int = 12 * 3600
    rasa_timeout: float = 10.0

    @classmethod
    def from_env(cls, env=None) -> "WebSettings":
        env = os.environ if env is None else env
        rasa_url = env.get("RASA_URL") or f"http://127.0.0.1:{env.get('RASA_PORT', '5005')}"
        return cls(
            secret_key=env.get("WEB_SECRET_KEY") or "",
            rasa_url=rasa_url.rstrip("/"),
            rasa_token=env.get("RASA_TOKEN", ""),
            database_url=env.get("DATABASE_URL") or None,
            city=env.get("CITY") or None,
            routing_dir=env.get("ROUTING_DIR") or None,
            webchat_socket_url=(env.get("WEBCHAT_SOCKET_URL") or "").rstrip("/"),
            cookie_secure=(env.get("WEB_COOKIE_SECURE", "").lower() in ("1", "true", "yes")),
            session_max_age=int(env.get("WEB_SESSION_HOURS", "12")) * 3600,
        )
