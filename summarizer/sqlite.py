"""One SQLite file shared by a process's threads: the LLM call cache's file and the service's
default database. Statements use `?` placeholders; a failing database raises StoreUnavailable."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import StoreUnavailable

# How long a statement waits for another connection's write (the busy timeout), in seconds.
LOCK_WAIT = 30.0


def one_line(error: BaseException) -> str:
    """An exception's message on one line (libpq's span several)."""
    return " ".join(str(error).split()) or type(error).__name__


class SqliteSession:
    """The connection, lent to one thread for a few statements."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self._db.execute(sql, params)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        # IMMEDIATE takes the write lock up front, so two processes cannot both read then write.
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")


class SqliteEngine:
    """One connection to a SQLite file, shared by threads one at a time.

    Opening (and the `setup` statements run then) raises OSError or sqlite3.Error as they come:
    the caller knows which setting named the file and says so. Once open, a statement the
    database fails raises StoreUnavailable.
    """

    dialect = "sqlite"
    unique_violation: tuple[type[Exception], ...] = (sqlite3.IntegrityError,)

    def __init__(self, path: str | Path, *, setup: Sequence[str] = ()) -> None:
        self.path = path if str(path) == ":memory:" else Path(path).expanduser()
        self._lock = threading.Lock()
        if isinstance(self.path, Path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
        # autocommit (isolation_level=None); the timeout waits out another process's write
        self._db = sqlite3.connect(self.path, timeout=LOCK_WAIT, isolation_level=None,
                                   check_same_thread=False)
        try:
            _set_wal(self._db, LOCK_WAIT)
            self._db.execute("PRAGMA synchronous=NORMAL")
            for statement in setup:
                self._db.execute(statement)
        except BaseException:
            self._db.close()
            raise

    @contextmanager
    def session(self) -> Iterator[SqliteSession]:
        with self._lock:
            try:
                yield SqliteSession(self._db)
            except sqlite3.OperationalError as e:
                raise StoreUnavailable(
                    f"the SQLite database at {self.path} failed: {one_line(e)}") from e

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _set_wal(db: sqlite3.Connection, wait: float) -> None:
    """WAL mode, waiting up to `wait` seconds for other connections, as any statement would.

    On a new file the switch reads the header and then writes it. When two connections read it
    at once, SQLite answers the second writer "database is locked" at once rather than let both
    wait on each other; once the first has written, asking again finds WAL and writes nothing.
    """
    deadline = time.monotonic() + wait
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() >= deadline:
                raise
            time.sleep(0.02)
