"""The HTTP API in process (`create_app` through httpx) on the scripted backend; a real
`summarizer serve` process where a test needs one: binding, kill -9, a browser."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from pathlib import Path

import httpx
import pytest
from conftest import BACK_TO_VERSION_3, EXAMPLES
from fastapi import FastAPI
from service_process import Server, free_port, process_env

from summarizer.errors import (
    BackendRejected,
    BackendUnavailable,
    PromptError,
    RateLimited,
    StoreUnavailable,
    SummarizerError,
    UnreadableReply,
)
from summarizer.ingest import read_inputs
from summarizer.llm.base import Backend, Completion, CompletionRequest
from summarizer.llm.scripted import ScriptedBackend
from summarizer.render import to_html, to_json, to_markdown
from summarizer.server.app import create_app
from summarizer.settings import Settings

SEED_DATES = {"000": "2015-10-02", "001": "2015-10-02", "002": "2015-10-02",
              "003": "2016-02-15", "004": "2015-10-02"}
DAY = "2026-03-14"


# -- in process -----------------------------------------------------------------------------------


@pytest.fixture
def settings(engine: str, request: pytest.FixtureRequest) -> Callable[..., Settings]:
    """Settings on the test's engine (its own SQLite file, or a fresh PostgreSQL schema)."""

    def make(**overrides: object) -> Settings:
        if engine == "postgresql":
            overrides["database_url"] = request.getfixturevalue("postgres_schemas")()
        return Settings(**overrides)

    return make


@asynccontextmanager
async def started(app: FastAPI, key: str | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """The app started as a server starts it, and a client that talks to it in process."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), headers=headers,
                                     base_url="http://summarizer.test", timeout=30) as client:
            yield client


def serving(settings: Settings, backend: Backend | None = None,
            key: str | None = None) -> AbstractAsyncContextManager[httpx.AsyncClient]:
    """`started` on an app whose model is `backend` (the scripted one unless given)."""
    return started(create_app(settings, backend=backend or ScriptedBackend()), key)


async def _wait_for(client: httpx.AsyncClient, job_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = (await client.get(f"/v1/jobs/{job_id}")).json()
        if job["status"] in ("done", "failed"):
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} still {job['status']} after {timeout} s")


async def _build_digest(client: httpx.AsyncClient, day: str) -> dict:
    """Ask for a day's digest and wait for its job to end."""
    started = await client.post("/v1/digests", json={"date": day})
    return await _wait_for(client, started.json()["job_id"])


def _seed_articles(seeds: Path) -> list[dict]:
    return [{"text": p.read_text(encoding="utf-8"), "url": f"https://seed.example/{p.stem}",
             "published": SEED_DATES[p.stem[:3]]} for p in sorted(seeds.glob("*.txt"))]


def _example_articles(published: str | None = None) -> list[dict]:
    """The bundled examples as posted articles, all on one day when `published` is given."""
    docs, _ = read_inputs([str(EXAMPLES)])
    extra = {"published": published} if published else {}
    return [{"text": d.text, "title": d.title, "source": d.source, "url": d.url, **extra}
            for d in docs]


def _ledger_text() -> str:
    return (EXAMPLES / "03_velle_valley_ledger.txt").read_text(encoding="utf-8")


@pytest.mark.anyio
async def test_seeds_make_a_digest_with_cited_stories(seeds: Path, settings) -> None:
    async with serving(settings()) as client:
        posted = await client.post("/v1/articles", json={"articles": _seed_articles(seeds)})
        assert posted.status_code == 200
        outcomes = posted.json()["articles"]
        assert [o["status"] for o in outcomes] == ["stored"] * 5
        assert (await client.get("/v1/digests/2015-10-02")).status_code == 404
        started = await client.post("/v1/digests", json={"date": "2015-10-02"})
        assert started.status_code == 202
        assert started.headers["location"] == f"/v1/jobs/{started.json()['job_id']}"
        job = await _wait_for(client, started.json()["job_id"])
        assert job["status"] == "done" and job["progress"] == 1.0
        digest = (await client.get("/v1/digests/2015-10-02")).json()
    october = {o["id"] for o, p in zip(outcomes, sorted(seeds.glob("*.txt")), strict=True)
               if not p.name.startswith("003")}
    assert digest["date"] == "2015-10-02"
    assert len(digest["articles"]) == 4
    (story,) = digest["stories"]  # four reports of one event, and 003 is of another day
    assert set(story["article_ids"]) == october
    assert story["summary"] and all(s["citations"] for s in story["summary"]
                                    if s["support"] == "supported")
    assert any(s["support"] == "supported" for s in story["summary"])
    for sentence in story["summary"]:
        assert sentence["sources"]["total"] >= 1
        for c in sentence["citations"]:
            assert c["article_id"] in october and c["quote"]
    # 000 repeats its own paragraphs: each counted once, the repeats recorded
    first = outcomes[0]["id"]
    repeats = [d for d in digest["duplicates"] if d["article_id"] == first]
    assert repeats and {d["kind"] for d in repeats} == {"paragraph"}
    texts = [s["text"] for a in digest["articles"] for s in a["summary"]]
    assert len(texts) == len(set(texts))


@pytest.mark.anyio
@pytest.mark.parametrize("engine", ["sqlite"])
async def test_the_february_article_is_its_own_story(seeds: Path, settings) -> None:
    async with serving(settings()) as client:
        await client.post("/v1/articles", json={"articles": _seed_articles(seeds)})
        for day in ("2015-10-02", "2016-02-15"):
            assert (await _build_digest(client, day))["status"] == "done"
        february = (await client.get("/v1/digests/2016-02-15")).json()
    (story,) = february["stories"]
    assert len(story["article_ids"]) == 1
    assert "update_of" not in story  # four months later is not a continuation


@pytest.mark.anyio
async def test_reposting_stores_nothing_new(settings) -> None:
    articles = _example_articles(DAY)
    async with serving(settings()) as client:
        first = (await client.post("/v1/articles", json={"articles": articles})).json()
        again = (await client.post("/v1/articles", json={"articles": articles})).json()
    assert [o["status"] for o in first["articles"]] == ["stored"] * 4
    assert [o["status"] for o in again["articles"]] == ["duplicate"] * 4
    assert [o["duplicate_of"] for o in again["articles"]] == [o["id"] for o in first["articles"]]


@pytest.mark.anyio
@pytest.mark.parametrize("engine", ["sqlite"])
async def test_a_wire_copy_from_another_outlet_is_a_duplicate_with_both_outlets(settings) -> None:
    text = _ledger_text()
    async with serving(settings()) as client:
        first = await client.post("/v1/articles", json={"articles": [
            {"text": text, "source": "Velle Valley Ledger", "published": DAY}]})
        copy = await client.post("/v1/articles", json={"articles": [
            {"text": text + "\nShare this article", "source": "Corvane Wire",
             "published": DAY}]})
        original = first.json()["articles"][0]["id"]
        assert copy.json()["articles"][0] == {"id": original, "status": "duplicate",
                                              "duplicate_of": original}
        await _build_digest(client, DAY)
        digest = (await client.get(f"/v1/digests/{DAY}")).json()
    assert digest["articles"][0]["sources"] == ["Velle Valley Ledger", "Corvane Wire"]


@pytest.mark.anyio
@pytest.mark.parametrize("engine", ["sqlite"])
async def test_a_posted_article_with_no_text_is_reported_skipped(settings) -> None:
    async with serving(settings()) as client:
        answer = await client.post("/v1/articles", json={"articles": [
            {"html": "<html><body><nav>Home</nav></body></html>"}]})
    assert answer.status_code == 200
    (outcome,) = answer.json()["articles"]
    assert outcome == {"status": "skipped",  # no id: nothing was stored
                       "reason": "nothing left after cleaning (1 boilerplate lines removed)"}


@pytest.mark.anyio
@pytest.mark.parametrize("engine", ["sqlite"])
async def test_progress_streams_as_server_sent_events(settings) -> None:
    async with serving(settings(), ScriptedBackend(delay=0.2)) as client:
        await client.post("/v1/articles", json={"articles": _example_articles(DAY)})
        job = (await client.post("/v1/digests", json={"date": DAY})).json()
        events = []
        async with client.stream("GET", f"/v1/jobs/{job['job_id']}/events") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            async for line in stream.aiter_lines():
                if line.startswith("event: "):
                    events.append(line.removeprefix("event: "))
                elif line.startswith("data: "):
                    last = json.loads(line.removeprefix("data: "))
    assert events[-1] == "done" and "progress" in events
    assert last["progress"] == 1.0
    assert last == {"job_id": job["job_id"], "kind": "digest", "key": DAY, "status": "done",
                    "progress": 1.0}


@pytest.mark.anyio
@pytest.mark.parametrize("engine", ["sqlite"])
async def test_the_digest_renders_as_markdown_and_html(settings) -> None:
    async with serving(settings()) as client:
        await client.post("/v1/articles", json={"articles": _example_articles(DAY)})
        await _build_digest(client, DAY)
        markdown = await client.get(f"/v1/digests/{DAY}", headers={"Accept": "text/markdown"})
        page = await client.get(f"/v1/digests/{DAY}", headers={"Accept": "text/html"})
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert markdown.text.startswith(f"# News digest for {DAY}")
    assert "## Sources" in markdown.text
    assert page.headers["content-type"].startswith("text/html")
    assert '<a class="cite" href="#note-1"' in page.text and 'id="note-1"' in page.text


@pytest.mark.anyio
@pytest.mark.parametrize("engine", ["sqlite"])
async def test_a_digest_stored_with_its_renderings_is_served_as_stored(settings) -> None:
    from summarizer.pipeline import digest
    from summarizer.server.store import open_store

    config = settings()
    articles = _example_articles(DAY)
    async with serving(config) as client:
        await client.post("/v1/articles", json={"articles": articles})
    store = open_store(config.db_path)
    result = await digest(store.articles_on(DAY), backend=ScriptedBackend())
    older = {"contract": {"date": DAY, **to_json(result)}, "markdown": to_markdown(result, "Old"),
             "html": to_html(result, "Old")}
    store.put_digest(DAY, "older-job", older)
    store.close()
    async with serving(config) as client:
        as_json = await client.get(f"/v1/digests/{DAY}")
        markdown = await client.get(f"/v1/digests/{DAY}", headers={"Accept": "text/markdown"})
        page = await client.get(f"/v1/digests/{DAY}", headers={"Accept": "text/html"})
    assert as_json.json() == older["contract"]
    assert markdown.text == older["markdown"] and markdown.text.startswith("# Old")
    assert page.text == older["html"]


@pytest.mark.anyio
@pytest.mark.parametrize("engine", ["sqlite"])
async def test_an_api_key_is_required_when_keys_are_set(settings) -> None:
    config = settings(api_keys="k-one,k-two")
    async with serving(config) as anonymous:
        refused = await anonymous.post("/v1/articles", json={"articles": [{"text": "x"}]})
        assert (await anonymous.get("/healthz")).status_code == 200
    async with serving(config, key="wrong") as wrong:
        assert (await wrong.get("/v1/jobs/none")).status_code == 401
    async with serving(config, key="k-two") as allowed:
        assert (await allowed.get("/v1/jobs/none")).status_code == 404
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"
    assert refused.json()["error"]["code"] == "unauthorized"
    assert "SUMMARIZER_API_KEYS" in refused.json()["error"]["message"]


@pytest.mark.anyio
@pytest.mark.parametrize("engine", ["sqlite"])
async def test_limits_and_malformed_articles_are_json_errors(settings) -> None:
    config = settings(max_body_bytes=4096, max_articles_per_request=2, max_article_chars=100)
    async with serving(config) as client:
        big = await client.post("/v1/articles", json={"articles": [{"text": "word " * 2000}]})
        many = await client.post("/v1/articles", json={"articles": [{"text": "a b c."}] * 3})
        long = await client.post("/v1/articles", json={"articles": [{"text": "word " * 30}]})
        empty = await client.post("/v1/articles", json={"articles": []})
        malformed = await client.post("/v1/articles", json={"articles": [{"title": "no text"}]})
        bad_date = await client.post("/v1/articles", json={"articles": [
            {"text": "Some text.", "published": "yesterday"}]})
        not_json = await client.post("/v1/articles", content=b"{not json",
                                     headers={"Content-Type": "application/json"})
        no_route = await client.get("/v1/nothing-here")
    assert big.status_code == 413
    assert big.json()["error"] == {"code": "body_too_large", "message":
                                   "request body over SUMMARIZER_MAX_BODY_BYTES (4096 bytes); "
                                   "send smaller batches"}
    assert many.status_code == 413 and "(2)" in many.json()["error"]["message"]
    assert many.json()["error"]["code"] == "too_many_articles"
    assert long.status_code == 413 and long.json()["error"] == {
        "code": "article_too_large", "field": "articles[0].text",
        "message": "articles[0].text has 150 characters, over SUMMARIZER_MAX_ARTICLE_CHARS (100)"}
    assert empty.status_code == 422 and empty.json()["error"]["code"] == "invalid_request"
    assert empty.json()["error"]["field"] == "articles"
    assert "at least 1 item" in empty.json()["error"]["message"]
    assert malformed.status_code == 200  # an article with no text is skipped, not refused
    assert malformed.json()["articles"][0]["status"] == "skipped"
    assert "'text' or 'html'" in malformed.json()["articles"][0]["reason"]
    assert bad_date.status_code == 422 and "ISO date" in bad_date.json()["error"]["message"]
    assert bad_date.json()["error"]["field"] == "articles[0].published"
    assert not_json.status_code == 422 and not_json.json()["error"]["code"] == "invalid_request"
    assert "not valid JSON" in not_json.json()["error"]["message"]
    assert no_route.status_code == 404 and no_route.json()["error"]["code"] == "not_found"


@pytest.mark.anyio
@pytest.mark.parametrize("engine", ["sqlite"])
async def test_what_is_not_there_is_404_and_what_is_not_done_is_409(settings) -> None:
    async with serving(settings(sync_summary_articles=0), ScriptedBackend(delay=0.3)) as client:
        no_job = await client.get("/v1/jobs/nope")
        no_events = await client.get("/v1/jobs/nope/events")
        no_digest = await client.get(f"/v1/digests/{DAY}")
        bad_day = await client.get("/v1/digests/someday")
        summary = (await client.post("/v1/summaries",
                                     json={"articles": _example_articles()[:2]})).json()
        early = await client.get(f"/v1/jobs/{summary['job_id']}/result")
        await client.post("/v1/articles", json={"articles": _example_articles(DAY)[:1]})
        digest_job = (await client.post("/v1/digests", json={"date": DAY})).json()
        no_result = await client.get(f"/v1/jobs/{digest_job['job_id']}/result")
    assert no_job.status_code == 404 and no_events.status_code == 404
    assert no_job.json() == {"error": {"code": "job_not_found", "message": "no job with id nope",
                                       "field": "job_id"}}
    assert no_digest.status_code == 404
    assert no_digest.json()["error"]["code"] == "digest_not_found"
    assert "POST /v1/digests" in no_digest.json()["error"]["message"]
    assert bad_day.status_code == 422 and bad_day.json()["error"]["code"] == "invalid_request"
    assert early.status_code == 409 and early.json()["error"]["code"] == "job_not_done"
    assert no_result.status_code == 404 and no_result.json()["error"]["code"] == "no_result"
    assert f"/v1/digests/{DAY}" in no_result.json()["error"]["message"]


class Failing:
    """A backend that fails every call with one error."""

    name = "failing"
    model = "failing-model"
    context_window = 8192

    def __init__(self, error: SummarizerError) -> None:
        self.error = error
        self.calls = 0

    def count_tokens(self, text: str) -> int:
        return len(text) // 4 + 1

    async def complete(self, request: CompletionRequest) -> Completion:
        self.calls += 1
        raise self.error


@pytest.mark.anyio
@pytest.mark.parametrize("engine", ["sqlite"])
@pytest.mark.parametrize(("error", "status", "code", "retry_after"), [
    (BackendUnavailable("cannot connect to http://127.0.0.1:9/v1", backend="openai"),
     503, "backend_unavailable", "30"),
    (RateLimited("rate limited", backend="openai", retry_after=7.2),
     503, "backend_unavailable", "8"),
    (RateLimited("rate limited", backend="openai"), 503, "backend_unavailable", "30"),
    (BackendRejected("the key was refused (401)", backend="openai", status_code=401),
     502, "backend_rejected", None),
    (UnreadableReply("not JSON", backend="openai"), 502, "unreadable_reply", None),
    (PromptError("prompt 'choose' needs a value for $limit"), 500, "prompt_error", None),
])
async def test_each_kind_of_model_failure_has_its_status(settings, error: SummarizerError,
                                                         status: int, code: str,
                                                         retry_after: str | None) -> None:
    backend = Failing(error)
    async with serving(settings(), backend) as client:  # type: ignore[arg-type]
        answer = await client.post("/v1/summaries",
                                   json={"articles": _example_articles()[:2]})
    assert backend.calls >= 1
    assert answer.status_code == status
    assert answer.json() == {"error": {"code": code, "message": str(error)}}
    assert answer.headers.get("retry-after") == retry_after


@pytest.mark.anyio
@pytest.mark.parametrize("engine", ["sqlite"])
async def test_a_backend_that_cannot_be_built_is_503_and_ingest_still_works(settings) -> None:
    config = settings(backend="openai", allow_network=False)
    async with started(create_app(config)) as client:  # the configured backend: it may not call
        refused = await client.post("/v1/summaries", json={"articles": [{"text": _ledger_text()}]})
        stored = await client.post("/v1/articles", json={"articles": [
            {"text": _ledger_text(), "published": DAY}]})
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "backend_not_configured"
    assert "SUMMARIZER_ALLOW_NETWORK" in refused.json()["error"]["message"]
    assert "retry-after" not in refused.headers  # asking again changes nothing
    assert stored.json()["articles"][0]["status"] == "stored"


@pytest.mark.anyio
@pytest.mark.parametrize("engine", ["sqlite"])
async def test_a_backend_outage_is_503_with_retry_after(settings) -> None:
    config = settings(backend="openai", openai_base_url="http://127.0.0.1:9/v1",
                      retry_attempts=1)
    app = create_app(config)  # the real OpenAI-compatible backend, on a closed loopback port
    text = _ledger_text()
    async with started(app) as client:
        down = await client.post("/v1/summaries", json={"articles": [{"text": text}]})
        stored = await client.post("/v1/articles", json={"articles": [
            {"text": text, "published": DAY}]})
        failed = await _build_digest(client, DAY)
    assert down.status_code == 503
    assert down.headers["retry-after"] == "30"
    assert down.json()["error"]["code"] == "backend_unavailable"
    assert "OPENAI_BASE_URL" in down.json()["error"]["message"]
    assert stored.json()["articles"][0]["status"] == "stored"  # ingest needs no model
    assert failed["status"] == "failed" and "cannot connect" in failed["error"]


@pytest.mark.anyio
@pytest.mark.parametrize("engine", ["sqlite"])
async def test_a_database_failure_is_503_without_its_detail(settings,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            caplog: pytest.LogCaptureFixture):
    app = create_app(settings(), backend=ScriptedBackend())
    async with started(app) as client:
        store = app.state.service.store

        def down(*_: object) -> None:
            raise StoreUnavailable("cannot reach the database at db.internal:5432")

        monkeypatch.setattr(store, "get_job", down)
        monkeypatch.setattr(store, "ping", lambda: False)
        answer = await client.get("/v1/jobs/some-job")
        ready = await client.get("/readyz")
    assert answer.status_code == 503 and answer.headers["retry-after"] == "30"
    assert answer.json() == {"error": {"code": "database_unavailable",
                                       "message": "the database is unavailable; try again "
                                                  "shortly"}}
    assert "db.internal" in caplog.text  # the detail goes to the log only
    assert ready.status_code == 503 and ready.json()["error"]["code"] == "not_ready"


@pytest.mark.anyio
@pytest.mark.parametrize("engine", ["sqlite"])
async def test_a_direct_summary_answers_the_contract(settings) -> None:
    articles = _example_articles()[:2]
    async with serving(settings()) as client:
        answer = await client.post("/v1/summaries", json={"articles": articles,
                                                           "options": {"strict": True}})
        fused = await client.post("/v1/summaries", json={"articles": articles,
                                                          "options": {"writing": "fused"}})
        wrong = await client.post("/v1/summaries", json={"articles": articles,
                                                          "options": {"writing": "poetic"}})
        unreadable = await client.post("/v1/summaries", json={"articles": [
            {"html": "<html><body></body></html>"}]})
        health = await client.get("/readyz")
        metrics = await client.get("/metrics")
        docs_page = await client.get("/docs")
        schema = (await client.get("/openapi.json")).json()
    assert answer.status_code == 200
    data = answer.json()
    assert len(data["articles"]) == 2 and data["overview"]
    assert data["writing"]["mode"] == "quoted"  # the scripted stand-in counts as small
    assert fused.json()["writing"]["mode"] == "fused"
    assert wrong.status_code == 422 and "writing" in wrong.text
    assert unreadable.status_code == 422
    assert unreadable.json()["error"]["code"] == "invalid_input"
    assert "no readable article" in unreadable.json()["error"]["message"]
    assert health.json() == {"status": "ready"}
    assert 'summarizer_http_requests_total{method="POST",route="/v1/summaries",status="200"}' \
        in metrics.text
    assert docs_page.status_code == 200
    assert {"/v1/articles", "/v1/summaries", "/v1/digests", "/v1/digests/{day}",
            "/v1/jobs/{job_id}", "/v1/jobs/{job_id}/result", "/v1/jobs/{job_id}/events",
            "/healthz", "/readyz", "/metrics"} <= set(schema["paths"])


@pytest.mark.anyio
@pytest.mark.parametrize("engine", ["sqlite"])
async def test_a_large_summary_request_becomes_a_job(settings) -> None:
    articles = _example_articles()
    async with serving(settings(sync_summary_articles=2)) as client:
        accepted = await client.post("/v1/summaries", json={"articles": articles})
        assert accepted.status_code == 202
        job = accepted.json()
        assert accepted.headers["location"] == f"/v1/jobs/{job['job_id']}"
        assert job["kind"] == "summary" and job["result_url"] == \
            f"/v1/jobs/{job['job_id']}/result"
        early = await client.get(f"/v1/jobs/{job['job_id']}/result")
        assert early.status_code in (200, 409)
        assert (await _wait_for(client, job["job_id"]))["status"] == "done"
        result = await client.get(job["result_url"])
    assert result.status_code == 200
    assert len(result.json()["articles"]) == 4 and result.json()["overview"]


@pytest.mark.anyio
async def test_a_next_day_story_is_marked_as_an_update(settings) -> None:
    first_day = _example_articles("2026-03-14")[:3]
    follow_up = _example_articles("2026-03-15")[3]  # the next day's report of the collapse
    async with serving(settings()) as client:
        await client.post("/v1/articles", json={"articles": first_day})
        await _build_digest(client, "2026-03-14")
        await client.post("/v1/articles", json={"articles": [follow_up]})
        await _build_digest(client, "2026-03-15")
        before = (await client.get("/v1/digests/2026-03-14")).json()
        after = (await client.get("/v1/digests/2026-03-15")).json()
        markdown = await client.get("/v1/digests/2026-03-15",
                                    headers={"Accept": "text/markdown"})
    (earlier,) = before["stories"]
    (story,) = after["stories"]
    assert story["update_of"] == {"id": earlier["id"], "day": "2026-03-14",
                                  "title": earlier["title"]}
    assert "Update of “" in markdown.text



# -- caching the digest: stored renderings, ETags, 304 ---------------------------------------------

MEDIA = ("application/json", "text/markdown", "text/html")


async def _renderings(client: httpx.AsyncClient, **headers: str) -> dict[str, httpx.Response]:
    return {media: await client.get(f"/v1/digests/{DAY}", headers={"Accept": media, **headers})
            for media in MEDIA}


@pytest.mark.anyio
async def test_each_rendering_has_a_stable_strong_etag_and_a_match_is_304(settings) -> None:
    async with serving(settings()) as client:
        assert (await client.get(f"/v1/digests/{DAY}",
                                 headers={"If-None-Match": "*"})).status_code == 404
        await client.post("/v1/articles", json={"articles": _example_articles(DAY)})
        await _build_digest(client, DAY)
        first = await _renderings(client)
        again = await _renderings(client)
        tags = {media: answer.headers["etag"] for media, answer in first.items()}
        held = {media: await _renderings(client, **{"If-None-Match": tag})
                for media, tag in tags.items()}
        json_tag = tags["application/json"]
        forms = {form: await client.get(f"/v1/digests/{DAY}", headers={"If-None-Match": form})
                 for form in (json_tag, f"W/{json_tag}", f'"other", W/"x,y", {json_tag}', "*",
                              ' "other" , W/"x" ', "garbage", json_tag.strip('"'))}
        two_lines = await client.get(f"/v1/digests/{DAY}", headers=[
            ("If-None-Match", '"other"'), ("If-None-Match", json_tag)])
    assert [a.status_code for a in first.values()] == [200, 200, 200]
    assert len(set(tags.values())) == 3  # each rendering its own tag
    for media, answer in first.items():
        assert answer.headers["etag"] == again[media].headers["etag"]  # stable
        assert answer.content == again[media].content
        assert answer.headers["etag"].startswith('"')  # strong: not W/
        assert answer.headers["cache-control"] == "private, max-age=0, must-revalidate"
        assert answer.headers["vary"] == "Accept"
        assert answer.headers["content-type"].startswith(media)
    assert first["application/json"].json()["date"] == DAY
    assert first["text/markdown"].text.startswith(f"# News digest for {DAY}")
    for media, answers in held.items():  # its own tag is 304 (no body); another's is 200
        for asked, answer in answers.items():
            if asked == media:
                assert answer.status_code == 304 and answer.content == b""
                assert answer.headers["etag"] == tags[media]
                assert answer.headers["cache-control"] == first[media].headers["cache-control"]
                assert "content-length" not in answer.headers or \
                    answer.headers["content-length"] == "0"
            else:
                assert answer.status_code == 200
                assert answer.content == first[asked].content
    assert {form: answer.status_code for form, answer in forms.items()} == {
        json_tag: 304, f"W/{json_tag}": 304, f'"other", W/"x,y", {json_tag}': 304, "*": 304,
        ' "other" , W/"x" ': 200, "garbage": 200, json_tag.strip('"'): 200}
    assert forms["garbage"].content == first["application/json"].content
    assert two_lines.status_code == 304


@pytest.mark.anyio
async def test_a_new_digest_of_the_day_changes_every_etag(settings) -> None:
    articles = _example_articles(DAY)
    async with serving(settings()) as client:
        await client.post("/v1/articles", json={"articles": articles[:2]})
        await _build_digest(client, DAY)
        old = await _renderings(client)
        await client.post("/v1/articles", json={"articles": articles[2:]})
        await _build_digest(client, DAY)
        new = {media: await client.get(f"/v1/digests/{DAY}", headers={
            "Accept": media, "If-None-Match": old[media].headers["etag"]}) for media in MEDIA}
    for media in MEDIA:
        assert new[media].status_code == 200  # the old tag no longer matches
        assert new[media].headers["etag"] != old[media].headers["etag"]
    assert len(new["application/json"].json()["articles"]) == 4
    assert len(old["application/json"].json()["articles"]) == 2


@pytest.mark.anyio
async def test_a_digest_stored_before_renderings_were_kept_is_served_and_then_kept(
        settings) -> None:
    from summarizer.server.store import database_target, open_store

    config = settings()
    async with serving(config) as client:
        await client.post("/v1/articles", json={"articles": _example_articles(DAY)})
        await _build_digest(client, DAY)
        built = await _renderings(client)
    # The database as the version before the renderings table left it (schema 3).
    store = open_store(database_target(config))
    with store._engine.session() as db:
        for statement in BACK_TO_VERSION_3:
            db.execute(statement)
    assert store.schema_version() == 3
    store.close()
    async with serving(config) as client:  # migrates to the latest: no renderings stored
        store = open_store(database_target(config))
        before = store.latest_rendering(DAY, "text/html")
        served = await _renderings(client)
        kept = store.latest_rendering(DAY, "text/html")
        cached = await client.get(f"/v1/digests/{DAY}", headers={
            "Accept": "text/html", "If-None-Match": built["text/html"].headers["etag"]})
        store.close()
    assert before is not None and before[1] is None
    for media in MEDIA:  # rendered on the first read, as the job would have rendered it
        assert served[media].status_code == 200
        assert served[media].content == built[media].content
        assert served[media].headers["etag"] == built[media].headers["etag"]
    assert kept is not None and kept[1] is not None
    assert kept[1].etag == built["text/html"].headers["etag"]
    assert served["text/html"].headers["content-security-policy"].startswith("default-src")
    assert cached.status_code == 304


@pytest.mark.parametrize("engine", ["sqlite"])
def test_a_304_over_tcp_has_no_body_and_keeps_the_headers(settings) -> None:
    with live(settings()) as client:
        client.post("/v1/articles", json={"articles": _example_articles(DAY)})
        _wait_live(client, client.post("/v1/digests", json={"date": DAY}).json()["job_id"])
        page = client.get(f"/v1/digests/{DAY}", headers={"Accept": "text/html"})
        again = client.get(f"/v1/digests/{DAY}", headers={
            "Accept": "text/html", "If-None-Match": page.headers["etag"]})
    assert page.status_code == 200 and page.content
    assert again.status_code == 304 and again.content == b""
    for name in ("etag", "cache-control", "vary", "content-security-policy"):
        assert again.headers[name] == page.headers[name]
    assert again.headers["x-content-type-options"] == "nosniff"

# -- a real `serve` process -----------------------------------------------------------------------


@pytest.fixture
def make_server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def make(engine: str = "sqlite", **settings: str) -> Server:
        env = process_env(
            tmp_path, SUMMARIZER_DB_PATH=str(tmp_path / f"service-{len(servers)}.sqlite3"))
        if engine == "postgresql":
            env["DATABASE_URL"] = request.getfixturevalue("postgres_schemas")()
        env.update(settings)
        server = Server(env, tmp_path)
        servers.append(server)
        return server.start()

    yield make
    for server in servers:
        server.stop()


def _wait_on_server(client: httpx.Client, job_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {job['status']} after {timeout} s")


def test_a_job_survives_a_killed_server(seeds: Path, make_server, engine: str):
    server = make_server(engine, SUMMARIZER_SCRIPTED_DELAY="0.8",
                         SUMMARIZER_JOB_LEASE_SECONDS="2")
    with server.client() as client:
        client.post("/v1/articles", json={"articles": _seed_articles(seeds)})
        job = client.post("/v1/digests", json={"date": "2015-10-02"}).json()
        again = client.post("/v1/digests", json={"date": "2015-10-02"}).json()
        assert again["job_id"] == job["job_id"]  # asked twice while it runs: one job
        deadline = time.monotonic() + 30
        while client.get(f"/v1/jobs/{job['job_id']}").json()["status"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.1)
    server.kill()
    server.start()
    with server.client() as client:
        finished = _wait_on_server(client, job["job_id"], timeout=90)
        assert finished["status"] == "done"
        assert len(client.get("/v1/digests/2015-10-02").json()["stories"]) == 1
        reposted = client.post("/v1/articles", json={"articles": _seed_articles(seeds)})
    assert {o["status"] for o in reposted.json()["articles"]} == {"duplicate"}


def test_serving_beyond_loopback_needs_keys(tmp_path: Path):
    done = subprocess.run(
        [sys.executable, "-m", "summarizer", "serve", "--host", "0.0.0.0"],
        env={k: v for k, v in os.environ.items() if not k.startswith("SUMMARIZER_")},
        cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "SUMMARIZER_API_KEYS" in done.stderr


CHROMIUM = Path("/usr/bin/chromium")


def test_the_html_digest_renders_in_headless_chromium(make_server, tmp_path: Path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    if not CHROMIUM.is_file():
        pytest.skip(f"Debian's chromium not installed at {CHROMIUM} (apt-get install chromium)")
    server = make_server()
    with server.client() as client:
        client.post("/v1/articles", json={"articles": _example_articles(DAY)})
        _wait_on_server(client, client.post("/v1/digests", json={"date": DAY}).json()["job_id"])
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM),
                                    args=["--no-sandbox", "--headless=new"])
        page = browser.new_page(viewport={"width": 1000, "height": 1400},
                                extra_http_headers={"Accept": "text/html"})
        page.goto(f"{server.url}/v1/digests/{DAY}")
        assert page.title() == f"News digest for {DAY}"
        assert page.locator("h3").first.inner_text()  # a story heading
        cites = page.locator("a.cite")
        assert cites.count() > 0
        for i in range(cites.count()):
            cite = cites.nth(i)
            target = cite.get_attribute("href")
            note = page.locator(target)
            assert note.count() == 1, target  # every citation resolves to a source note
            assert cite.get_attribute("data-quote") in note.inner_text()
        tooltip = cites.first.locator(".quote")
        assert not tooltip.is_visible()
        cites.first.hover()
        assert tooltip.is_visible()  # the quoted passage shows on hover
        assert tooltip.inner_text() == cites.first.get_attribute("data-quote")
        reading = page.locator("body").inner_text()
        for checker_words in ("not in the sources", "found in no", "closest passage"):
            assert checker_words not in reading  # the checker's reasons stay folded away
        page.screenshot(path=str(tmp_path / "digest.png"), full_page=True)
        browser.close()
    assert (tmp_path / "digest.png").stat().st_size > 10_000


# -- bad input and hardening at the edge, through uvicorn on loopback -----------------------------


@contextmanager
def live(config: Settings, backend: Backend | None = None,
         key: str | None = None) -> Iterator[httpx.Client]:
    """`create_app` served by uvicorn on a loopback port (in a thread of this process), and a
    client that talks to it over TCP: bodies arrive as a real server receives them."""
    import uvicorn

    app = create_app(config, backend=backend or ScriptedBackend())
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers,
                          timeout=60) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _wait_live(client: httpx.Client, job_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {job['status']} after {timeout} s")


def _error(answer: httpx.Response) -> dict:
    assert answer.headers["content-type"] == "application/json", answer.text[:200]
    return answer.json()["error"]


@pytest.mark.parametrize("engine", ["sqlite"])
def test_a_field_over_its_limit_is_413_naming_the_field_and_the_setting(settings) -> None:
    config = settings(max_title_chars=20, max_source_chars=12, max_url_chars=40)
    good = {"text": _ledger_text(), "published": DAY}
    with live(config) as client:
        answers = {name: client.post("/v1/articles", json={"articles": [
            good, good, good, {**good, name: value}]})
            for name, value in (("title", "T" * 21), ("source", "S" * 13),
                                ("url", "https://example.org/" + "u" * 21))}
        summary = client.post("/v1/summaries", json={"articles": [{**good, "title": "T" * 25}]})
        at_limit = client.post("/v1/articles", json={"articles": [
            {**good, "title": "T" * 20, "source": "S" * 12}]})
    for name, setting, size, limit in (("title", "MAX_TITLE_CHARS", 21, 20),
                                       ("source", "MAX_SOURCE_CHARS", 13, 12),
                                       ("url", "MAX_URL_CHARS", 41, 40)):
        assert answers[name].status_code == 413
        assert _error(answers[name]) == {
            "code": f"{name}_too_long", "field": f"articles[3].{name}",
            "message": f"articles[3].{name} has {size} characters, over "
                       f"SUMMARIZER_{setting} ({limit})"}
    assert summary.status_code == 413 and _error(summary)["field"] == "articles[0].title"
    # the refused batches stored nothing: the first one within the limits is stored
    assert at_limit.status_code == 200
    assert at_limit.json()["articles"][0]["status"] == "stored"


def test_dates_out_of_range_are_422_and_an_empty_date_is_no_date(settings) -> None:
    from summarizer.models import latest_year

    text = _ledger_text()
    last = latest_year()
    with live(settings()) as client:
        early = client.post("/v1/articles", json={"articles": [
            {"text": text, "published": DAY}, {"text": text, "published": "0001-01-01"}]})
        late = client.post("/v1/summaries", json={"articles": [
            {"text": text, "published": "9999-12-31T23:59:59Z"}]})
        empty = client.post("/v1/articles", json={"articles": [{"text": text, "published": ""}]})
        digests = {repr(day): client.post("/v1/digests", json={"date": day})
                   for day in (0, 20260314, "0", "1899-12-31", f"{last + 1}-01-01",
                               "2026-03-14T00:00:00", "2026-3-14", None)}
        old_page = client.get("/v1/digests/0001-01-01")
    assert early.status_code == 422
    assert _error(early) == {"code": "invalid_request", "field": "articles[1].published",
                             "message": f"articles[1].published: year 1 is outside 1900 to "
                                        f"{last}"}
    assert late.status_code == 422 and _error(late)["field"] == "articles[0].published"
    assert f"year 9999 is outside 1900 to {last}" in _error(late)["message"]
    assert empty.status_code == 200 and empty.json()["articles"][0]["status"] == "stored"
    for day, answer in digests.items():
        assert answer.status_code == 422, day  # never 1970-01-01, never a job
        assert _error(answer)["field"] == "date", day
    assert "YYYY-MM-DD" in _error(digests["0"])["message"]
    assert "year 1899 is outside" in _error(digests["'1899-12-31'"])["message"]
    assert old_page.status_code == 422 and _error(old_page)["field"] == "day"


def test_a_blank_article_is_a_skip_and_the_rest_of_the_batch_is_kept(settings) -> None:
    first, second = _example_articles(DAY)[:2]
    with live(settings()) as client:
        batch = client.post("/v1/articles", json={"articles": [
            first, {"text": "   \n"}, {"title": "a title alone"}, second]})
        summary = client.post("/v1/summaries", json={"articles": [first, {"html": " "}]})
        all_blank = client.post("/v1/summaries", json={"articles": [{"text": ""}, {}]})
        no_articles = client.post("/v1/articles", json={"articles": []})
        no_summary = client.post("/v1/summaries", json={"articles": []})
        job = client.post("/v1/digests", json={"date": DAY})
        done = _wait_live(client, job.json()["job_id"])
        digest = client.get(f"/v1/digests/{DAY}").json()
    assert batch.status_code == 200
    outcomes = batch.json()["articles"]
    assert [o["status"] for o in outcomes] == ["stored", "skipped", "skipped", "stored"]
    assert all("'text' or 'html'" in o["reason"] for o in outcomes[1:3])
    assert "id" not in outcomes[1]  # nothing was stored for it
    assert summary.status_code == 200
    assert len(summary.json()["articles"]) == 1
    (skip,) = summary.json()["skipped"]
    assert skip["origin"] == "articles[1]" and "'text' or 'html'" in skip["reason"]
    assert all_blank.status_code == 422 and _error(all_blank)["code"] == "invalid_input"
    assert "no readable article" in _error(all_blank)["message"]
    for empty in (no_articles, no_summary):
        assert empty.status_code == 422 and _error(empty)["field"] == "articles"
    assert done["status"] == "done"
    assert {a["id"] for a in digest["articles"]} == {outcomes[0]["id"], outcomes[3]["id"]}


@pytest.mark.parametrize("engine", ["sqlite"])
def test_a_digest_of_a_day_with_no_articles_is_refused_before_any_job(settings) -> None:
    with live(settings()) as client:
        refused = client.post("/v1/digests", json={"date": DAY})
        client.post("/v1/articles", json={"articles": _example_articles("2026-03-15")[:1]})
        still = client.post("/v1/digests", json={"date": DAY})
        client.post("/v1/articles", json={"articles": _example_articles(DAY)[1:2]})
        started_now = client.post("/v1/digests", json={"date": DAY})
    assert refused.status_code == 422
    assert _error(refused) == {"code": "invalid_input", "field": "date",
                               "message": f"no articles stored for {DAY}; post them to "
                                          "/v1/articles first"}
    assert still.status_code == 422  # another day's articles are not this day's
    assert started_now.status_code == 202 and started_now.json()["status"] in (
        "queued", "running", "done")


def _chunks(data: bytes, size: int = 1000) -> Iterator[bytes]:
    """The body as a stream: httpx sends it chunked, with no Content-Length."""
    for start in range(0, len(data), size):
        yield data[start:start + size]


@pytest.mark.parametrize("engine", ["sqlite"])
def test_bodies_that_cannot_be_read_are_clear_errors_never_500(settings) -> None:
    json_type = {"Content-Type": "application/json"}
    small = json.dumps({"articles": [{"text": _ledger_text()[:500], "published": DAY}]})
    large = json.dumps({"articles": [{"text": "word " * 2000}]})
    with live(settings(max_body_bytes=4096)) as client:
        chunked_large = client.post("/v1/articles", content=_chunks(large.encode()),
                                    headers=json_type)
        chunked_small = client.post("/v1/articles", content=_chunks(small.encode(), 100),
                                    headers=json_type)
        bad_utf8 = client.post("/v1/articles", headers=json_type,
                               content=b'{"articles": [{"text": "caf\xe9 \xff"}]}')
    with live(settings()) as client:
        deep = client.post("/v1/articles", content=b"[" * 100_000 + b"]" * 100_000,
                           headers=json_type)
        deep_field = client.post("/v1/summaries", headers=json_type, content=(
            b'{"articles": [{"text": "x", "title": ' + b"[" * 50_000 + b"]" * 50_000 + b"}]}"))
        health = client.get("/healthz")
    assert "content-length" not in chunked_large.request.headers
    assert chunked_large.status_code == 413
    assert _error(chunked_large)["code"] == "body_too_large"
    assert "SUMMARIZER_MAX_BODY_BYTES (4096 bytes)" in _error(chunked_large)["message"]
    assert chunked_small.status_code == 200
    assert chunked_small.json()["articles"][0]["status"] == "stored"
    assert bad_utf8.status_code == 422
    assert _error(bad_utf8) == {"code": "invalid_request", "field": "body",
                                "message": "the body is not UTF-8 (byte 0xe9 at position 27); "
                                           "send JSON encoded as UTF-8"}
    for answer in (deep, deep_field):
        assert answer.status_code == 422, answer.text[:300]
        assert "nested too deeply" in _error(answer)["message"]
        assert "Traceback" not in answer.text
    assert health.status_code == 200  # the server lives on


def test_nul_bytes_in_posted_text_never_fail_the_batch(settings) -> None:
    good = _example_articles(DAY)[0]
    nul = {"text": "The council\x00 met on Monday.\x00 It voted to close the bridge.",
           "title": "Council\x00 votes", "source": "Ledger\x00", "url": "https://a.example/\x00x",
           "published": DAY}
    with live(settings()) as client:
        batch = client.post("/v1/articles", json={"articles": [nul, good]})
        summary = client.post("/v1/summaries", json={"articles": [nul, good]})
        job = client.post("/v1/digests", json={"date": DAY})
        done = _wait_live(client, job.json()["job_id"])
        digest = client.get(f"/v1/digests/{DAY}")
    assert batch.status_code == 200, batch.text[:300]
    assert [o["status"] for o in batch.json()["articles"]] == ["stored", "stored"]
    assert summary.status_code == 200, summary.text[:300]
    assert done["status"] == "done"
    for answer in (summary, digest):
        assert "\x00" not in answer.text and "\\u0000" not in answer.text
    titles = {a["title"] for a in digest.json()["articles"]}
    assert "Council votes" in titles  # the NUL taken out, the rest of the title kept


def test_the_key_is_compared_against_every_configured_key(settings) -> None:
    config = settings(api_keys="first-key, second-key")
    with live(config) as anonymous:
        answers = {path: anonymous.get(path)
                   for path in ("/metrics", "/docs", "/redoc", "/openapi.json", "/v1/jobs/x")}
        health = anonymous.get("/healthz")
        prefix = anonymous.get("/v1/jobs/x", headers={"Authorization": "Bearer first"})
        longer = anonymous.get("/v1/jobs/x", headers={"Authorization": "Bearer first-key-2"})
        basic = anonymous.get("/v1/jobs/x", headers={"Authorization": "Basic first-key"})
        first = anonymous.get("/v1/jobs/x", headers={"Authorization": "Bearer first-key"})
        second = anonymous.get("/metrics", headers={"Authorization": "Bearer second-key"})
    for path, answer in answers.items():
        assert answer.status_code == 401, path
        assert _error(answer)["code"] == "unauthorized"
    assert health.status_code == 200
    assert [a.status_code for a in (prefix, longer, basic)] == [401, 401, 401]
    assert first.status_code == 404 and second.status_code == 200


@pytest.mark.parametrize("engine", ["sqlite"])
def test_metrics_and_docs_open_only_by_their_settings(settings) -> None:
    opened = settings(api_keys="k", public_metrics=True, public_docs=True)
    with live(opened) as client:
        metrics = client.get("/metrics")
        pages = [client.get(path) for path in ("/docs", "/redoc", "/openapi.json")]
        v1 = client.get("/v1/jobs/x")
    with live(settings(api_keys="k", public_metrics=True)) as client:
        metrics_only = client.get("/metrics")
        docs_closed = client.get("/openapi.json")
    with live(settings()) as client:  # no keys: loopback only, everything open
        unkeyed = [client.get(path).status_code
                   for path in ("/metrics", "/docs", "/redoc", "/openapi.json")]
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    assert "summarizer_http_requests_total" in metrics.text
    assert [p.status_code for p in pages] == [200, 200, 200]
    assert "/openapi.json" in pages[0].text and pages[2].json()["info"]["title"] == "summarizer"
    assert v1.status_code == 401  # the API itself stays closed
    assert metrics_only.status_code == 200 and docs_closed.status_code == 401
    assert unkeyed == [200, 200, 200, 200]


@pytest.mark.parametrize("engine", ["sqlite"])
def test_html_has_a_policy_without_scripts_and_nothing_is_sniffed(settings) -> None:
    with live(settings()) as client:
        client.post("/v1/articles", json={"articles": _example_articles(DAY)})
        _wait_live(client, client.post("/v1/digests", json={"date": DAY}).json()["job_id"])
        page = client.get(f"/v1/digests/{DAY}", headers={"Accept": "text/html"})
        others = [client.get(f"/v1/digests/{DAY}"), client.get("/v1/jobs/none"),
                  client.get(f"/v1/digests/{DAY}", headers={"Accept": "text/markdown"}),
                  client.post("/v1/articles", content=b"{", headers={"Content-Type": "a/b"})]
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert "style-src 'unsafe-inline'" in policy  # the page's own <style>
    assert "<style>" in page.text and "<script" not in page.text
    assert page.headers["x-content-type-options"] == "nosniff"
    for answer in others:
        assert answer.headers["x-content-type-options"] == "nosniff"
