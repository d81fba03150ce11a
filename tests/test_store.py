"""The store on both engines: a real SQLite file, and PostgreSQL on loopback when one answers."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit
from uuid import uuid4

import psycopg
import pytest
from conftest import BACK_TO_VERSION_3
from test_dedup import _article, _edited, _outlet_copy, _story, _two_paragraphs, _wire_copy

from summarizer import sqlite
from summarizer.dedup import ArticleIndex
from summarizer.errors import ConfigError, InputError, StoreUnavailable
from summarizer.llm.base import Completion, CompletionRequest, Message
from summarizer.llm.cache import Cache
from summarizer.llm.caller import Caller
from summarizer.llm.scripted import ScriptedBackend
from summarizer.models import Article, Duplicate, Removal
from summarizer.server.store import (
    LATEST_VERSION,
    Rendering,
    Store,
    database_target,
    mask_password,
    open_store,
)
from summarizer.settings import get_settings

PG_URL = os.environ.get("SUMMARIZER_TEST_DATABASE_URL", "postgresql://root@127.0.0.1:5432/test")


@lru_cache
def postgres_unreachable() -> str | None:
    """Why the test PostgreSQL cannot be used, or None when it answers (asked once per run)."""
    try:
        psycopg.connect(PG_URL, connect_timeout=2, autocommit=True).close()
    except psycopg.Error as e:
        return (f"PostgreSQL at {mask_password(PG_URL)} not reachable in 2 s "
                f"(set SUMMARIZER_TEST_DATABASE_URL): {' '.join(str(e).split())}")
    return None


class Target:
    """Where one test's database lives; `open()` gives a fresh Store on it, `sql()` raw access."""

    def __init__(self, engine: str, tmp_path: Path) -> None:
        self.engine = engine
        self.path = tmp_path / "data" / "store.sqlite3"
        self.schema = f"test_store_{uuid4().hex[:12]}"
        self.opened: list[Store] = []

    def open(self) -> Store:
        if self.engine == "sqlite":
            store = open_store(self.path)
        else:
            store = open_store(PG_URL, schema=self.schema)
        self.opened.append(store)
        return store

    def sql(self, statement: str) -> None:
        """Run one statement behind the store's back (to fake what another version did)."""
        if self.engine == "sqlite":
            with sqlite3.connect(self.path) as db:
                db.execute(statement)
        else:
            with psycopg.connect(PG_URL, autocommit=True,
                                 options=f"-c search_path={self.schema}") as db:
                db.execute(statement)

    def rows(self, query: str) -> list[object]:
        """The first column of a query's rows, read behind the store's back."""
        if self.engine == "sqlite":
            with sqlite3.connect(self.path) as db:
                return [row[0] for row in db.execute(query)]
        with psycopg.connect(PG_URL, autocommit=True,
                             options=f"-c search_path={self.schema}") as db:
            return [row[0] for row in db.execute(query)]

    def clean_up(self) -> None:
        for store in self.opened:
            store.close()
        if self.engine == "postgresql":
            with psycopg.connect(PG_URL, autocommit=True) as db:
                db.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    if request.param == "postgresql" and (reason := postgres_unreachable()):
        pytest.skip(reason)
    target = Target(request.param, tmp_path)
    yield target
    target.clean_up()


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[Target]:
    if reason := postgres_unreachable():
        pytest.skip(reason)
    target = Target("postgresql", tmp_path)
    yield target
    target.clean_up()


@pytest.fixture
def store(target: Target) -> Store:
    return target.open()


def article(n: int, **fields: object) -> Article:
    values: dict[str, object] = {"id": f"art{n}", "origin": f"feed.jsonl:{n}",
                                 "text": f"Article {n} text."}
    values.update(fields)
    return Article.model_validate(values)


def in_threads(count: int, work: Callable[[int], object]) -> list[object]:
    """Run `work(i)` in `count` threads released at the same instant; their results in order."""
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except BaseException as e:  # surfaced below, in the test's own thread
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    if errors:
        raise errors[0]
    return results


# schema


def test_migrations_create_the_schema_and_reopening_changes_nothing(target: Target) -> None:
    store = target.open()
    assert store.schema_version() == LATEST_VERSION
    assert store.put_article(article(1), "2026-05-01")
    store.close()

    again = target.open()  # the migrations' plain CREATE TABLEs would fail if run twice
    assert again.schema_version() == LATEST_VERSION
    assert again.migrate() == LATEST_VERSION
    assert again.count_articles() == 1


def test_two_stores_opening_at_once_migrate_once(target: Target) -> None:
    stores = in_threads(4, lambda _: target.open())
    assert {s.schema_version() for s in stores} == {LATEST_VERSION}


def test_a_new_sqlite_file_opens_while_another_connection_writes_to_it(tmp_path: Path) -> None:
    # Switching a new file to WAL reads its header, then writes it; SQLite refuses that write at
    # once ("database is locked", no busy wait) while another connection holds the write lock,
    # as when several stores create one file together. Opening waits instead.
    path = tmp_path / "store.sqlite3"
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.3, writer.execute, ("COMMIT",))
    release.start()
    try:
        store = open_store(path)
    finally:
        release.join()
        writer.close()
    try:
        assert store.schema_version() == LATEST_VERSION
    finally:
        store.close()


def test_a_schema_newer_than_the_code_is_refused(target: Target) -> None:
    target.open().close()
    target.sql(f"INSERT INTO schema_version (version, applied) VALUES ({LATEST_VERSION + 1}, 'x')")
    with pytest.raises(ConfigError, match="upgrade summarizer"):
        target.open()


def test_dialect_names_the_engine(store: Store, target: Target) -> None:
    assert store.dialect == target.engine
    assert store.ping()


# articles


def test_an_article_round_trips_every_field(store: Store) -> None:
    full = Article(
        id="a" * 64, origin="feeds/monday.jsonl:7", text="Ünïcödé text — with “quotes”.\nLine 2.",
        title="A title", source="AP", url="https://example.org/a", published="2026-05-01T09:30:00Z",
        sources=("AP", "Reuters"),
        removed=(Removal(text="Advertisement", reason="advert"),
                 Removal(text="Copyright AP", reason="footer")),
    )
    assert store.put_article(full, "2026-05-01")
    assert store.get_article(full.id) == full
    assert store.get_article("missing") is None


def test_an_article_stored_twice_is_kept_once_unchanged(store: Store) -> None:
    assert store.put_article(article(1), "2026-05-01") is True
    assert store.put_article(article(1, text="Different text."), "2026-05-02") is False
    assert store.get_article("art1") == article(1)
    assert store.count_articles() == 1
    assert store.articles_on("2026-05-02") == []


def test_articles_are_listed_by_day_in_stored_order(store: Store) -> None:
    for n, day in [(3, "2026-05-01"), (1, "2026-05-02"), (2, "2026-05-01"), (4, "2026-05-03")]:
        store.put_article(article(n), day)

    assert [a.id for a in store.articles_on("2026-05-01")] == ["art3", "art2"]
    assert store.articles_on("2026-04-30") == []
    assert [(a.id, day) for a, day in store.recent_articles("2026-05-02")] == [
        ("art1", "2026-05-02"), ("art4", "2026-05-03"),
    ]
    assert store.count_articles() == 4


def test_a_day_that_is_not_a_date_is_an_input_error(store: Store) -> None:
    with pytest.raises(InputError, match="YYYY-MM-DD"):
        store.put_article(article(1), "yesterday")
    with pytest.raises(InputError):
        store.articles_on("2026-13-01")


def test_a_wire_copy_seen_again_adds_its_outlet_once(store: Store) -> None:
    store.put_article(article(1, source="AP", sources=("AP",)), "2026-05-01")
    store.add_source("art1", "Reuters")
    store.add_source("art1", "Reuters")
    store.add_source("art1", "AP")
    assert store.get_article("art1").sources == ("AP", "Reuters")
    with pytest.raises(InputError, match="missing"):
        store.add_source("missing", "AFP")


def test_outlets_added_at_once_are_all_kept(target: Target) -> None:
    first, second = target.open(), target.open()
    first.put_article(article(1, sources=("AP",)), "2026-05-01")
    in_threads(8, lambda i: (first if i % 2 else second).add_source("art1", f"outlet{i}"))
    kept = first.get_article("art1").sources
    assert sorted(kept) == sorted(["AP", *(f"outlet{i}" for i in range(8))])


def test_duplicates_are_recorded_by_day(store: Store) -> None:
    paragraph = Duplicate(kind="paragraph", article_id="art2", text="Same words.",
                          duplicate_of="1.3")
    copy = Duplicate(kind="article", article_id="art3", text="Whole copy.", duplicate_of="art1")
    store.put_duplicate(paragraph, "2026-05-01")
    store.put_duplicate(copy, "2026-05-01")
    store.put_duplicate(copy, "2026-05-02")
    assert store.duplicates_on("2026-05-01") == [paragraph, copy]
    assert store.duplicates_on("2026-05-02") == [copy]
    assert store.duplicates_on("2026-05-03") == []


# jobs


def test_one_active_job_per_key(store: Store) -> None:
    job, created = store.start_job("digest", "2026-05-01")
    assert created and job.status == "queued" and job.progress == 0.0 and job.error is None
    assert len(job.id) == 32 and job.created == job.updated and job.created.endswith("+00:00")

    same, created_again = store.start_job("digest", "2026-05-01")
    assert (same, created_again) == (job, False)
    other, created_other = store.start_job("digest", "2026-05-02")
    assert created_other and other.id != job.id
    summary, created_summary = store.start_job("summary", "2026-05-01")
    assert created_summary and summary.id != job.id  # same key, other kind

    assert store.claim_next_job("w1", 60).id == job.id
    assert store.start_job("digest", "2026-05-01") == (store.get_job(job.id), False)  # running
    store.update_job(job.id, status="done")
    again, created_after_done = store.start_job("digest", "2026-05-01")
    assert created_after_done and again.id != job.id

    store.update_job(again.id, status="failed", error="model unreachable")
    assert store.start_job("digest", "2026-05-01")[1] is True  # a failed job can be retried


def test_jobs_are_claimed_oldest_first_each_by_one_worker(store: Store) -> None:
    first, _ = store.start_job("digest", "2026-05-01")
    second, _ = store.start_job("summary", "batch-1")
    claimed = store.claim_next_job("w1", 60)
    assert claimed is not None and claimed.id == first.id and claimed.status == "running"
    assert claimed.updated >= first.updated
    assert store.claim_next_job("w2", 60).id == second.id
    assert store.claim_next_job("w3", 60) is None  # both are leased


def test_a_lease_is_renewed_by_its_holder_only(store: Store) -> None:
    job, _ = store.start_job("digest", "2026-05-01")
    store.claim_next_job("w1", 60)
    assert store.renew_lease(job.id, "w1", 60) is True
    assert store.renew_lease(job.id, "w2", 60) is False
    store.update_job(job.id, status="done")
    assert store.renew_lease(job.id, "w1", 60) is False  # finished: nothing to hold


def test_a_job_whose_lease_ran_out_goes_to_another_worker(store: Store) -> None:
    job, _ = store.start_job("digest", "2026-05-01")
    store.claim_next_job("dead", 1)
    assert store.claim_next_job("w2", 60) is None  # still leased
    time.sleep(1.05)
    taken = store.claim_next_job("w2", 60)
    assert taken is not None and taken.id == job.id and taken.status == "running"
    assert store.renew_lease(job.id, "dead", 60) is False  # the first worker lost it
    assert store.renew_lease(job.id, "w2", 60) is True


def test_jobs_record_progress_status_and_error(store: Store) -> None:
    job, _ = store.start_job("digest", "2026-05-01")
    store.update_job(job.id, progress=0.25)
    assert store.get_job(job.id).progress == 0.25
    store.update_job(job.id, progress=0.5, status="running")
    store.update_job(job.id, status="failed", error="backend failed after 5 attempts")
    failed = store.get_job(job.id)
    assert failed is not None
    assert (failed.status, failed.progress, failed.error) == (
        "failed", 0.5, "backend failed after 5 attempts")
    assert failed.updated > job.updated
    assert store.get_job("no-such-job") is None

    done, _ = store.start_job("digest", "2026-05-02")
    store.update_job(done.id, status="done")
    assert store.get_job(done.id).progress == 1.0
    with pytest.raises(ValueError, match="unknown job status"):
        store.update_job(done.id, status="finished")


def test_a_running_job_from_before_leases_is_taken_up(target: Target) -> None:
    store = target.open()
    job, _ = store.start_job("digest", "2026-05-01")
    store.update_job(job.id, status="running")  # as an older version left it: no lease
    store.close()
    restarted = target.open()
    assert [(j.id, j.status) for j in restarted.unfinished_jobs()] == [(job.id, "running")]
    taken = restarted.claim_next_job("w1", 60)
    assert taken is not None and taken.id == job.id


def test_unfinished_jobs_of_every_kind_are_claimed_oldest_first(store: Store) -> None:
    old, _ = store.start_job("digest", "2026-05-01")
    summary, _ = store.start_job("summary", "batch-1")
    new, _ = store.start_job("digest", "2026-05-02")
    assert [job.id for job in store.unfinished_jobs()] == [old.id, summary.id, new.id]
    assert [store.claim_next_job("w", 60).id for _ in range(3)] == [old.id, summary.id, new.id]
    assert [job.status for job in store.unfinished_jobs()] == ["running"] * 3
    store.update_job(summary.id, status="done")
    assert [job.id for job in store.unfinished_jobs()] == [old.id, new.id]


def test_threads_starting_one_key_at_once_get_one_job(store: Store) -> None:
    results = in_threads(16, lambda _: store.start_job("digest", "2026-05-01"))
    jobs = {job.id for job, _ in results}
    assert len(jobs) == 1
    assert sum(created for _, created in results) == 1


def test_two_stores_starting_one_key_at_once_get_one_job(target: Target) -> None:
    # Two stores stand for two API processes: only the database can keep them apart.
    stores = [target.open(), target.open()]
    results = in_threads(16, lambda i: stores[i % 2].start_job("digest", "2026-05-01"))
    assert len({job.id for job, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert len(stores[0].unfinished_jobs()) == 1


def test_two_stores_claiming_at_once_get_each_job_once(target: Target) -> None:
    # Two stores stand for two workers: the database alone decides who runs what.
    stores = [target.open(), target.open()]
    jobs = [stores[0].start_job("digest", f"2026-05-{d:02d}")[0].id for d in range(1, 9)]
    results = in_threads(16, lambda i: stores[i % 2].claim_next_job(f"w{i}", 60))
    claimed = [job.id for job in results if job is not None]
    assert sorted(claimed) == sorted(jobs)  # every job once, none twice


# digests


def test_the_latest_digest_of_a_day_is_served(store: Store) -> None:
    assert store.latest_digest("2026-05-01") is None
    store.put_digest("2026-05-01", "job1", {"stories": [], "note": "first"})
    store.put_digest("2026-05-01", "job2", {"stories": [{"id": "s1", "title": "Ünïcödé"}]})
    assert store.latest_digest("2026-05-01") == {"stories": [{"id": "s1", "title": "Ünïcödé"}]}


def test_digests_before_a_day_are_the_latest_of_each_earlier_day(store: Store) -> None:
    for day, job in [("2026-04-20", "j0"), ("2026-04-28", "j1"), ("2026-04-30", "j2"),
                     ("2026-04-30", "j3"), ("2026-05-01", "j4"), ("2026-05-02", "j5")]:
        store.put_digest(day, job, {"job": job})
    assert store.digests_before("2026-05-01", 3) == [
        ("2026-04-30", {"job": "j3"}), ("2026-04-28", {"job": "j1"}),
    ]
    assert store.digests_before("2026-05-01", 0) == []
    assert [day for day, _ in store.digests_before("2026-05-03", 30)] == [
        "2026-05-02", "2026-05-01", "2026-04-30", "2026-04-28", "2026-04-20",
    ]



def rendering(media: str, body: str, renderer: str = "1") -> Rendering:
    return Rendering(digest=0, media=media, etag=f'"{media}:{body}"', body=body,
                     renderer=renderer)


def test_a_digest_is_stored_with_its_renderings_and_read_without_parsing(store: Store) -> None:
    assert store.latest_rendering("2026-05-01", "text/html") is None
    seq = store.put_digest("2026-05-01", "job1", {"stories": []},
                           [rendering("text/html", "<p>Ünï</p>"),
                            rendering("text/markdown", "# M")])
    html = store.latest_rendering("2026-05-01", "text/html")
    tag_only = store.latest_rendering("2026-05-01", "text/markdown", body=False)
    assert html == (seq, Rendering(digest=seq, media="text/html", etag='"text/html:<p>Ünï</p>"',
                                   body="<p>Ünï</p>", renderer="1"))
    assert tag_only == (seq, Rendering(digest=seq, media="text/markdown",
                                       etag='"text/markdown:# M"', body=None, renderer="1"))
    assert store.latest_rendering("2026-05-01", "application/json") == (seq, None)  # not stored


def test_a_rendering_kept_later_replaces_the_one_stored(store: Store) -> None:
    seq = store.put_digest("2026-05-01", "job1", {"stories": []})
    assert store.latest_rendering("2026-05-01", "text/html") == (seq, None)
    store.put_rendering(replace(rendering("text/html", "old", "0.9"), digest=seq))
    store.put_rendering(replace(rendering("text/html", "new", "1.0"), digest=seq))
    found = store.latest_rendering("2026-05-01", "text/html")
    assert found is not None and found[1] is not None
    assert (found[1].body, found[1].renderer) == ("new", "1.0")
    assert store.digest_data(seq) == {"stories": []}
    assert store.digest_data(seq + 1000) is None


def test_a_newer_digest_of_a_day_is_served_and_the_older_renderings_go(target: Target) -> None:
    store = target.open()
    first = store.put_digest("2026-05-01", "job1", {"n": 1}, [rendering("text/html", "one")])
    other_day = store.put_digest("2026-05-02", "job2", {"n": 2}, [rendering("text/html", "two")])
    second = store.put_digest("2026-05-01", "job3", {"n": 3}, [rendering("text/html", "three")])
    assert first < other_day < second
    found = store.latest_rendering("2026-05-01", "text/html")
    assert found is not None and found[1] is not None
    assert (found[0], found[1].body) == (second, "three")
    kept = target.rows("SELECT digest_seq FROM digest_renderings ORDER BY digest_seq")
    assert kept == [other_day, second]


def test_digests_stored_before_the_renderings_table_are_kept_by_the_migration(
        target: Target) -> None:
    store = target.open()
    store.put_digest("2026-05-01", "job1", {"stories": [], "old": True})
    store.close()
    for statement in BACK_TO_VERSION_3:  # the schema as version 3 left it
        target.sql(statement)
    upgraded = target.open()
    assert upgraded.schema_version() == LATEST_VERSION
    found = upgraded.latest_rendering("2026-05-01", "application/json")
    assert found is not None and found[1] is None  # to be rendered on its first read
    assert upgraded.digest_data(found[0]) == {"stories": [], "old": True}
    assert upgraded.latest_digest("2026-05-01") == {"stories": [], "old": True}

# the LLM cache


def test_the_cache_round_trips_a_completion(store: Store, tmp_path: Path) -> None:
    request = CompletionRequest(messages=(Message(role="user", content="Summarise."),),
                                max_tokens=50, prompt_id="map", prompt_version="3")
    completion = Completion(text="A summary [1.1].", model="m", prompt_tokens=12,
                            completion_tokens=5)
    file_cache = Cache(tmp_path / "calls.sqlite3")  # the CLI's: a file of its own
    for cache in (store.cache, file_cache):
        assert cache.get("k") is None
        cache.put("k", "scripted", request, completion)
        assert cache.get("k") == completion
        newer = completion.model_copy(update={"text": "Another summary."})
        cache.put("k", "scripted", request, newer)
        assert cache.get("k") == newer
    file_cache.close()
    store.cache.close()  # the store's engine is the store's: it stays open
    assert store.cache.get("k") == newer


def test_a_cache_file_that_cannot_be_opened_raises_what_the_cli_reports(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises((OSError, sqlite3.Error)):
        Cache(blocker / "calls.sqlite3")


def test_the_pipeline_caller_answers_a_repeated_request_from_the_store(store: Store) -> None:
    request = CompletionRequest(messages=(Message(role="user", content="Say hi."),), max_tokens=8)

    def ask() -> tuple[Completion, int]:
        backend = ScriptedBackend(default="hi")
        caller = Caller(backend, cache=store.cache)
        return asyncio.run(caller.complete(request)), len(backend.requests)

    first, calls = ask()
    second, calls_again = ask()
    assert (calls, calls_again) == (1, 0)
    assert second == first


# persistence, errors, settings


def test_everything_survives_close_and_reopen(target: Target) -> None:
    store = target.open()
    store.put_article(article(1, sources=("AP",)), "2026-05-01")
    store.put_duplicate(Duplicate(kind="article", article_id="art2", text="t",
                                  duplicate_of="art1"), "2026-05-01")
    job, _ = store.start_job("digest", "2026-05-01")
    store.update_job(job.id, progress=0.5)
    store.put_digest("2026-05-01", job.id, {"stories": []})
    completion = Completion(text="x", model="m")
    store.cache.put("k", "scripted", CompletionRequest(messages=(), max_tokens=1), completion)
    store.close()

    reopened = target.open()
    assert reopened.get_article("art1") == article(1, sources=("AP",))
    assert len(reopened.duplicates_on("2026-05-01")) == 1
    assert reopened.get_job(job.id).progress == 0.5
    assert reopened.latest_digest("2026-05-01") == {"stories": []}
    assert reopened.cache.get("k") == completion


def test_a_new_sqlite_file_and_its_folders_are_created(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "store.sqlite3"
    store = open_store(str(path))
    try:
        assert path.is_file() and store.dialect == "sqlite"
    finally:
        store.close()


def test_a_sqlite_path_that_cannot_be_created_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match=r"cannot open the SQLite database at .*file"):
        open_store(blocker / "store.sqlite3")


def test_an_unreachable_database_is_unavailable_without_its_password() -> None:
    url = "postgresql://user:s3cret@127.0.0.1:1/db?connect_timeout=2"
    with pytest.raises(StoreUnavailable) as caught:
        open_store(url)
    message = str(caught.value)
    assert "s3cret" not in message and "user:***@127.0.0.1:1" in message
    assert "DATABASE_URL" in message and "\n" not in message


def test_a_locked_sqlite_file_is_store_unavailable(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite, "LOCK_WAIT", 0.2)
    path = tmp_path / "store.sqlite3"
    store = open_store(path)
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreUnavailable, match=r"SQLite database at .*store.sqlite3 failed: "
                                                   r"database is locked"):
            store.put_article(article(1), "2026-05-01")
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert store.put_article(article(1), "2026-05-01")
    store.close()


def test_lost_postgresql_connections_are_unavailable_then_replaced(postgres: Target) -> None:
    parts = urlsplit(PG_URL)
    password = parts.password or "s3cret"  # loopback test servers trust: any password will do
    host = parts.netloc.rpartition("@")[2]
    query = "&".join(q for q in (parts.query, f"application_name={postgres.schema}") if q)
    url = parts._replace(netloc=f"{parts.username or 'root'}:{password}@{host}",
                         query=query).geturl()
    store = open_store(url, schema=postgres.schema)
    postgres.opened.append(store)
    assert store.put_article(article(1), "2026-05-01")
    with psycopg.connect(PG_URL, autocommit=True) as admin:  # every connection of this store
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE application_name = %s", (postgres.schema,))
    with pytest.raises(StoreUnavailable) as caught:
        store.get_article("art1")
    message = str(caught.value)
    assert password not in message and ":***@" in message and "\n" not in message
    assert store.get_article("art1") == article(1)  # the pool has connected again


def test_database_target_prefers_database_url(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("SUMMARIZER_DB_PATH", str(tmp_path / "x.sqlite3"))
    assert database_target(get_settings()) == str(tmp_path / "x.sqlite3")
    get_settings.cache_clear()
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@db/summaries")
    assert database_target(get_settings()) == "postgresql://app@db/summaries"


@pytest.mark.parametrize(("url", "target"), [
    ("postgresql://app:pw@db:5432/summaries", "postgresql://app:pw@db:5432/summaries"),
    ("postgres://app@db/summaries", "postgres://app@db/summaries"),
    ("sqlite:///data/summaries.db", "data/summaries.db"),
    ("sqlite:////srv/summaries.db", "/srv/summaries.db"),
    ("data/summaries.db", "data/summaries.db"),
    ("/srv/summaries.db", "/srv/summaries.db"),
])
def test_database_url_forms(monkeypatch: pytest.MonkeyPatch, url: str, target: str) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    assert database_target(get_settings()) == target


@pytest.mark.parametrize("url", [
    "mysql://app:pw@db/summaries", "sqlite://host/summaries.db", "sqlite:///",
    "sqlite:///data.db?mode=ro", "file:///srv/summaries.db",
])
def test_other_database_urls_are_a_config_error_naming_the_forms(
        monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    with pytest.raises(ConfigError, match="DATABASE_URL") as caught:
        database_target(get_settings())
    message = str(caught.value)
    assert "postgresql://" in message and "sqlite:///relative" in message
    assert "sqlite:////absolute" in message and ":pw@" not in message


def test_a_sqlite_url_opens_that_file_and_no_folder_named_after_it(tmp_path: Path) -> None:
    # The tests run in tmp_path, so a relative URL lands there.
    relative = open_store("sqlite:///data/relative.db")
    absolute = open_store(f"sqlite:///{tmp_path / 'absolute.db'}")  # four slashes in all
    relative.close()
    absolute.close()
    assert (tmp_path / "data" / "relative.db").is_file()
    assert (tmp_path / "absolute.db").is_file()
    assert not (tmp_path / "sqlite:").exists()


# dedup in the database

DAY = "2026-05-01"


def _admit(store: Store, *articles: Article) -> list[str | None]:
    return store.admit([(a, DAY, None) for a in articles])


def _story_article(seed: int, source: str, every: int | None = None) -> Article:
    """An article of two long paragraphs from test_dedup's vocabulary; `every`: one word in
    that many edited."""
    story = _story(seed)
    return _article(_two_paragraphs(story if every is None else _edited(story, every),
                                    f"Report {seed}"), f"{source}.txt", source=source)


def test_admitting_stores_new_articles_and_finds_exact_near_and_wire_copies(target: Target) -> None:
    store = target.open()
    original, sentinel = _story_article(1, "Daily A"), _outlet_copy()
    near = _story_article(1, "Evening B", every=50)  # 2% of its words edited
    same_text = original.model_copy(update={"id": "same-text", "sources": ("Morning C",)})
    other = _story_article(2, "Daily A")
    assert _admit(store, original, sentinel) == [None, None]
    assert _admit(store, near, same_text, _wire_copy(), other, original) == [
        original.id, original.id, sentinel.id, None, original.id]
    assert store.count_articles() == 3
    assert store.get_article(original.id).sources == ("Daily A", "Evening B", "Morning C")
    assert store.get_article(sentinel.id).sources == ("The Tolvey Sentinel", "Carrow Press")
    # The original posted again is no duplicate of another article: nothing recorded for it.
    assert [(d.article_id, d.duplicate_of) for d in store.duplicates_on(DAY)] == [
        (near.id, original.id), ("same-text", original.id), (_wire_copy().id, sentinel.id)]


def test_the_database_decides_as_the_in_memory_index_does(target: Target) -> None:
    articles = [_story_article(seed, f"Outlet {seed}") for seed in range(10, 16)]
    articles += [_story_article(seed, f"Copy {seed}", every) for seed, every in
                 ((10, 50), (11, 100), (12, 15), (13, 8), (10, 30))]
    articles += [_outlet_copy(), _wire_copy(), *articles[:2]]
    index = ArticleIndex()
    expected = []
    for article in articles:
        found = index.find(article)
        if found is None:
            index.add(article)
        expected.append(found)
    assert 0 < expected.count(None) < len(articles)  # some stored, some copies
    assert _admit(target.open(), *articles) == expected


@pytest.mark.parametrize("copy", ["exact", "near"])
def test_a_copy_admitted_at_once_through_two_stores_is_stored_once(target: Target,
                                                                  copy: str) -> None:
    stores = [target.open(), target.open()]
    for seed in range(20, 24):  # a few races, each on a story of its own
        first = _story_article(seed, "Daily A")
        second = _story_article(seed, "Evening B", None if copy == "exact" else 50)
        pair = (first, second)
        found = in_threads(2, lambda i, pair=pair: stores[i].admit([(pair[i], DAY, None)])[0])
        assert found.count(None) == 1, found
        kept = pair[found.index(None)]
        assert [f or kept.id for f in found] == [kept.id, kept.id]
        assert stores[1].get_article(kept.id).sources in (("Daily A", "Evening B"),
                                                          ("Evening B", "Daily A"))
    assert stores[0].count_articles() == 4
    # An exact copy has the original's id: it is the same article posted again, not recorded.
    assert len(stores[0].duplicates_on(DAY)) == (0 if copy == "exact" else 4)


def test_articles_stored_before_dedup_moved_to_the_database_are_found_after_the_upgrade(
        target: Target) -> None:
    store = target.open()
    original, sentinel = _story_article(1, "Daily A"), _outlet_copy()
    assert store.put_article(original, DAY) and store.put_article(sentinel, DAY)
    store.close()
    for statement in BACK_TO_VERSION_3:  # the schema as version 3 left it: no dedup tables
        target.sql(statement)
    upgraded = target.open()
    assert upgraded.schema_version() == LATEST_VERSION
    assert len(target.rows("SELECT digest FROM article_digests")) == 2  # filled by the migration
    assert _admit(upgraded, _story_article(1, "Evening B", every=50), _wire_copy(),
                  _story_article(2, "Daily A")) == [original.id, sentinel.id, None]
