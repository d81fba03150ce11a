"""Feeds: RSS and Atom polled for new articles.

A poll asks with the validators of the last answer (If-None-Match, If-Modified-Since), so an
unchanged feed costs one 304. Each entry is read once: its page fetched and extracted like any
URL, the feed's name as the outlet, then stored, or recorded as a copy of a stored article,
through the same dedup as posted articles. A feed that fails keeps its error and is polled
again later, twice as late after each failure in a row; it never holds up the others.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import feedparser

from ..errors import FetchError, InputError
from ..fetch import Fetched, Fetcher, fetch_article
from ..models import Document, Skip
from .store import Feed, FeedEntry

if TYPE_CHECKING:
    from .service import Service

log = logging.getLogger(__name__)

FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml",
              "application/xml", "text/xml")
# How long a worker holds the feeds it claimed before another may poll them.
HOLD_SECONDS = 600.0
ENTRY_CONCURRENCY = 4  # pages of one feed's new entries fetched at once


class FeedError(InputError):
    """A feed's answer is not a readable RSS or Atom document."""


@dataclass(frozen=True)
class Entry:
    """One item of a feed: its key (id, else link), link, title and date (ISO 8601)."""

    key: str
    url: str | None
    title: str | None
    published: str | None


@dataclass(frozen=True)
class Poll:
    """What one poll of a feed did."""

    feed_id: str
    status: str  # updated | not-modified | failed
    entries: tuple[FeedEntry, ...] = ()
    error: str | None = None
    unread: int = 0  # entries whose page failed in a way that may mend: asked again next poll


def check_url(url: str) -> str:
    """A feed's URL as given, or an InputError when it is no http(s) URL."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"not a feed URL: {url!r}; give an http:// or https:// address",
                         field="url")
    return url.strip()


def describe(feed: Feed) -> dict[str, Any]:
    """A feed as the API and `summarizer feeds list` show it."""
    return {"id": feed.id, "url": feed.url, "name": feed.name, "polled": feed.polled,
            "next_poll": feed.next_poll, "failures": feed.failures, "error": feed.error,
            "created": feed.created}


def read_feed(content: bytes) -> tuple[str | None, list[Entry]]:
    """A feed's title and its entries, newest first as the feed lists them; FeedError when the
    document is no feed."""
    parsed: Any = feedparser.parse(content, sanitize_html=False, resolve_relative_uris=False)
    entries = []
    for item in parsed.entries:
        link = item.get("link") or None
        key = item.get("id") or link
        if not key:
            continue  # nothing to know it by, nothing to fetch
        entries.append(Entry(key=str(key), url=link, title=item.get("title") or None,
                             published=_iso(item.get("published_parsed")
                                            or item.get("updated_parsed"))))
    # feedparser reads what it can of a damaged feed (`bozo`); one it could read nothing from,
    # or that is no feed at all, is an error to show, not an empty feed.
    if not entries and (parsed.get("bozo") or not parsed.get("version")):
        problem = parsed.get("bozo_exception")
        why = f" ({problem})" if problem else ""
        raise FeedError(f"not a readable RSS or Atom feed{why}", field="url")
    return parsed.feed.get("title") or None, entries


def _iso(moment: time.struct_time | None) -> str | None:
    """feedparser's UTC struct_time as an ISO 8601 datetime."""
    if moment is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", moment)


async def poll_due(service: Service) -> list[Poll]:
    """Poll every feed whose time has come (claimed, so no other worker polls it too)."""
    feeds = await asyncio.to_thread(service.store.claim_due_feeds, HOLD_SECONDS)
    return [await poll(service, feed) for feed in feeds]


async def poll_now(service: Service, feed_id: str | None = None) -> list[Poll]:
    """Poll one feed, or every feed, now, whatever their next poll time."""
    store = service.store
    if feed_id is None:
        feeds = [f for feed in await asyncio.to_thread(store.feeds)
                 for f in await asyncio.to_thread(store.claim_due_feeds, HOLD_SECONDS, feed.id)]
    else:
        feeds = await asyncio.to_thread(store.claim_due_feeds, HOLD_SECONDS, feed_id)
    return [await poll(service, feed) for feed in feeds]


async def poll(service: Service, feed: Feed) -> Poll:
    """Poll one feed: ask for it, read its new entries, store their articles, and record
    when to poll it next."""
    settings = service.settings
    store = service.store
    with Fetcher(settings) as fetcher:
        try:
            answer = await asyncio.to_thread(
                fetcher.get, feed.url, accept=FEED_TYPES, etag=feed.etag,
                last_modified=feed.last_modified)
            if answer.status == 304:
                await asyncio.to_thread(store.record_poll, feed.id, error=None,
                                        next_in=settings.feed_interval_seconds)
                return Poll(feed.id, "not-modified")
            title, entries = read_feed(answer.content)
        except (FetchError, FeedError) as e:
            wait = backoff(feed.failures + 1, settings.feed_interval_seconds,
                           settings.feed_max_backoff_seconds)
            reason = e.reason if isinstance(e, FetchError) else str(e)
            log.warning("feed %s failed (%s); next try in %.0f s", feed.url, reason, wait)
            await asyncio.to_thread(store.record_poll, feed.id, error=reason, next_in=wait)
            return Poll(feed.id, "failed", error=reason)
        outlet = feed.name or title or _host(answer)
        entries = entries[:settings.feed_max_entries]
        seen = await asyncio.to_thread(store.seen_entries, feed.id, [e.key for e in entries])
        pages = await _read_entries(fetcher, [e for e in entries if e.key not in seen], outlet)
    # An entry whose page failed in a way that may mend (a timeout, a 5xx) is left unread: the
    # next poll asks for it again, for as long as the feed lists it.
    read = [(entry, page) for entry, page in pages if page is not None]
    outcomes = await service.ingest_documents([page for _, page in read])
    recorded = []
    for (entry, _), outcome in zip(read, outcomes, strict=True):
        row = FeedEntry(entry=entry.key, url=entry.url, status=outcome.status,
                        article_id=outcome.id if outcome.status != "skipped" else None,
                        reason=outcome.reason)
        await asyncio.to_thread(store.put_entry, feed.id, row)
        recorded.append(row)
    unread = len(pages) - len(read)
    if unread:
        log.warning("feed %s: %d entr%s to fetch again at the next poll", feed.url, unread,
                    "y" if unread == 1 else "ies")
    # With entries left unread, this answer's validators are not kept: the next poll must get
    # the feed again (not a 304) to see them.
    await asyncio.to_thread(store.record_poll, feed.id, error=None,
                            next_in=settings.feed_interval_seconds,
                            etag=None if unread else answer.etag,
                            last_modified=None if unread else answer.last_modified, name=title)
    return Poll(feed.id, "updated", tuple(recorded), unread=unread)


async def _read_entries(fetcher: Fetcher, entries: Sequence[Entry], outlet: str,
                        ) -> list[tuple[Entry, Document | Skip | None]]:
    """Each entry with its page as a document (the feed's name as its source), a Skip saying
    why there is none, or None when the failure may mend (to be asked again)."""
    gate = asyncio.Semaphore(ENTRY_CONCURRENCY)

    async def one(entry: Entry) -> Document | Skip | None:
        if not entry.url:
            return Skip(origin=entry.key, reason="the feed entry has no link to an article")
        fields = {"source": outlet, "published": entry.published}
        async with gate:
            try:
                return await asyncio.to_thread(fetch_article, fetcher, entry.url,
                                               fields=fields, retry_later=True)
            except FetchError:
                return None

    pages = await asyncio.gather(*(one(e) for e in entries))
    return list(zip(entries, pages, strict=True))


def backoff(failures: int, interval: float, most: float) -> float:
    """Seconds until the next poll after `failures` failures in a row: twice the interval,
    then twice that, up to `most`."""
    return float(min(most, interval * 2 ** max(0, failures)))


def _host(answer: Fetched) -> str:
    return urlsplit(answer.url).hostname or answer.url
