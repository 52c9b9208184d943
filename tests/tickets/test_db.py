"""The database layer: URL handling, SQLite settings, migrations equal to the models, the CLI."""
import subprocess
import sys

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

import bot.models  # noqa: F401
from bot.db import REPO_ROOT, Base, Database, alembic_config, current_revision, database_url, upgrade_db


def head() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_default_url_is_the_repo_var_file(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert database_url() == f"sqlite:///{REPO_ROOT / 'var' / 'community.db'}"
    monkeypatch.setenv("DATABASE_URL", "sqlite:///data/x.db")
    assert database_url() == f"sqlite:///{REPO_ROOT / 'data' / 'x.db'}"
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p%40ss@h/db")
    assert database_url() == "postgresql://u:p%40ss@h/db"


def test_sqlite_settings(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'sub' / 'dir' / 'x.db'}")  # folder is created
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    db.dispose()


def test_migrations_match_the_models(db):
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []
    assert current_revision(db.url) == head()
    upgrade_db(db.url)  # idempotent


def test_foreign_keys_are_enforced(db):
    import pytest
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError):
        with db.session() as s:
            s.execute(text("INSERT INTO ticket_events (ticket_id, actor, at, action) "
                           "VALUES (999, 'x', '2026-01-01 00:00:00', 'created')"))


def test_cli_upgrade(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    out = subprocess.run([sys.executable, "-m", "bot.db", "upgrade", "--url", url], cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert f"revision {head()}" in out.stdout
    assert current_revision(url) == head()
