"""The worker: runs what API processes queue, and what the clock and the feeds bring.

Any number of workers may share one database. Each loop a worker claims the oldest job that
is queued or whose lease ran out (its worker died), polls the feeds that are due, starts the
day's scheduled digest when its time has come, and sends webhooks that are due. The database
decides who does what: a job's lease, a feed's next poll time, a schedule's key and a
delivery's next try are each taken by one worker only.

`summarizer worker` runs one on its own; `summarizer serve` runs one inside the API process
unless told not to.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING
from uuid import uuid4
from zoneinfo import ZoneInfo

from ..errors import SummarizerError
from ..models import Result
from .metrics import METRICS
from .store import Job, Schedule, Store

if TYPE_CHECKING:
    from .service import Service

log = logging.getLogger(__name__)

PROGRESS_STEP = 0.05  # store progress in steps, not on every model call


class Worker:
    """One worker's loop over the shared database; see the module's docstring."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.store: Store = service.store
        self.settings = service.settings
        self.id = f"{socket.gethostname()}:{os.getpid()}:{uuid4().hex[:8]}"
        self._wake = asyncio.Event()
        self._jobs: set[asyncio.Task[None]] = set()
        self._chores: dict[str, asyncio.Task[None]] = {}  # feeds, deliveries: one of each at once
        self._loop: asyncio.Task[None] | None = None
        self._scheduled: dict[str, str] = {}  # a schedule's key -> the last day it was queued

    def start(self) -> None:
        if self.settings.webhook_url and self.settings.webhook_secret is None:
            log.warning("webhooks to %s go unsigned: set SUMMARIZER_WEBHOOK_SECRET so that the "
                        "receiver can check they come from here", self.settings.webhook_url)
        self._loop = asyncio.create_task(self._run(), name=f"worker-{self.id}")

    def wake(self) -> None:
        """Look for work now rather than at the next poll."""
        self._wake.set()

    async def stop(self) -> None:
        """Stop at once; a job it was running keeps its lease until it runs out, then another
        worker (or this one, restarted) takes it up, its finished model calls cached."""
        tasks = [*self._jobs, *self._chores.values(), *([self._loop] if self._loop else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def run_forever(self) -> None:
        """Run until cancelled (`summarizer worker`)."""
        self.start()
        assert self._loop is not None
        try:
            await self._loop
        finally:
            await self.stop()

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:  # noqa: BLE001 - a database hiccup must not end the loop
                log.exception("worker %s: could not look for work", self.id)
            try:
                await asyncio.wait_for(self._wake.wait(), self.settings.worker_poll_seconds)
            except TimeoutError:
                pass
            self._wake.clear()

    async def tick(self) -> None:
        """One look for work: jobs up to the concurrency, then schedules, feeds, webhooks."""
        while len(self._jobs) < self.settings.job_concurrency:
            job = await asyncio.to_thread(self.store.claim_next_job, self.id,
                                          self.settings.job_lease_seconds)
            if job is None:
                break
            task = asyncio.create_task(self._run_job(job), name=f"job-{job.id}")
            self._jobs.add(task)
            task.add_done_callback(self._jobs.discard)
        await self._schedule()
        from . import feeds, webhook

        self._chore("feeds", lambda: feeds.poll_due(self.service))
        if self.settings.webhook_url:
            self._chore("deliveries", lambda: webhook.deliver_due(self.service))

    def _chore(self, name: str, make: Callable[[], Awaitable[object]]) -> None:
        """Start a chore unless the last one of its kind is still going."""
        running = self._chores.get(name)
        if running is not None and not running.done():
            return
        self._chores[name] = asyncio.create_task(self._guarded(name, make), name=name)

    async def _guarded(self, name: str, make: Callable[[], Awaitable[object]]) -> None:
        try:
            await make()
        except Exception:  # noqa: BLE001 - the next tick tries again
            log.exception("worker %s: %s failed", self.id, name)

    # -- jobs ------------------------------------------------------------------------------------

    async def _run_job(self, job: Job) -> None:
        METRICS.jobs.labels("running").inc()
        progress = JobProgress(self.store, job.id)
        work = asyncio.create_task(self._build(job, progress))
        lost = asyncio.Event()
        heartbeat = asyncio.create_task(self._heartbeat(job.id, work, lost))
        error = None
        try:  # cancelled (the worker is stopping): the job keeps its lease, then is taken up
            try:
                result = await work
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if lost.is_set() and not (current and current.cancelling()):
                    log.warning("job %s was taken by another worker; leaving it", job.id)
                    return
                work.cancel()
                raise
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
            from ..render import to_json

            await asyncio.to_thread(self.store.put_job_result, job.id, to_json(result))
        else:
            await self.service.keep_digest(job.key, job.id, result)
        # What the model could not do is listed; asking for the job again redoes only that.
        await self._finish(job, "done", None, [f.model_dump() for f in result.failed])
        if job.kind == "digest" and self.settings.webhook_url:
            await asyncio.to_thread(self.store.queue_delivery, job.id, job.key)
            self.wake()

    async def _build(self, job: Job, progress: JobProgress) -> Result:
        if job.kind == "summary":
            return await self.service.build_summary(job, progress)
        return await self.service.build_digest(job.key, progress)

    async def _heartbeat(self, job_id: str, work: asyncio.Task[Result],
                         lost: asyncio.Event) -> None:
        """Renew the job's lease now and then; if another worker has it, stop working on it."""
        lease = self.settings.job_lease_seconds
        while True:
            await asyncio.sleep(lease / 3)
            try:
                held = await asyncio.to_thread(self.store.renew_lease, job_id, self.id, lease)
            except Exception:  # noqa: BLE001 - try again; the lease has time left
                log.warning("could not renew the lease on job %s", job_id, exc_info=True)
                continue
            if not held:
                lost.set()
                work.cancel()
                return

    async def _finish(self, job: Job, status: str, error: str | None,
                      failed: list[dict[str, object]] | None = None) -> None:
        await asyncio.to_thread(self.store.update_job, job.id, status=status, error=error,
                                progress=1.0 if status == "done" else None, failed=failed)
        METRICS.jobs.labels(status).inc()

    # -- the daily digest ------------------------------------------------------------------------

    async def _schedule(self) -> None:
        """Queue each scheduled digest once its time has come (SUMMARIZER_DIGEST_AT and those
        added through the API); the database's key makes it once a day whatever the number of
        workers. A worker that starts late that day still queues it."""
        schedules = await asyncio.to_thread(self.store.schedules)
        if self.settings.digest_at is not None:
            schedules.insert(0, Schedule(id="settings", at=self.settings.digest_at.isoformat(),
                                         timezone=self.settings.timezone,
                                         day=self.settings.digest_day, created=""))
        for schedule in schedules:
            await self._due(schedule)

    async def _due(self, schedule: Schedule) -> None:
        local = datetime.now(ZoneInfo(schedule.timezone))
        if local.time() < time.fromisoformat(schedule.at):
            return
        day = local.date() - timedelta(days=1 if schedule.day == "yesterday" else 0)
        if self._scheduled.get(schedule.key) == day.isoformat():
            return  # queued (by this worker or another) already today
        job = await asyncio.to_thread(self.store.schedule_digest, day.isoformat(),
                                      schedule.key)
        self._scheduled[schedule.key] = day.isoformat()
        if job is not None:
            log.info("scheduled digest of %s (%s) queued as job %s", day, schedule.key, job.id)
            self.wake()


class JobProgress:
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
