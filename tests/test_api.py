"""The HTTP service, run for real with `summarizer serve` on loopback, on the scripted backend."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from conftest import EXAMPLES

from summarizer.ingest import read_inputs

SEED_DATES = {"000": "2015-10-02", "001": "2015-10-02", "002": "2015-10-02",
              "003": "2016-02-15", "004": "2015-10-02"}
POSTGRES_URL = os.environ.get("SUMMARIZER_TEST_DATABASE_URL",
                              "postgresql://root@127.0.0.1:5432/test")


class Server:
    """A `summarizer serve` process; `kill` and `start` again to test a crash."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.env = env
        self.workdir = workdir
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.log = workdir / f"server-{self.port}.log"

    def start(self) -> Server:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "summarizer", "serve", "--port", str(self.port)],
                env=self.env, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.2)
        raise AssertionError(f"server did not start: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
def make_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []
    schemas: list[str] = []

    def make(engine: str = "sqlite", **settings: str) -> Server:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("SUMMARIZER_", "OPENAI_", "DATABASE_URL"))}
        env.update({
            "SUMMARIZER_BACKEND": "scripted",
            "SUMMARIZER_ALLOW_NETWORK": "0",
            "SUMMARIZER_CACHE_PATH": str(tmp_path / "cache.sqlite3"),
            "SUMMARIZER_DB_PATH": str(tmp_path / f"service-{len(servers)}.sqlite3"),
        })
        if engine == "postgresql":
            schema = f"test_api_{os.getpid()}_{len(schemas)}_{int(time.time() * 1000)}"
            schemas.append(schema)
            import psycopg

            with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA "{schema}"')
            env["DATABASE_URL"] = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
        env.update(settings)
        server = Server(env, tmp_path)
        servers.append(server)
        return server.start()

    yield make
    for server in servers:
        server.stop()
    if schemas:
        import psycopg

        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            for schema in schemas:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _seed_articles(seeds: Path) -> list[dict]:
    return [{"text": p.read_text(encoding="utf-8"), "url": f"https://seed.example/{p.stem}",
             "published": SEED_DATES[p.stem[:3]]} for p in sorted(seeds.glob("*.txt"))]


def _wait_for(client: httpx.Client, job_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {job['status']} after {timeout} s")


def _example_articles(published: str | None = None) -> list[dict]:
    """The bundled examples as posted articles, all on one day when `published` is given."""
    docs, _ = read_inputs([str(EXAMPLES)])
    extra = {"published": published} if published else {}
    return [{"text": d.text, "title": d.title, "source": d.source, "url": d.url, **extra}
            for d in docs]


def _build_digest(client: httpx.Client, day: str) -> dict:
    """Ask for a day's digest and wait for its job to end."""
    return _wait_for(client, client.post("/v1/digests", json={"date": day}).json()["job_id"])


def test_seeds_make_a_digest_with_cited_stories(seeds: Path, make_server, engine: str):
    server = make_server(engine)
    with server.client() as client:
        posted = client.post("/v1/articles", json={"articles": _seed_articles(seeds)})
        assert posted.status_code == 200
        outcomes = posted.json()["articles"]
        assert [o["status"] for o in outcomes] == ["stored"] * 5
        assert client.get("/v1/digests/2015-10-02").status_code == 404
        started = client.post("/v1/digests", json={"date": "2015-10-02"})
        assert started.status_code == 202
        job = _wait_for(client, started.json()["job_id"])
        assert job["status"] == "done" and job["progress"] == 1.0
        digest = client.get("/v1/digests/2015-10-02").json()
    october = {o["id"] for o, p in zip(outcomes, sorted(seeds.glob("*.txt")), strict=True)
               if not p.name.startswith("003")}
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


def test_the_february_article_is_its_own_story(seeds: Path, make_server):
    server = make_server()
    with server.client() as client:
        client.post("/v1/articles", json={"articles": _seed_articles(seeds)})
        for day in ("2015-10-02", "2016-02-15"):
            assert _build_digest(client, day)["status"] == "done"
        february = client.get("/v1/digests/2016-02-15").json()
    (story,) = february["stories"]
    assert len(story["article_ids"]) == 1
    assert "update_of" not in story  # four months later is not a continuation


def test_reposting_stores_nothing_new(make_server, engine: str):
    articles = _example_articles("2026-03-14")
    server = make_server(engine)
    with server.client() as client:
        first = client.post("/v1/articles", json={"articles": articles}).json()["articles"]
        again = client.post("/v1/articles", json={"articles": articles}).json()["articles"]
    assert [o["status"] for o in first] == ["stored"] * 4
    assert [o["status"] for o in again] == ["duplicate"] * 4
    assert [o["duplicate_of"] for o in again] == [o["id"] for o in first]


def test_a_wire_copy_from_another_outlet_is_a_duplicate_with_both_outlets(make_server):
    text = (EXAMPLES / "03_velle_valley_ledger.txt").read_text(encoding="utf-8")
    server = make_server()
    with server.client() as client:
        first = client.post("/v1/articles", json={"articles": [
            {"text": text, "source": "Velle Valley Ledger", "published": "2026-03-14"}]})
        copy = client.post("/v1/articles", json={"articles": [
            {"text": text + "\nShare this article", "source": "Corvane Wire",
             "published": "2026-03-14"}]})
        original = first.json()["articles"][0]["id"]
        assert copy.json()["articles"][0] == {"id": original, "status": "duplicate",
                                              "duplicate_of": original}
        _build_digest(client, "2026-03-14")
        digest = client.get("/v1/digests/2026-03-14").json()
    assert digest["articles"][0]["sources"] == ["Velle Valley Ledger", "Corvane Wire"]


def test_a_job_survives_a_killed_server(seeds: Path, make_server, engine: str):
    server = make_server(engine, SUMMARIZER_SCRIPTED_DELAY="0.8",
                         SUMMARIZER_JOB_STALE_SECONDS="2")
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
        finished = _wait_for(client, job["job_id"], timeout=90)
        assert finished["status"] == "done"
        assert len(client.get("/v1/digests/2015-10-02").json()["stories"]) == 1
        reposted = client.post("/v1/articles", json={"articles": _seed_articles(seeds)})
    assert {o["status"] for o in reposted.json()["articles"]} == {"duplicate"}


def test_progress_streams_as_server_sent_events(make_server):
    server = make_server(SUMMARIZER_SCRIPTED_DELAY="0.2")
    with server.client() as client:
        client.post("/v1/articles", json={"articles": _example_articles("2026-03-14")})
        job = client.post("/v1/digests", json={"date": "2026-03-14"}).json()
        events = []
        with client.stream("GET", f"/v1/jobs/{job['job_id']}/events") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            for line in stream.iter_lines():
                if line.startswith("event: "):
                    events.append(line.removeprefix("event: "))
                elif line.startswith("data: "):
                    last = json.loads(line.removeprefix("data: "))
    assert events[-1] == "done" and "progress" in events
    assert last["progress"] == 1.0


def test_the_digest_renders_as_markdown_and_html(make_server):
    server = make_server()
    with server.client() as client:
        client.post("/v1/articles", json={"articles": _example_articles("2026-03-14")})
        _build_digest(client, "2026-03-14")
        markdown = client.get("/v1/digests/2026-03-14", headers={"Accept": "text/markdown"})
        page = client.get("/v1/digests/2026-03-14", headers={"Accept": "text/html"})
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert markdown.text.startswith("# News digest for 2026-03-14")
    assert "## Sources" in markdown.text
    assert page.headers["content-type"].startswith("text/html")
    assert '<a class="cite" href="#note-1"' in page.text and 'id="note-1"' in page.text


def test_an_api_key_is_required_when_keys_are_set(make_server):
    server = make_server(SUMMARIZER_API_KEYS="k-one,k-two")
    with server.client() as anonymous:
        refused = anonymous.post("/v1/articles", json={"articles": [{"text": "x"}]})
        assert anonymous.get("/healthz").status_code == 200
    with server.client("wrong") as wrong:
        assert wrong.get("/v1/jobs/none").status_code == 401
    with server.client("k-two") as allowed:
        assert allowed.get("/v1/jobs/none").status_code == 404
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "unauthorized"
    assert "SUMMARIZER_API_KEYS" in refused.json()["error"]["message"]


def test_limits_and_malformed_articles_are_json_errors(make_server):
    server = make_server(SUMMARIZER_MAX_BODY_BYTES="4096", SUMMARIZER_MAX_ARTICLES_PER_REQUEST="2")
    with server.client() as client:
        big = client.post("/v1/articles", json={"articles": [{"text": "word " * 2000}]})
        many = client.post("/v1/articles", json={"articles": [{"text": "a b c."}] * 3})
        malformed = client.post("/v1/articles", json={"articles": [{"title": "no text"}]})
        bad_date = client.post("/v1/articles", json={"articles": [
            {"text": "Some text.", "published": "yesterday"}]})
        not_json = client.post("/v1/articles", content=b"{not json",
                               headers={"Content-Type": "application/json"})
    assert big.status_code == 413
    assert big.json()["error"] == {"code": "body_too_large", "message":
                                   "request body over SUMMARIZER_MAX_BODY_BYTES (4096 bytes); "
                                   "send smaller batches"}
    assert many.status_code == 413 and "(2)" in many.json()["error"]["message"]
    assert malformed.status_code == 422
    assert "'text' or 'html'" in malformed.json()["error"]["message"]
    assert bad_date.status_code == 422 and "ISO date" in bad_date.json()["error"]["message"]
    assert not_json.status_code == 422 and not_json.json()["error"]["code"] == "invalid_request"


def test_a_backend_outage_is_503_with_retry_after(make_server):
    server = make_server(SUMMARIZER_BACKEND="openai", OPENAI_BASE_URL="http://127.0.0.1:9/v1",
                         SUMMARIZER_RETRY_ATTEMPTS="1")
    text = (EXAMPLES / "03_velle_valley_ledger.txt").read_text(encoding="utf-8")
    with server.client() as client:
        down = client.post("/v1/summaries", json={"articles": [{"text": text}]})
        stored = client.post("/v1/articles", json={"articles": [
            {"text": text, "published": "2026-03-14"}]})
        failed = _build_digest(client, "2026-03-14")
    assert down.status_code == 503
    assert down.headers["retry-after"] == "30"
    assert down.json()["error"]["code"] == "backend_unavailable"
    assert "OPENAI_BASE_URL" in down.json()["error"]["message"]
    assert stored.json()["articles"][0]["status"] == "stored"  # ingest needs no model
    assert failed["status"] == "failed" and "cannot connect" in failed["error"]


def test_a_direct_summary_answers_the_contract(make_server):
    articles = _example_articles()[:2]
    server = make_server()
    with server.client() as client:
        answer = client.post("/v1/summaries", json={"articles": articles,
                                                     "options": {"strict": True}})
        fused = client.post("/v1/summaries", json={"articles": articles,
                                                    "options": {"writing": "fused"}})
        wrong = client.post("/v1/summaries", json={"articles": articles,
                                                    "options": {"writing": "poetic"}})
        health = client.get("/readyz")
        metrics = client.get("/metrics")
        docs_page = client.get("/docs")
    assert answer.status_code == 200
    data = answer.json()
    assert len(data["articles"]) == 2 and data["overview"]
    assert data["writing"]["mode"] == "quoted"  # the scripted stand-in counts as small
    assert fused.json()["writing"]["mode"] == "fused"
    assert wrong.status_code == 422 and "writing" in wrong.text
    assert health.json() == {"status": "ready"}
    assert 'summarizer_http_requests_total{method="POST",route="/v1/summaries",status="200"}' \
        in metrics.text
    assert docs_page.status_code == 200


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
        client.post("/v1/articles", json={"articles": _example_articles("2026-03-14")})
        _build_digest(client, "2026-03-14")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM),
                                    args=["--no-sandbox", "--headless=new"])
        page = browser.new_page(viewport={"width": 1000, "height": 1400},
                                extra_http_headers={"Accept": "text/html"})
        page.goto(f"{server.url}/v1/digests/2026-03-14")
        assert page.title() == "News digest for 2026-03-14"
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


def test_a_large_summary_request_becomes_a_job(make_server):
    articles = _example_articles()
    server = make_server(SUMMARIZER_SYNC_SUMMARY_ARTICLES="2")
    with server.client() as client:
        accepted = client.post("/v1/summaries", json={"articles": articles})
        assert accepted.status_code == 202
        job = accepted.json()
        early = client.get(f"/v1/jobs/{job['job_id']}/result")
        assert early.status_code in (200, 409)
        assert _wait_for(client, job["job_id"])["status"] == "done"
        result = client.get(job["result_url"])
    assert result.status_code == 200
    assert len(result.json()["articles"]) == 4 and result.json()["overview"]


def test_a_next_day_story_is_marked_as_an_update(make_server):
    first_day = _example_articles("2026-03-14")[:3]
    follow_up = _example_articles("2026-03-15")[3]  # the next day's report of the collapse
    server = make_server()
    with server.client() as client:
        client.post("/v1/articles", json={"articles": first_day})
        _build_digest(client, "2026-03-14")
        client.post("/v1/articles", json={"articles": [follow_up]})
        _build_digest(client, "2026-03-15")
        before = client.get("/v1/digests/2026-03-14").json()
        after = client.get("/v1/digests/2026-03-15").json()
        markdown = client.get("/v1/digests/2026-03-15", headers={"Accept": "text/markdown"})
    (earlier,) = before["stories"]
    (story,) = after["stories"]
    assert story["update_of"] == {"id": earlier["id"], "day": "2026-03-14",
                                  "title": earlier["title"]}
    assert "Update of “" in markdown.text
