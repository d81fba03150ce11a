"""A persistent cache of model calls in SQLite: identical requests are answered without a call."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path
from typing import Protocol

from .base import Completion, CompletionRequest

SCHEMA = """
CREATE TABLE IF NOT EXISTS llm_cache (
    key TEXT PRIMARY KEY,
    backend TEXT NOT NULL,
    model TEXT NOT NULL,
    prompt_id TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    completion TEXT NOT NULL,
    created REAL NOT NULL
)
"""


# One spelling of a cache read and write, for this file and for the service's database.
GET_SQL = "SELECT completion FROM llm_cache WHERE key = ?"
PUT_SQL = (
    "INSERT INTO llm_cache (key, backend, model, prompt_id, prompt_version, completion, created) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET backend = excluded.backend, "
    "model = excluded.model, prompt_id = excluded.prompt_id, "
    "prompt_version = excluded.prompt_version, completion = excluded.completion, "
    "created = excluded.created"
)


def cache_row(key: str, backend: str, request: CompletionRequest,
              completion: Completion) -> tuple[object, ...]:
    """The values PUT_SQL stores for one completion."""
    return (key, backend, completion.model, request.prompt_id, request.prompt_version,
            completion.model_dump_json(), time.time())


def cache_key(backend: str, model: str, request: CompletionRequest) -> str:
    """Everything that changes the answer: backend, model, messages, limits, temperature."""
    payload = json.dumps(
        {"backend": backend, "model": model, "request": request.model_dump(mode="json")},
        sort_keys=True, ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class CacheLike(Protocol):
    """What the pipeline's Caller needs from a cache: `Cache` here or `Store.cache`."""

    def get(self, key: str) -> Completion | None: ...

    def put(self, key: str, backend: str, request: CompletionRequest,
            completion: Completion) -> None: ...


class Cache:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(SCHEMA)

    def get(self, key: str) -> Completion | None:
        row = self._db.execute(GET_SQL, (key,)).fetchone()
        return Completion.model_validate_json(row[0]) if row else None

    def put(self, key: str, backend: str, request: CompletionRequest,
            completion: Completion) -> None:
        self._db.execute(PUT_SQL, cache_row(key, backend, request, completion))

    def close(self) -> None:
        self._db.close()
