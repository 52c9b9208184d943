"""The project's single database layer.

One engine per URL, built from ``DATABASE_URL`` (default: an SQLite file ``var/community.db`` under the
repository root). SQLite gets WAL, foreign keys and a busy timeout, and every write transaction starts
with ``BEGIN IMMEDIATE`` so that concurrent writers queue on the busy timeout instead of failing
half-way with "database is locked". PostgreSQL is used as is (READ COMMITTED).

Schema changes are Alembic migrations in ``bot/migrations``; ``upgrade_db(url)`` runs them without an
alembic.ini, and ``python -m bot.db upgrade`` does the same from the shell.
"""
from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, Optional

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, declarative_base, sessionmaker
from sqlalchemy.types import DateTime, TypeDecorator

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
DEFAULT_URL = "sqlite:///var/community.db"
SQLITE_BUSY_TIMEOUT_MS = 30_000

# Stable constraint names, so that migrations can refer to them on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
Base = declarative_base(metadata=MetaData(naming_convention=NAMING_CONVENTION))


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, stored as naive UTC.

    SQLite has no time zones and PostgreSQL's timestamptz returns the session zone; storing naive UTC
    behaves the same on both, and refusing naive input catches local-time bugs early.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column; pass an aware datetime")
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=dt.timezone.utc)


def is_unavailable(error: BaseException) -> bool:
    """True when ``error`` means the database could not be reached (down, restarting, network, pool
    exhausted) rather than a fault in the request: the caller should keep the work and retry later."""
    from sqlalchemy import exc

    if isinstance(error, (exc.OperationalError, exc.InterfaceError, exc.TimeoutError, exc.DisconnectionError)):
        return True
    return isinstance(error, exc.DBAPIError) and bool(error.connection_invalidated)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def database_url(url: Optional[str] = None) -> str:
    """The URL to use: the argument, else ``DATABASE_URL``, else the SQLite default.

    A relative SQLite path is taken relative to the repository root, so the bot, the action server
    and the CLI all open the same file whatever their working directory.
    """
    raw = url or os.environ.get("DATABASE_URL") or DEFAULT_URL
    parsed = make_url(raw)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        path = Path(parsed.database)
        if not path.is_absolute():
            path = REPO_ROOT / path
        parsed = parsed.set(database=str(path))
        return parsed.render_as_string(hide_password=False)
    return raw


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Take transaction control away from pysqlite so that BEGIN, SAVEPOINT and busy waits
        # behave as SQLite documents them (SQLAlchemy's documented recipe).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # IMMEDIATE takes the write lock up front: a read-then-write transaction can then never hit
        # SQLITE_BUSY half-way (which no busy timeout can cure). Read-only sessions ask for DEFERRED.
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        conn.exec_driver_sql(f"BEGIN {mode}")


def make_engine(url: Optional[str] = None, **kwargs) -> Engine:
    """A new engine for ``url`` (see :func:`database_url`), configured for this project."""
    url = database_url(url)
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        db_path = make_url(url).database
        if db_path and db_path != ":memory:":
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        connect_args = kwargs.pop("connect_args", {})
        connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
        connect_args.setdefault("check_same_thread", False)
        engine = create_engine(url, future=True, connect_args=connect_args, **kwargs)
        _configure_sqlite(engine)
    else:
        kwargs.setdefault("pool_pre_ping", True)
        if backend == "postgresql":
            # A database that does not answer must fail fast, so the caller can keep the work for later.
            kwargs.setdefault("connect_args", {}).setdefault("connect_timeout", 5)
        engine = create_engine(url, future=True, **kwargs)
    return engine


class Database:
    """An engine plus its session factory. Services take one of these."""

    def __init__(self, url: Optional[str] = None, engine: Optional[Engine] = None):
        self.engine = engine or make_engine(url)
        self.url = self.engine.url.render_as_string(hide_password=False)
        self._sessions = sessionmaker(bind=self.engine, future=True, expire_on_commit=False)
        self._read_sessions = sessionmaker(
            bind=self.engine.execution_options(sqlite_begin="DEFERRED"), future=True, expire_on_commit=False
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self, read_only: bool = False) -> Iterator[Session]:
        """A transaction: committed when the block ends, rolled back if it raises."""
        session = (self._read_sessions if read_only else self._sessions)()
        try:
            yield session
            if not read_only:  # (closing a read-only one ends its transaction and keeps loaded objects usable)
                session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


_databases: Dict[str, Database] = {}
_databases_lock = threading.Lock()


def get_database(url: Optional[str] = None) -> Database:
    """The shared :class:`Database` for ``url`` (one engine per URL per process)."""
    key = database_url(url)
    with _databases_lock:
        db = _databases.get(key)
        if db is None:
            db = _databases[key] = Database(key)
        return db


@contextmanager
def session_scope(url: Optional[str] = None, read_only: bool = False) -> Iterator[Session]:
    """``with session_scope() as s: ...`` — one transaction on the shared engine."""
    with get_database(url).session(read_only=read_only) as session:
        yield session


def alembic_config(url: Optional[str] = None):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation: a literal % in a password must be doubled.
    cfg.set_main_option("sqlalchemy.url", database_url(url).replace("%", "%%"))
    return cfg


MIGRATION_LOCK_KEY = 0x636F6D6D756E6974  # any constant; every migrating process uses the same one


def upgrade_db(url: Optional[str] = None, revision: str = "head") -> None:
    """Bring the schema at ``url`` up to ``revision`` (idempotent). On PostgreSQL, processes starting
    together (several action servers) take turns on an advisory lock instead of racing on the DDL."""
    from alembic import command

    cfg = alembic_config(url)
    if make_url(database_url(url)).get_backend_name() != "postgresql":
        command.upgrade(cfg, revision)
        return
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})")
            conn.commit()  # the lock belongs to the session and outlives the transaction
            try:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
                conn.commit()
            finally:
                conn.rollback()
                conn.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})")
                conn.commit()
    finally:
        engine.dispose()


def current_revision(url: Optional[str] = None) -> Optional[str]:
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.db", description="Database maintenance")
    sub = parser.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("upgrade", help="apply migrations up to head (or --revision)")
    up.add_argument("--url", help="database URL (default: $DATABASE_URL or the SQLite file)")
    up.add_argument("--revision", default="head")
    cur = sub.add_parser("current", help="print the schema revision")
    cur.add_argument("--url")
    rev = sub.add_parser("revision", help="write a new migration, autogenerated from the models")
    rev.add_argument("-m", "--message", required=True)
    rev.add_argument("--url", help="a database at head to compare the models with")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.cmd == "upgrade":
        upgrade_db(args.url, args.revision)
        print(f"database at revision {current_revision(args.url)}: {_safe_url(args.url)}")
    elif args.cmd == "revision":
        from alembic import command

        command.revision(alembic_config(args.url), message=args.message, autogenerate=True)
    else:
        print(current_revision(args.url) or "(empty)")
    return 0


def _safe_url(url: Optional[str]) -> str:
    return make_url(database_url(url)).render_as_string(hide_password=True)


if __name__ == "__main__":
    # Run through the importable module so that models and migrations share one Base.
    from bot import db as _db

    sys.exit(_db.main())
