"""The digest service without HTTP: ingest against the store, background jobs that resume."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cached_property
from typing import Any
from uuid import uuid4

from .. import __version__
from ..dedup import ArticleIndex, duplicate_of
from ..errors import InputError, NotFound, SummarizerError
from ..ingest import no_readable_article, read_record
from ..llm import make_judge_backend
from ..llm.base import Backend
from ..models import Article, Document, Result, Skip, Usage, VerifyMode, published_at
from ..pipeline import Earlier, Options, clean, digest, run_options, summarize
from ..render import to_html, to_json, to_markdown
from ..settings import Settings
from ..writing import WritingSetting
from .metrics import METRICS
from .store import Job, Rendering, Store

log = logging.getLogger(__name__)

PROGRESS_STEP = 0.05  # store progress in steps, not on every model call
# The media types a digest is served in; each has its own stored rendering and ETag.
DIGEST_MEDIA = ("application/json", "text/markdown", "text/html")
# What made a stored rendering: one made by another version is rendered again when read.
RENDERER = __version__
# Digest pages kept in memory per process (a 200-article digest is ~0.5 MB of JSON, more HTML).
PAGE_CACHE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Outcome:
    """What became of one posted article."""

    id: str | None
    status: str  # stored | duplicate | skipped
    duplicate_of: str | None = None
    reason: str | None = None


def day_of(published: str | None, today: date | None = None) -> str:
    """The digest day an article belongs to: its publication date (UTC), else today (UTC)."""
    moment = published_at(published)
    if moment is not None:
        return moment.date().isoformat()
    return (today or datetime.now(UTC).date()).isoformat()


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
    """One store, one dedup index over what it holds, and the jobs that build digests.

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
        self._index = ArticleIndex()
        self._index_lock = asyncio.Lock()
        self._jobs = asyncio.Semaphore(settings.job_concurrency)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._pages: OrderedDict[tuple[int, str], Page] = OrderedDict()  # (digest row, media)
        self._watcher: asyncio.Task[None] | None = None

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

    async def start(self) -> None:
        """Index stored articles, resume jobs a stopped server left, and keep watching for more."""
        stored = await asyncio.to_thread(self.store.recent_articles, "0001-01-01")
        for article, _ in stored:
            self._index.add(article)
        if self.store.dialect == "sqlite":
            # One process owns a SQLite file: whatever is marked running lost its worker.
            await asyncio.to_thread(self.store.requeue_running)
        await self._resume()
        self._watcher = asyncio.create_task(self._watch(), name="job-watcher")

    async def _resume(self) -> None:
        """Take back jobs whose worker stopped sending heartbeats, then run what is queued."""
        stale = self.settings.job_stale_seconds
        requeued = await asyncio.to_thread(self.store.requeue_running, stale_after=stale)
        if requeued:
            log.warning("resuming %d job(s) whose worker stopped", requeued)
        for job in await asyncio.to_thread(self.store.unfinished_jobs):
            if job.status == "queued":
                self._launch(job)

    async def _watch(self) -> None:
        """Several processes may share a database: any of them resumes a dead one's jobs."""
        while True:
            await asyncio.sleep(self.settings.job_stale_seconds / 2)
            try:
                await self._resume()
            except Exception:  # noqa: BLE001 - a database hiccup must not end the watch
                log.exception("could not check for stalled jobs")

    async def stop(self) -> None:
        tasks = [*self._tasks.values(), *([self._watcher] if self._watcher else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

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
        cleaned = await asyncio.to_thread(_read_and_clean, records)
        async with self._index_lock:  # two batches must not both store one wire story
            outcomes = await asyncio.to_thread(lambda: [self._admit(a) for a in cleaned])
        for outcome in outcomes:
            METRICS.articles.labels(outcome.status).inc()
        return outcomes

    def _admit(self, article: Article | Skip) -> Outcome:
        """Store one cleaned article, or record it as a copy of the stored one it repeats."""
        if isinstance(article, Skip):
            return Outcome(id=None, status="skipped", reason=article.reason)
        day = day_of(article.published)
        original = self._index.find(article)
        if original is not None:
            if article.id != original:
                self.store.put_duplicate(duplicate_of(article, original), day)
            for source in article.outlets():
                self.store.add_source(original, source)
            return Outcome(id=article.id, status="duplicate", duplicate_of=original)
        self.store.put_article(article, day)
        self._index.add(article)
        return Outcome(id=article.id, status="stored")

    # -- one-off summaries -----------------------------------------------------------------------

    async def summarize_now(self, records: Sequence[dict[str, Any]], strict: bool = False,
                            writing: WritingSetting | None = None,
                            verify: VerifyMode | None = None,
                            language: str | None = None) -> dict[str, Any]:
        """Summarise posted articles at once, without storing them (the JSON output contract)."""
        return to_json(await self._summarize(
            records, self.options(strict, writing, verify, language)))

    async def _summarize(self, records: Sequence[dict[str, Any]], options: Options,
                         progress: _JobProgress | None = None) -> Result:
        docs: list[Document] = []
        skips: list[Skip] = []
        for n, record in enumerate(records):
            doc = read_record(f"articles[{n}]", record)
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
                              language: str | None = None) -> Job:
        """A background job for a summary too large to wait for; its input is kept first."""
        job, _ = await asyncio.to_thread(self.store.start_job, "summary", uuid4().hex)
        await asyncio.to_thread(self.store.put_job_payload, job.id,
                                {"articles": list(records), "strict": strict,
                                 "writing": writing, "verify": verify, "language": language})
        self._launch(job)
        return job

    async def _build_summary(self, job: Job, progress: _JobProgress) -> Result:
        payload = await asyncio.to_thread(self.store.job_payload, job.id)
        if payload is None:
            raise InputError("the job's articles were not stored; post them again")
        options = self.options(strict=payload.get("strict", False),
                               writing=payload.get("writing"), verify=payload.get("verify"),
                               language=payload.get("language"))
        return await self._summarize(payload["articles"], options, progress)

    # -- digests ---------------------------------------------------------------------------------

    async def request_digest(self, day: str) -> tuple[Job, bool]:
        """The running job for this day if there is one, else a new one, started."""
        job, created = await asyncio.to_thread(self.store.start_job, "digest", day)
        if created:
            self._launch(job)
        return job, created

    async def _build_digest(self, job: Job, progress: _JobProgress) -> Result:
        day = job.key
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

    # -- jobs ------------------------------------------------------------------------------------

    def _launch(self, job: Job) -> None:
        if job.id in self._tasks and not self._tasks[job.id].done():
            return
        task = asyncio.create_task(self._run(job), name=f"job-{job.id}")
        self._tasks[job.id] = task
        task.add_done_callback(lambda _: self._tasks.pop(job.id, None))

    async def _run(self, job: Job) -> None:
        async with self._jobs:
            if not await asyncio.to_thread(self.store.claim_job, job.id):
                return  # another process took it
            METRICS.jobs.labels("running").inc()
            progress = _JobProgress(self.store, job.id)
            heartbeat = asyncio.create_task(self._heartbeat(job.id))
            error = None
            try:  # cancelled (the server is stopping): the job stays running, resumed on start
                try:
                    if job.kind == "summary":
                        result = await self._build_summary(job, progress)
                    else:
                        result = await self._build_digest(job, progress)
                except SummarizerError as e:
                    error = str(e)
                except Exception as e:  # noqa: BLE001 - a job must end as failed, not vanish
                    log.exception("%s job %s failed", job.kind, job.id)
                    error = f"internal error: {type(e).__name__}"
                await progress.settle()  # no late fraction may land after the final state
            finally:
                heartbeat.cancel()
                progress.cancel()
            if error is not None:
                await self._finish(job, "failed", error)
                return
            if job.kind == "summary":
                await asyncio.to_thread(self.store.put_job_result, job.id, to_json(result))
            else:
                built = Digest(job.key, Digest.stored(job.key, result))
                # Rendered once here, so that reads send stored text (digest_page).
                renderings = await asyncio.to_thread(built.renderings)
                await asyncio.to_thread(self.store.put_digest, job.key, job.id, built.data,
                                        renderings)
            # What the model could not do is listed; asking for the job again redoes only that.
            await self._finish(job, "done", None, [f.model_dump() for f in result.failed])

    async def _heartbeat(self, job_id: str) -> None:
        """Touch the running job now and then, so no other process thinks its worker died."""
        while True:
            await asyncio.sleep(self.settings.job_stale_seconds / 4)
            await asyncio.to_thread(self.store.update_job, job_id)

    async def _finish(self, job: Job, status: str, error: str | None,
                      failed: list[dict[str, Any]] | None = None) -> None:
        await asyncio.to_thread(self.store.update_job, job.id, status=status, error=error,
                                progress=1.0 if status == "done" else None, failed=failed)
        METRICS.jobs.labels(status).inc()

    def options(self, strict: bool = False, writing: WritingSetting | None = None,
                verify: VerifyMode | None = None, language: str | None = None) -> Options:
        """The run options the settings give, with what the request asked for on top."""
        return run_options(self.settings, strict=strict, writing=writing, verify=verify,
                           language=language)


class _JobProgress:
    """Pipeline progress written to the job's row, so any process can report it.

    The pipeline reports on the event loop; the rows are written in a thread, one write at a
    time, each carrying the newest fraction, so the loop never waits on the database and the
    last fraction is the one that stays.
    """

    def __init__(self, store: Store, job_id: str) -> None:
        self.store = store
        self.job_id = job_id
        self.total = 0
        self.done = 0
        self.saved = 0.0
        self._pending: float | None = None
        self._writer: asyncio.Task[None] | None = None

    def add(self, n: int) -> None:
        self.total += n

    def advance(self, n: int = 1) -> None:
        self.done += n
        # The total grows as the run learns of more calls; never report 1.0 before the end.
        fraction = min(0.95, self.done / max(1, self.total))
        if fraction - self.saved < PROGRESS_STEP:
            return
        self.saved = fraction
        self._pending = round(fraction, 3)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name=f"progress-{self.job_id}")

    async def _write(self) -> None:
        while self._pending is not None:
            fraction, self._pending = self._pending, None
            try:
                await asyncio.to_thread(self.store.update_job, self.job_id, progress=fraction)
            except Exception:  # noqa: BLE001 - a lost fraction must not fail the job
                log.warning("could not record the progress of job %s", self.job_id,
                            exc_info=True)

    async def settle(self) -> None:
        """Wait until the newest fraction is written."""
        if self._writer is not None:
            await self._writer

    def cancel(self) -> None:
        if self._writer is not None:
            self._writer.cancel()


def _read_and_clean(records: Sequence[dict[str, Any]]) -> list[Article | Skip]:
    """Posted records as cleaned articles (or skips), named by their URL or their place."""
    return clean(read_record(record.get("url") or f"posted article {n + 1}", record)
                 for n, record in enumerate(records))


def _count_usage(usage: Usage) -> None:
    METRICS.llm_calls.inc(usage.llm_calls)
    METRICS.tokens.labels("prompt").inc(usage.prompt_tokens)
    METRICS.tokens.labels("completion").inc(usage.completion_tokens)
    METRICS.cache_hits.inc(usage.cache_hits)
