"""The digest service without HTTP: ingest against the store, background jobs that resume."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from uuid import uuid4

from ..clean import clean_document
from ..dedup import ArticleIndex, duplicate_of
from ..errors import InputError, SummarizerError
from ..ingest import no_readable_article, read_record
from ..llm.base import Backend
from ..models import Article, Document, Skip, Usage
from ..pipeline import Earlier, Options, digest, run_options, summarize
from ..render import to_html, to_json, to_markdown
from ..settings import Settings
from ..writing import WritingSetting
from .metrics import METRICS
from .store import Job, Store

log = logging.getLogger(__name__)

PROGRESS_STEP = 0.05  # store progress in steps, not on every model call


@dataclass(frozen=True)
class Outcome:
    """What became of one posted article."""

    id: str | None
    status: str  # stored | duplicate | skipped
    duplicate_of: str | None = None
    reason: str | None = None


def day_of(published: str | None, today: date | None = None) -> str:
    """The digest day an article belongs to: its publication date, else today (UTC)."""
    if published:
        try:
            return datetime.fromisoformat(published.replace("Z", "+00:00")).date().isoformat()
        except ValueError:
            pass
    return (today or datetime.now(UTC).date()).isoformat()


class Service:
    """One store, one dedup index over what it holds, and the jobs that build digests."""

    def __init__(self, settings: Settings, store: Store,
                 backend_factory: Callable[[], Backend]) -> None:
        self.settings = settings
        self.store = store
        self._backend_factory = backend_factory
        self._backend: Backend | None = None
        self._index = ArticleIndex()
        self._index_lock = asyncio.Lock()
        self._jobs = asyncio.Semaphore(settings.job_concurrency)
        self._tasks: dict[str, asyncio.Task] = {}
        self._watcher: asyncio.Task | None = None

    @property
    def backend(self) -> Backend:
        if self._backend is None:  # built on first use: a missing model must not stop ingest
            self._backend = self._backend_factory()
        return self._backend

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

    # -- ingest ----------------------------------------------------------------------------------

    async def ingest(self, records: Sequence[dict]) -> list[Outcome]:
        """Clean each article and store it unless a stored article already has its text."""
        outcomes = []
        async with self._index_lock:  # two batches must not both store one wire story
            for n, record in enumerate(records):
                origin = record.get("url") or f"posted article {n + 1}"
                outcomes.append(await self._ingest_one(record, origin))
        return outcomes

    async def _ingest_one(self, record: dict, origin: str) -> Outcome:
        doc = read_record(origin, record)
        article = doc if isinstance(doc, Skip) else clean_document(doc)
        if isinstance(article, Skip):
            METRICS.articles.labels("skipped").inc()
            return Outcome(id=None, status="skipped", reason=article.reason)
        day = day_of(article.published)
        original = self._index.find(article)
        if original is not None:
            await asyncio.to_thread(self._record_copy, article, original, day)
            METRICS.articles.labels("duplicate").inc()
            return Outcome(id=article.id, status="duplicate", duplicate_of=original)
        await asyncio.to_thread(self.store.put_article, article, day)
        self._index.add(article)
        METRICS.articles.labels("stored").inc()
        return Outcome(id=article.id, status="stored")

    def _record_copy(self, article: Article, original: str, day: str) -> None:
        if article.id != original:
            self.store.put_duplicate(duplicate_of(article, original), day)
        for source in article.sources:
            self.store.add_source(original, source)

    # -- one-off summaries -----------------------------------------------------------------------

    async def summarize_now(self, records: Sequence[dict], options: Options,
                            progress: _JobProgress | None = None) -> dict:
        """Summarise posted articles at once, without storing them."""
        docs: list[Document] = []
        skips: list[Skip] = []
        for n, record in enumerate(records):
            doc = read_record(f"articles[{n}]", record)
            (skips if isinstance(doc, Skip) else docs).append(doc)  # type: ignore[arg-type]
        if not docs:
            raise no_readable_article(skips)
        result = await summarize(docs, skips, backend=self.backend, options=options,
                                 cache=self.store.cache, progress=progress)
        _count_usage(result.usage)
        return to_json(result)

    async def request_summary(self, records: Sequence[dict], strict: bool,
                              writing: WritingSetting | None = None) -> Job:
        """A background job for a summary too large to wait for; its input is kept first."""
        job, _ = await asyncio.to_thread(self.store.start_job, "summary", uuid4().hex)
        await asyncio.to_thread(self.store.put_job_payload, job.id,
                                {"articles": list(records), "strict": strict,
                                 "writing": writing})
        self._launch(job)
        return job

    async def _build_summary(self, job: Job) -> dict:
        payload = await asyncio.to_thread(self.store.job_payload, job.id)
        if payload is None:
            raise InputError("the job's articles were not stored; post them again")
        options = self.options(strict=payload.get("strict", False),
                               writing=payload.get("writing"))
        return await self.summarize_now(payload["articles"], options,
                                        progress=_JobProgress(self.store, job.id))

    # -- digests ---------------------------------------------------------------------------------

    async def request_digest(self, day: str) -> tuple[Job, bool]:
        """The running job for this day if there is one, else a new one, started."""
        job, created = await asyncio.to_thread(self.store.start_job, "digest", day)
        if created:
            self._launch(job)
        return job, created

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
            heartbeat = asyncio.create_task(self._heartbeat(job.id))
            try:
                if job.kind == "summary":
                    data = await self._build_summary(job)
                else:
                    data = await self._build_digest(job)
            except asyncio.CancelledError:
                raise  # the server is stopping: the job stays running and is resumed on start
            except SummarizerError as e:
                await self._finish(job, "failed", str(e))
                return
            except Exception as e:  # noqa: BLE001 - a job must end as failed, not vanish
                log.exception("%s job %s failed", job.kind, job.id)
                await self._finish(job, "failed", f"internal error: {type(e).__name__}")
                return
            finally:
                heartbeat.cancel()
            if job.kind == "summary":
                await asyncio.to_thread(self.store.put_job_result, job.id, data)
            else:
                await asyncio.to_thread(self.store.put_digest, job.key, job.id, data)
            await self._finish(job, "done", None)

    async def _heartbeat(self, job_id: str) -> None:
        """Touch the running job now and then, so no other process thinks its worker died."""
        while True:
            await asyncio.sleep(self.settings.job_stale_seconds / 4)
            await asyncio.to_thread(self.store.update_job, job_id)

    async def _finish(self, job: Job, status: str, error: str | None) -> None:
        await asyncio.to_thread(self.store.update_job, job.id, status=status, error=error,
                                progress=1.0 if status == "done" else None)
        METRICS.jobs.labels(status).inc()

    async def _build_digest(self, job: Job) -> dict:
        day = job.key
        articles = await asyncio.to_thread(self.store.articles_on, day)
        if not articles:
            raise InputError(f"no articles stored for {day}; post them to /v1/articles first")
        duplicates = await asyncio.to_thread(self.store.duplicates_on, day)
        earlier = await asyncio.to_thread(self._earlier_stories, day)
        progress = _JobProgress(self.store, job.id)
        result = await digest(
            articles, backend=self.backend, earlier=earlier, duplicates=duplicates,
            options=self.options(), cache=self.store.cache, progress=progress,
        )
        _count_usage(result.usage)
        title = f"News digest for {day}"
        return {"contract": {"date": day, **to_json(result)},
                "markdown": to_markdown(result, title), "html": to_html(result, title)}

    def _earlier_stories(self, day: str) -> list[Earlier]:
        stories = []
        for earlier_day, data in self.store.digests_before(day, self.settings.update_window_days):
            for story in data["contract"].get("stories", []):
                texts = tuple(s["text"] for s in story.get("summary", []))
                stories.append(Earlier(id=story["id"], day=earlier_day, title=story.get("title"),
                                       texts=texts))
        return stories

    def options(self, strict: bool = False, writing: WritingSetting | None = None) -> Options:
        """The run options the settings give, with what the request asked for on top."""
        return run_options(self.settings, strict=strict, writing=writing)


class _JobProgress:
    """Pipeline progress written to the job's row, so any process can report it."""

    def __init__(self, store: Store, job_id: str) -> None:
        self.store = store
        self.job_id = job_id
        self.total = 0
        self.done = 0
        self.saved = 0.0

    def add(self, n: int) -> None:
        self.total += n

    def advance(self, n: int = 1) -> None:
        self.done += n
        # The total grows as collapse and reduce calls appear; never report 1.0 before the end.
        fraction = min(0.95, self.done / max(1, self.total))
        if fraction - self.saved >= PROGRESS_STEP:
            self.saved = fraction
            self.store.update_job(self.job_id, progress=round(fraction, 3))


def _count_usage(usage: Usage) -> None:
    METRICS.llm_calls.inc(usage.llm_calls)
    METRICS.tokens.labels("prompt").inc(usage.prompt_tokens)
    METRICS.tokens.labels("completion").inc(usage.completion_tokens)
    METRICS.cache_hits.inc(usage.cache_hits)

