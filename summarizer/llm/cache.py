"""A persistent cache of model calls: identical requests are answered without a call.

One table and one class over any engine: the CLI's own SQLite file, or the service's database
(SQLite or PostgreSQL), where the store's migrations create the table from SCHEMA.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from ..sqlite import SqliteEngine
from .base import Completion, CompletionRequest

# Common SQL: SQLite gives DOUBLE PRECISION columns REAL affinity.
SCHEMA = """CREATE TABLE IF NOT EXISTS llm_cache (
            key TEXT PRIMARY KEY,
            backend TEXT NOT NULL,
            model TEXT NOT NULL,
            prompt_id TEXT NOT NULL,
            prompt_version TEXT NOT NULL,
            completion TEXT NOT NULL,
            created DOUBLE PRECISION NOT NULL
        )"""
GET_SQL = "SELECT completion FROM llm_cache WHERE key = ?"
PUT_SQL = (
    "INSERT INTO llm_cache (key, backend, model, prompt_id, prompt_version, completion, created) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET backend = excluded.backend, "
    "model = excluded.model, prompt_id = excluded.prompt_id, "
    "prompt_version = excluded.prompt_version, completion = excluded.completion, "
    "created = excluded.created"
)


class Session(Protocol):
    """One connection lent for a few statements, with `?` placeholders."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any: ...


class Engine(Protocol):
    """A database the cache can live in (summarizer.sqlite's, or the service's engines)."""

    def session(self) -> AbstractContextManager[Session]: ...

    def close(self) -> None: ...


def cache_key(backend: str, model: str, request: CompletionRequest) -> str:
    """Everything that changes the answer: backend, model, messages, limits, temperature."""
    payload = json.dumps(
        {"backend": backend, "model": model, "request": request.model_dump(mode="json")},
        sort_keys=True, ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class Cache:
    """Completions by request key, in a SQLite file of their own or in an engine given.

    Given a path, the cache opens the file (raising OSError or sqlite3.Error if it cannot),
    creates its table, and closes the file on `close()`. Given an engine, the table is the
    engine owner's to create, and the engine stays open.
    """

    def __init__(self, where: Path | str | Engine) -> None:
        if isinstance(where, Path | str):
            self._engine: Engine = SqliteEngine(where, setup=(SCHEMA,))
            self._owned = True
        else:
            self._engine = where
            self._owned = False

    def get(self, key: str) -> Completion | None:
        """The completion cached under this key, if any."""
        with self._engine.session() as db:
            row = db.execute(GET_SQL, (key,)).fetchone()
        return Completion.model_validate_json(row[0]) if row else None

    def put(self, key: str, backend: str, request: CompletionRequest,
            completion: Completion) -> None:
        """Cache a completion under its request's key (replacing an older one)."""
        row = (key, backend, completion.model, request.prompt_id, request.prompt_version,
               completion.model_dump_json(), time.time())
        with self._engine.session() as db:
            db.execute(PUT_SQL, row)

    def close(self) -> None:
        """Close the file this cache opened; an engine given stays open."""
        if self._owned:
            self._engine.close()
