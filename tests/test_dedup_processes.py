"""Two `summarizer serve --no-worker` API processes on one PostgreSQL: an article and a near
copy posted to each at once are stored once, with both outlets (dedup is decided in the
database, not in either process)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import psycopg
import pytest
from service_process import Server, process_env
from test_service import _edited_words, _examples
from test_store import PG_URL, postgres_unreachable

from summarizer.server.store import open_store

DAY = "2026-03-14"


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[Server]]:
    """Two API processes without workers on one fresh PostgreSQL schema."""
    if reason := postgres_unreachable():
        pytest.skip(reason)
    schema = f"test_processes_{uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True) as db:
        db.execute(f"CREATE SCHEMA {schema}")
    env = process_env(tmp_path, DATABASE_URL=f"{PG_URL}?options=-csearch_path%3D{schema}")
    started = [Server(env, tmp_path, ("serve", "--no-worker")) for _ in range(2)]
    try:
        for server in started:
            server.start()
        yield started
    finally:
        for server in started:
            server.stop()
        with psycopg.connect(PG_URL, autocommit=True) as db:
            db.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def _post_at_once(servers: list[Server], articles: list[dict]) -> list[dict]:
    """Post one article to each server from its own thread, released together."""
    barrier = threading.Barrier(len(servers))
    answers: list[dict] = [{}] * len(servers)

    def post(i: int) -> None:
        with servers[i].client() as client:
            barrier.wait(timeout=10)
            answer = client.post("/v1/articles", json={"articles": [articles[i]]})
            assert answer.status_code == 200, answer.text
            answers[i] = answer.json()["articles"][0]

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(servers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return answers


def test_an_article_and_a_near_copy_posted_to_two_processes_at_once_are_stored_once(
        servers: list[Server]) -> None:
    ledger = {**_examples()[2], "source": "Velle Valley Ledger"}
    courier = {**_examples()[0], "source": "Brackwater Courier"}
    near = {**courier, "text": _edited_words(courier["text"], 50), "source": "Corvane Wire"}
    kept = []
    for pair in ([ledger, {**ledger, "source": "Corvane Wire"}], [courier, near]):
        answers = _post_at_once(servers, pair)
        assert sorted(a["status"] for a in answers) == ["duplicate", "stored"], answers
        stored = next(a for a in answers if a["status"] == "stored")
        copy = next(a for a in answers if a["status"] == "duplicate")
        assert copy["duplicate_of"] == stored["id"]
        kept.append((stored["id"], {pair[0]["source"], pair[1]["source"]}))
    url = servers[0].env["DATABASE_URL"]
    store = open_store(url)
    try:
        assert store.count_articles() == 2
        for article_id, outlets in kept:
            article = store.get_article(article_id)
            assert article is not None and set(article.sources) == outlets
            assert len(article.sources) == 2
    finally:
        store.close()
