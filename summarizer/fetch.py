"""Fetch articles (and other pages) from the web, safely by default.

The one module that talks HTTP to article sites. Every fetch is bounded: a timeout for the
whole fetch, a size cap enforced while the body streams in (compressed bodies are unpacked
under the same cap), a bounded number of redirects followed by hand, each new address checked
again. Hosts that resolve to private, loopback, link-local, reserved or multicast addresses are
refused unless SUMMARIZER_ALLOW_PRIVATE_URLS allows them: every address a host resolves to is
checked, and the connection is made to a checked address, so a name cannot resolve to a public
address for the check and a private one for the connection. robots.txt is honoured, read once
per host for each Fetcher.

The client is synchronous; async callers run it in a thread.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import Any
from urllib import robotparser
from urllib.parse import urljoin

import httpcore
import httpx

from . import __version__
from .errors import FetchError
from .ingest import decode, html_to_record, read_record
from .models import Document, Skip
from .settings import Settings

HTML_TYPES = ("text/html", "application/xhtml+xml")
USER_AGENT = f"summarizer/{__version__} (cited news summaries; fetches the pages its user names)"
ROBOTS_AGENT = "summarizer"  # the token robots.txt groups are matched against
ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309: at least 500 KiB are read; the rest may be ignored
REDIRECTS = (301, 302, 303, 307, 308)
FETCH_CONCURRENCY = 4  # pages fetched at once for one batch
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
# IPv6 ranges that carry an IPv4 address in their last 32 bits (NAT64, RFC 6052)
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


@dataclass(frozen=True)
class Fetched:
    """A page as fetched: `url` is where it was found after redirects; `status` is 200, or 304
    when a conditional GET matched (then `content` is empty)."""

    url: str
    status: int
    content: bytes
    content_type: str
    etag: str | None
    last_modified: str | None


class _Refused(Exception):
    """Raised inside a connection attempt: the host resolved to an address not allowed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def resolve(host: str, port: int) -> list[str]:
    """Every address a host name resolves to (an address literal resolves to itself)."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass  # a name, or an odd spelling of an address ("2130706433") the resolver reads
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def address_problem(address: str) -> str | None:
    """Why an address is not a public one ("a private address"), or None when it is.

    IPv6 forms that carry an IPv4 address (mapped, 6to4, NAT64) are judged by that address too.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # a zone id names an interface
    candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    if isinstance(ip, ipaddress.IPv6Address):  # the carried address first: it names the kind
        if ip.ipv4_mapped is not None:
            candidates.append(ip.ipv4_mapped)
        if ip.sixtofour is not None:
            candidates.append(ip.sixtofour)
        if ip in NAT64:
            candidates.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    candidates.append(ip)
    for candidate in candidates:
        for kind, named in (("loopback", "a loopback"), ("link_local", "a link-local"),
                            ("multicast", "a multicast"), ("unspecified", "an unspecified"),
                            ("reserved", "a reserved"), ("private", "a private")):
            if getattr(candidate, f"is_{kind}"):
                return f"{named} address"
        if not candidate.is_global:
            return "not a public address"
    return None


class _GuardedBackend(httpcore.SyncBackend):
    """Connects only to addresses the Fetcher allows: the host is resolved here, every address
    checked, and the connection made to a checked address (no second lookup to rebind)."""

    def __init__(self, check: Callable[[str, int], list[str]]) -> None:
        self._check = check

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Any = None) -> httpcore.NetworkStream:
        addresses = self._check(host, port)
        error: Exception | None = None
        for address in addresses:
            try:
                return super().connect_tcp(address, port, timeout=timeout,
                                           local_address=local_address,
                                           socket_options=socket_options)
            except httpcore.ConnectError as e:
                error = e
        raise error or httpcore.ConnectError(f"{host} resolves to no address")


class _GuardedTransport(httpx.HTTPTransport):
    """httpx's own transport, its connections made through `_GuardedBackend`."""

    def __init__(self, check: Callable[[str, int], list[str]]) -> None:
        super().__init__(trust_env=False)  # a proxy would connect where no check can see
        if not isinstance(getattr(self, "_pool", None), httpcore.ConnectionPool):
            raise RuntimeError("this httpx version keeps its connection pool elsewhere; "
                               "summarizer.fetch cannot guard its connections")
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            network_backend=_GuardedBackend(check))


class Fetcher:
    """Fetches pages within the settings' bounds; use as a context manager, or `close()`.

    `transport` replaces the network (tests, embedding): addresses are still checked, by
    resolving each host before a request is sent.
    """

    def __init__(self, settings: Settings, *,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        self._client = httpx.Client(
            transport=transport or _GuardedTransport(self._allowed_addresses),
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"},
            follow_redirects=False, trust_env=False)
        self._robots: dict[tuple[str, str, int], robotparser.RobotFileParser] = {}
        self._robots_locks: dict[tuple[str, str, int], threading.Lock] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def get(self, url: str, *, accept: Sequence[str] = HTML_TYPES, etag: str | None = None,
            last_modified: str | None = None) -> Fetched:
        """The page at `url`, or FetchError saying why not. `accept`: the media types taken
        (anything else is refused); `etag`, `last_modified`: from an earlier fetch, sent as
        If-None-Match and If-Modified-Since, so an unchanged page answers 304 and no body."""
        headers = {"Accept": ", ".join(accept) + ", */*;q=0.1"}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        deadline = time.monotonic() + self.settings.fetch_timeout
        with self._open(url, headers, deadline, robots=self.settings.respect_robots) as answer:
            final = str(answer.url)
            status = answer.status_code
            found_etag = answer.headers.get("ETag")
            found_modified = answer.headers.get("Last-Modified")
            content_type = answer.headers.get("Content-Type", "")
            if status == 304 and (etag or last_modified):
                return Fetched(url=final, status=304, content=b"", content_type=content_type,
                               etag=found_etag or etag,
                               last_modified=found_modified or last_modified)
            if status != 200:
                raise FetchError(url, _http_reason(answer),
                                 transient=status >= 500 or status == 429)
            _check_type(url, content_type, accept)
            content = self._read(url, answer, deadline, self.settings.fetch_max_bytes)
        return Fetched(url=final, status=200, content=content, content_type=content_type,
                       etag=found_etag, last_modified=found_modified)

    # -- one request, redirects followed by hand ------------------------------------------------

    @contextmanager
    def _open(self, url: str, headers: Mapping[str, str], deadline: float, *,
              robots: bool) -> Iterator[httpx.Response]:
        """The final answer (not yet read) after following redirects, each hop checked."""
        current = url
        for hop in range(self.settings.fetch_max_redirects + 1):
            target = self._checked_url(url, current)
            if robots and not self._robots_allow(url, target):
                raise FetchError(url, "robots.txt disallows it; set SUMMARIZER_RESPECT_ROBOTS"
                                      "=false to fetch it anyway")
            request = self._client.build_request(
                "GET", target, headers=headers, timeout=_remaining(url, deadline, self.settings))
            answer = self._send(url, request)
            try:
                location = answer.headers.get("Location")
                if answer.status_code in REDIRECTS and location:
                    current = urljoin(str(answer.url), location)
                    if hop == self.settings.fetch_max_redirects:
                        raise FetchError(url, f"more than {self.settings.fetch_max_redirects} "
                                              "redirects")
                    continue
                yield answer
                return
            finally:
                answer.close()
        raise AssertionError("unreachable: the last hop returns or raises")

    def _send(self, url: str, request: httpx.Request) -> httpx.Response:
        try:
            return self._client.send(request, stream=True)
        except _Refused as e:
            raise FetchError(url, e.reason) from e
        except httpx.TimeoutException as e:
            raise FetchError(url, f"timed out after {self.settings.fetch_timeout:g} s",
                             transient=True) from e
        except httpx.HTTPError as e:
            raise FetchError(url, f"connection failed: {_describe(e)}", transient=True) from e

    def _checked_url(self, url: str, current: str) -> httpx.URL:
        """`current` as a URL fit to fetch (http or https, a host, an allowed address)."""
        try:
            target = httpx.URL(current)
        except (httpx.InvalidURL, ValueError) as e:  # UnicodeError too: a bad IDN label
            raise FetchError(url, f"not a valid URL ({e})") from e
        if target.scheme not in ("http", "https") or not target.raw_host:
            shown = _shown(current) or "an empty string"
            raise FetchError(url, f"{shown} is not an http or https URL")
        try:
            self._allowed_addresses(_host(target), target.port or _default_port(target))
        except _Refused as e:
            raise FetchError(url, e.reason) from e
        return target

    def _allowed_addresses(self, host: str, port: int) -> list[str]:
        """The addresses of `host` when all of them may be fetched from, else _Refused."""
        bare = host.strip("[]").lower()
        if not self.settings.allow_network and bare not in LOOPBACK_NAMES:
            raise _Refused(f"refused: {host} is not on this machine and network access is "
                           "off (SUMMARIZER_ALLOW_NETWORK=false)")
        try:
            addresses = resolve(bare, port)
        except (OSError, UnicodeError) as e:
            raise _Refused(f"cannot resolve host {host}: {_describe(e)}") from e
        if not addresses:
            raise _Refused(f"cannot resolve host {host}")
        if not self.settings.allow_private_urls:
            for address in addresses:
                problem = address_problem(address)
                if problem is not None:
                    named = bare if _is_address(bare) else f"{host} ({address})"
                    raise _Refused(f"refused: {named} is {problem}; set "
                                   "SUMMARIZER_ALLOW_PRIVATE_URLS=true to allow it")
        return addresses

    # -- reading a body under the cap ------------------------------------------------------------

    def _read(self, url: str, answer: httpx.Response, deadline: float, limit: int,
              *, truncate: bool = False) -> bytes:
        """The body, unpacked, at most `limit` bytes: FetchError beyond it (or, `truncate`, the
        first `limit` bytes). Reading stops at the cap; the rest is never downloaded."""
        declared = answer.headers.get("Content-Length", "")
        encoding = answer.headers.get("Content-Encoding", "identity").strip().lower()
        if not truncate and declared.isdigit() and encoding == "identity" \
                and int(declared) > limit:
            raise FetchError(url, f"larger than {_size(limit)}")
        unpack = _unpacker(url, encoding)
        body = bytearray()
        try:
            for chunk in answer.iter_raw():
                for piece in unpack(chunk, limit + 1 - len(body)):
                    body += piece
                    if len(body) > limit:
                        if truncate:
                            return bytes(body[:limit])
                        raise FetchError(url, f"larger than {_size(limit)}")
                if time.monotonic() > deadline:
                    raise FetchError(url, f"timed out after {self.settings.fetch_timeout:g} s",
                                     transient=True)
        except httpx.TimeoutException as e:
            raise FetchError(url, f"timed out after {self.settings.fetch_timeout:g} s",
                             transient=True) from e
        except httpx.HTTPError as e:
            raise FetchError(url, f"connection failed while reading: {_describe(e)}",
                             transient=True) from e
        except zlib.error as e:
            raise FetchError(url, f"the {encoding} body cannot be unpacked ({e})") from e
        return bytes(body)

    # -- robots.txt -----------------------------------------------------------------------------

    def _robots_allow(self, url: str, target: httpx.URL) -> bool:
        """Whether the host's robots.txt lets this agent fetch `target`; read once per host."""
        key = (target.scheme, _host(target), target.port or _default_port(target))
        with self._lock:
            lock = self._robots_locks.setdefault(key, threading.Lock())
        with lock:  # one read per host, even with fetches in parallel
            rules = self._robots.get(key)
            if rules is None:
                rules = self._robots[key] = self._read_robots(url, target)
        return rules.can_fetch(ROBOTS_AGENT, str(target))

    def _read_robots(self, url: str, target: httpx.URL) -> robotparser.RobotFileParser:
        """The host's rules (RFC 9309): a missing file (4xx) allows everything; 401 and 403,
        a server error, or no answer at all disallow everything."""
        rules = robotparser.RobotFileParser()
        where = str(target.copy_with(path="/robots.txt", query=None, fragment=None))
        deadline = time.monotonic() + self.settings.fetch_timeout
        try:
            with self._open(where, {"Accept": "text/plain, */*;q=0.1"}, deadline,
                            robots=False) as answer:
                status = answer.status_code
                if status == 200:
                    text = decode(where, self._read(where, answer, deadline, ROBOTS_MAX_BYTES,
                                                    truncate=True))
                    rules.parse(text.splitlines())
                    return rules
        except FetchError as e:
            raise FetchError(url, f"robots.txt could not be read ({e.reason})",
                             transient=e.transient) from e
        if status in (401, 403) or status >= 500:
            raise FetchError(url, f"robots.txt could not be read (HTTP {status}), so the "
                                  "site is not fetched; set SUMMARIZER_RESPECT_ROBOTS=false "
                                  "to fetch it anyway")
        rules.parse([])  # missing: everything allowed
        return rules


def fetch_article(fetcher: Fetcher, url: str, *, origin: str | None = None,
                  fields: Mapping[str, Any] | None = None,
                  retry_later: bool = False) -> Document | Skip:
    """The article at `url`, read like any other record, or a Skip saying why not.

    The page's main text, title, site name (else the host) and date come from trafilatura;
    `url` is where the page was found after redirects. `fields` (a record's own title, source,
    published) win over what the page says. `origin` names the input in messages (the URL
    when not given). `retry_later`: a failure that asking again may mend (`FetchError.transient`)
    is raised, not skipped, for a caller that will ask again (a feed's next poll).
    """
    origin = origin or url
    try:
        page = fetcher.get(url)
    except FetchError as e:
        if retry_later and e.transient:
            raise
        return Skip(origin=origin, reason=e.reason)
    html = _decode_page(page)
    found = html_to_record(html)
    if found is None:
        return Skip(origin=origin, reason=f"no article text found in the page at {page.url}")
    own = {k: v for k, v in (fields or {}).items()
           if k in ("title", "source", "published") and v not in (None, "")}
    record = {**found, "source": found.get("source") or _host(httpx.URL(page.url)),
              **own, "url": page.url}
    return read_record(origin, record, settings=fetcher.settings)


def fetch_articles(requests: Sequence[tuple[str, str, Mapping[str, Any]]], settings: Settings,
                   *, transport: httpx.BaseTransport | None = None,
                   on_done: Callable[[Document | Skip], None] | None = None,
                   ) -> list[Document | Skip]:
    """Each (origin, url, fields) fetched as `fetch_article` does, FETCH_CONCURRENCY at a time,
    in the order given; `on_done` hears of each as it finishes (progress)."""
    if not requests:
        return []
    with Fetcher(settings, transport=transport) as fetcher, \
            ThreadPoolExecutor(max_workers=FETCH_CONCURRENCY,
                               thread_name_prefix="fetch") as pool:
        def one(request: tuple[str, str, Mapping[str, Any]]) -> Document | Skip:
            origin, url, fields = request
            result = fetch_article(fetcher, url, origin=origin, fields=fields)
            if on_done is not None:
                on_done(result)
            return result

        return list(pool.map(one, requests))


# -- helpers ------------------------------------------------------------------------------------


def _remaining(url: str, deadline: float, settings: Settings) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise FetchError(url, f"timed out after {settings.fetch_timeout:g} s", transient=True)
    return left


def _host(url: httpx.URL) -> str:
    """The host as sent (an IDN in its ASCII form): decoding a malformed one would fail."""
    return url.raw_host.decode("ascii", "replace")


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _default_port(url: httpx.URL) -> int:
    return 443 if url.scheme == "https" else 80


def _http_reason(answer: httpx.Response) -> str:
    status = answer.status_code
    phrase = answer.reason_phrase
    if not phrase:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
    if status in REDIRECTS:
        phrase = f"{phrase} without a Location".strip()
    return f"HTTP {status} {phrase}".strip()


def _check_type(url: str, content_type: str, accept: Sequence[str]) -> None:
    media = content_type.split(";", 1)[0].strip().lower()
    if media in {a.lower() for a in accept}:
        return
    wanted = "HTML" if set(accept) <= set(HTML_TYPES) else "one of " + ", ".join(accept)
    if not media:
        raise FetchError(url, f"the server gave no content type, so it is not known to be "
                              f"{wanted}")
    raise FetchError(url, f"content type {_shown(media)} is not {wanted}")


def _unpacker(url: str, encoding: str) -> Callable[[bytes, int], Iterator[bytes]]:
    """A function unpacking one raw chunk into pieces of at most `room` bytes at a time, so a
    small compressed body cannot unpack into a large one before the cap is seen."""
    if encoding in ("identity", ""):
        def same(chunk: bytes, _room: int) -> Iterator[bytes]:
            yield chunk
        return same
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise FetchError(url, f"unsupported content encoding {_shown(encoding)}")
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header, told apart

    def unpack(chunk: bytes, room: int) -> Iterator[bytes]:
        data = chunk
        while data:
            piece = inflater.decompress(data, max(room, 1))
            yield piece
            room -= len(piece)
            data = inflater.unconsumed_tail
            if room <= 0:
                return
    return unpack


def _decode_page(page: Fetched) -> str:
    """The page's text: the charset its Content-Type or a <meta> names, else UTF-8."""
    declared = re.search(r"charset\s*=\s*\"?([A-Za-z0-9_.:-]+)", page.content_type, re.I)
    named = declared.group(1) if declared else None
    if named is None and (meta := CHARSET.search(page.content[:4096])) is not None:
        named = meta.group(1).decode("ascii", "replace")
    if named:
        try:
            return page.content.decode(named, errors="replace")
        except LookupError:
            pass  # an unknown charset name: UTF-8 below
    return decode(page.url, page.content)


def _size(n: int) -> str:
    """10_000_000 -> "10 MB"."""
    for unit, scale in (("MB", 1_000_000), ("KB", 1_000)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n:,} bytes"


def _shown(text: str, most: int = 80) -> str:
    return text if len(text) <= most else text[:most] + "..."


def _describe(error: BaseException) -> str:
    return str(error) or type(error).__name__
