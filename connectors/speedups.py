"""Measured hot spots of Rasa 3.6 in our deployment, removed without changing behaviour.

Profile (py-spy on the Rasa server, 10 concurrent REST conversations with forms, bench/results):
half of the server's CPU went into `RemoteAction._validate_action_result`, because
`jsonschema.validate(result, schema)` first checks the *schema* against the JSON-Schema meta-schema
on every call. The schema is a constant: it is checked once here and the compiled validator reused,
so each action server response is still validated exactly as before.

The embedded SQLite tracker store committed with SQLite's defaults (rollback journal, fsync on every
commit) from inside the event loop: 17% of the server's time, and every conversation waiting on the
disk. It now uses write-ahead logging with synchronous=NORMAL, like our ticket database: a crash of
the process loses nothing; a power cut may lose the last commits (production uses PostgreSQL).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict


@lru_cache(maxsize=1)
def _action_result_validator():
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)  # once, instead of once per action call
    return cls(schema)


def _validate_action_result(self, result: Dict[str, Any]) -> bool:
    from jsonschema import ValidationError
    from jsonschema.exceptions import best_match

    from rasa.shared.constants import DOCS_BASE_URL

    error = best_match(_action_result_validator().iter_errors(result))
    if error is None:
        return True
    if isinstance(error, ValidationError):
        error.message += (". Failed to validate Action server response from API, make sure your response from the "
                          f"Action endpoint is valid. For more information about the format visit "
                          f"{DOCS_BASE_URL}/custom-actions")
    raise error


def _sqlite_tracker_pragmas(dbapi_connection, _record) -> None:
    import sqlite3

    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def install() -> None:
    from rasa.core.actions.action import RemoteAction
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    RemoteAction._validate_action_result = _validate_action_result
    # Every engine of this process: in the Rasa server that is the tracker store's.
    if not event.contains(Engine, "connect", _sqlite_tracker_pragmas):
        event.listen(Engine, "connect", _sqlite_tracker_pragmas)
