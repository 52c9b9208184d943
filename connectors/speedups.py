"""Measured hot spots of Rasa 3.6 in our deployment, removed without changing behaviour.

Profile (py-spy on the Rasa server, 10 concurrent REST conversations with forms, bench/results):
half of the server's CPU went into `RemoteAction._validate_action_result`, because
`jsonschema.validate(result, schema)` first checks the *schema* against the JSON-Schema meta-schema
on every call. The schema is a constant: it is checked once here and the compiled validator reused,
so each action server response is still validated exactly as before.

Even compiled, that validation was a tenth of the server's time at 100 messages/s: each event of a
response is tried against all 23 event schemas (`oneOf`). Every one of them fixes `event` to a
different constant, so exactly the schema named by the event's own `event` can match; checking
that one alone gives the same verdict (tests/test_speedups.py compares the two on generated
responses). A response found invalid is validated again the full way for Rasa's exact error.

The embedded SQLite tracker store committed with SQLite's defaults (rollback journal, fsync on every
commit) from inside the event loop: 17% of the server's time, and every conversation waiting on the
disk. It now uses write-ahead logging with synchronous=NORMAL, like our ticket database: a crash of
the process loses nothing; a power cut may lose the last commits (production uses PostgreSQL).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict


class ResponseValidator:
    """`is_valid(result)` as `full.is_valid(result)` for Rasa's action response schema, with each event
    checked against the one event schema its `event` names instead of all of them."""

    def __init__(self, schema: Dict[str, Any]) -> None:
        from jsonschema.validators import validator_for

        cls = validator_for(schema)
        cls.check_schema(schema)  # once, instead of once per action call
        self.full = cls(schema)
        self.outer, self.by_event = None, {}
        items = schema.get("properties", {}).get("events", {}).get("items", {})
        branches = items.get("oneOf", [])
        kinds = [branch.get("properties", {}).get("event", {}).get("const") for branch in branches]
        dispatchable = (branches and all(isinstance(k, str) for k in kinds) and len(set(kinds)) == len(kinds)
                        and all(set(branch) <= {"properties", "required"} for branch in branches))
        if not dispatchable:  # a future Rasa schema of another shape: the full validation only
            return
        events = {key: value for key, value in schema["properties"]["events"].items() if key != "items"}
        self.outer = cls(dict(schema, properties=dict(schema["properties"], events=events)))
        common = {key: value for key, value in items.items() if key != "oneOf"}
        self.by_event = {kind: cls({"allOf": [common, branch]}) for kind, branch in zip(kinds, branches)}

    def is_valid(self, result: Any) -> bool:
        if self.outer is None:
            return self.full.is_valid(result)
        if not self.outer.is_valid(result):
            return False
        for event in result.get("events", []) if isinstance(result, dict) else []:
            kind = event.get("event") if isinstance(event, dict) else None
            validator = self.by_event.get(kind) if isinstance(kind, str) else None
            if validator is None or not validator.is_valid(event):
                return False
        return True


@lru_cache(maxsize=1)
def _action_result_validator() -> ResponseValidator:
    from rasa.core.actions.action import RemoteAction

    return ResponseValidator(RemoteAction.action_response_format_spec())


def _validate_action_result(self, result: Dict[str, Any]) -> bool:
    from jsonschema import ValidationError
    from jsonschema.exceptions import best_match

    from rasa.shared.constants import DOCS_BASE_URL

    validator = _action_result_validator()
    if validator.is_valid(result):
        return True
    error = best_match(validator.full.iter_errors(result))
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
