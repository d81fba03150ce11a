"""Nothing lost on model faults: a model server on loopback that fails 30% of requests in every
way seen in the wild; each run completes with every article summarised or recorded as failed
with its reason, and a model that only ever answers with nothing ends a run with a clear error.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fault_server import FaultServer, articles

from summarizer.cli import main
from summarizer.errors import BackendRejected, BackendUnavailable
from summarizer.llm.base import Completion, CompletionRequest
from summarizer.llm.scripted import ScriptedBackend, lead_sentences
from summarizer.models import Document
from summarizer.pipeline import Options, summarize
from summarizer.render import to_markdown
from summarizer.settings import Settings, get_settings

RUNS = 10
ARTICLES = 40


@pytest.fixture
def model_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The openai backend, with a short timeout and short waits so faults cost little time."""
    for name, value in {"SUMMARIZER_BACKEND": "openai", "SUMMARIZER_MODEL": "stub-model",
                        "SUMMARIZER_TIMEOUT": "0.5", "SUMMARIZER_RETRY_MAX_WAIT": "0.02",
                        "SUMMARIZER_RETRY_ATTEMPTS": "6", "SUMMARIZER_CONCURRENCY": "8"}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _write_articles(folder: Path, count: int) -> None:
    folder.mkdir()
    for n, article in enumerate(articles(count)):
        (folder / f"{n:03}.json").write_text(json.dumps(article))


def _cache_rows(path: Path) -> int:
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        return db.execute("SELECT count(*) FROM llm_cache").fetchone()[0]


def test_every_cli_run_completes_under_30_percent_mixed_faults(
        model_env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "articles"
    _write_articles(folder, ARTICLES)
    tally = {"completed": 0, "summarised": 0, "failed": 0}
    with FaultServer(0.3, seed=11) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        for run in range(RUNS):
            monkeypatch.setenv("SUMMARIZER_CACHE_PATH", str(tmp_path / f"cache{run}.sqlite3"))
            get_settings.cache_clear()
            out = tmp_path / f"run{run}.json"
            code = main(["summarize", str(folder), "--format", "json", "--out", str(out)])
            assert code == 0, capsys.readouterr().err
            result = json.loads(out.read_text())
            failed = [f for f in result["failed"] if f["part"] == "article"]
            # Every article is either summarised or recorded as failed, with the reason.
            assert len(result["articles"]) + len(failed) == ARTICLES
            assert all(a["summary"] for a in result["articles"])
            assert all(f["reason"] for f in result["failed"])
            skipped = {s["origin"] for s in result["skipped"]}
            assert len(skipped) == len(failed)
            tally["completed"] += 1
            tally["summarised"] += len(result["articles"])
            tally["failed"] += len(failed)
    # Every kind of fault was served, and the runs still summarised nearly everything.
    assert set(server.served) == {"ok", *server.faults}
    assert tally["summarised"] >= 0.95 * RUNS * ARTICLES, tally


def test_a_model_that_only_answers_with_nothing_ends_the_run_clearly_and_caches_nothing(
        model_env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "articles"
    _write_articles(folder, 3)
    out = tmp_path / "out.md"
    out.write_text("an earlier summary\n")
    with FaultServer(1.0, faults=("empty-content",)) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("SUMMARIZER_RETRY_ATTEMPTS", "2")
        get_settings.cache_clear()
        code = main(["summarize", str(folder), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    assert "no article could be summarised" in err and "message content is empty" in err
    assert "Traceback" not in err
    assert out.read_text() == "an earlier summary\n"  # a failed run leaves the file untouched
    assert _cache_rows(tmp_path / "cache.sqlite3") == 0


def test_a_rerun_asks_the_model_only_for_what_failed(
        model_env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    _write_articles(folder, 8)
    with FaultServer(0.5, faults=("503", "empty-content")) as flaky:
        monkeypatch.setenv("OPENAI_BASE_URL", flaky.base_url)
        monkeypatch.setenv("SUMMARIZER_RETRY_ATTEMPTS", "1")  # faults go straight through
        # These faults answer at once; a long timeout keeps a busy machine from adding its own
        # (an answer the server gave but the client stopped waiting for is not cached).
        monkeypatch.setenv("SUMMARIZER_TIMEOUT", "10")
        get_settings.cache_clear()
        assert main(["summarize", str(folder), "--format", "json",
                     "--out", str(tmp_path / "first.json")]) == 0
    first = json.loads((tmp_path / "first.json").read_text())
    assert first["failed"], "with one attempt and half the requests failing, some part fails"
    with FaultServer(0.0) as healthy:
        monkeypatch.setenv("OPENAI_BASE_URL", healthy.base_url)
        monkeypatch.setenv("SUMMARIZER_RETRY_ATTEMPTS", "6")
        get_settings.cache_clear()
        assert main(["summarize", str(folder), "--format", "json",
                     "--out", str(tmp_path / "second.json")]) == 0
    second = json.loads((tmp_path / "second.json").read_text())
    assert second["failed"] == [] and len(second["articles"]) == 8
    # Every request answered well the first time is answered from the cache: the model is
    # asked again only what failed (and the parts that change with it, such as the overview).
    assert healthy.asked and not set(healthy.asked) & flaky.answered
    assert second["usage"]["cache_hits"] > 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def service(model_env: None, tmp_path: Path) -> Iterator[tuple[str, FaultServer]]:
    """The service on a real loopback port, its model the faulty server."""
    from summarizer.server.app import create_app

    with FaultServer(0.3, seed=5) as model:
        settings = Settings(openai_base_url=model.base_url, db_path=tmp_path / "svc.sqlite3")
        port = _free_port()
        server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1",
                                               port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}", model
        server.should_exit = True
        thread.join(10)


def test_every_digest_completes_on_the_first_request_under_30_percent_faults(
        service: tuple[str, FaultServer]) -> None:
    base, model = service
    days = [f"2026-03-{d:02}" for d in range(1, 11)]

    async def scenario() -> list[dict]:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            pool = articles(4 * len(days), seed=3)
            for n, day in enumerate(days):
                batch = [a | {"published": day} for a in pool[4 * n: 4 * n + 4]]
                reply = await client.post("/v1/articles", json={"articles": batch})
                assert reply.status_code == 200, reply.text
            jobs = []
            for day in days:
                reply = await client.post("/v1/digests", json={"date": day})
                assert reply.status_code == 202, reply.text
                jobs.append(reply.json()["job_id"])
            finished = []
            for job_id in jobs:
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    job = (await client.get(f"/v1/jobs/{job_id}")).json()
                    if job["status"] in ("done", "failed"):
                        break
                    await asyncio.sleep(0.1)
                finished.append(job)
            for day in days:
                digest = await client.get(f"/v1/digests/{day}")
                assert digest.status_code == 200, digest.text
                body = digest.json()
                failed = [f for f in body["failed"] if f["part"] == "article"]
                assert len(body["articles"]) + len(failed) == 4
            return finished

    finished = asyncio.run(scenario())
    assert [job["status"] for job in finished] == ["done"] * len(days), finished
    assert sum(model.served[f] for f in model.faults) > 0
    # A job that finished with parts the model failed says which.
    for job in finished:
        assert all(f["reason"] for f in job.get("failed", []))


class _FailsWhen(ScriptedBackend):
    """The scripted model, failing every request `fails` picks with `error`."""

    def __init__(self, fails: Callable[[CompletionRequest], bool], error: Exception) -> None:
        super().__init__()
        self.fails = fails
        self.error = error

    async def complete(self, request: CompletionRequest) -> Completion:
        if self.fails(request):
            raise self.error
        return await super().complete(request)


def _docs(count: int) -> list[Document]:
    return [Document(origin=f"a{n}.json", **a) for n, a in enumerate(articles(count, seed=9))]


def test_a_failed_overview_leaves_the_article_summaries_and_says_so() -> None:
    def across(request: CompletionRequest) -> bool:
        return "articles about one story" in request.messages[-1].content

    backend = _FailsWhen(across, BackendUnavailable("503 from the server", backend="stub"))
    result = asyncio.run(summarize(_docs(3), backend=backend,
                                   options=Options(writing="quoted")))
    assert len(result.articles) == 3 and all(a.summary for a in result.articles)
    assert result.overview == ()
    assert [(f.part, f.reason) for f in result.failed] == [("overview", "503 from the server")]
    assert "*The model could not write the summary across articles: 503 from the server.*" \
        in to_markdown(result)


def test_a_failed_restatement_is_quoted_not_lost() -> None:
    def restating(request: CompletionRequest) -> bool:
        """The overview's restating call, and the re-ask of every article's refused lines."""
        return request.prompt_id == "fuse" or len(request.messages) > 2

    def invent(request: CompletionRequest) -> str:
        if request.prompt_id != "choose_and_fuse":
            return lead_sentences(request)
        return "\n".join(f"[{i.id}] Officials denied everything." for i in request.items[:2])

    backend = _FailsWhen(restating, BackendUnavailable("timed out", backend="stub"))
    backend.default = invent
    result = asyncio.run(summarize(_docs(2), backend=backend, options=Options(writing="fused")))
    assert result.failed == ()
    assert [r.prompt_id for r in backend.requests].count("choose_and_fuse") == 2
    sentences = result.sentences()
    assert sentences and all(s.written == "quoted" for s in sentences)


def test_a_refused_request_ends_the_run_since_every_call_would_fail_alike() -> None:
    backend = _FailsWhen(lambda _: True, BackendRejected("401: check OPENAI_API_KEY",
                                                         backend="stub", status_code=401))
    with pytest.raises(BackendRejected, match="OPENAI_API_KEY"):
        asyncio.run(summarize(_docs(3), backend=backend))
