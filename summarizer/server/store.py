"""The service's tables and the queries over them: articles, duplicates, jobs, digests, and the
LLM call cache. Engines, the connection pool and migrations are in db.py."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import astuple, dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

from ..dedup import Analysis, analyse, duplicate_of
from ..errors import InputError, SummarizerError
from ..llm.cache import Cache
from ..models import Article, Duplicate, Removal
from ..sqlite import SqliteSession
from . import copies
from .db import (
    LATEST_VERSION,
    Engine,
    PostgresSession,
    database_target,
    later,
    mask_password,
    migrate,
    now,
    open_engine,
    schema_version,
)

__all__ = ["LATEST_VERSION", "Delivery", "DigestRow", "Feed", "FeedEntry", "Job", "Rendering",
           "Schedule", "Store", "check_day", "database_target", "mask_password", "open_store"]

JOB_STATUSES = ("queued", "running", "done", "failed")

ARTICLE_COLUMNS = "id, origin, text, title, source, url, published, sources, removed"
JOB_COLUMNS = "id, kind, key, status, progress, error, created, updated, failed, worker"

# The oldest job that is queued, or running on a lease that ran out. A running job written
# before leases existed has none: its last update stands for it.
CLAIMABLE = ("status = 'queued' OR (status = 'running' AND COALESCE(lease_until, updated) < ?)")
CLAIM_NEXT_SQL = {
    "sqlite": "UPDATE jobs SET status = 'running', worker = ?, lease_until = ?, updated = ? "
              f"WHERE id = (SELECT id FROM jobs WHERE {CLAIMABLE} ORDER BY seq LIMIT 1) "
              f"RETURNING {JOB_COLUMNS}",
    # SKIP LOCKED: a second claimer passes over the row the first holds instead of waiting.
    "postgresql": "UPDATE jobs SET status = 'running', worker = ?, lease_until = ?, updated = ? "
                  f"WHERE id = (SELECT id FROM jobs WHERE {CLAIMABLE} ORDER BY seq LIMIT 1 "
                  f"FOR UPDATE SKIP LOCKED) RETURNING {JOB_COLUMNS}",
}


@dataclass(frozen=True)
class Rendering:
    """A digest as served in one media type: its text, its ETag, and the version that made it."""

    digest: int  # the digest's row (digests.seq)
    media: str  # application/json | text/markdown | text/html
    etag: str  # the ETag header's value, quotes included
    body: str | None  # None when read without it
    renderer: str


@dataclass(frozen=True)
class Job:
    """A unit of background work (a digest to build); timestamps are ISO 8601 UTC."""

    id: str
    kind: str
    key: str
    status: str  # queued | running | done | failed
    progress: float
    error: str | None
    created: str
    updated: str
    failed: tuple[dict[str, Any], ...] = ()  # parts a finished job could not do
    worker: str | None = None  # the worker that holds (or last held) it: host:pid:tag

    @classmethod
    def of(cls, row: Sequence[Any]) -> Job:
        id, kind, key, status, progress, error, created, updated, failed, worker = row
        return cls(id, kind, key, status, progress, error, created, updated,
                   tuple(json.loads(failed)) if failed else (), worker)


@dataclass(frozen=True)
class DigestRow:
    """A stored digest without its data: row, day, job, and when it was stored."""

    seq: int
    day: str
    job_id: str
    created: str


@dataclass(frozen=True)
class Delivery:
    """A webhook owed for a finished digest job."""

    job_id: str
    day: str
    status: str  # pending | sent | failed
    attempts: int
    next_try: str
    error: str | None


SCHEDULE_COLUMNS = "id, at, timezone, day, created"


@dataclass(frozen=True)
class Schedule:
    """A daily digest built at a local time (`at`, HH:MM[:SS]) in a time zone, of that day or
    (`day` = yesterday) of the day before."""

    id: str
    at: str
    timezone: str
    day: str  # today | yesterday
    created: str

    @property
    def key(self) -> str:
        """What makes it once a day across processes, with the day (scheduled_digests.at)."""
        return f"{self.at} {self.timezone} {self.day}"


FEED_COLUMNS = "id, url, name, etag, last_modified, polled, next_poll, failures, error, created"


@dataclass(frozen=True)
class Feed:
    """A feed polled for articles; `error` and `failures` since its last good poll."""

    id: str
    url: str
    name: str | None
    etag: str | None
    last_modified: str | None
    polled: str | None
    next_poll: str
    failures: int
    error: str | None
    created: str


@dataclass(frozen=True)
class FeedEntry:
    """What became of one entry of a feed: stored, duplicate or skipped (with the reason)."""

    entry: str  # the entry's id in the feed, else its link
    url: str | None
    status: str
    article_id: str | None = None
    reason: str | None = None


def open_store(url_or_path: str | Path, *, schema: str | None = None) -> Store:
    """Open the store, creating or upgrading its tables; `schema` is a PostgreSQL schema to use.

    `url_or_path`: a PostgreSQL URL, a `sqlite:///` URL or a SQLite file's path.
    """
    engine = open_engine(url_or_path, schema=schema)
    try:
        migrate(engine)
    except BaseException:
        engine.close()
        raise
    return Store(engine)


def check_day(day: str) -> str:
    """A day as YYYY-MM-DD, or an InputError that says what was expected."""
    try:
        return date.fromisoformat(day).isoformat()
    except (TypeError, ValueError) as e:
        raise InputError(f"not a date: {day!r}; use YYYY-MM-DD") from e


class Store:
    """Every table the service keeps; synchronous and safe to share between threads."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.dialect = engine.dialect
        self._cache = Cache(engine)

    def close(self) -> None:
        """Release the connections; the store cannot be used afterwards."""
        self._engine.close()

    def migrate(self) -> int:
        """Apply the migrations this database lacks; the schema version it is now at."""
        return migrate(self._engine)

    def schema_version(self) -> int:
        """The newest migration applied to this database."""
        return schema_version(self._engine)

    def ping(self) -> bool:
        """Whether the database answers (for /readyz)."""
        try:
            with self._engine.session() as db:
                answer: int = db.execute("SELECT 1").fetchone()[0]
            return answer == 1
        except Exception:  # readiness reports any failure as "not ready", never raises
            return False

    # articles

    def put_article(self, article: Article, day: str, analysis: Analysis | None = None) -> bool:
        """Store an article under a day, with what dedup reads of it (`analysis`: the article's
        `dedup.analyse`, when the caller has it); False (and nothing changed) if its id is
        already stored. No check for copies: `admit` checks."""
        analysis = analysis or analyse(article.text)
        with self._engine.session() as db, db.transaction():
            return self._insert_article(db, article, check_day(day), analysis)

    def admit(self, entries: Sequence[tuple[Article, str, Analysis | None]]) -> list[str | None]:
        """Store each (article, day, analysis) unless a stored article, or one stored before it
        here, has its text exactly or nearly (see `copies.find`): None for an article stored,
        else the id of the stored one it copies, whose outlets it joins and under which it is
        recorded as a duplicate (unless it is that very article, posted again).

        One transaction for them all, held by one writer at a time across processes, so that
        two copies posted at once are stored once (`analysis`: as `put_article` takes it)."""
        ready = [(article, check_day(day), analysis or analyse(article.text))
                 for article, day, analysis in entries]
        if not ready:
            return []
        found: list[str | None] = []
        with self._engine.session() as db, db.transaction():
            copies.lock(db, self.dialect)
            for article, day, analysis in ready:
                original = copies.find(db, self.dialect, article.id, analysis)
                if original is None and not self._insert_article(db, article, day, analysis):
                    original = article.id  # stored in between: the lock rules it out
                if original is not None:
                    self._record_copy(db, article, day, original)
                found.append(original)
        return found

    def _insert_article(self, db: SqliteSession | PostgresSession, article: Article, day: str,
                        analysis: Analysis) -> bool:
        return copies.insert(db, self.dialect, (
            article.id, day, article.origin, article.text, article.title, article.source,
            article.url, article.published, json.dumps(list(article.sources)),
            json.dumps([r.model_dump() for r in article.removed]), now(),
        ), analysis)

    def _record_copy(self, db: SqliteSession | PostgresSession, article: Article, day: str,
                     original: str) -> None:
        """In the admitting transaction: the copy's outlets joined to the stored article's,
        and the copy recorded as a duplicate of it."""
        if article.id != original:
            copy = duplicate_of(article, original)
            db.execute("INSERT INTO duplicates (day, kind, article_id, text, duplicate_of, "
                       "created) VALUES (?, ?, ?, ?, ?, ?)",
                       (day, copy.kind, copy.article_id, copy.text, copy.duplicate_of, now()))
        stored = db.execute("SELECT sources FROM articles WHERE id = ?", (original,)).fetchone()
        sources = json.loads(stored[0])
        added = [s for s in dict.fromkeys(article.outlets()) if s not in sources]
        if added:
            db.execute("UPDATE articles SET sources = ? WHERE id = ?",
                       (json.dumps([*sources, *added]), original))

    def get_article(self, article_id: str) -> Article | None:
        """The stored article with this id, if any."""
        with self._engine.session() as db:
            row = db.execute(f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE id = ?",
                             (article_id,)).fetchone()
        return to_article(row) if row else None

    def articles_on(self, day: str) -> list[Article]:
        """The articles stored under a day, in the order they were stored."""
        with self._engine.session() as db:
            rows = db.execute(f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE day = ? ORDER BY seq",
                              (check_day(day),)).fetchall()
        return [to_article(row) for row in rows]

    def has_articles_on(self, day: str) -> bool:
        """Whether any article is stored under a day."""
        with self._engine.session() as db:
            row = db.execute("SELECT 1 FROM articles WHERE day = ? LIMIT 1",
                             (check_day(day),)).fetchone()
        return row is not None

    def recent_articles(self, since_day: str) -> list[tuple[Article, str]]:
        """(article, day) for every article stored under `since_day` or later, in stored order."""
        with self._engine.session() as db:
            rows = db.execute(
                f"SELECT {ARTICLE_COLUMNS}, day FROM articles WHERE day >= ? ORDER BY seq",
                (check_day(since_day),),
            ).fetchall()
        return [(to_article(row[:-1]), row[-1]) for row in rows]

    def count_articles(self) -> int:
        """How many articles are stored."""
        with self._engine.session() as db:
            count: int = db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
        return count

    def add_source(self, article_id: str, source: str) -> None:
        """Record one more outlet for a stored article (a wire copy seen again)."""
        # Compare-and-swap on the old list: the same SQL is atomic in both engines, no row locks.
        for _ in range(20):
            with self._engine.session() as db:
                row = db.execute("SELECT sources FROM articles WHERE id = ?",
                                 (article_id,)).fetchone()
                if row is None:
                    raise InputError(f"no stored article with id {article_id!r}")
                sources = json.loads(row[0])
                if source in sources:
                    return
                cursor = db.execute("UPDATE articles SET sources = ? WHERE id = ? AND sources = ?",
                                    (json.dumps([*sources, source]), article_id, row[0]))
                if cursor.rowcount == 1:
                    return
        raise SummarizerError(f"could not add source {source!r} to article {article_id!r}: "
                              "it kept changing under concurrent writers")

    def put_duplicate(self, duplicate: Duplicate, day: str) -> None:
        """Record text that was not stored because it repeats stored text."""
        with self._engine.session() as db:
            db.execute(
                "INSERT INTO duplicates (day, kind, article_id, text, duplicate_of, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (check_day(day), duplicate.kind, duplicate.article_id, duplicate.text,
                 duplicate.duplicate_of, now()),
            )

    def duplicates_on(self, day: str) -> list[Duplicate]:
        """The duplicates recorded under a day, in the order they were recorded."""
        with self._engine.session() as db:
            rows = db.execute(
                "SELECT kind, article_id, text, duplicate_of FROM duplicates WHERE day = ? "
                "ORDER BY seq", (check_day(day),),
            ).fetchall()
        return [Duplicate(kind=kind, article_id=article_id, text=text, duplicate_of=of)
                for kind, article_id, text, of in rows]

    # jobs

    def start_job(self, kind: str, key: str) -> tuple[Job, bool]:
        """The active job for (kind, key) with created=False, else a new queued one with True."""
        for _ in range(20):
            if (existing := self._active_job(kind, key)) is not None:
                return existing, False
            stamp = now()
            job = Job(id=uuid4().hex, kind=kind, key=key, status="queued", progress=0.0,
                      error=None, created=stamp, updated=stamp)
            try:
                with self._engine.session() as db:
                    db.execute(
                        "INSERT INTO jobs (id, kind, key, status, progress, error, created, "
                        "updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (job.id, kind, key, job.status, job.progress, None, stamp, stamp),
                    )
            except self._engine.unique_violation:
                continue  # another caller started it first: return theirs
            return job, True
        raise SummarizerError(f"could not start a {kind} job for {key!r}: "
                              "its active job kept changing under concurrent callers")

    def put_job_payload(self, job_id: str, payload: dict[str, Any]) -> None:
        """Keep what a job needs to run, so that a restarted server can run it."""
        self._put_job_data(job_id, "payload", payload)

    def job_payload(self, job_id: str) -> dict[str, Any] | None:
        return self._job_data(job_id, "payload")

    def put_job_result(self, job_id: str, result: dict[str, Any]) -> None:
        self._put_job_data(job_id, "result", result)

    def job_result(self, job_id: str) -> dict[str, Any] | None:
        return self._job_data(job_id, "result")

    def _put_job_data(self, job_id: str, column: str, data: dict[str, Any]) -> None:
        with self._engine.session() as db:
            db.execute(
                f"INSERT INTO job_data (job_id, {column}) VALUES (?, ?) ON CONFLICT (job_id) "
                f"DO UPDATE SET {column} = excluded.{column}",
                (job_id, json.dumps(data, ensure_ascii=False)),
            )

    def _job_data(self, job_id: str, column: str) -> dict[str, Any] | None:
        with self._engine.session() as db:
            row = db.execute(f"SELECT {column} FROM job_data WHERE job_id = ?",
                             (job_id,)).fetchone()
        return json.loads(row[0]) if row and row[0] is not None else None

    def _active_job(self, kind: str, key: str) -> Job | None:
        with self._engine.session() as db:
            row = db.execute(
                f"SELECT {JOB_COLUMNS} FROM jobs WHERE kind = ? AND key = ? "
                "AND status IN ('queued', 'running')", (kind, key),
            ).fetchone()
        return Job.of(row) if row else None

    def get_job(self, job_id: str) -> Job | None:
        """The job with this id, if any."""
        with self._engine.session() as db:
            row = db.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return Job.of(row) if row else None

    def jobs_of(self, kind: str, key: str) -> list[Job]:
        """Every job of a kind for a key, oldest first."""
        with self._engine.session() as db:
            rows = db.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE kind = ? AND key = ? "
                              "ORDER BY seq", (kind, key)).fetchall()
        return [Job.of(row) for row in rows]

    def claim_next_job(self, worker: str, lease_seconds: float) -> Job | None:
        """Take the oldest queued job, or a running one whose lease ran out (its worker died),
        for `worker`, leased for `lease_seconds`; None when there is none. Each job goes to one
        claimer: PostgreSQL skips rows another claimer holds, SQLite takes the write lock first."""
        stamp = now()
        with self._engine.session() as db:
            # Most looks find nothing: they take no write lock.
            if db.execute(f"SELECT 1 FROM jobs WHERE {CLAIMABLE} LIMIT 1",
                          (stamp,)).fetchone() is None:
                return None
        with self._engine.session() as db, db.transaction():
            row = db.execute(CLAIM_NEXT_SQL[self.dialect], (
                worker, later(lease_seconds), stamp, stamp,
            )).fetchone()
        return Job.of(row) if row else None

    def renew_lease(self, job_id: str, worker: str, lease_seconds: float) -> bool:
        """Extend the lease `worker` holds on a running job; False if it holds it no more."""
        with self._engine.session() as db:
            return db.execute(
                "UPDATE jobs SET lease_until = ?, updated = ? "
                "WHERE id = ? AND worker = ? AND status = 'running'",
                (later(lease_seconds), now(), job_id, worker),
            ).rowcount == 1

    def update_job(self, job_id: str, *, progress: float | None = None, status: str | None = None,
                   error: str | None = None,
                   failed: Sequence[dict[str, Any]] | None = None) -> None:
        """Record a job's progress (0..1), status, error, or the parts it could not do; `done`
        also sets progress to 1."""
        changes: dict[str, Any] = {"updated": now()}
        if failed is not None:
            changes["failed"] = json.dumps(list(failed), ensure_ascii=False)
        if status is not None:
            if status not in JOB_STATUSES:
                raise ValueError(f"unknown job status {status!r}; one of {JOB_STATUSES}")
            changes["status"] = status
            if status == "done" and progress is None:
                progress = 1.0
        if progress is not None:
            changes["progress"] = min(1.0, max(0.0, float(progress)))
        if error is not None:
            changes["error"] = error
        assignments = ", ".join(f"{column} = ?" for column in changes)
        with self._engine.session() as db:
            db.execute(f"UPDATE jobs SET {assignments} WHERE id = ?", (*changes.values(), job_id))

    def unfinished_jobs(self) -> list[Job]:
        """Queued and running jobs, oldest first."""
        with self._engine.session() as db:
            rows = db.execute(
                f"SELECT {JOB_COLUMNS} FROM jobs WHERE status IN ('queued', 'running') "
                "ORDER BY seq"
            ).fetchall()
        return [Job.of(row) for row in rows]

    # digests

    def put_digest(self, day: str, job_id: str, data: dict[str, Any],
                   renderings: Sequence[Rendering] = ()) -> int:
        """Store a digest (the JSON output contract) built for a day, with its renderings; the
        newest one wins. Its row number (`Rendering.digest`)."""
        with self._engine.session() as db, db.transaction():
            seq: int = db.execute(
                "INSERT INTO digests (day, job_id, data, created) VALUES (?, ?, ?, ?) "
                "RETURNING seq",
                (check_day(day), job_id, json.dumps(data, ensure_ascii=False), now()),
            ).fetchone()[0]
            # The day's earlier digests are never served again: their renderings go.
            db.execute("DELETE FROM digest_renderings WHERE digest_seq IN "
                       "(SELECT seq FROM digests WHERE day = ? AND seq < ?)", (check_day(day), seq))
            for rendering in renderings:
                self._put_rendering(db, replace(rendering, digest=seq))
        return seq

    def latest_digest(self, day: str) -> dict[str, Any] | None:
        """The newest digest stored for a day, if any."""
        with self._engine.session() as db:
            row = db.execute("SELECT data FROM digests WHERE day = ? ORDER BY seq DESC LIMIT 1",
                             (check_day(day),)).fetchone()
        return json.loads(row[0]) if row else None

    def digest_data(self, seq: int) -> dict[str, Any] | None:
        """The digest stored in row `seq`, if there is one."""
        with self._engine.session() as db:
            row = db.execute("SELECT data FROM digests WHERE seq = ?", (seq,)).fetchone()
        return json.loads(row[0]) if row else None

    def latest_rendering(self, day: str, media: str, *,
                         body: bool = True) -> tuple[int, Rendering | None] | None:
        """(row, its rendering as `media`) of the newest digest of a day; the rendering is None
        when none is stored, the whole answer None when the day has no digest. `body=False`
        leaves the text out (enough to answer a matching If-None-Match)."""
        text = "r.body" if body else "NULL"
        with self._engine.session() as db:
            row = db.execute(
                f"SELECT d.seq, r.etag, {text}, r.renderer FROM digests d "
                "LEFT JOIN digest_renderings r ON r.digest_seq = d.seq AND r.media = ? "
                "WHERE d.day = ? ORDER BY d.seq DESC LIMIT 1", (media, check_day(day)),
            ).fetchone()
        if row is None:
            return None
        seq, etag, stored, renderer = row
        if etag is None:
            return seq, None
        return seq, Rendering(digest=seq, media=media, etag=etag, body=stored, renderer=renderer)

    def rendering(self, seq: int, media: str) -> Rendering | None:
        """The rendering as `media` stored for the digest in row `seq`, if there is one."""
        with self._engine.session() as db:
            row = db.execute("SELECT etag, body, renderer FROM digest_renderings "
                             "WHERE digest_seq = ? AND media = ?", (seq, media)).fetchone()
        if row is None:
            return None
        etag, body, renderer = row
        return Rendering(digest=seq, media=media, etag=etag, body=body, renderer=renderer)

    def put_rendering(self, rendering: Rendering) -> None:
        """Keep (or replace) one rendering of a stored digest."""
        with self._engine.session() as db:
            self._put_rendering(db, rendering)

    @staticmethod
    def _put_rendering(db: SqliteSession | PostgresSession, rendering: Rendering) -> None:
        if rendering.body is None:
            raise ValueError("a rendering is stored with its body")
        db.execute(
            "INSERT INTO digest_renderings (digest_seq, media, etag, body, renderer) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (digest_seq, media) DO UPDATE SET "
            "etag = excluded.etag, body = excluded.body, renderer = excluded.renderer",
            (rendering.digest, rendering.media, rendering.etag, rendering.body,
             rendering.renderer),
        )

    def digests_before(self, day: str, days: int) -> list[tuple[str, dict[str, Any]]]:
        """(day, digest): latest digest of each of the `days` days before `day`, newest first."""
        until = date.fromisoformat(check_day(day))
        since = (until - timedelta(days=max(0, days))).isoformat()
        with self._engine.session() as db:
            rows = db.execute(
                "SELECT day, data FROM digests WHERE day >= ? AND day < ? "
                "ORDER BY day DESC, seq DESC", (since, until.isoformat()),
            ).fetchall()
        latest: dict[str, dict[str, Any]] = {}
        for digest_day, data in rows:
            if digest_day not in latest:
                latest[digest_day] = json.loads(data)
        return list(latest.items())

    def recent_digests(self, limit: int) -> list[DigestRow]:
        """The newest digest of each of the `limit` most recent days, newest day first."""
        with self._engine.session() as db:
            rows = db.execute(
                "SELECT d.seq, d.day, d.job_id, d.created FROM digests d WHERE d.seq = "
                "(SELECT MAX(seq) FROM digests e WHERE e.day = d.day) "
                "ORDER BY d.day DESC LIMIT ?", (limit,),
            ).fetchall()
        return [DigestRow(*row) for row in rows]

    # the daily schedule

    def schedule_digest(self, day: str, at: str) -> Job | None:
        """Queue the digest scheduled for `day` at `at`, unless a process already did: the
        queued job (or the day's digest job already under way), else None."""
        stamp = now()
        try:
            with self._engine.session() as db, db.transaction():
                row = db.execute(
                    f"SELECT {JOB_COLUMNS} FROM jobs WHERE kind = 'digest' AND key = ? "
                    "AND status IN ('queued', 'running')", (check_day(day),),
                ).fetchone()
                job = Job.of(row) if row else Job(
                    id=uuid4().hex, kind="digest", key=day, status="queued", progress=0.0,
                    error=None, created=stamp, updated=stamp)
                # The key (day, at) is taken once: a second process fails here and rolls back.
                db.execute("INSERT INTO scheduled_digests (day, at, job_id, created) "
                           "VALUES (?, ?, ?, ?)", (day, at, job.id, stamp))
                if row is None:
                    db.execute(
                        "INSERT INTO jobs (id, kind, key, status, progress, error, created, "
                        "updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (job.id, job.kind, day, job.status, 0.0, None, stamp, stamp),
                    )
        except self._engine.unique_violation:
            return None
        return job

    def add_schedule(self, at: str, timezone: str, day: str) -> tuple[Schedule, bool]:
        """The schedule for this time, zone and day, added now (True) or already there."""
        schedule = Schedule(id=uuid4().hex[:12], at=at, timezone=timezone, day=day,
                            created=now())
        try:
            with self._engine.session() as db:
                db.execute(f"INSERT INTO schedules ({SCHEDULE_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                           astuple(schedule))
        except self._engine.unique_violation:
            with self._engine.session() as db:
                row = db.execute(f"SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE at = ? AND "
                                 "timezone = ? AND day = ?", (at, timezone, day)).fetchone()
            if row is None:  # removed in between: try once more
                return self.add_schedule(at, timezone, day)
            return Schedule(*row), False
        return schedule, True

    def schedules(self) -> list[Schedule]:
        """The schedules added through the API, oldest first."""
        with self._engine.session() as db:
            rows = db.execute(f"SELECT {SCHEDULE_COLUMNS} FROM schedules ORDER BY seq").fetchall()
        return [Schedule(*row) for row in rows]

    def remove_schedule(self, schedule_id: str) -> bool:
        with self._engine.session() as db:
            return db.execute("DELETE FROM schedules WHERE id = ?",
                              (schedule_id,)).rowcount == 1

    # webhook deliveries

    def queue_delivery(self, job_id: str, day: str) -> None:
        """Owe a webhook for a finished digest job (once per job)."""
        stamp = now()
        with self._engine.session() as db:
            db.execute(
                "INSERT INTO deliveries (job_id, day, status, attempts, next_try, created, "
                "updated) VALUES (?, ?, 'pending', 0, ?, ?, ?) ON CONFLICT (job_id) DO NOTHING",
                (job_id, day, stamp, stamp, stamp),
            )

    def claim_deliveries(self, hold_seconds: float) -> list[Delivery]:
        """Pending deliveries whose time has come, held from other workers for `hold_seconds`."""
        stamp = now()
        with self._engine.session() as db:  # most looks find nothing: no write lock for them
            if db.execute("SELECT 1 FROM deliveries WHERE status = 'pending' AND next_try <= ? "
                          "LIMIT 1", (stamp,)).fetchone() is None:
                return []
        with self._engine.session() as db, db.transaction():
            rows = db.execute(
                "UPDATE deliveries SET next_try = ?, updated = ? "
                "WHERE status = 'pending' AND next_try <= ? "
                "RETURNING job_id, day, status, attempts, next_try, error",
                (later(hold_seconds), stamp, stamp),
            ).fetchall()
        return [Delivery(*row) for row in rows]

    def record_delivery(self, job_id: str, *, sent: bool, error: str | None = None,
                        retry_in: float | None = None) -> None:
        """After an attempt: sent, or failed with `error` and tried again in `retry_in`
        seconds (None: given up)."""
        status = "sent" if sent else ("pending" if retry_in is not None else "failed")
        with self._engine.session() as db:
            db.execute(
                "UPDATE deliveries SET status = ?, attempts = attempts + 1, next_try = ?, "
                "error = ?, updated = ? WHERE job_id = ?",
                (status, later(retry_in or 0), error, now(), job_id),
            )

    def deliveries(self) -> list[Delivery]:
        """Every delivery, newest first."""
        with self._engine.session() as db:
            rows = db.execute("SELECT job_id, day, status, attempts, next_try, error "
                              "FROM deliveries ORDER BY seq DESC").fetchall()
        return [Delivery(*row) for row in rows]

    # feeds

    def add_feed(self, url: str, name: str | None) -> tuple[Feed, bool]:
        """The feed at `url`, added now (True) or already there (False)."""
        stamp = now()
        feed = Feed(id=uuid4().hex[:12], url=url, name=name, etag=None, last_modified=None,
                    polled=None, next_poll=stamp, failures=0, error=None, created=stamp)
        try:
            with self._engine.session() as db:
                db.execute(
                    f"INSERT INTO feeds ({FEED_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    astuple(feed),
                )
        except self._engine.unique_violation:
            existing = self.feed_at(url)
            if existing is None:  # removed in between: try once more
                return self.add_feed(url, name)
            return existing, False
        return feed, True

    def feed_at(self, url: str) -> Feed | None:
        with self._engine.session() as db:
            row = db.execute(f"SELECT {FEED_COLUMNS} FROM feeds WHERE url = ?",
                             (url,)).fetchone()
        return Feed(*row) if row else None

    def get_feed(self, feed_id: str) -> Feed | None:
        with self._engine.session() as db:
            row = db.execute(f"SELECT {FEED_COLUMNS} FROM feeds WHERE id = ?",
                             (feed_id,)).fetchone()
        return Feed(*row) if row else None

    def feeds(self) -> list[Feed]:
        """Every feed, oldest first."""
        with self._engine.session() as db:
            rows = db.execute(f"SELECT {FEED_COLUMNS} FROM feeds ORDER BY seq").fetchall()
        return [Feed(*row) for row in rows]

    def remove_feed(self, feed_id: str) -> bool:
        """Forget a feed and its entries; False if there was none (its articles stay)."""
        with self._engine.session() as db, db.transaction():
            db.execute("DELETE FROM feed_entries WHERE feed_id = ?", (feed_id,))
            return db.execute("DELETE FROM feeds WHERE id = ?", (feed_id,)).rowcount == 1

    def claim_due_feeds(self, hold_seconds: float, feed_id: str | None = None) -> list[Feed]:
        """Feeds due a poll (or the one named, due or not), held from other workers for
        `hold_seconds` by moving their next poll ahead."""
        stamp = now()
        where, params = ("id = ?", (feed_id,)) if feed_id else ("next_poll <= ?", (stamp,))
        with self._engine.session() as db:  # most looks find nothing: no write lock for them
            if db.execute(f"SELECT 1 FROM feeds WHERE {where} LIMIT 1", params).fetchone() is None:
                return []
        with self._engine.session() as db, db.transaction():
            rows = db.execute(
                f"UPDATE feeds SET next_poll = ? WHERE {where} RETURNING {FEED_COLUMNS}",
                (later(hold_seconds), *params),
            ).fetchall()
        return [Feed(*row) for row in rows]

    def record_poll(self, feed_id: str, *, next_in: float, error: str | None,
                    etag: str | None = None, last_modified: str | None = None,
                    name: str | None = None) -> None:
        """After a poll: its validators and the feed's name when it answered, or its error
        (failures counted), and when to poll next."""
        stamp = now()
        with self._engine.session() as db:
            if error is None:
                db.execute(
                    "UPDATE feeds SET etag = COALESCE(?, etag), "
                    "last_modified = COALESCE(?, last_modified), name = COALESCE(name, ?), "
                    "polled = ?, next_poll = ?, failures = 0, error = NULL WHERE id = ?",
                    (etag, last_modified, name, stamp, later(next_in), feed_id),
                )
            else:
                db.execute(
                    "UPDATE feeds SET polled = ?, next_poll = ?, failures = failures + 1, "
                    "error = ? WHERE id = ?", (stamp, later(next_in), error, feed_id),
                )

    def seen_entries(self, feed_id: str, keys: Sequence[str]) -> set[str]:
        """Which of these entries of a feed were already read."""
        if not keys:
            return set()
        marks = ", ".join("?" * len(keys))
        with self._engine.session() as db:
            rows = db.execute(f"SELECT entry FROM feed_entries WHERE feed_id = ? "
                              f"AND entry IN ({marks})", (feed_id, *keys)).fetchall()
        return {row[0] for row in rows}

    def put_entry(self, feed_id: str, entry: FeedEntry) -> None:
        """Record what became of one entry of a feed, so that it is read once."""
        with self._engine.session() as db:
            db.execute(
                "INSERT INTO feed_entries (feed_id, entry, url, status, article_id, reason, "
                "created) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (feed_id, entry) DO NOTHING",
                (feed_id, entry.entry, entry.url, entry.status, entry.article_id, entry.reason,
                 now()),
            )

    def entries(self, feed_id: str) -> list[FeedEntry]:
        """What became of each entry of a feed, oldest first."""
        with self._engine.session() as db:
            rows = db.execute("SELECT entry, url, status, article_id, reason FROM feed_entries "
                              "WHERE feed_id = ? ORDER BY created, entry", (feed_id,)).fetchall()
        return [FeedEntry(*row) for row in rows]

    # the LLM call cache

    @property
    def cache(self) -> Cache:
        """The LLM call cache in this database, for the pipeline's Caller."""
        return self._cache


def to_article(row: Sequence[Any]) -> Article:
    """An Article from a row in ARTICLE_COLUMNS order."""
    article_id, origin, text, title, source, url, published, sources, removed = row
    return Article(
        id=article_id, origin=origin, text=text, title=title, source=source, url=url,
        published=published, sources=tuple(json.loads(sources)),
        removed=tuple(Removal(**r) for r in json.loads(removed)),
    )

