"""The HTTP routes: `/v1` (behind the API key check) and the health, metrics and docs routes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..errors import NotFound
from ..settings import Settings
from .metrics import METRICS
from .schemas import ArticleIn, ArticlesIn, ArticlesOut, DigestIn, JobOut, SummaryIn
from .service import Service

RETRY_AFTER_SECONDS = 30
EVENT_POLL_SECONDS = 0.25


class ApiError(Exception):
    """An answer the error tree has no kind for: a missing key, a limit, a job not yet done."""

    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


ServiceDep = Annotated[Service, Depends(_service)]
SettingsDep = Annotated[Settings, Depends(_settings)]

v1 = APIRouter()
health = APIRouter()


@v1.post("/v1/articles", summary="Ingest a batch of articles", response_model=ArticlesOut,
         response_model_exclude_none=True)
async def post_articles(body: ArticlesIn, service: ServiceDep,
                        settings: SettingsDep) -> ArticlesOut:
    _check_batch(body.articles, settings)
    outcomes = await service.ingest([a.model_dump() for a in body.articles])
    return ArticlesOut(articles=outcomes)


@v1.post("/v1/summaries", summary="Summarise posted articles",
         description="Up to SUMMARIZER_SYNC_SUMMARY_ARTICLES articles are answered at once "
                     "(200); more start a job (202) whose result is at /v1/jobs/{id}/result.",
         responses={202: {"model": JobOut, "description": "A job was started"}})
async def post_summaries(body: SummaryIn, service: ServiceDep,
                         settings: SettingsDep) -> Response:
    _check_batch(body.articles, settings)
    records = [a.model_dump() for a in body.articles]
    strict, writing = body.options.strict, body.options.writing
    if len(records) <= settings.sync_summary_articles:
        return JSONResponse(await service.summarize_now(records, strict, writing))
    job = await service.request_summary(records, strict, writing)
    return JSONResponse(JobOut.of(job).body(), status_code=202,
                        headers={"Location": f"/v1/jobs/{job.id}"})


@v1.post("/v1/digests", status_code=202, summary="Start building a day's digest",
         response_model=JobOut, response_model_exclude_none=True)
async def post_digest(body: DigestIn, service: ServiceDep, response: Response) -> JobOut:
    job, _ = await service.request_digest(body.date.isoformat())
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    return JobOut.of(job)


@v1.get("/v1/digests/{day}", summary="The latest digest of a day (JSON, Markdown or HTML)")
async def get_digest(day: date, request: Request, service: ServiceDep) -> Response:
    digest = await service.latest_digest(day.isoformat())
    accept = request.headers.get("accept", "")
    if "text/html" in accept:
        return HTMLResponse(await asyncio.to_thread(digest.html))
    if "text/markdown" in accept:
        return PlainTextResponse(await asyncio.to_thread(digest.markdown),
                                 media_type="text/markdown; charset=utf-8")
    return JSONResponse(await asyncio.to_thread(digest.contract))


@v1.get("/v1/jobs/{job_id}", summary="A job's status and progress", response_model=JobOut,
        response_model_exclude_none=True)
async def get_job(job_id: str, service: ServiceDep) -> JobOut:
    return JobOut.of(await service.job(job_id))


@v1.get("/v1/jobs/{job_id}/result", summary="What a summary job made")
async def job_result(job_id: str, service: ServiceDep) -> dict[str, Any]:
    job = await service.job(job_id)
    if job.kind != "summary":
        raise ApiError(404, "no_result", f"job {job_id} builds the digest of {job.key}; "
                       f"read it at /v1/digests/{job.key}")
    result = await service.job_result(job_id)
    if result is None:
        raise ApiError(409, "job_not_done", f"job {job_id} is {job.status}; poll "
                       f"/v1/jobs/{job_id} until it is done")
    return result


@v1.get("/v1/jobs/{job_id}/events", summary="A job's progress as server-sent events")
async def job_events(job_id: str, request: Request, service: ServiceDep) -> Response:
    await service.job(job_id)
    return StreamingResponse(_events(service, job_id, request), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache"})


async def _events(service: Service, job_id: str, request: Request) -> AsyncIterator[str]:
    """One `progress` event per change, then `done` or `failed`, then the stream ends."""
    last = None
    while not await request.is_disconnected():
        try:
            job = await service.job(job_id)
        except NotFound:
            return
        state = JobOut.of(job).body()
        if state != last:
            last = state
            event = job.status if job.status in ("done", "failed") else "progress"
            yield f"event: {event}\ndata: {json.dumps(state)}\n\n"
            if event != "progress":
                return
        await asyncio.sleep(EVENT_POLL_SECONDS)


def _check_batch(articles: list[ArticleIn], settings: Settings) -> None:
    """The limits on a batch, each named with its value when exceeded."""
    if not articles:
        raise ApiError(422, "no_articles", "the request has an empty 'articles' list")
    if len(articles) > settings.max_articles_per_request:
        raise ApiError(413, "too_many_articles",
                       f"{len(articles)} articles exceed SUMMARIZER_MAX_ARTICLES_PER_REQUEST "
                       f"({settings.max_articles_per_request}); send smaller batches")
    for n, article in enumerate(articles):
        size = len(article.text or article.html or "")
        if size > settings.max_article_chars:
            raise ApiError(413, "article_too_large",
                           f"articles[{n}] has {size} characters, over "
                           f"SUMMARIZER_MAX_ARTICLE_CHARS ({settings.max_article_chars})")


@health.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@health.get("/readyz", summary="The database answers")
async def readyz(service: ServiceDep) -> dict[str, str]:
    if not await service.ready():
        raise ApiError(503, "not_ready", "the database does not answer",
                       {"Retry-After": str(RETRY_AFTER_SECONDS)})
    return {"status": "ready"}


@health.get("/metrics", summary="Prometheus metrics")
async def metrics() -> Response:
    return Response(generate_latest(METRICS.registry), media_type=CONTENT_TYPE_LATEST)
