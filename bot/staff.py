"""Staff accounts of the console: argon2-hashed passwords, the unit each person works for, per-user
API tokens, and the login rate limit. Plain Python over SQLAlchemy (no web framework here), so the
CLI (`python -m bot.web create-admin`) and the web app share it.

A staff member belongs to one routing unit (``config/routing/<CITY>.yml``); what they may see follows
from that unit's place on the ladder (bot/web/scope.py). ``role`` is ``admin`` (everything, user
management) or ``staff``.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import List, Optional

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Boolean, Column, Index, Integer, String, delete, func, select

from bot.db import Base, Database, UTCDateTime, get_database, utcnow

ROLES = ("admin", "staff")
MIN_PASSWORD_LENGTH = 10
# Names the audit trail already uses for non-people: a login may never look like one of them.
RESERVED_USERNAMES = {"resident", "system", "escalation", "admin-cli", "console", "anonymous", "bot"}
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")

# Login rate limit: failures per (username, client address), and per address over all usernames.
LOGIN_WINDOW = dt.timedelta(minutes=15)
MAX_FAILURES_PER_USER_AND_IP = 5
MAX_FAILURES_PER_IP = 30

_hasher = PasswordHasher()
# Verified against when the username is unknown, so both cases take the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class StaffUser(Base):
    __tablename__ = "staff_users"

    id = Column(Integer, primary_key=True)
    username = Column(String(64), nullable=False, unique=True)
    display_name = Column(String(128), nullable=False, default="")
    password_hash = Column(String(255), nullable=False)
    role = Column(String(16), nullable=False, default="staff")
    unit_id = Column(String(64), nullable=True)  # a routing unit id; admins may have none
    active = Column(Boolean, nullable=False, default=True)
    # Part of every login session; raising it (logout, password change) ends all of them.
    session_epoch = Column(Integer, nullable=False, default=0)
    api_token_hash = Column(String(64), nullable=True, unique=True)  # sha256 of the token
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)
    last_login_at = Column(UTCDateTime, nullable=True)


class StaffLoginFailure(Base):
    __tablename__ = "staff_login_failures"

    id = Column(Integer, primary_key=True)
    username = Column(String(64), nullable=False)
    ip = Column(String(64), nullable=False)
    at = Column(UTCDateTime, nullable=False, default=utcnow)

    __table_args__ = (
        Index("ix_staff_login_failures_user_ip_at", "username", "ip", "at"),
        Index("ix_staff_login_failures_ip_at", "ip", "at"),
    )


@dataclass(frozen=True)
class Staff:
    """A staff member as the web layer sees them (no password hash)."""

    id: int
    username: str
    display_name: str
    role: str
    unit_id: Optional[str]
    active: bool
    session_epoch: int
    has_api_token: bool
    last_login_at: Optional[dt.datetime]

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def label(self) -> str:
        return self.display_name or self.username


class AccountError(ValueError):
    """A bad username, password, role or unit (the message says which)."""


class TooManyAttempts(Exception):
    def __init__(self, retry_after: dt.timedelta):
        super().__init__("too many failed logins; try again later")
        self.retry_after = retry_after


def _view(row: StaffUser) -> Staff:
    return Staff(row.id, row.username, row.display_name or "", row.role, row.unit_id, bool(row.active),
                 int(row.session_epoch or 0), row.api_token_hash is not None, row.last_login_at)


def normalise_username(username: str) -> str:
    return (username or "").strip().lower()


def check_password_policy(password: str) -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > 1024:
        raise AccountError("the password is too long")


def _check_role_and_unit(role: str, unit_id: Optional[str], known_units) -> None:
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if role != "admin" and not unit_id:
        raise AccountError("a staff member needs a unit (a unit id from the routing file)")
    if unit_id and known_units is not None and unit_id not in known_units:
        raise AccountError(f"unknown unit {unit_id!r}; units: {', '.join(sorted(known_units))}")


def create_user(username: str, password: str, *, role: str = "staff", unit_id: Optional[str] = None,
                display_name: str = "", known_units=None, db: Optional[Database] = None) -> Staff:
    """A new account. ``known_units``: the routing table's unit ids, to refuse a typo."""
    db = db or get_database()
    username = normalise_username(username)
    if not USERNAME_RE.match(username):
        raise AccountError("a username is 2–63 characters: lower-case letters, digits, '.', '_' or '-'")
    if username in RESERVED_USERNAMES or username.startswith(("unit:", "duty:")):
        raise AccountError(f"{username!r} is reserved")
    check_password_policy(password)
    _check_role_and_unit(role, unit_id or None, known_units)
    now = utcnow()
    with db.session() as s:
        if s.execute(select(StaffUser.id).where(StaffUser.username == username)).first():
            raise AccountError(f"the username {username!r} is taken")
        row = StaffUser(username=username, display_name=(display_name or "").strip()[:128],
                        password_hash=_hasher.hash(password), role=role, unit_id=unit_id or None, active=True,
                        session_epoch=0, created_at=now, updated_at=now)
        s.add(row)
        s.flush()
        return _view(row)


def get_user(user_id: int, db: Optional[Database] = None) -> Optional[Staff]:
    db = db or get_database()
    with db.session(read_only=True) as s:
        row = s.get(StaffUser, user_id)
        return _view(row) if row is not None else None


def find_user(username: str, db: Optional[Database] = None) -> Optional[Staff]:
    db = db or get_database()
    with db.session(read_only=True) as s:
        row = s.execute(select(StaffUser).where(StaffUser.username == normalise_username(username))).scalar_one_or_none()
        return _view(row) if row is not None else None


def list_users(db: Optional[Database] = None) -> List[Staff]:
    db = db or get_database()
    with db.session(read_only=True) as s:
        return [_view(r) for r in s.execute(select(StaffUser).order_by(StaffUser.username)).scalars()]


def count_admins(db: Optional[Database] = None) -> int:
    db = db or get_database()
    with db.session(read_only=True) as s:
        return s.execute(select(func.count(StaffUser.id)).where(StaffUser.role == "admin",
                                                                 StaffUser.active.is_(True))).scalar_one()


def update_user(user_id: int, *, role: Optional[str] = None, unit_id: Optional[str] = "",
                display_name: Optional[str] = None, active: Optional[bool] = None, known_units=None,
                db: Optional[Database] = None) -> Staff:
    """Change an account; a change of role, unit or activity ends the person's sessions."""
    db = db or get_database()
    with db.session() as s:
        row = s.get(StaffUser, user_id)
        if row is None:
            raise AccountError("no such user")
        new_role = role or row.role
        new_unit = row.unit_id if unit_id == "" else (unit_id or None)
        _check_role_and_unit(new_role, new_unit, known_units)
        if (new_role, new_unit) != (row.role, row.unit_id) or (active is not None and active != row.active):
            row.session_epoch = (row.session_epoch or 0) + 1
        row.role, row.unit_id = new_role, new_unit
        if display_name is not None:
            row.display_name = display_name.strip()[:128]
        if active is not None:
            row.active = active
        row.updated_at = utcnow()
        s.flush()
        return _view(row)


def set_password(username: str, password: str, db: Optional[Database] = None) -> None:
    """A new password; every session of that person ends."""
    check_password_policy(password)
    db = db or get_database()
    with db.session() as s:
        row = s.execute(select(StaffUser).where(StaffUser.username == normalise_username(username))).scalar_one_or_none()
        if row is None:
            raise AccountError("no such user")
        row.password_hash = _hasher.hash(password)
        row.session_epoch = (row.session_epoch or 0) + 1
        row.updated_at = utcnow()


def end_sessions(user_id: int, db: Optional[Database] = None) -> None:
    """Log the person out everywhere (signed-cookie sessions carry the epoch)."""
    db = db or get_database()
    with db.session() as s:
        row = s.get(StaffUser, user_id)
        if row is not None:
            row.session_epoch = (row.session_epoch or 0) + 1


# ---------------------------------------------------------------------------------------- login
def authenticate(username: str, password: str, ip: str, db: Optional[Database] = None,
                 now: Optional[dt.datetime] = None) -> Optional[Staff]:
    """The account for a correct username and password, None otherwise.

    Raises TooManyAttempts (without checking the password) after MAX_FAILURES_PER_USER_AND_IP
    failures for this username from this address, or MAX_FAILURES_PER_IP from this address, within
    LOGIN_WINDOW. A success clears the failures of this username from this address.
    """
    db = db or get_database()
    now = now or utcnow()
    username = normalise_username(username)[:64]
    ip = (ip or "unknown")[:64]
    since = now - LOGIN_WINDOW
    with db.session(read_only=True) as s:
        per_user = s.execute(select(func.count(StaffLoginFailure.id), func.min(StaffLoginFailure.at)).where(
            StaffLoginFailure.username == username, StaffLoginFailure.ip == ip,
            StaffLoginFailure.at >= since)).one()
        per_ip = s.execute(select(func.count(StaffLoginFailure.id), func.min(StaffLoginFailure.at)).where(
            StaffLoginFailure.ip == ip, StaffLoginFailure.at >= since)).one()
        row = s.execute(select(StaffUser).where(StaffUser.username == username)).scalar_one_or_none()
        stored = row.password_hash if row is not None else None
    for (count, oldest), limit in ((per_user, MAX_FAILURES_PER_USER_AND_IP), (per_ip, MAX_FAILURES_PER_IP)):
        if count >= limit:
            raise TooManyAttempts(max(dt.timedelta(seconds=1), oldest + LOGIN_WINDOW - now))
    ok = False
    try:
        ok = _hasher.verify(stored or _DUMMY_HASH, password or "") and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if not ok or row is None or not row.active:
        with db.session() as s:
            s.add(StaffLoginFailure(username=username, ip=ip, at=now))
            # Old rows are only clutter.
            s.execute(delete(StaffLoginFailure).where(StaffLoginFailure.at < now - 4 * LOGIN_WINDOW))
        return None
    with db.session() as s:
        fresh = s.get(StaffUser, row.id)
        if _hasher.check_needs_rehash(fresh.password_hash):
            fresh.password_hash = _hasher.hash(password)
        fresh.last_login_at = now
        s.execute(delete(StaffLoginFailure).where(StaffLoginFailure.username == username,
                                                  StaffLoginFailure.ip == ip))
        s.flush()
        return _view(fresh)


def verify_password(user_id: int, password: str, db: Optional[Database] = None) -> bool:
    db = db or get_database()
    with db.session(read_only=True) as s:
        row = s.get(StaffUser, user_id)
        stored = row.password_hash if row is not None else _DUMMY_HASH
    try:
        return bool(_hasher.verify(stored, password or "")) and row is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# ---------------------------------------------------------------------------------------- API tokens
API_TOKEN_PREFIX = "cst_"


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_api_token(username: str, db: Optional[Database] = None) -> str:
    """A new API token for the account (replacing any previous one). Shown once; stored hashed."""
    db = db or get_database()
    token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    with db.session() as s:
        row = s.execute(select(StaffUser).where(StaffUser.username == normalise_username(username))).scalar_one_or_none()
        if row is None:
            raise AccountError("no such user")
        row.api_token_hash = _token_digest(token)
        row.updated_at = utcnow()
    return token


def revoke_api_token(username: str, db: Optional[Database] = None) -> None:
    db = db or get_database()
    with db.session() as s:
        row = s.execute(select(StaffUser).where(StaffUser.username == normalise_username(username))).scalar_one_or_none()
        if row is not None:
            row.api_token_hash = None


def user_for_api_token(token: str, db: Optional[Database] = None) -> Optional[Staff]:
    if not token or not token.startswith(API_TOKEN_PREFIX) or len(token) > 200:
        return None
    db = db or get_database()
    with db.session(read_only=True) as s:
        row = s.execute(select(StaffUser).where(StaffUser.api_token_hash == _token_digest(token))).scalar_one_or_none()
        return _view(row) if row is not None and row.active else None
