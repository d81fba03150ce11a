"""Fetching pages: bounds (time, size, redirects), address checks, robots.txt, conditional GET,
and articles read from fetched pages. Real HTTP servers on 127.0.0.1; nothing beyond it."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from test_api import serving

from summarizer import __version__, fetch
from summarizer.cli import main
from summarizer.errors import FetchError, InputError
from summarizer.fetch import Fetched, Fetcher, address_problem, fetch_article, fetch_articles
from summarizer.models import Document, Skip
from summarizer.settings import Settings, get_settings

STORY = ("The harbour reopened on Monday after the storm, the port authority said. Ships queued "
         "outside the breakwater all morning, and the first ferry left at noon with two hundred "
         "passengers on board. Repairs to the north pier will take another month.")
PAGE = f"""<html><head><title>Harbour reopens after storm</title>
<meta property="og:site_name" content="Port Gazette">
<meta name="date" content="2026-03-02">
</head><body><article><h1>Harbour reopens after storm</h1><p>{STORY}</p></article></body></html>"""

Reply = tuple[int, dict[str, str], bytes]


@dataclass
class Site:
    """A loopback HTTP server: `routes` maps a path to a function of the request's headers that
    answers (status, headers, body), or writes the answer itself and returns None."""

    routes: dict[str, Callable[[BaseHTTPRequestHandler], Reply | None]] = field(
        default_factory=dict)
    seen: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def paths(self) -> list[str]:
        return [path for path, _ in self.seen]

    def page(self, path: str, body: str | bytes, content_type: str = "text/html; charset=utf-8",
             status: int = 200, **headers: str) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.routes[path] = lambda _: (status, {"Content-Type": content_type, **headers}, data)

    def redirect(self, path: str, to: str, status: int = 302) -> None:
        self.routes[path] = lambda _: (status, {"Location": to}, b"")


@pytest.fixture
def site() -> Iterator[Site]:
    state = Site()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server name
            state.seen.append((self.path, dict(self.headers)))
            route = state.routes.get(self.path.split("?")[0])
            answer = route(self) if route else (404, {}, b"not here")
            if answer is None:
                return
            status, headers, body = answer
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def local(**overrides: object) -> Settings:
    """Settings for fetching from the loopback test servers (and nowhere else)."""
    return Settings(**{"allow_private_urls": True, "allow_network": False, **overrides})


def refusal(settings: Settings, url: str, **kwargs: object) -> str:
    with Fetcher(settings) as fetcher, pytest.raises(FetchError) as caught:
        fetcher.get(url, **kwargs)  # type: ignore[arg-type]
    assert caught.value.url == url
    assert isinstance(caught.value, InputError)
    return caught.value.reason


# -- fetching ------------------------------------------------------------------------------------


def test_a_page_is_fetched_with_a_user_agent_naming_the_project(site: Site):
    site.page("/a.html", PAGE, ETag='"v1"', **{"Last-Modified": "Mon, 02 Mar 2026 08:00:00 GMT"})
    with Fetcher(local()) as fetcher:
        page = fetcher.get(site.url("/a.html"))
    assert page == Fetched(url=site.url("/a.html"), status=200, content=PAGE.encode(),
                           content_type="text/html; charset=utf-8", etag='"v1"',
                           last_modified="Mon, 02 Mar 2026 08:00:00 GMT")
    headers = dict(site.seen)["/a.html"]
    assert headers["User-Agent"].startswith(f"summarizer/{__version__} ")


def test_redirects_are_followed_and_counted(site: Site):
    site.redirect("/old", "/older", 301)
    site.redirect("/older", site.url("/a.html"), 307)
    site.page("/a.html", PAGE)
    with Fetcher(local(fetch_max_redirects=2)) as fetcher:
        assert fetcher.get(site.url("/old")).url == site.url("/a.html")
    site.redirect("/loop", "/loop")
    assert refusal(local(fetch_max_redirects=2), site.url("/loop")) == "more than 2 redirects"
    assert site.paths().count("/loop") == 3  # the first request and two redirects, no more


def test_http_errors_are_named(site: Site):
    assert refusal(local(), site.url("/missing")) == "HTTP 404 Not Found"
    site.page("/broken", "oops", status=503)
    assert refusal(local(), site.url("/broken")) == "HTTP 503 Service Unavailable"


def test_a_page_of_another_content_type_is_refused(site: Site):
    site.page("/report.pdf", b"%PDF-1.7", content_type="application/pdf")
    assert refusal(local(), site.url("/report.pdf")) == \
        "content type application/pdf is not HTML"
    site.page("/feed", b"<rss/>", content_type="application/rss+xml")
    with Fetcher(local()) as fetcher:
        feed = fetcher.get(site.url("/feed"), accept=["application/rss+xml"])
    assert feed.content == b"<rss/>"


def test_a_declared_size_over_the_cap_is_refused_before_reading(site: Site):
    site.page("/big", b"x" * 50_000)
    assert refusal(local(fetch_max_bytes=10_000), site.url("/big")) == "larger than 10 KB"


def test_an_endless_body_is_read_only_up_to_the_cap(site: Site):
    sent = {"bytes": 0}
    stopped = threading.Event()

    def endless(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        handler.end_headers()  # no length: the body streams until the client stops it
        try:
            for _ in range(2_000):  # 128 MB if nobody stops it
                handler.wfile.write(b"<p>" + b"x" * 65_533)
                sent["bytes"] += 65_536
        except OSError:
            pass
        stopped.set()

    site.routes["/endless"] = endless
    started = time.monotonic()
    assert refusal(local(fetch_max_bytes=1_000_000), site.url("/endless")) == "larger than 1 MB"
    assert stopped.wait(10), "the server was still sending"
    assert sent["bytes"] < 40_000_000  # socket buffers hold some; nowhere near the whole body
    assert time.monotonic() - started < 5


def test_a_compressed_body_is_capped_as_it_unpacks(site: Site):
    bomb = gzip.compress(b"\0" * 50_000_000)  # 50 MB of zeros in about 50 KB
    site.page("/bomb", bomb, **{"Content-Encoding": "gzip"})
    assert refusal(local(fetch_max_bytes=1_000_000), site.url("/bomb")) == "larger than 1 MB"
    site.page("/small", gzip.compress(PAGE.encode()), **{"Content-Encoding": "gzip"})
    with Fetcher(local()) as fetcher:
        assert fetcher.get(site.url("/small")).content == PAGE.encode()


def test_a_slow_server_times_out(site: Site):
    def slow(handler: BaseHTTPRequestHandler) -> Reply:
        time.sleep(1.5)
        return 200, {"Content-Type": "text/html"}, PAGE.encode()

    def dripping(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        handler.end_headers()
        try:
            for _ in range(30):  # a byte every 0.1 s: each read is quick, the whole is not
                handler.wfile.write(b"x")
                handler.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass

    site.routes["/slow"] = slow
    site.routes["/drip"] = dripping
    for path in ("/slow", "/drip"):
        started = time.monotonic()
        assert refusal(local(fetch_timeout=0.4), site.url(path)) == "timed out after 0.4 s"
        assert time.monotonic() - started < 1.2


def test_a_conditional_get_answers_304_without_a_body(site: Site):
    def tagged(handler: BaseHTTPRequestHandler) -> Reply:
        if handler.headers.get("If-None-Match") == '"v2"':
            return 304, {"ETag": '"v2"'}, b""
        return 200, {"Content-Type": "text/html", "ETag": '"v2"'}, PAGE.encode()

    site.routes["/a.html"] = tagged
    with Fetcher(local()) as fetcher:
        fresh = fetcher.get(site.url("/a.html"), etag='"v1"')
        same = fetcher.get(site.url("/a.html"), etag='"v2"',
                           last_modified="Mon, 02 Mar 2026 08:00:00 GMT")
    assert (fresh.status, fresh.etag, fresh.content) == (200, '"v2"', PAGE.encode())
    assert (same.status, same.etag, same.content) == (304, '"v2"', b"")
    assert same.last_modified == "Mon, 02 Mar 2026 08:00:00 GMT"
    asked = [headers for path, headers in site.seen if path == "/a.html"]
    assert asked[1]["If-Modified-Since"] == "Mon, 02 Mar 2026 08:00:00 GMT"


def test_urls_that_are_not_http_are_refused(site: Site):
    assert refusal(local(), "ftp://127.0.0.1/a") == "ftp://127.0.0.1/a is not an http or https URL"
    assert "not an http or https URL" in refusal(local(), "article.html")
    site.redirect("/away", "file:///etc/passwd")
    assert refusal(local(), site.url("/away")) == \
        "file:///etc/passwd is not an http or https URL"


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize("url", [
    "", "article.html", "http://[::1", "http://exa mple.com/", "http://\u2603.com/",
    "https://xn--/", "http://a..b/", "http:///x", "http://:80/", "http://\x00/", "http://%zz/",
    "http://localhost./", "http://0/", "http://2130706433/", "http://[fe80::1%25eth0]/",
    "http://" + "a" * 300 + ".com/", "http:\\\\127.0.0.1\\x", "javascript:alert(1)",
])
def test_any_string_is_a_fetch_error_without_leaving_this_machine(url: str):
    with Fetcher(Settings(allow_network=False)) as fetcher, pytest.raises(FetchError) as caught:
        fetcher.get(url)
    assert caught.value.reason


# -- addresses -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("address", "problem"), [
    ("10.0.0.5", "a private address"),
    ("192.168.1.1", "a private address"),
    ("127.0.0.1", "a loopback address"),
    ("169.254.169.254", "a link-local address"),
    ("224.0.0.1", "a multicast address"),
    ("0.0.0.0", "an unspecified address"),
    ("100.64.0.1", "not a public address"),
    ("240.0.0.1", "a reserved address"),
    ("::1", "a loopback address"),
    ("fe80::1", "a link-local address"),
    ("fc00::1", "a private address"),
    ("ff02::1", "a multicast address"),
    ("::ffff:10.0.0.5", "a private address"),
    ("::ffff:127.0.0.1", "a loopback address"),
    ("2002:a00:5::1", "a private address"),  # 6to4 around 10.0.0.5
    ("64:ff9b::a9fe:a9fe", "a link-local address"),  # NAT64 around 169.254.169.254
    ("93.184.216.34", None),
    ("2606:2800:220:1:248:1893:25c8:1946", None),
])
def test_addresses_beyond_the_public_internet_are_named(address: str, problem: str | None):
    assert address_problem(address) == problem


@pytest.mark.usefixtures("no_network")
def test_private_and_loopback_addresses_are_refused_unless_allowed(site: Site):
    site.page("/a.html", PAGE)
    public = Settings(allow_network=True)
    assert refusal(public, "http://10.0.0.5/a") == (
        "refused: 10.0.0.5 is a private address; set SUMMARIZER_ALLOW_PRIVATE_URLS=true to "
        "allow it")
    assert refusal(public, f"http://[::ffff:127.0.0.1]:{site.port}/a.html").startswith(
        "refused: ::ffff:127.0.0.1 is a loopback address")
    assert refusal(public, site.url("/a.html")).startswith(
        "refused: 127.0.0.1 is a loopback address")
    assert refusal(public, f"http://localhost:{site.port}/a.html").startswith(
        "refused: localhost (")
    assert site.seen == []
    with Fetcher(Settings(allow_network=True, allow_private_urls=True)) as fetcher:
        assert fetcher.get(site.url("/a.html")).status == 200


@pytest.mark.usefixtures("no_network")
def test_without_network_access_only_this_machine_is_asked():
    reason = refusal(Settings(allow_network=False, allow_private_urls=True),
                     "https://news.example.com/a")
    assert reason == ("refused: news.example.com is not on this machine and network access is "
                      "off (SUMMARIZER_ALLOW_NETWORK=false)")


def test_every_redirect_hop_is_checked(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(fetch, "resolve", lambda host, port: ["93.184.216.34"]
                        if host == "news.test" else [host])
    sent: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(str(request.url))
        if request.url.path == "/robots.txt":
            return httpx.Response(404)
        return httpx.Response(302, headers={"Location": "http://169.254.169.254/latest/"})

    with Fetcher(Settings(allow_network=True), transport=httpx.MockTransport(answer)) as f, \
            pytest.raises(FetchError) as caught:
        f.get("http://news.test/story")
    assert caught.value.reason.startswith("refused: 169.254.169.254 is a link-local address")
    assert sent == ["http://news.test/robots.txt", "http://news.test/story"]


@pytest.mark.usefixtures("no_network")
def test_connections_go_to_the_checked_address(site: Site, monkeypatch: pytest.MonkeyPatch):
    """The host is resolved once for each connection, and the connection made to that address:
    a name that resolves to a public address for the check and a private one when connecting
    is refused; an allowed name is reached without a second lookup."""
    site.page("/a.html", PAGE)
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])
    monkeypatch.setattr(fetch, "resolve", lambda host, port: next(answers))
    reason = refusal(Settings(allow_network=True, respect_robots=False),
                     f"http://rebound.test:{site.port}/a.html")
    assert reason.startswith("refused: rebound.test (127.0.0.1) is a loopback address")
    assert site.seen == []

    monkeypatch.setattr(fetch, "resolve", lambda host, port: ["127.0.0.1"])
    with Fetcher(local(allow_network=True)) as fetcher:
        page = fetcher.get(f"http://news.test:{site.port}/a.html")
    assert page.content == PAGE.encode()
    assert dict(site.seen)["/a.html"]["Host"] == f"news.test:{site.port}"


# -- robots.txt ----------------------------------------------------------------------------------


def test_robots_txt_is_honoured_and_read_once_per_host(site: Site):
    site.page("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    site.page("/private/a.html", PAGE)
    site.page("/public/a.html", PAGE)
    with Fetcher(local()) as fetcher:
        assert fetcher.get(site.url("/public/a.html")).status == 200
        with pytest.raises(FetchError) as caught:
            fetcher.get(site.url("/private/a.html"))
        assert fetcher.get(site.url("/public/a.html")).status == 200
    assert caught.value.reason.startswith("robots.txt disallows it")
    assert site.paths() == ["/robots.txt", "/public/a.html", "/public/a.html"]
    with Fetcher(local(respect_robots=False)) as fetcher:
        assert fetcher.get(site.url("/private/a.html")).status == 200


def test_robots_txt_rules_for_this_agent_win(site: Site):
    site.page("/robots.txt", "User-agent: summarizer\nDisallow: /\n\nUser-agent: *\nAllow: /\n",
              content_type="text/plain")
    site.page("/a.html", PAGE)
    assert refusal(local(), site.url("/a.html")).startswith("robots.txt disallows it")


def test_a_missing_robots_txt_allows_and_a_failing_one_refuses(site: Site):
    site.page("/a.html", PAGE)
    with Fetcher(local()) as fetcher:  # /robots.txt answers 404
        assert fetcher.get(site.url("/a.html")).status == 200
    site.page("/robots.txt", "down", status=503)
    assert refusal(local(), site.url("/a.html")).startswith(
        "robots.txt could not be read (HTTP 503)")


# -- articles ------------------------------------------------------------------------------------


def test_an_article_is_read_from_its_page(site: Site):
    site.redirect("/story", "/2026/03/harbour.html")
    site.page("/2026/03/harbour.html", PAGE)
    with Fetcher(local()) as fetcher:
        doc = fetch_article(fetcher, site.url("/story"))
    assert isinstance(doc, Document), doc
    assert STORY in doc.text
    assert (doc.title, doc.source, doc.published) == \
        ("Harbour reopens after storm", "Port Gazette", "2026-03-02")
    assert doc.url == site.url("/2026/03/harbour.html")
    assert doc.origin == site.url("/story")


def test_an_article_without_a_site_name_is_credited_to_its_host(site: Site):
    site.page("/a.html", PAGE.replace('<meta property="og:site_name" content="Port Gazette">',
                                      ""))
    with Fetcher(local()) as fetcher:
        doc = fetch_article(fetcher, site.url("/a.html"), fields={"title": "Own title"})
    assert isinstance(doc, Document), doc
    assert (doc.source, doc.title) == ("127.0.0.1", "Own title")


def test_failures_and_empty_pages_are_skips_with_reasons(site: Site):
    site.page("/empty.html", "<html><body><script>var a = 1;</script><img src=x></body></html>")
    with Fetcher(local()) as fetcher:
        missing = fetch_article(fetcher, site.url("/gone"))
        empty = fetch_article(fetcher, site.url("/empty.html"))
    assert missing == Skip(origin=site.url("/gone"), reason="HTTP 404 Not Found")
    assert isinstance(empty, Skip)
    assert empty.reason.startswith("no article text found in the page")


def test_a_page_in_a_declared_charset_is_decoded(site: Site):
    latin = PAGE.replace("harbour", "harbour café").encode("latin-1")
    site.page("/latin.html", latin, content_type="text/html; charset=iso-8859-1")
    with Fetcher(local()) as fetcher:
        doc = fetch_article(fetcher, site.url("/latin.html"))
    assert isinstance(doc, Document)
    assert "café" in doc.text


def test_many_articles_are_fetched_in_the_order_given(site: Site):
    for n in range(6):
        site.page(f"/{n}.html", PAGE.replace("two hundred", f"{n + 200}"))
    seen: list[str] = []
    requests = [(f"input {n}", site.url(f"/{n}.html"), {}) for n in range(6)]
    requests.append(("input 6", site.url("/gone"), {}))
    results = fetch_articles(requests, local(), on_done=lambda r: seen.append(r.origin))
    assert [r.origin for r in results] == [f"input {n}" for n in range(7)]
    assert all(f"{n + 200} passengers" in r.text for n, r in enumerate(results[:6])
               if isinstance(r, Document))
    assert isinstance(results[6], Skip)
    assert sorted(seen) == sorted(r.origin for r in results)


def test_pages_are_fetched_a_few_at_a_time(site: Site):
    lock = threading.Lock()
    state = {"now": 0, "most": 0}

    def slow(handler: BaseHTTPRequestHandler) -> Reply:
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        time.sleep(0.2)
        with lock:
            state["now"] -= 1
        return 200, {"Content-Type": "text/html"}, PAGE.encode()

    for n in range(12):
        site.routes[f"/{n}.html"] = slow
    started = time.monotonic()
    results = fetch_articles([(str(n), site.url(f"/{n}.html"), {}) for n in range(12)], local())
    elapsed = time.monotonic() - started
    assert all(isinstance(r, Document) for r in results)
    assert state["most"] == fetch.FETCH_CONCURRENCY
    assert elapsed < 12 * 0.2 / 2  # one at a time would take 2.4 s; four at a time, 0.6 s


# -- the command line and the service ------------------------------------------------------------

SECOND = ("Council members voted on Tuesday to fund a new lifeboat station at the harbour. The "
          "station will cost four million pounds and open next spring, the mayor said.")
SECOND_PAGE = PAGE.replace(STORY, SECOND).replace("Port Gazette", "Harbour Herald").replace(
    "Harbour reopens after storm", "Lifeboat station approved")


def test_the_command_line_takes_urls_among_its_files(site: Site, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture,
                                                     caplog: pytest.LogCaptureFixture):
    monkeypatch.setenv("SUMMARIZER_ALLOW_PRIVATE_URLS", "true")
    get_settings.cache_clear()
    site.page("/a.html", PAGE)
    site.page("/b.html", SECOND_PAGE)
    (tmp_path / "local.txt").write_text("The ferry timetable changes on Friday, the operator "
                                        "said. Evening sailings move half an hour earlier.")
    (tmp_path / "more.jsonl").write_text(
        json.dumps({"url": site.url("/b.html"), "title": "Own title"}) + "\n"
        + json.dumps({"url": site.url("/gone")}) + "\n")
    code = main(["summarize", site.url("/a.html"), str(tmp_path / "local.txt"),
                 str(tmp_path / "more.jsonl"), "--format", "json", "--backend", "scripted"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    data = json.loads(captured.out)
    articles = [(a["title"], a["source"], a["url"]) for a in data["articles"]]
    assert articles[0] == ("Harbour reopens after storm", "Port Gazette", site.url("/a.html"))
    assert ("Own title", "Harbour Herald", site.url("/b.html")) in articles
    assert len(articles) == 3
    assert data["skipped"] == [{"origin": f"{tmp_path / 'more.jsonl'}:2",
                                "reason": "HTTP 404 Not Found"}]
    assert f"skipped {tmp_path / 'more.jsonl'}:2: HTTP 404 Not Found" in caplog.text


def test_the_command_line_refuses_private_addresses_by_default(
        site: Site, capsys: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture):
    site.page("/a.html", PAGE)
    code = main(["summarize", site.url("/a.html"), "--backend", "scripted"])
    err = capsys.readouterr().err
    assert code == 2
    assert "skipped http://127.0.0.1:" in caplog.text
    assert "127.0.0.1 is a loopback address; set SUMMARIZER_ALLOW_PRIVATE_URLS=true" in err
    assert site.seen == []


@pytest.mark.anyio
async def test_the_service_fetches_records_that_hold_only_a_url(site: Site):
    site.page("/a.html", PAGE)
    site.page("/b.html", SECOND_PAGE)
    site.page("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    site.page("/private/c.html", PAGE)
    config = Settings(allow_private_urls=True)
    async with serving(config) as client:
        stored = await client.post("/v1/articles", json={"articles": [
            {"url": site.url("/a.html"), "published": "2026-03-02"},
            {"url": site.url("/gone")},
            {"url": site.url("/private/c.html")},
            {"url": "https://news.example.com/elsewhere"},
            {"text": SECOND, "source": "Harbour Herald"},
        ]})
        summary = await client.post("/v1/summaries", json={"articles": [
            {"url": site.url("/a.html")}, {"url": site.url("/b.html")},
            {"url": site.url("/gone")}]})
    assert stored.status_code == 200
    outcomes = stored.json()["articles"]
    assert [o["status"] for o in outcomes] == ["stored", "skipped", "skipped", "skipped",
                                               "stored"]
    assert outcomes[1]["reason"] == "HTTP 404 Not Found"
    assert outcomes[2]["reason"].startswith("robots.txt disallows it")
    assert "network access is off" in outcomes[3]["reason"]
    assert summary.status_code == 200
    data = summary.json()
    assert [(a["source"], a["url"]) for a in data["articles"]] == [
        ("Port Gazette", site.url("/a.html")), ("Harbour Herald", site.url("/b.html"))]
    assert data["skipped"] == [{"origin": "articles[2]", "reason": "HTTP 404 Not Found"}]


@pytest.mark.anyio
async def test_a_summary_of_pages_that_all_fail_is_422_naming_why(site: Site):
    async with serving(Settings(allow_private_urls=True)) as client:
        answer = await client.post("/v1/summaries", json={"articles": [
            {"url": site.url("/gone")}, {"url": "ftp://127.0.0.1/x"}]})
    assert answer.status_code == 422
    message = answer.json()["error"]["message"]
    assert "articles[0]: HTTP 404 Not Found" in message
    assert "articles[1]: ftp://127.0.0.1/x is not an http or https URL" in message
