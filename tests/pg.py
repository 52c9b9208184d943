"""Fresh PostgreSQL databases for tests, on this machine's real server (127.0.0.1 only).

``TICKETS_TEST_PG_URL`` (default postgresql://postgres@127.0.0.1:5432/) names the server. An unreachable
server skips the test with the reason (shown by ``-ra``), or fails it when ``TICKETS_REQUIRE_POSTGRES=1``
(as in CI), so PostgreSQL cannot silently drop out of a run.
"""
from __future__ import annotations

import contextlib
import os
import uuid
from typing import Dict, Iterator, List

import pytest

PG_URL = os.environ.get("TICKETS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/")


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


@contextlib.contextmanager
def fresh_databases(prefix: str, roles: List[str], server_url: str = PG_URL) -> Iterator[Dict[str, str]]:
    """``{role: url}`` of new, empty databases named ``<prefix>_<pid>_<random>_<role>``; dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin_url = make_url(server_url).set(database="postgres")
    base = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    names = {role: f"{base}_{role}" for role in roles}
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", future=True, connect_args={"connect_timeout": 3})
    created: List[str] = []
    try:
        try:
            with admin.connect() as conn:
                for name in names.values():
                    conn.execute(text(f'CREATE DATABASE "{name}"'))
                    created.append(name)
        except Exception as exc:
            reason = f"PostgreSQL unreachable at {admin_url.render_as_string(hide_password=True)}: {first_line(exc)}"
            if os.environ.get("TICKETS_REQUIRE_POSTGRES") == "1":
                pytest.fail(reason + " (TICKETS_REQUIRE_POSTGRES=1)")
            pytest.skip(reason)
        yield {role: make_url(server_url).set(database=name).render_as_string(hide_password=False)
               for role, name in names.items()}
    finally:
        if created:
            with admin.connect() as conn:
                for name in created:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
