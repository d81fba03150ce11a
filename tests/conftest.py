"""Shared fixtures: no network, a private cache, the shared seed data when it is there."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from summarizer.settings import get_settings

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SHARED_DATA = ROOT.parent / "shared" / "data"
SEEDS = SHARED_DATA / "seeds"


@pytest.fixture(autouse=True)
def isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Each test gets its own cache file, no real endpoint and no network."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "SUMMARIZER_BACKEND", "SUMMARIZER_MODEL",
                 "DATABASE_URL", "SUMMARIZER_API_KEYS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SUMMARIZER_ALLOW_NETWORK", "0")
    monkeypatch.setenv("SUMMARIZER_CACHE_PATH", str(tmp_path / "cache.sqlite3"))
    monkeypatch.setenv("SUMMARIZER_DB_PATH", str(tmp_path / "service.sqlite3"))
    monkeypatch.chdir(tmp_path)  # no stray .env file is read
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def seeds() -> Path:
    if not SEEDS.is_dir():
        pytest.skip(f"shared seed articles not found at {SEEDS}")
    return SEEDS


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch):
    """Any attempt to open a connection beyond loopback fails the test."""
    import socket

    real_connect = socket.socket.connect

    def guarded(sock: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else address
        if sock.family == socket.AF_UNIX or host in ("127.0.0.1", "::1", "localhost"):
            return real_connect(sock, address)
        raise AssertionError(f"network access attempted: {address!r}")

    monkeypatch.setattr(socket.socket, "connect", guarded)
    monkeypatch.setattr(socket, "getaddrinfo", _refuse_lookup(socket.getaddrinfo))


def _refuse_lookup(real):
    def lookup(host, *args, **kwargs):
        if host in (None, "127.0.0.1", "::1", "localhost"):
            return real(host, *args, **kwargs)
        raise AssertionError(f"DNS lookup attempted: {host!r}")

    return lookup


@pytest.fixture
def anyio_backend() -> str:
    """Async tests (`pytest.mark.anyio`) run on asyncio, as the service does."""
    return "asyncio"


@pytest.fixture
def stub():
    """The OpenAI-compatible stub server of test_openai_backend, serving on loopback."""
    import threading

    from test_openai_backend import Stub

    server = Stub()
    thread = threading.Thread(target=server.server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.stopping.set()
    server.server.shutdown()
    server.server.server_close()
    thread.join(timeout=5)


# What schema versions 4 to 6 added, undone: a database as version 3 left it, for the tests
# that upgrade one.
BACK_TO_VERSION_3 = (
    *(f"DROP TABLE {table}" for table in ("article_digests", "article_sketches", "article_bands",
                                          "body_paragraphs", "paragraph_sketches",
                                          "paragraph_bands", "schedules")),
    *(f"DROP TABLE {table}" for table in ("digest_renderings", "feeds", "feed_entries",
                                          "scheduled_digests", "deliveries")),
    *(f"ALTER TABLE jobs DROP COLUMN {column}" for column in ("lease_until", "worker")),
    "DELETE FROM schema_version WHERE version >= 4",
)


# PostgreSQL, where one answers: the `engine` fixture runs a test on SQLite and on it.
POSTGRES_URL = os.environ.get("SUMMARIZER_TEST_DATABASE_URL",
                              "postgresql://root@127.0.0.1:5432/test")


def _postgres_reachable() -> bool:
    try:
        import psycopg

        psycopg.connect(POSTGRES_URL, connect_timeout=2).close()
        return True
    except Exception:  # noqa: BLE001 - any failure means: no server to test against
        return False


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "postgresql" and not _postgres_reachable():
        pytest.skip(f"no PostgreSQL server reachable at {POSTGRES_URL}")
    yield request.param


@pytest.fixture
def postgres_schemas() -> Iterator[Callable[[], str]]:
    """A fresh PostgreSQL schema per call, as a DATABASE_URL; all dropped afterwards."""
    import psycopg

    schemas: list[str] = []

    def make() -> str:
        schema = f"test_api_{os.getpid()}_{len(schemas)}_{int(time.time() * 1000)}"
        schemas.append(schema)
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        return f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"

    yield make
    if schemas:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            for schema in schemas:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
