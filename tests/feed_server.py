"""A news site on loopback: article pages made from the bundled examples, an RSS and an Atom
feed that list them, and sources that fail in the ways real ones do (a malformed feed, a 404,
a redirect loop). Feeds carry an ETag and a Last-Modified date and answer 304 when a client
sends them back. Every request is counted by path.
"""

from __future__ import annotations

import hashlib
import html
import json
import threading
from collections import Counter
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from fault_server import QuietServer

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _page(title: str, text: str, site: str) -> bytes:
    paragraphs = "\n".join(f"<p>{html.escape(p.strip())}</p>"
                           for p in text.split("\n") if p.strip())
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title>"
            f'<meta property="og:site_name" content="{html.escape(site)}"></head>'
            f"<body><article><h1>{html.escape(title)}</h1>\n{paragraphs}</article>"
            f"</body></html>").encode()


def example_pages() -> dict[str, tuple[str, bytes]]:
    """path -> (title, page) for each bundled example article."""
    pages = {}
    for n, path in enumerate(sorted(EXAMPLES.glob("0*")), 1):
        if path.suffix == ".json":
            record = json.loads(path.read_text(encoding="utf-8"))
            title, body = record["title"], _page(record["title"], record["text"],
                                                 record["source"])
        elif path.suffix == ".html":
            body = path.read_bytes()
            title = path.stem
        else:
            text = path.read_text(encoding="utf-8")
            title = text.split("\n", 1)[0].strip()
            body = _page(title, text, "The Velle Valley Ledger")
        pages[f"/a/{n}.html"] = (title, body)
    return pages


def _french_page() -> bytes:
    """A short news page in French, written for these tests."""
    text = ("Un incendie de forêt a détruit 120 hectares de pins près du village de Varenne "
            "dans la nuit de samedi à dimanche, selon les pompiers du département.\n"
            "Les habitants de trois hameaux ont été évacués vers la salle des fêtes, où ils ont "
            "passé la nuit, a indiqué la mairie.\n"
            "Le feu a été fixé dimanche vers midi grâce à l'arrivée de deux avions "
            "bombardiers d'eau, a précisé le commandant des secours.\n"
            "Une enquête a été ouverte pour déterminer l'origine de l'incendie, qui pourrait "
            "être accidentelle, selon la gendarmerie.")
    return _page("Un incendie détruit 120 hectares près de Varenne", text, "Le Journal de Varenne")


class FeedServer:
    """Serves on 127.0.0.1; `hits` counts requests by path, `conditional` those that sent a
    validator back."""

    def __init__(self, published: datetime | None = None) -> None:
        self.published = published or datetime.now(UTC).replace(microsecond=0)
        self.hits: Counter[str] = Counter()
        self.not_modified: Counter[str] = Counter()
        self.pages = example_pages()
        # The same article at a second address, as an agency story runs at two outlets.
        self.pages["/a/1-copy.html"] = self.pages["/a/1.html"]
        self.routes: dict[str, tuple[int, str, bytes]] = {
            **{path: (200, "text/html; charset=utf-8", page)
               for path, (_, page) in self.pages.items()},
            "/rss.xml": (200, "application/rss+xml", self._rss(["/a/1.html", "/a/2.html",
                                                                "/missing.html"])),
            "/atom.xml": (200, "application/atom+xml", self._atom(["/a/3.html", "/a/4.html",
                                                                   "/a/1-copy.html"])),
            # A page in another language, a 20 MB page, and a page that redirects to itself.
            "/fr.html": (200, "text/html; charset=utf-8", _french_page()),
            "/big.html": (200, "text/html", b"<html><body><p>" + b"word " * 4_000_000
                          + b"</p></body></html>"),
            "/mixed.xml": (200, "application/rss+xml", self._rss(["/fr.html", "/big.html",
                                                                  "/loop.html"])),
            # A page that fails twice (503), then answers, listed in a feed of its own.
            "/flaky.xml": (200, "application/rss+xml", self._rss(["/flaky.html"])),
            "/broken.xml": (200, "application/xml", b"<rss><channel><item><title>cut off"),
            "/not-a-feed.xml": (200, "application/xml", b"<html><body>Hello</body></html>"),
        }
        self._lock = threading.Lock()
        self._server = QuietServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def __enter__(self) -> FeedServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _rss(self, paths: list[str]) -> bytes:
        items = "".join(
            f"<item><title>{html.escape(self._title(p))}</title><link>{{base}}{p}</link>"
            f"<guid>{{base}}{p}</guid><pubDate>{format_datetime(self.published)}</pubDate>"
            "</item>" for p in paths)
        return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                "<title>Brackwater Wire</title><link>{base}/</link>"
                f"<description>News</description>{items}</channel></rss>").encode()

    def _atom(self, paths: list[str]) -> bytes:
        stamp = self.published.isoformat().replace("+00:00", "Z")
        entries = "".join(
            f"<entry><id>tag:example,2026:{p}</id><title>{html.escape(self._title(p))}</title>"
            f'<link href="{{base}}{p}"/><updated>{stamp}</updated></entry>' for p in paths)
        return ('<?xml version="1.0" encoding="utf-8"?>'
                '<feed xmlns="http://www.w3.org/2005/Atom"><title>Valley Atom</title>'
                f"<id>tag:example,2026:feed</id><updated>{stamp}</updated>{entries}"
                "</feed>").encode()

    def _title(self, path: str) -> str:
        return self.pages[path][0] if path in self.pages else "A story that is gone"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self
        modified = format_datetime(self.published, usegmt=True)

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - the standard library's name
                path = self.path.split("?", 1)[0]
                with server._lock:
                    server.hits[path] += 1
                if path == "/flaky.html" and server.hits[path] <= 2:
                    self._answer(503, "text/plain", b"busy")
                    return
                if path == "/flaky.html":
                    path = "/a/2.html"
                if path in ("/loop.xml", "/loop.html"):
                    self._answer(302, "text/plain", b"", {"Location": path})
                    return
                if path not in server.routes:
                    self._answer(404, "text/plain", b"not found")
                    return
                status, kind, body = server.routes[path]
                body = body.replace(b"{base}", server.base.encode("ascii"))
                tag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                # If-None-Match, when sent, decides alone (RFC 9110, 13.2.2).
                held = self.headers.get("If-None-Match")
                unchanged = held == tag if held is not None else \
                    self.headers.get("If-Modified-Since") == modified
                if path.endswith(".xml") and unchanged:
                    with server._lock:
                        server.not_modified[path] += 1
                    self._answer(304, kind, b"", {"ETag": tag})
                    return
                self._answer(status, kind, body, {"ETag": tag, "Last-Modified": modified})

            def _answer(self, status: int, kind: str, body: bytes,
                        headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                if status != 304:
                    self.wfile.write(body)

        return Handler
