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

Later profiles (each explained where it is done): one kept HTTP session to the action server instead
of a new one per call, trackers sent with ujson, Event classes and the parts of the model graph that
a run needs remembered instead of searched for on every message, and a tracker's applied events and
policy states carried on from the last message (connectors/tracker_history.py).
"""
from __future__ import annotations

import asyncio
from functools import lru_cache
from typing import Any, Dict

import ujson  # Sanic's JSON library

from connectors import tracker_history


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


# Idle connections to the action server are closed by us after this long, before Sanic closes them
# (its keep-alive timeout is 5 s): a request sent on a connection the server is just closing would
# fail, and a failed action call costs the resident an apology.
IDLE_CONNECTION_SECONDS = 2.0


class _KeptSession:
    """`async with endpoint.session()` for Rasa's EndpointConfig.request, on one client session per
    endpoint and event loop that stays open: Rasa opened a new aiohttp session, and so a new TCP
    connection, for every call to the action server (8% of the server's time at 100 messages/s)."""

    def __init__(self, endpoint) -> None:
        self.endpoint = endpoint

    async def __aenter__(self):
        import aiohttp
        from rasa.utils.endpoints import DEFAULT_REQUEST_TIMEOUT

        loop = asyncio.get_running_loop()
        kept = self.endpoint.__dict__.get("_kept_session")
        if kept is None or kept[0] is not loop or kept[1].closed:
            auth = self.endpoint.basic_auth
            session = aiohttp.ClientSession(
                headers=self.endpoint.headers,
                auth=aiohttp.BasicAuth(auth["username"], auth["password"]) if auth else None,
                timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
                json_serialize=_json_dumps,  # the whole tracker goes out with every call
                connector=aiohttp.TCPConnector(keepalive_timeout=IDLE_CONNECTION_SECONDS))
            self.endpoint.__dict__["_kept_session"] = kept = (loop, session)
        return kept[1]

    async def __aexit__(self, *exc) -> None:
        return None  # stays open for the next call


def _json_dumps(value: Any) -> str:
    """3× json.dumps on a tracker, the same JSON (ASCII-escaped)."""
    return ujson.dumps(value, ensure_ascii=True, escape_forward_slashes=False)


def _remembering_event_types() -> None:
    """Rasa looks up an event's class by walking every subclass of Event (recursively, with an
    `inspect.isabstract` per class) for each event it reads: 5% of the server's time. The classes found
    are remembered; a name not found yet still takes Rasa's own path (and its error)."""
    from rasa.shared.core.events import Event

    lookup = Event.resolve_by_type
    if getattr(lookup, "remembers", False):
        return
    found: Dict[str, Any] = {}

    def resolve_by_type(type_name, default=None):
        cls = found.get(type_name)
        if cls is None:
            cls = lookup(type_name, default)
            if cls is not None and cls is not default:
                found[type_name] = cls
        return cls

    resolve_by_type.remembers = True
    Event.resolve_by_type = staticmethod(resolve_by_type)


def _remembering_graph_schemas() -> None:
    """Every NLU parse and every action prediction runs a part of the model's graph; Rasa works out
    which nodes that part needs by walking the dependencies again each time, without memory (6% of the
    server's time). A loaded model's graph never changes, so the answer per set of targets is kept."""
    from rasa.engine.graph import GraphSchema

    minimal = GraphSchema.minimal_graph_schema
    if getattr(minimal, "remembers", False):
        return

    def minimal_graph_schema(self, targets=None):
        key = tuple(targets) if targets else None
        kept = self.__dict__.setdefault("_minimal_schemas", {})
        if key not in kept:
            kept[key] = minimal(self, targets)
        return kept[key]

    minimal_graph_schema.remembers = True
    GraphSchema.minimal_graph_schema = minimal_graph_schema


def _sqlite_tracker_pragmas(dbapi_connection, _record) -> None:
    import sqlite3

    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def install() -> None:
    from rasa.core.actions.action import RemoteAction
    from rasa.utils.endpoints import EndpointConfig
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    RemoteAction._validate_action_result = _validate_action_result
    EndpointConfig.session = lambda self: _KeptSession(self)
    _remembering_event_types()
    _remembering_graph_schemas()
    tracker_history.install()
    # Every engine of this process: in the Rasa server that is the tracker store's.
    if not event.contains(Engine, "connect", _sqlite_tracker_pragmas):
        event.listen(Engine, "connect", _sqlite_tracker_pragmas)
