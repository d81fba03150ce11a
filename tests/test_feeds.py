"""Feeds polled for articles, the daily schedule, webhooks, the Atom feed and the email page:
against a news site and a webhook receiver on loopback, with the real store."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import feedparser
import httpx
import pytest
from feed_server import FeedServer
from service_process import Server, process_env

from summarizer.llm.scripted import ScriptedBackend
from summarizer.server import feeds, webhook
from summarizer.server.app import create_app
from summarizer.server.service import Service, open_service
from summarizer.server.store import Delivery, Job, open_store
from summarizer.server.worker import Worker
from summarizer.settings import Settings

pytestmark = pytest.mark.anyio


class Receiver:
    """A webhook endpoint on loopback: keeps each POST's headers and body; answers the
    statuses in `answers` in turn, then 204."""

    def __init__(self, answers: tuple[int, ...] = ()) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.answers = list(answers)
        self.got = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - the standard library's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.received.append((dict(self.headers), body))
                status = receiver.answers.pop(0) if receiver.answers else 204
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                if status < 300:
                    receiver.got.set()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/hook"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def site() -> FeedServer:
    with FeedServer() as server:
        yield server


def _settings(tmp_path: Path, **extra: object) -> Settings:
    return Settings(db_path=tmp_path / "service.sqlite3", allow_private_urls=True,
                    worker_poll_seconds=0.05, **extra)


@asynccontextmanager
async def service_on(settings: Settings, *, worker: bool = False) -> AsyncIterator[Service]:
    async with open_service(settings, worker=worker, backend=ScriptedBackend()) as service:
        yield service


async def _wait(check, timeout: float = 30.0, what: str = "it"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {timeout} s")


async def _finished(service: Service, job_id: str) -> Job:
    async def done() -> Job | None:
        job = await service.job(job_id)
        return job if job.status in ("done", "failed") else None

    return await _wait(done, what=f"job {job_id} finishing")


# -- feeds ---------------------------------------------------------------------------------------


async def test_feed_articles_are_stored_once_with_the_feed_as_outlet(site, tmp_path) -> None:
    async with service_on(_settings(tmp_path)) as service:
        rss, _ = await service.add_feed(site.url("/rss.xml"), "Brackwater Wire")
        atom, _ = await service.add_feed(site.url("/atom.xml"), None)
        polls = {p.feed_id: p for p in await feeds.poll_now(service)}
        stored = await asyncio.to_thread(service.store.articles_on,
                                         site.published.date().isoformat())

    rss_entries = {e.url: e for e in polls[rss.id].entries}
    assert polls[rss.id].status == "updated"
    assert rss_entries[site.url("/a/1.html")].status == "stored"
    assert rss_entries[site.url("/a/2.html")].status == "stored"
    missing = rss_entries[site.url("/missing.html")]
    assert missing.status == "skipped" and "404" in missing.reason
    atom_entries = {e.url: e for e in polls[atom.id].entries}
    assert [atom_entries[site.url(f"/a/{n}.html")].status for n in (3, 4)] == ["stored"] * 2
    # The copy of article 1 at another address is one article with both feeds as outlets.
    copy = atom_entries[site.url("/a/1-copy.html")]
    assert copy.status == "duplicate"
    assert copy.article_id == rss_entries[site.url("/a/1.html")].article_id or \
        copy.article_id is not None
    assert len(stored) == 4
    by_url = {article.url: article for article in stored}
    first = by_url[site.url("/a/1.html")]
    assert first.source == "Brackwater Wire"  # the name given, not the page's site name
    assert "Valley Atom" in first.outlets()  # the Atom feed's own title names its outlet
    assert by_url[site.url("/a/3.html")].source == "Valley Atom"
    assert all(site.hits[f"/a/{n}.html"] == 1 for n in (1, 2, 3, 4))


async def test_a_second_poll_asks_conditionally_and_fetches_nothing(site, tmp_path) -> None:
    async with service_on(_settings(tmp_path)) as service:
        feed, _ = await service.add_feed(site.url("/rss.xml"), None)
        await feeds.poll_now(service)
        pages = sum(n for path, n in site.hits.items() if path.startswith("/a/"))
        again = await feeds.poll_now(service, feed.id)
        stored, _ = await service.feed(feed.id)

    assert [p.status for p in again] == ["not-modified"]
    assert site.not_modified["/rss.xml"] == 1  # answered 304
    assert sum(n for path, n in site.hits.items() if path.startswith("/a/")) == pages
    assert stored.error is None and stored.failures == 0
    assert stored.name == "Brackwater Wire"  # the feed's own title, kept from the first poll


async def test_entries_already_read_are_not_fetched_again(site, tmp_path) -> None:
    async with service_on(_settings(tmp_path)) as service:
        feed, _ = await service.add_feed(site.url("/rss.xml"), None)
        await feeds.poll_now(service)
        # The feed changes (a new ETag) but lists the same entries.
        status, kind, body = site.routes["/rss.xml"]
        site.routes["/rss.xml"] = (status, kind, body.replace(b"News<", b"All the news<"))
        [poll] = await feeds.poll_now(service, feed.id)

    assert poll.status == "updated" and poll.entries == ()
    assert site.hits["/a/1.html"] == 1 and site.hits["/missing.html"] == 1


async def test_each_bad_entry_is_skipped_with_its_reason_and_the_rest_stored(
        site, tmp_path) -> None:
    async with service_on(_settings(tmp_path)) as service:
        feed, _ = await service.add_feed(site.url("/mixed.xml"), None)
        [poll] = await feeds.poll_now(service)
        stored = await asyncio.to_thread(service.store.articles_on,
                                         site.published.date().isoformat())
    entries = {e.url.rsplit("/", 1)[1]: e for e in poll.entries}
    assert entries["fr.html"].status == "stored"
    assert [a.title for a in stored] == ["Un incendie détruit 120 hectares près de Varenne"]
    assert entries["big.html"].status == "skipped"
    assert entries["big.html"].reason == "larger than 10 MB"
    assert entries["loop.html"].status == "skipped"
    assert entries["loop.html"].reason == "more than 5 redirects"
    assert site.hits["/loop.html"] == 6  # the first answer and five redirects, then no more


async def test_an_entry_whose_page_failed_for_now_is_fetched_again(site, tmp_path) -> None:
    async with service_on(_settings(tmp_path)) as service:
        feed, _ = await service.add_feed(site.url("/flaky.xml"), None)
        first = await feeds.poll_now(service, feed.id)
        second = await feeds.poll_now(service, feed.id)
        third = await feeds.poll_now(service, feed.id)
        fourth = await feeds.poll_now(service, feed.id)
        _, entries = await service.feed(feed.id)
    # 503, 503 (the feed fetched whole each time, not a 304), then the page answers.
    assert [(p.status, p.unread) for p in first + second] == [("updated", 1)] * 2
    assert site.not_modified["/flaky.xml"] == 1  # only the fourth poll's
    assert site.hits["/flaky.html"] == 3
    assert [e.status for e in third[0].entries] == ["stored"] and third[0].unread == 0
    assert fourth[0].status == "not-modified"  # now read: the validators are kept
    assert [e.status for e in entries] == ["stored"]


@pytest.mark.parametrize(("path", "reason"), [
    ("/broken.xml", "not a readable RSS or Atom feed"),
    ("/not-a-feed.xml", "not a readable RSS or Atom feed"),
    ("/gone.xml", "HTTP 404"),
    ("/loop.xml", "redirects"),
])
async def test_a_failing_feed_keeps_its_error_and_backs_off(site, tmp_path, path,
                                                           reason) -> None:
    settings = _settings(tmp_path, feed_interval_seconds=60)
    async with service_on(settings) as service:
        bad, _ = await service.add_feed(site.url(path), None)
        good, _ = await service.add_feed(site.url("/atom.xml"), None)
        polls = {p.feed_id: p for p in await feeds.poll_now(service)}
        failed, _ = await service.feed(bad.id)
        await feeds.poll_now(service, bad.id)
        twice, _ = await service.feed(bad.id)

    assert polls[bad.id].status == "failed" and reason in polls[bad.id].error
    assert polls[good.id].status == "updated" and polls[good.id].entries  # the others go on
    assert failed.failures == 1 and reason in failed.error
    waits = [(datetime.fromisoformat(f.next_poll) - datetime.fromisoformat(f.polled))
             .total_seconds() for f in (failed, twice)]
    assert twice.failures == 2
    assert 110 < waits[0] < 130 and 230 < waits[1] < 250  # 2x, then 4x the interval


async def test_feeds_at_private_addresses_are_refused_by_default(site, tmp_path) -> None:
    settings = _settings(tmp_path).model_copy(update={"allow_private_urls": False})
    async with service_on(settings) as service:
        feed, _ = await service.add_feed(site.url("/rss.xml"), None)
        [poll] = await feeds.poll_now(service)
        stored, _ = await service.feed(feed.id)
    assert poll.status == "failed" and stored.error.startswith("refused: 127.0.0.1 is a")
    assert "SUMMARIZER_ALLOW_PRIVATE_URLS=true" in stored.error
    assert not site.hits  # nothing was asked of the address


def test_the_backoff_doubles_up_to_its_limit() -> None:
    assert [feeds.backoff(n, 900, 6 * 3600) for n in (1, 2, 3, 4, 5)] == [
        1800, 3600, 7200, 14400, 21600]


async def test_feeds_through_the_api(site, tmp_path) -> None:
    app = create_app(_settings(tmp_path, with_worker=False), backend=ScriptedBackend())
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        added = await client.post("/v1/feeds", json={"url": site.url("/rss.xml"),
                                                     "name": "Wire"})
        again = await client.post("/v1/feeds", json={"url": site.url("/rss.xml")})
        bad = await client.post("/v1/feeds", json={"url": "ftp://example.org/feed"})
        listed = await client.get("/v1/feeds")
        feed_id = added.json()["id"]
        await feeds.poll_now(app.state.service, feed_id)
        one = await client.get(f"/v1/feeds/{feed_id}")
        removed = await client.delete(f"/v1/feeds/{feed_id}")
        gone = await client.get(f"/v1/feeds/{feed_id}")
        after = await client.get("/v1/feeds")

    assert added.status_code == 201 and added.headers["location"] == f"/v1/feeds/{feed_id}"
    assert again.status_code == 200 and again.json()["id"] == feed_id
    assert bad.status_code == 422 and "http://" in bad.json()["error"]["message"]
    assert [f["url"] for f in listed.json()["feeds"]] == [site.url("/rss.xml")]
    entries = one.json()["entries"]
    assert sorted(e["status"] for e in entries) == ["skipped", "stored", "stored"]
    assert removed.status_code == 204 and gone.status_code == 404
    assert after.json() == {"feeds": []}


# -- the schedule --------------------------------------------------------------------------------


async def test_the_scheduled_digest_is_queued_once_across_workers(tmp_path) -> None:
    zone = "Pacific/Kiritimati"  # UTC+14: its day is often not the UTC day
    local = datetime.now(ZoneInfo(zone))
    at = (local - timedelta(minutes=1)).time().replace(microsecond=0)
    if at > local.time():
        pytest.skip("within a minute of local midnight: no time a minute back today")
    settings = _settings(tmp_path, digest_at=at, timezone=zone)
    async with service_on(settings) as first, service_on(settings) as second:
        workers = [Worker(first), Worker(second)]
        for _ in range(3):  # both look at once, three times over
            await asyncio.gather(*(w.tick() for w in workers))
        for worker in workers:
            await worker.stop()
        day = local.date().isoformat()
        digests = await asyncio.to_thread(first.store.jobs_of, "digest", day)
        other_days = await asyncio.to_thread(first.store.unfinished_jobs)

    assert len(digests) == 1  # the day where the schedule is, once
    assert [job for job in other_days if job.key != day] == []


async def test_no_digest_is_scheduled_before_its_time(tmp_path) -> None:
    local = datetime.now(UTC)
    at = (local + timedelta(minutes=5)).time()
    if at < local.time():
        pytest.skip("too close to midnight")
    async with service_on(_settings(tmp_path, digest_at=at)) as service:
        worker = Worker(service)
        await worker.tick()
        await worker.stop()
        assert await asyncio.to_thread(service.store.unfinished_jobs) == []


# -- webhooks ------------------------------------------------------------------------------------


async def _deliver(site: FeedServer, tmp_path: Path, receiver: Receiver, until: str,
                   **settings: object) -> tuple[Job, Delivery]:
    """A feed read, its day's digest built by a worker that sends webhooks to `receiver`;
    the job and the delivery, once the delivery's status is `until`."""
    config = _settings(tmp_path, webhook_url=receiver.url, webhook_retry_seconds=0.05,
                       **settings)
    try:
        async with service_on(config, worker=True) as service:
            await service.add_feed(site.url("/rss.xml"), None)
            await feeds.poll_now(service)
            job, _ = await service.request_digest(site.published.date().isoformat())
            assert (await _finished(service, job.id)).status == "done"

            async def reached():
                rows = await asyncio.to_thread(service.store.deliveries)
                return rows if rows and rows[0].status == until else None

            [delivery] = await _wait(reached, what=f"the webhook {until}")
    finally:
        receiver.close()
    return job, delivery


async def test_a_finished_digest_is_posted_signed_and_retried_until_received(
        site, tmp_path) -> None:
    receiver = Receiver(answers=(500, 503))
    job, delivery = await _deliver(site, tmp_path, receiver, "sent", webhook_secret="s3cret")

    assert len(receiver.received) == 3  # two failures, then received
    headers, body = receiver.received[-1]
    assert delivery.status == "sent" and delivery.attempts == 3
    stamp = headers[webhook.TIMESTAMP_HEADER]
    assert webhook.verify("s3cret", stamp, body, headers[webhook.SIGNATURE_HEADER])
    assert not webhook.verify("other", stamp, body, headers[webhook.SIGNATURE_HEADER])
    assert not webhook.verify("s3cret", stamp, body + b" ", headers[webhook.SIGNATURE_HEADER])
    sent = json.loads(body)
    day = site.published.date().isoformat()
    assert (sent["event"], sent["date"], sent["job_id"]) == ("digest.done", day, job.id)
    assert sent["digest"]["date"] == day and sent["digest"]["stories"]


async def test_a_webhook_that_keeps_failing_is_given_up_with_its_error(site, tmp_path) -> None:
    receiver = Receiver(answers=(500,) * 10)
    _, delivery = await _deliver(site, tmp_path, receiver, "failed", webhook_max_attempts=3)
    assert len(receiver.received) == 3 and delivery.attempts == 3
    assert delivery.error == "HTTP 500 from the webhook"


# -- Atom and email ------------------------------------------------------------------------------


async def test_digests_are_an_atom_feed_and_an_email_page(site, tmp_path) -> None:
    app = create_app(_settings(tmp_path), backend=ScriptedBackend())
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        empty = await client.get("/v1/digests.atom")
        service: Service = app.state.service
        await service.add_feed(site.url("/rss.xml"), None)
        await feeds.poll_now(service)
        day = site.published.date().isoformat()
        job = (await client.post("/v1/digests", json={"date": day})).json()
        await _finished(service, job["job_id"])
        atom = await client.get("/v1/digests.atom")
        by_accept = await client.get(f"/v1/digests/{day}",
                                     headers={"Accept": "text/html; profile=email"})
        by_format = await client.get(f"/v1/digests/{day}?format=email")
        page = await client.get(f"/v1/digests/{day}?format=html")
        markdown = await client.get(f"/v1/digests/{day}?format=markdown")

    assert feedparser.parse(empty.content).entries == []
    assert atom.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(atom.content)
    assert not parsed.bozo and parsed.version == "atom10"
    [entry] = parsed.entries
    assert entry.title == f"News digest for {day}"
    assert entry.link == f"http://test/v1/digests/{day}?format=html"
    html = entry.content[0].value
    assert "Kessing Street" in html and "<script" not in html

    email = by_format.text
    assert by_accept.text == email and by_accept.headers["etag"] == by_format.headers["etag"]
    assert email != page.text and by_format.headers["etag"] != page.headers["etag"]
    assert "<style" not in email and "<script" not in email and 'style="' in email
    assert "Kessing Street" in email
    assert markdown.headers["content-type"].startswith("text/markdown")


# -- the whole day, unattended ---------------------------------------------------------------------


def test_serve_and_a_worker_build_the_scheduled_digest_and_send_it(site, tmp_path) -> None:
    """Two feeds named once; `summarizer serve` and a `summarizer worker` on one database with
    SUMMARIZER_DIGEST_AT a minute ahead: the digest is built once, the webhook receives it, and
    the Atom feed lists it, without any other request."""
    now = datetime.now(UTC)
    at = (now + timedelta(minutes=1)).replace(second=0, microsecond=0)
    if (at - now).total_seconds() < 20:  # leave the feeds time to be read first
        at += timedelta(minutes=1)
    if at.date() != now.date():
        pytest.skip("the next minute is tomorrow; the feed's articles are of today")
    receiver = Receiver()
    env = process_env(tmp_path, **{
        "SUMMARIZER_ALLOW_PRIVATE_URLS": "true",
        "SUMMARIZER_DB_PATH": str(tmp_path / "service.sqlite3"),
        "SUMMARIZER_DIGEST_AT": at.strftime("%H:%M"),
        "SUMMARIZER_TIMEZONE": "UTC",
        "SUMMARIZER_WEBHOOK_URL": receiver.url,
        "SUMMARIZER_WEBHOOK_SECRET": "shared-secret",
    })
    for url, name in ((site.url("/rss.xml"), "Brackwater Wire"), (site.url("/atom.xml"), "")):
        added = subprocess.run(
            [sys.executable, "-m", "summarizer", "feeds", "add", url,
             *(["--name", name] if name else [])],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert added.returncode == 0 and added.stdout.startswith("added: "), added.stderr
    api = Server(env, tmp_path)
    worker = Server(env, tmp_path, ("worker",))
    try:
        api.start()
        worker.start()
        wait = (at - datetime.now(UTC)).total_seconds() + 60
        assert receiver.got.wait(wait), api.log.read_text()[-3000:]
        time.sleep(2.0)  # a second delivery, were there one, would come within this
        with api.client() as client:
            atom = client.get("/v1/digests.atom")
        feeds_now = subprocess.run(
            [sys.executable, "-m", "summarizer", "feeds", "list", "--format", "json"],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    finally:
        worker.stop()
        api.stop()
        receiver.close()

    day = now.date().isoformat()
    [(headers, body)] = receiver.received  # once, though two processes watched the clock
    assert webhook.verify("shared-secret", headers[webhook.TIMESTAMP_HEADER], body,
                          headers[webhook.SIGNATURE_HEADER])
    sent = json.loads(body)
    assert sent["date"] == day
    digest = sent["digest"]
    outlets = {source for a in digest["articles"] for source in a["sources"]}
    assert {"Brackwater Wire", "Valley Atom"} <= outlets
    assert len(digest["articles"]) == 4 and digest["stories"]
    parsed = feedparser.parse(atom.content)
    assert [entry.title for entry in parsed.entries] == [f"News digest for {day}"]
    listed = json.loads(feeds_now.stdout)
    assert [f["error"] for f in listed] == [None, None] and all(f["polled"] for f in listed)
    store = open_store(tmp_path / "service.sqlite3")
    try:
        assert [job.status for job in store.jobs_of("digest", day)] == ["done"]
    finally:
        store.close()


@pytest.mark.parametrize("public", [False, True])
async def test_the_atom_feed_is_behind_the_key_unless_opened_to_readers(tmp_path,
                                                                       public) -> None:
    config = _settings(tmp_path, api_keys="reader-test-key", public_feed=public)
    app = create_app(config, backend=ScriptedBackend())
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        anonymous = await client.get("/v1/digests.atom")
        keyed = await client.get("/v1/digests.atom",
                                 headers={"Authorization": "Bearer reader-test-key"})
        digest = await client.get("/v1/digests/2026-03-14")
    assert anonymous.status_code == (200 if public else 401)
    assert keyed.status_code == 200
    assert digest.status_code == 401  # the rest of /v1 stays behind the key


async def test_schedules_through_the_api(tmp_path) -> None:
    app = create_app(_settings(tmp_path, with_worker=False, timezone="Europe/Paris"),
                     backend=ScriptedBackend())
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        added = await client.post("/v1/schedules", json={"at": "07:00", "day": "yesterday"})
        again = await client.post("/v1/schedules",
                                  json={"at": "07:00:00", "timezone": "Europe/Paris",
                                        "day": "yesterday"})
        bad_time = await client.post("/v1/schedules", json={"at": "25:00"})
        bad_zone = await client.post("/v1/schedules", json={"at": "07:00", "timezone": "Mars"})
        listed = await client.get("/v1/schedules")
        removed = await client.delete(f"/v1/schedules/{added.json()['id']}")
        gone = await client.delete(f"/v1/schedules/{added.json()['id']}")
        after = await client.get("/v1/schedules")
    assert added.status_code == 201
    assert {k: added.json()[k] for k in ("at", "timezone", "day")} == {
        "at": "07:00:00", "timezone": "Europe/Paris", "day": "yesterday"}
    assert again.status_code == 200 and again.json()["id"] == added.json()["id"]
    assert bad_time.status_code == 422 and bad_zone.status_code == 422
    assert "IANA" in bad_zone.json()["error"]["message"]
    assert [s["id"] for s in listed.json()["schedules"]] == [added.json()["id"]]
    assert removed.status_code == 204 and gone.status_code == 404
    assert after.json() == {"schedules": []}


async def test_stored_and_set_schedules_each_queue_their_day_once(tmp_path) -> None:
    zone = "Pacific/Kiritimati"
    local = datetime.now(ZoneInfo(zone))
    at = (local - timedelta(minutes=1)).time().replace(microsecond=0)
    if at > local.time():
        pytest.skip("within a minute of local midnight: no time a minute back today")
    settings = _settings(tmp_path, digest_at=at, timezone=zone)
    async with service_on(settings) as service:
        # the same as the setting's (one key), and one of the day before
        await service.add_schedule(at.isoformat(), zone, "today")
        await service.add_schedule(at.isoformat(), zone, "yesterday")
        later = (local + timedelta(minutes=5)).time()
        if later > local.time():  # not yet due
            await service.add_schedule(later.isoformat(timespec="seconds"), zone, "today")
        workers = [Worker(service), Worker(service)]
        for _ in range(2):
            await asyncio.gather(*(w.tick() for w in workers))
        for worker in workers:
            await worker.stop()
        today = local.date().isoformat()
        yesterday = (local.date() - timedelta(days=1)).isoformat()
        jobs = {day: await asyncio.to_thread(service.store.jobs_of, "digest", day)
                for day in (today, yesterday)}
    assert [len(jobs[today]), len(jobs[yesterday])] == [1, 1]
