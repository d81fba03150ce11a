"""The digest service without HTTP: ingest against the store, background jobs that resume."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, tzinfo
from functools import cached_property
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from .. import __version__
from ..dedup import analyse
from ..errors import InputError, NotFound, SummarizerError
from ..ingest import no_readable_article, read_records
from ..llm import make_backend, make_judge_backend
from ..llm.base import Backend
from ..llm.caller import Progress
from ..models import Document, Result, Skip, Usage, VerifyMode, published_at
from ..pipeline import Earlier, Options, clean, digest, run_options, summarize
from ..render import email_fragment, to_email_html, to_html, to_json, to_markdown
from ..settings import Settings
from ..writing import WritingSetting
from . import atom
from .metrics import METRICS
from .store import (
    Feed,
    FeedEntry,
    Job,
    Rendering,
    Schedule,
    Store,
    database_target,
    open_store,
)

if TYPE_CHECKING:
    from .worker import Worker

log = logging.getLogger(__name__)

# The media types a digest is served in; each has its own stored rendering and ETag.
EMAIL = "text/html; profile=email"  # inline styles, for mail clients
DIGEST_MEDIA = ("application/json", "text/markdown", "text/html", EMAIL)
ATOM_ENTRIES = 30  # days of digests in the Atom feed
# What made a stored rendering: one made by another version is rendered again when read.
RENDERER = __version__
# Digest pages kept in memory per process (a 200-article digest is ~0.5 MB of JSON, more HTML).
PAGE_CACHE_BYTES = 64 * 1024 * 1024


@asynccontextmanager
async def open_service(settings: Settings, *, worker: bool,
                       backend: Backend | None = None) -> AsyncIterator[Service]:
    """The service over the database the settings name, started, and stopped on leaving."""
    store = await asyncio.to_thread(open_store, database_target(settings))

    def build_backend() -> Backend:
        return backend if backend is not None else make_backend(settings)

    service = Service(settings, store, build_backend)
    try:
        await service.start(worker=worker)
        yield service
    finally:
        await service.stop()
        store.close()


@dataclass(frozen=True)
class Outcome:
    """What became of one posted article."""

    id: str | None
    status: str  # stored | duplicate | skipped
    duplicate_of: str | None = None
    reason: str | None = None


def day_of(published: str | None, today: date | None = None, zone: tzinfo = UTC) -> str:
    """The digest day an article belongs to: its publication date in `zone`, else today
    there."""
    moment = published_at(published)
    if moment is not None and published is not None:
        if len(published.strip()) == len("YYYY-MM-DD"):  # a date alone is that day anywhere
            return moment.date().isoformat()
        return moment.replace(tzinfo=UTC).astimezone(zone).date().isoformat()
    return (today or datetime.now(zone).date()).isoformat()


@dataclass(frozen=True)
class Digest:
    """A day's digest as stored: the run's typed result. Its renderings are made when its job
    ends and stored beside it (Service.digest_page serves those).

    Rows written before the result was kept hold their JSON, Markdown and HTML as rendered
    then; those are served as they are.
    """

    day: str
    data: dict[str, Any]

    @property
    def title(self) -> str:
        return f"News digest for {self.day}"

    def result(self) -> Result | None:
        """The typed result, or None for a row that holds only its renderings."""
        return self._result

    @cached_property
    def _result(self) -> Result | None:
        stored = self.data.get("result")
        return None if stored is None else Result.model_validate(stored)

    def contract(self) -> dict[str, Any]:
        """The JSON output contract, with the digest's `date`."""
        result = self.result()
        if result is None:
            return dict(self.data["contract"])
        return {"date": self.day, **to_json(result)}

    def markdown(self) -> str:
        result = self.result()
        return self.data["markdown"] if result is None else to_markdown(result, self.title)

    def html(self) -> str:
        result = self.result()
        return self.data["html"] if result is None else to_html(result, self.title)

    def email(self) -> str:
        result = self.result()
        if result is None:  # a row kept from before results were stored: its page will do
            page: str = self.data["html"]
            return page
        return to_email_html(result, self.title)

    def stories(self) -> list[Earlier]:
        """Its stories, for telling the next days' updates from new stories."""
        result = self.result()
        if result is not None:
            return [Earlier(id=s.id, day=self.day, title=s.title,
                            texts=tuple(sentence.text for sentence in s.summary))
                    for s in result.stories]
        return [Earlier(id=s["id"], day=self.day, title=s.get("title"),
                        texts=tuple(sentence["text"] for sentence in s.get("summary", [])))
                for s in self.data["contract"].get("stories", [])]

    def rendering(self, media: str, digest: int = 0) -> Rendering:
        """The digest as served in one of DIGEST_MEDIA, with its ETag; `digest` is its row."""
        if media == "text/markdown":
            text = self.markdown()
        elif media == "text/html":
            text = self.html()
        elif media == EMAIL:
            text = self.email()
        else:
            text = json_text(self.contract())
        return Rendering(digest=digest, media=media, etag=etag_of(text), body=text,
                         renderer=RENDERER)

    def renderings(self) -> list[Rendering]:
        """Every rendering, to store with the digest."""
        return [self.rendering(media) for media in DIGEST_MEDIA]

    @staticmethod
    def stored(day: str, result: Result) -> dict[str, Any]:
        """What the store keeps of a digest built for a day."""
        return {"date": day, "result": result.model_dump(mode="json")}


@dataclass(frozen=True)
class Page:
    """A digest rendering as sent: its media type, ETag and bytes."""

    media: str
    etag: str
    content: bytes

    @classmethod
    def of(cls, rendering: Rendering) -> Page:
        return cls(rendering.media, rendering.etag, (rendering.body or "").encode("utf-8"))


def json_text(value: Any) -> str:
    """JSON as the API sends it (Starlette's JSONResponse spelling: compact, UTF-8)."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, indent=None,
                      separators=(",", ":"))


def etag_of(text: str) -> str:
    """A strong ETag for a body: a hash of its bytes, so equal tags mean equal bytes."""
    return '"' + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32] + '"'


class Service:
    """One store (dedup state included) and the jobs that build digests.

    The HTTP API reaches the store only through these methods.
    """

    def __init__(self, settings: Settings, store: Store,
                 backend_factory: Callable[[], Backend],
                 judge_factory: Callable[[], Backend | None] | None = None) -> None:
        self.settings = settings
        self.store = store
        self._backend_factory = backend_factory
        self._backend: Backend | None = None
        # The judge's own backend (SUMMARIZER_JUDGE_*), else None: the run's backend judges.
        self._judge_factory = judge_factory or (lambda: make_judge_backend(settings))
        self._judge: Backend | None = None
        self._judge_built = False
        self._pages: OrderedDict[tuple[int, str], Page] = OrderedDict()  # (digest row, media)
        self.zone = settings.zone()  # the days articles and digests are of
        self.worker: Worker | None = None  # runs jobs in this process, when it does

    @property
    def backend(self) -> Backend:
        if self._backend is None:  # built on first use: a missing model must not stop ingest
            self._backend = self._backend_factory()
        return self._backend

    @property
    def judge(self) -> Backend | None:
        """The judge's own backend, built on first use; None when the run's backend judges."""
        if not self._judge_built:
            self._judge = self._judge_factory()
            self._judge_built = True
        return self._judge

    async def start(self, *, worker: bool = True) -> None:
        """With `worker`, run queued jobs, feeds and schedules in this process too (else other
        processes' `summarizer worker` does). Nothing is loaded: dedup reads the database when
        an article comes in."""
        if worker:
            from .worker import Worker

            self.worker = Worker(self)
            self.worker.start()

    async def stop(self) -> None:
        if self.worker is not None:
            await self.worker.stop()

    # -- reading ---------------------------------------------------------------------------------

    async def ready(self) -> bool:
        """Whether the database answers."""
        return await asyncio.to_thread(self.store.ping)

    async def job(self, job_id: str) -> Job:
        """The job with this id; NotFound if there is none."""
        job = await asyncio.to_thread(self.store.get_job, job_id)
        if job is None:
            raise NotFound(f"no job with id {job_id}", field="job_id")
        return job

    async def job_result(self, job_id: str) -> dict[str, Any] | None:
        """What a summary job made (the JSON output contract); None until it is done."""
        return await asyncio.to_thread(self.store.job_result, job_id)

    async def has_articles(self, day: str) -> bool:
        """Whether any article is stored under this day (a digest of it can be built)."""
        return await asyncio.to_thread(self.store.has_articles_on, day)

    async def latest_digest(self, day: str) -> Digest:
        """The newest digest built for a day; NotFound before one is."""
        data = await asyncio.to_thread(self.store.latest_digest, day)
        if data is None:
            raise NotFound(f"no digest for {day} yet; start one with POST /v1/digests",
                           field="date")
        return Digest(day, data)

    async def digest_page(self, day: str, media: str) -> Page:
        """The newest digest of a day as `media` (one of DIGEST_MEDIA), ready to send, with its
        ETag; NotFound before there is one.

        Each read asks the database for the rendering's tag only; the bytes come from this
        process's memory while the tag is the same. A digest stored before renderings were
        kept, or rendered by another version, is rendered now and stored, so only its first
        read pays for parsing and rendering.
        """
        for _ in range(3):  # again only if a newer digest landed between two statements
            found = await asyncio.to_thread(self.store.latest_rendering, day, media, body=False)
            if found is None:
                raise NotFound(f"no digest for {day} yet; start one with POST /v1/digests",
                               field="date")
            seq, stored = found
            if stored is None or stored.renderer != RENDERER:
                page = await asyncio.to_thread(self._render_stored, seq, day, media)
            else:
                cached = self._pages.get((seq, media))
                if cached is not None and cached.etag == stored.etag:
                    self._pages.move_to_end((seq, media))
                    return cached
                page = await asyncio.to_thread(self._read_page, seq, media)
            if page is not None:
                self._keep(seq, page)
                return page
        raise SummarizerError(f"the digest of {day} kept changing while it was read")

    async def atom(self, *, self_url: str, link: Callable[[str], str]) -> bytes:
        """The Atom feed of the newest digests, one entry per day; `link(day)` is where a
        reader opens a day's digest."""
        entries = []
        for row in await asyncio.to_thread(self.store.recent_digests, ATOM_ENTRIES):
            try:
                page = await self.digest_page(row.day, EMAIL)
            except NotFound:  # removed in between
                continue
            entries.append(atom.Entry(day=row.day, updated=row.created, link=link(row.day),
                                      html=email_fragment(page.content.decode("utf-8"))))
        return atom.feed(entries, self_url=self_url)

    def _read_page(self, seq: int, media: str) -> Page | None:
        rendering = self.store.rendering(seq, media)
        return None if rendering is None else Page.of(rendering)

    def _render_stored(self, seq: int, day: str, media: str) -> Page | None:
        data = self.store.digest_data(seq)
        if data is None:
            return None
        rendering = Digest(day, data).rendering(media, seq)
        self.store.put_rendering(rendering)
        return Page.of(rendering)

    def _keep(self, seq: int, page: Page) -> None:
        """Keep a page in memory, the least recently read ones leaving first over the cap."""
        self._pages[(seq, page.media)] = page
        self._pages.move_to_end((seq, page.media))
        total = sum(len(p.content) for p in self._pages.values())
        while total > PAGE_CACHE_BYTES and len(self._pages) > 1:
            _, dropped = self._pages.popitem(last=False)
            total -= len(dropped.content)

    # -- ingest ----------------------------------------------------------------------------------

    async def ingest(self, records: Sequence[dict[str, Any]]) -> list[Outcome]:
        """Clean each article and store it unless a stored article already has its text."""
        return await self.ingest_documents(
            await asyncio.to_thread(_read, records, self.settings))

    async def ingest_documents(self, documents: Sequence[Document | Skip]) -> list[Outcome]:
        """Articles read elsewhere (a feed's pages): stored, reported as copies, or skipped,
        one outcome each, in order."""
        outcomes = await asyncio.to_thread(self._admit, documents)
        for outcome in outcomes:
            METRICS.articles.labels(outcome.status).inc()
        return outcomes

    def _admit(self, documents: Sequence[Document | Skip]) -> list[Outcome]:
        """Clean and analyse each article here, then store it, or record it as a copy of the
        stored one it repeats, in one transaction of the store's: the database decides, across
        every process that shares it."""
        cleaned = list(clean(documents))
        articles = [a for a in cleaned if not isinstance(a, Skip)]
        found = iter(self.store.admit([(a, day_of(a.published, zone=self.zone), analyse(a.text))
                                       for a in articles]))
        outcomes = []
        for article in cleaned:
            if isinstance(article, Skip):
                outcomes.append(Outcome(id=None, status="skipped", reason=article.reason))
                continue
            original = next(found)
            outcomes.append(Outcome(id=article.id, status="stored") if original is None else
                            Outcome(id=article.id, status="duplicate", duplicate_of=original))
        return outcomes

    # -- feeds -----------------------------------------------------------------------------------

    async def add_feed(self, url: str, name: str | None) -> tuple[Feed, bool]:
        """Poll this feed from now on (at once, where this process runs a worker); the feed,
        and whether it is new."""
        from .feeds import check_url

        feed, added = await asyncio.to_thread(self.store.add_feed, check_url(url), name)
        if added:
            self._wake()
        return feed, added

    async def feeds(self) -> list[Feed]:
        return await asyncio.to_thread(self.store.feeds)

    async def feed(self, feed_id: str) -> tuple[Feed, list[FeedEntry]]:
        """A feed and what became of each entry read from it; NotFound if there is none."""
        feed = await asyncio.to_thread(self.store.get_feed, feed_id)
        if feed is None:
            raise NotFound(f"no feed with id {feed_id}; GET /v1/feeds lists them",
                           field="feed_id")
        return feed, await asyncio.to_thread(self.store.entries, feed_id)

    async def remove_feed(self, feed_id: str) -> None:
        if not await asyncio.to_thread(self.store.remove_feed, feed_id):
            raise NotFound(f"no feed with id {feed_id}; GET /v1/feeds lists them",
                           field="feed_id")

    # -- schedules -------------------------------------------------------------------------------

    async def add_schedule(self, at: str, timezone: str | None, day: str) -> tuple[Schedule, bool]:
        """Build a digest daily at this local time (a worker does); the schedule, and whether it
        is new. The zone defaults to SUMMARIZER_TIMEZONE."""
        at = time.fromisoformat(at).isoformat()  # one spelling: 07:00 and 07:00:00 are one
        return await asyncio.to_thread(self.store.add_schedule, at,
                                       timezone or self.settings.timezone, day)

    async def schedules(self) -> list[Schedule]:
        return await asyncio.to_thread(self.store.schedules)

    async def remove_schedule(self, schedule_id: str) -> None:
        if not await asyncio.to_thread(self.store.remove_schedule, schedule_id):
            raise NotFound(f"no schedule with id {schedule_id}; GET /v1/schedules lists them",
                           field="schedule_id")

    # -- one-off summaries -----------------------------------------------------------------------

    async def summarize_now(self, records: Sequence[dict[str, Any]], strict: bool = False,
                            writing: WritingSetting | None = None,
                            verify: VerifyMode | None = None,
                            language: str | None = None,
                            max_cost_usd: float | None = None) -> dict[str, Any]:
        """Summarise posted articles at once, without storing them (the JSON output contract)."""
        return to_json(await self.summarize_records(
            records, self.options(strict, writing, verify, max_cost_usd, language)))

    async def summarize_records(self, records: Sequence[dict[str, Any]], options: Options,
                                progress: Progress | None = None) -> Result:
        """Summarise posted records (not stored); 422 when none can be read."""
        docs: list[Document] = []
        skips: list[Skip] = []
        read = await asyncio.to_thread(  # records with only a url are fetched
            read_records, [(f"articles[{n}]", r) for n, r in enumerate(records)],
            settings=self.settings)
        for doc in read:
            if isinstance(doc, Skip):
                skips.append(doc)
            else:
                docs.append(doc)
        if not docs:  # before the backend is built: a bad request is not a missing model
            raise no_readable_article(skips)
        result = await summarize(docs, skips, backend=self.backend, judge=self.judge,
                                 options=options, cache=self.store.cache, progress=progress)
        _count_usage(result.usage)
        return result

    async def request_summary(self, records: Sequence[dict[str, Any]], strict: bool,
                              writing: WritingSetting | None = None,
                              verify: VerifyMode | None = None,
                              language: str | None = None,
                              max_cost_usd: float | None = None) -> Job:
        """A background job for a summary too large to wait for; its input is kept first."""
        job, _ = await asyncio.to_thread(self.store.start_job, "summary", uuid4().hex)
        await asyncio.to_thread(self.store.put_job_payload, job.id,
                                {"articles": list(records), "strict": strict,
                                 "writing": writing, "verify": verify, "language": language,
                                 "max_cost_usd": max_cost_usd})
        self._wake()
        return job

    # -- digests ---------------------------------------------------------------------------------

    async def request_digest(self, day: str) -> tuple[Job, bool]:
        """The running job for this day if there is one, else a new one, started."""
        job, created = await asyncio.to_thread(self.store.start_job, "digest", day)
        if created:
            self._wake()
        return job, created

    async def build_summary(self, job: Job, progress: Progress) -> Result:
        """Run a summary job: the articles kept with it, summarised with its options."""
        payload = await asyncio.to_thread(self.store.job_payload, job.id)
        if payload is None:
            raise InputError("the job's articles were not stored; post them again")
        options = self.options(strict=payload.get("strict", False),
                               writing=payload.get("writing"), verify=payload.get("verify"),
                               max_cost_usd=payload.get("max_cost_usd"),
                               language=payload.get("language"))
        return await self.summarize_records(payload["articles"], options, progress)

    async def build_digest(self, day: str, progress: Progress) -> Result:
        """Run a digest job: the day's stored articles, continuing earlier days' stories."""
        articles = await asyncio.to_thread(self.store.articles_on, day)
        if not articles:
            raise InputError(f"no articles stored for {day}; post them to /v1/articles first")
        duplicates = await asyncio.to_thread(self.store.duplicates_on, day)
        earlier = await asyncio.to_thread(self._earlier_stories, day)
        result = await digest(
            articles, backend=self.backend, judge=self.judge, earlier=earlier,
            duplicates=duplicates,
            options=self.options(), cache=self.store.cache, progress=progress,
        )
        _count_usage(result.usage)
        return result

    def _earlier_stories(self, day: str) -> list[Earlier]:
        window = self.settings.update_window_days
        return [story for earlier_day, data in self.store.digests_before(day, window)
                for story in Digest(earlier_day, data).stories()]

    async def keep_digest(self, day: str, job_id: str, result: Result) -> None:
        """Store a built digest with its renderings, made once here so reads send stored text."""
        built = Digest(day, Digest.stored(day, result))
        renderings = await asyncio.to_thread(built.renderings)
        await asyncio.to_thread(self.store.put_digest, day, job_id, built.data, renderings)

    def _wake(self) -> None:
        """Tell this process's worker, if it runs one, that a job is queued."""
        if self.worker is not None:
            self.worker.wake()

    def options(self, strict: bool = False, writing: WritingSetting | None = None,
                verify: VerifyMode | None = None, max_cost_usd: float | None = None,
                language: str | None = None) -> Options:
        """The run options the settings give, with what the request asked for on top. A
        request's cost limit can lower SUMMARIZER_MAX_COST_USD, never raise it."""
        limits = [x for x in (max_cost_usd, self.settings.max_cost_usd) if x is not None]
        return run_options(self.settings, strict=strict, writing=writing, verify=verify,
                           max_cost_usd=min(limits) if limits else None, language=language)


def _read(records: Sequence[dict[str, Any]], settings: Settings) -> list[Document | Skip]:
    """Posted records as documents (or skips), named by their URL or their place; records
    with only a url are fetched first."""
    return read_records(((record.get("url") or f"posted article {n + 1}", record)
                         for n, record in enumerate(records)), settings=settings)


def _count_usage(usage: Usage) -> None:
    METRICS.llm_calls.inc(usage.llm_calls)
    METRICS.tokens.labels("prompt").inc(usage.prompt_tokens)
    METRICS.tokens.labels("completion").inc(usage.completion_tokens)
    METRICS.cache_hits.inc(usage.cache_hits)
