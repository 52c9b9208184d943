"""Console sessions and CSRF.

The session is Starlette's signed cookie (itsdangerous, key WEB_SECRET_KEY): HttpOnly, SameSite=Lax,
Secure behind HTTPS (WEB_COOKIE_SECURE=1), expiring after WEB_SESSION_HOURS. It holds the staff id,
the account's session epoch (raised by logout, a password change or an account change, which ends every
session of that person at once) and the CSRF token. Every POST form carries the token in
``csrf_token``; API calls authenticated by the session cookie send it in the ``X-CSRF-Token`` header,
API calls with a personal API token (``Authorization: Bearer cst_…``) need none.
"""
from __future__ import annotations

import hmac
import secrets
import time
from typing import Optional
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection

from bot.db import Database
from bot.staff import Staff, get_user, user_for_api_token

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


def csrf_token(request: HTTPConnection) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def csrf_ok(request: HTTPConnection, supplied: Optional[str]) -> bool:
    expected = request.session.get("csrf")
    return bool(expected) and isinstance(supplied, str) and hmac.compare_digest(expected, supplied)


def log_in(request: HTTPConnection, user: Staff) -> None:
    request.session.clear()  # a fresh session (and CSRF token) at every login
    request.session.update({"uid": user.id, "epoch": user.session_epoch, "at": int(time.time()),
                            "csrf": secrets.token_urlsafe(32)})


def log_out(request: HTTPConnection) -> None:
    request.session.clear()


def session_user(request: HTTPConnection, db: Database) -> Optional[Staff]:
    uid = request.session.get("uid")
    if not isinstance(uid, int):
        return None
    user = get_user(uid, db=db)
    if user is None or not user.active or user.session_epoch != request.session.get("epoch"):
        request.session.pop("uid", None)
        return None
    return user


def bearer_user(request: HTTPConnection, db: Database) -> Optional[Staff]:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return user_for_api_token(token.strip(), db=db)


def client_ip(request: HTTPConnection) -> str:
    return request.client.host if request.client else "unknown"


def safe_next(target: Optional[str], default: str = "/console/") -> str:
    """Only a path inside the console: never an open redirect."""
    if not target or not isinstance(target, str):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/console/") or "\\" in target or "//" in target:
        return default
    return target
