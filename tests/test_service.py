"""The service without HTTP, on a real SQLite file and the scripted backend."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import date
from pathlib import Path
from uuid import uuid4

import psycopg
import pytest
from conftest import EXAMPLES
from test_store import PG_URL, postgres_unreachable

from summarizer.dedup import NAMED_FIGURES
from summarizer.errors import InputError, NotFound
from summarizer.ingest import read_inputs
from summarizer.llm.base import Backend
from summarizer.llm.scripted import ScriptedBackend
from summarizer.pipeline import digest
from summarizer.render import to_email_html, to_html, to_json, to_markdown
from summarizer.server.service import (
    DIGEST_MEDIA,
    EMAIL,
    RENDERER,
    Page,
    Service,
    day_of,
)
from summarizer.server.store import Job, Rendering, Store, open_store
from summarizer.server.worker import JobProgress
from summarizer.settings import Settings

pytestmark = pytest.mark.anyio

DAY = "2026-03-14"


@asynccontextmanager
async def running(path: Path, backend: Callable[[], Backend] | None = None,
                  **settings: object) -> AsyncIterator[Service]:
    """A started service on the SQLite file at `path`, stopped and closed afterwards."""
    store = open_store(path)
    service = Service(Settings(**settings), store, backend or ScriptedBackend)
    await service.start()
    try:
        yield service
    finally:
        await service.stop()
        store.close()


def _examples(published: str | None = DAY) -> list[dict]:
    docs, _ = read_inputs([str(EXAMPLES)])
    extra = {"published": published} if published else {}
    return [{"text": d.text, "title": d.title, "source": d.source, "url": d.url, **extra}
            for d in docs]


def _ledger(**fields: str) -> dict:
    text = (EXAMPLES / "03_velle_valley_ledger.txt").read_text(encoding="utf-8")
    return {"text": text, "published": DAY, **fields}


async def _finished(service: Service, job_id: str, timeout: float = 60) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = await service.job(job_id)
        if job.status in ("done", "failed"):
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} still {job.status} after {timeout} s")


async def _build(service: Service, day: str = DAY) -> Job:
    job, _ = await service.request_digest(day)
    return await _finished(service, job.id)


def test_an_article_belongs_to_the_day_it_was_published_in_utc() -> None:
    today = date(2026, 3, 20)
    assert day_of("2026-03-14", today) == "2026-03-14"
    assert day_of("2026-03-14T08:30:00Z", today) == "2026-03-14"
    assert day_of("2026-03-14T23:30:00-05:00", today) == "2026-03-15"
    assert day_of("last Tuesday", today) == "2026-03-20"
    assert day_of(None, today) == "2026-03-20"


async def test_ingest_stores_new_articles_and_reports_copies(tmp_path: Path) -> None:
    async with running(tmp_path / "db.sqlite3") as service:
        first = await service.ingest(_examples())
        again = await service.ingest(_examples())
        copy = await service.ingest([_ledger(text=_ledger()["text"] + "\nShare this article",
                                             source="Corvane Wire")])
        stored = await asyncio.to_thread(service.store.articles_on, DAY)
    assert [o.status for o in first] == ["stored"] * 4
    assert [(o.status, o.duplicate_of) for o in again] == [("duplicate", o.id) for o in first]
    ledger = next(a for a in stored if "Velle Valley Ledger" in a.sources)
    assert copy[0].duplicate_of == ledger.id
    assert ledger.sources == ("Velle Valley Ledger", "Corvane Wire")  # the copy's outlet added
    assert len(stored) == 4


async def test_a_record_with_no_article_text_is_skipped_with_the_reason(tmp_path: Path) -> None:
    async with running(tmp_path / "db.sqlite3") as service:
        (outcome,) = await service.ingest([{"html": "<html><body></body></html>"}])
    assert outcome.status == "skipped" and outcome.id is None
    assert outcome.reason == "no article text found in the HTML"


async def test_unreadable_input_is_refused_before_the_model_is_built(tmp_path: Path) -> None:
    def no_backend() -> Backend:
        raise AssertionError("the backend was built for input with nothing to summarise")

    async with running(tmp_path / "db.sqlite3", no_backend) as service:
        with pytest.raises(InputError, match="no readable article"):
            await service.summarize_now([{"html": "<html></html>"}])


async def test_a_digest_keeps_the_typed_result_and_renders_it_when_read(tmp_path: Path) -> None:
    async with running(tmp_path / "db.sqlite3") as service:
        await service.ingest(_examples())
        job = await _build(service)
        row = await asyncio.to_thread(service.store.latest_digest, DAY)
        stored = await service.latest_digest(DAY)
    assert job.status == "done" and job.progress == 1.0
    assert set(row) == {"date", "result"}  # no rendering frozen into the row
    result = stored.result()
    assert result is not None and result.stories
    title = f"News digest for {DAY}"
    assert stored.contract() == {"date": DAY, **to_json(result)}
    assert stored.markdown() == to_markdown(result, title)
    assert stored.html() == to_html(result, title)



async def test_a_finished_digest_is_stored_rendered_with_a_hash_of_each_rendering(
        tmp_path: Path) -> None:
    async with running(tmp_path / "db.sqlite3") as service:
        await service.ingest(_examples())
        await _build(service)
        stored = {media: await asyncio.to_thread(service.store.latest_rendering, DAY, media)
                  for media in DIGEST_MEDIA}
        served = {media: await service.digest_page(DAY, media) for media in DIGEST_MEDIA}
        digest_now = await service.latest_digest(DAY)
    result = digest_now.result()
    assert result is not None
    title = f"News digest for {DAY}"
    expected = {"application/json": json.dumps({"date": DAY, **to_json(result)},
                                               ensure_ascii=False, separators=(",", ":")),
                "text/markdown": to_markdown(result, title), "text/html": to_html(result, title),
                EMAIL: to_email_html(result, title)}
    for media, found in stored.items():
        assert found is not None and found[1] is not None  # stored when the job ended
        rendering = found[1]
        assert rendering.body == expected[media] and rendering.renderer == RENDERER
        digest = hashlib.sha256(expected[media].encode()).hexdigest()[:32]
        assert rendering.etag == f'"{digest}"'
        assert served[media] == Page(media, rendering.etag, expected[media].encode())


async def test_a_rendering_made_by_another_version_is_rendered_again(tmp_path: Path) -> None:
    async with running(tmp_path / "db.sqlite3") as service:
        await service.ingest(_examples())
        await _build(service)
        fresh = await asyncio.to_thread(service.store.latest_rendering, DAY, "text/markdown")
        assert fresh is not None and fresh[1] is not None
        await asyncio.to_thread(service.store.put_rendering, replace(
            fresh[1], etag='"old"', body="# Rendered by 0.0.1", renderer="0.0.1"))
        served = await service.digest_page(DAY, "text/markdown")
        kept = await asyncio.to_thread(service.store.latest_rendering, DAY, "text/markdown")
    assert served == Page.of(fresh[1])
    assert kept == fresh  # stored again by this version


async def test_an_unchanged_rendering_is_read_from_the_database_once(tmp_path: Path) -> None:
    async with running(tmp_path / "db.sqlite3") as service:
        await service.ingest(_examples())
        await _build(service)
        read = service.store.rendering
        reads: list[int] = []

        def counted(seq: int, media: str) -> Rendering | None:
            reads.append(seq)
            return read(seq, media)

        service.store.rendering = counted
        first = [await service.digest_page(DAY, "text/html") for _ in range(3)]
        found = await asyncio.to_thread(service.store.latest_rendering, DAY, "text/html")
        assert found is not None and found[1] is not None
        await asyncio.to_thread(service.store.put_rendering,
                                replace(found[1], etag='"changed"', body="<p>changed</p>"))
        changed = await service.digest_page(DAY, "text/html")
    assert len(reads) == 2  # the first read, then the changed tag
    assert first[0] == first[1] == first[2]
    assert changed == Page("text/html", '"changed"', b"<p>changed</p>")


async def test_no_digest_is_not_found_in_any_rendering(tmp_path: Path) -> None:
    async with running(tmp_path / "db.sqlite3") as service:
        for media in DIGEST_MEDIA:
            with pytest.raises(NotFound, match="POST /v1/digests"):
                await service.digest_page(DAY, media)


async def test_a_digest_lists_each_duplicate_once(tmp_path: Path) -> None:
    near_copy = _ledger(source="Corvane Wire")
    near_copy["text"] = near_copy["text"].replace("Velle", "Vell", 1)
    async with running(tmp_path / "db.sqlite3") as service:
        original = (await service.ingest([_ledger(source="Velle Valley Ledger")]))[0]
        copies = [(await service.ingest([near_copy]))[0] for _ in range(2)]
        recorded = await asyncio.to_thread(service.store.duplicates_on, DAY)
        await _build(service)
        contract = (await service.latest_digest(DAY)).contract()
    assert [c.duplicate_of for c in copies] == [original.id] * 2
    assert len(recorded) == 2  # the copy was posted twice
    articles = [d for d in contract["duplicates"] if d["kind"] == "article"]
    assert len(articles) == 1 and articles[0]["duplicate_of"] == original.id
    keys = [tuple(sorted(d.items())) for d in contract["duplicates"]]
    assert len(keys) == len(set(keys))


async def test_a_digest_stored_in_the_older_form_is_served_and_continued(tmp_path: Path) -> None:
    first_day, follow_up = _examples("2026-03-14")[:3], _examples("2026-03-15")[3]
    async with running(tmp_path / "db.sqlite3") as service:
        await service.ingest(first_day)
        articles = await asyncio.to_thread(service.store.articles_on, "2026-03-14")
        result = await digest(articles, backend=ScriptedBackend())
        title = "News digest for 2026-03-14"
        older = {"contract": {"date": "2026-03-14", **to_json(result)},
                 "markdown": to_markdown(result, title), "html": to_html(result, title)}
        await asyncio.to_thread(service.store.put_digest, "2026-03-14", "older-job", older)
        served = await service.latest_digest("2026-03-14")
        await service.ingest([follow_up])
        assert (await _build(service, "2026-03-15")).status == "done"
        next_day = (await service.latest_digest("2026-03-15")).contract()
    assert served.result() is None
    assert (served.contract(), served.markdown(), served.html()) == \
        (older["contract"], older["markdown"], older["html"])
    (earlier,) = older["contract"]["stories"]
    (story,) = next_day["stories"]
    assert story["update_of"] == {"id": earlier["id"], "day": "2026-03-14",
                                  "title": earlier["title"]}


async def test_a_digest_of_a_day_with_no_articles_fails_and_says_why(tmp_path: Path) -> None:
    async with running(tmp_path / "db.sqlite3") as service:
        job = await _build(service, "2026-01-01")
    assert job.status == "failed"
    assert job.error == "no articles stored for 2026-01-01; post them to /v1/articles first"


async def test_unknown_jobs_and_missing_digests_are_not_found(tmp_path: Path) -> None:
    async with running(tmp_path / "db.sqlite3") as service:
        with pytest.raises(NotFound) as no_job:
            await service.job("nope")
        with pytest.raises(NotFound) as no_digest:
            await service.latest_digest(DAY)
        assert await service.ready()
    assert no_job.value.field == "job_id"
    assert no_digest.value.field == "date" and "POST /v1/digests" in str(no_digest.value)


async def test_a_job_left_running_by_a_stopped_service_is_finished_by_the_next(
        tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    lease = 1.0  # the stopped worker's lease runs out this long after its last renewal
    async with running(path, lambda: ScriptedBackend(delay=0.3),
                       job_lease_seconds=lease) as service:
        await service.ingest(_examples())
        job, _ = await service.request_digest(DAY)
        while (await service.job(job.id)).status != "running":
            await asyncio.sleep(0.02)
    async with running(path, job_lease_seconds=lease) as restarted:
        assert (await restarted.job(job.id)).status in ("queued", "running")
        finished = await _finished(restarted, job.id)
        contract = (await restarted.latest_digest(DAY)).contract()
    assert finished.status == "done" and finished.progress == 1.0
    assert contract["stories"]


class SlowRows:
    """A store whose progress writes take a while, recording what they wrote and where."""

    def __init__(self) -> None:
        self.written: list[float] = []
        self.threads: set[int] = set()

    def update_job(self, job_id: str, *, progress: float | None = None) -> None:
        time.sleep(0.05)
        self.threads.add(threading.get_ident())
        assert progress is not None
        self.written.append(progress)


async def test_progress_is_written_off_the_event_loop_and_the_newest_fraction_stays() -> None:
    rows = SlowRows()
    progress = JobProgress(rows, "job")  # type: ignore[arg-type]
    progress.add(40)
    started = time.perf_counter()
    for _ in range(38):
        progress.advance()
        await asyncio.sleep(0)
    reported = time.perf_counter() - started
    await progress.settle()
    assert reported < 0.5  # writing each step on the loop would take 0.05 s a step
    assert threading.get_ident() not in rows.threads
    assert rows.written[0] == 0.05 and len(rows.written) < 5  # steps taken meanwhile coalesce
    assert rows.written == sorted(rows.written)
    assert rows.written[-1] == round(progress.saved, 3) >= 0.9  # the newest step stays


# -- dedup in the database, shared by every service on it ----------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Store]]:
    """Opens stores on one database of the test's own (a SQLite file, or a PostgreSQL schema)."""
    stores: list[Store] = []
    schema = f"test_service_{uuid4().hex[:12]}"
    if request.param == "postgresql" and (reason := postgres_unreachable()):
        pytest.skip(reason)

    def open_one() -> Store:
        stores.append(open_store(tmp_path / "db.sqlite3") if request.param == "sqlite"
                      else open_store(PG_URL, schema=schema))
        return stores[-1]

    yield open_one
    for store in stores:
        store.close()
    if request.param == "postgresql":
        with psycopg.connect(PG_URL, autocommit=True) as db:
            db.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def _edited_words(text: str, every: int) -> str:
    """The text with one word in `every` replaced (never a figure: that would be a dispute)."""
    words = text.split(" ")
    places = [i for i, w in enumerate(words) if w.isalpha() and w.lower() not in NAMED_FIGURES]
    for i in places[every // 2 :: every]:
        words[i] = "zorbel"
    return " ".join(words)


async def test_copies_posted_at_once_to_two_services_are_stored_once_with_every_outlet(
        database: Callable[[], Store]) -> None:
    services = [Service(Settings(), database(), ScriptedBackend) for _ in range(2)]
    for service in services:
        await service.start(worker=False)
    ledger = {**_examples()[2], "source": "Velle Valley Ledger"}
    courier = {**_examples()[0], "source": "Brackwater Courier"}
    near = {**courier, "text": _edited_words(courier["text"], 50), "source": "Corvane Wire"}
    for posted in ([ledger, {**ledger, "source": "Corvane Wire"}], [courier, near]):
        outcomes = await asyncio.gather(*(s.ingest([p]) for s, p in zip(services, posted,
                                                                         strict=True)))
        first, second = (o for (o,) in outcomes)
        statuses = sorted((first.status, second.status))
        assert statuses == ["duplicate", "stored"], (first, second)
        kept = first if first.status == "stored" else second
        assert {first.duplicate_of, second.duplicate_of} == {None, kept.id}
        article = await asyncio.to_thread(services[1].store.get_article, kept.id)
        assert article is not None
        assert sorted(article.sources) == sorted([posted[0]["source"], "Corvane Wire"])
    assert await asyncio.to_thread(services[0].store.count_articles) == 2
    (recorded,) = await asyncio.to_thread(services[0].store.duplicates_on, DAY)
    assert recorded.kind == "article"  # the near copy; the same article again is no new one


async def test_starting_reads_no_article_and_copies_are_still_found(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    async with running(path) as service:
        first = await service.ingest(_examples())
    store = open_store(path)
    statements: list[str] = []
    store._engine._db.set_trace_callback(statements.append)
    service = Service(Settings(), store, ScriptedBackend)
    await service.start(worker=False)
    read_at_start = [s for s in statements if "articles" in s]
    (copy,) = await service.ingest([_ledger(text=_edited_words(_ledger()["text"], 50),
                                            source="Corvane Wire")])
    store.close()
    assert read_at_start == []
    assert copy.status == "duplicate" and copy.duplicate_of == first[2].id
    # The check reads the copy's candidates by their keys, not the stored articles' texts.
    assert not [s for s in statements if "SELECT" in s and " text" in s]
