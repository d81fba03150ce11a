"""The HTTP service: ingest articles through the day, build and serve daily digests."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Annotated, Any, Literal

import psycopg
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__
from ..errors import BackendError, ConfigError, InputError, SummarizerError
from ..llm import make_backend
from ..llm.base import Backend
from ..settings import Settings, get_settings
from .metrics import METRICS
from .service import Service
from .store import Job, database_target, open_store

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 30
EVENT_POLL_SECONDS = 0.25


class ApiError(Exception):
    """An error the client can act on, with the HTTP status and a stable code."""

    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


# -- request and response shapes ------------------------------------------------------------------


class ArticleIn(BaseModel):
    """An article as posted: `text` or `html`, and what is known about it."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = None
    html: str | None = None
    title: str | None = None
    source: str | None = None
    url: str | None = None
    published: str | None = Field(default=None, description="ISO date or datetime")

    @field_validator("published")
    @classmethod
    def _iso(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as e:
            raise ValueError("must be an ISO date or datetime, e.g. 2026-03-14 or "
                             "2026-03-14T08:30:00Z") from e
        return value

    @model_validator(mode="after")
    def _has_content(self) -> ArticleIn:
        if not (self.text or "").strip() and not (self.html or "").strip():
            raise ValueError("an article needs 'text' or 'html' with content")
        return self


class ArticlesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    articles: list[ArticleIn]


class SummaryOptions(BaseModel):
    strict: bool = False
    # quoted | fused | auto, as `--writing`; unset: SUMMARIZER_WRITING
    writing: Literal["quoted", "fused", "auto"] | None = None
    language: str | None = None  # accepted for forward compatibility; output is English


class SummaryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    articles: list[ArticleIn]
    options: SummaryOptions = SummaryOptions()


class DigestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    date: date


# -- the app --------------------------------------------------------------------------------------


def create_app(settings: Settings | None = None, *, backend: Backend | None = None) -> FastAPI:
    """The service; `backend` replaces the configured model (tests)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = open_store(database_target(settings))
        service = Service(settings, store, lambda: backend or make_backend(settings))
        app.state.service = service
        await service.start()
        try:
            yield
        finally:
            await service.stop()
            store.close()

    app = FastAPI(title="summarizer", version=__version__, lifespan=lifespan,
                  description="Faithful, cited summaries and daily digests of news articles.")
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.middleware("http")(_count_requests)
    _add_error_handlers(app)
    app.include_router(_health_routes())
    app.include_router(_v1_routes(settings), dependencies=[Depends(_key_checker(settings))])
    return app


def _service(request: Request) -> Service:
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(_service)]


def _v1_routes(settings: Settings) -> APIRouter:
    router = APIRouter()

    @router.post("/v1/articles", summary="Ingest a batch of articles")
    async def post_articles(body: ArticlesIn, service: ServiceDep) -> dict[str, Any]:
        _check_batch(body.articles, settings)
        outcomes = await service.ingest([a.model_dump() for a in body.articles])
        return {"articles": [{k: v for k, v in vars(o).items() if v is not None}
                             for o in outcomes]}

    @router.post("/v1/summaries", summary="Summarise posted articles",
                 description="Up to SUMMARIZER_SYNC_SUMMARY_ARTICLES articles are answered at "
                             "once (200); more start a job (202) whose result is at "
                             "/v1/jobs/{id}/result.")
    async def post_summaries(body: SummaryIn, service: ServiceDep) -> Response:
        _check_batch(body.articles, settings)
        records = [a.model_dump() for a in body.articles]
        if len(records) <= settings.sync_summary_articles:
            return JSONResponse(await service.summarize_now(
                records, service.options(strict=body.options.strict,
                                         writing=body.options.writing)))
        job = await service.request_summary(records, body.options.strict, body.options.writing)
        return JSONResponse(_job_json(job), status_code=202,
                            headers={"Location": f"/v1/jobs/{job.id}"})

    @router.post("/v1/digests", status_code=202, summary="Start building a day's digest")
    async def post_digest(body: DigestIn, service: ServiceDep) -> JSONResponse:
        job, _ = await service.request_digest(body.date.isoformat())
        return JSONResponse(_job_json(job), status_code=202,
                            headers={"Location": f"/v1/jobs/{job.id}"})

    @router.get("/v1/digests/{day}", summary="The latest digest of a day (JSON, Markdown or HTML)")
    async def get_digest(day: date, request: Request, service: ServiceDep) -> Response:
        data = await asyncio.to_thread(service.store.latest_digest, day.isoformat())
        if data is None:
            raise ApiError(404, "digest_not_found",
                           f"no digest for {day.isoformat()} yet; start one with POST "
                           "/v1/digests")
        accept = request.headers.get("accept", "")
        if "text/html" in accept:
            return HTMLResponse(data["html"])
        if "text/markdown" in accept:
            return PlainTextResponse(data["markdown"], media_type="text/markdown; charset=utf-8")
        return JSONResponse(data["contract"])

    @router.get("/v1/jobs/{job_id}", summary="A job's status and progress")
    async def get_job(job_id: str, service: ServiceDep) -> dict[str, Any]:
        return _job_json(await _find_job(service, job_id))

    @router.get("/v1/jobs/{job_id}/result", summary="What a summary job made")
    async def job_result(job_id: str, service: ServiceDep) -> dict[str, Any]:
        job = await _find_job(service, job_id)
        if job.kind != "summary":
            raise ApiError(404, "no_result", f"job {job_id} builds the digest of {job.key}; "
                           f"read it at /v1/digests/{job.key}")
        result = await asyncio.to_thread(service.store.job_result, job_id)
        if result is None:
            raise ApiError(409, "job_not_done", f"job {job_id} is {job.status}; poll "
                           f"/v1/jobs/{job_id} until it is done")
        return result

    @router.get("/v1/jobs/{job_id}/events", summary="A job's progress as server-sent events")
    async def job_events(job_id: str, request: Request, service: ServiceDep) -> Response:
        await _find_job(service, job_id)
        return StreamingResponse(_events(service, job_id, request),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})

    return router


def _health_routes() -> APIRouter:
    router = APIRouter()

    @router.get("/healthz", summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="The database answers")
    async def readyz(service: ServiceDep) -> JSONResponse:
        if await asyncio.to_thread(service.store.ping):
            return JSONResponse({"status": "ready"})
        return _error_response(503, "not_ready", "the database does not answer",
                               {"Retry-After": str(RETRY_AFTER_SECONDS)})

    @router.get("/metrics", summary="Prometheus metrics")
    async def metrics() -> Response:
        return Response(generate_latest(METRICS.registry), media_type=CONTENT_TYPE_LATEST)

    return router


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


async def _find_job(service: Service, job_id: str) -> Job:
    job = await asyncio.to_thread(service.store.get_job, job_id)
    if job is None:
        raise ApiError(404, "job_not_found", f"no job with id {job_id}")
    return job


def _job_json(job: Job) -> dict[str, Any]:
    out: dict[str, Any] = {"job_id": job.id, "kind": job.kind, "key": job.key,
                           "status": job.status, "progress": job.progress}
    if job.error:
        out["error"] = job.error
    if job.kind == "summary":
        out["result_url"] = f"/v1/jobs/{job.id}/result"
    return out


async def _events(service: Service, job_id: str, request: Request) -> AsyncIterator[str]:
    """One `progress` event per change, then `done` or `failed`, then the stream ends."""
    last = None
    while not await request.is_disconnected():
        job = await asyncio.to_thread(service.store.get_job, job_id)
        if job is None:
            return
        state = _job_json(job)
        if state != last:
            last = state
            event = job.status if job.status in ("done", "failed") else "progress"
            yield f"event: {event}\ndata: {json.dumps(state)}\n\n"
            if event != "progress":
                return
        await asyncio.sleep(EVENT_POLL_SECONDS)


# -- auth, limits, errors ---------------------------------------------------------------------


def _key_checker(settings: Settings) -> Callable[[Request], Awaitable[None]]:
    keys = settings.keys()

    async def check(request: Request) -> None:
        if not keys:
            return  # the server only binds to loopback then (see `serve`)
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or token.strip() not in keys:
            raise ApiError(401, "unauthorized",
                           "missing or unknown API key; send 'Authorization: Bearer <key>' "
                           "with a key from SUMMARIZER_API_KEYS",
                           {"WWW-Authenticate": "Bearer"})

    return check


class BodyLimit:
    """Refuses request bodies over the limit, by Content-Length or as they stream in."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _TooLarge()
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = _error_response(413, "body_too_large",
                                   f"request body over SUMMARIZER_MAX_BODY_BYTES "
                                   f"({self.limit} bytes); send smaller batches")
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass


def _error_response(status: int, code: str, message: str,
                    headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status,
                        headers=headers)


def _add_error_handlers(app: FastAPI) -> None:
    """The one place errors become HTTP statuses; a client never sees a traceback."""

    @app.exception_handler(ApiError)
    async def api_error(_: Request, e: ApiError) -> JSONResponse:
        return _error_response(e.status, e.code, e.message, e.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, e: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'][1:]) or 'body'}: "
            f"{err['msg'].removeprefix('Value error, ')}"
            for err in e.errors())
        return _error_response(422, "invalid_request", problems)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, e: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(e.status_code, "http_error")
        return _error_response(e.status_code, code, str(e.detail), dict(e.headers or {}))

    @app.exception_handler(InputError)
    async def bad_input(_: Request, e: InputError) -> JSONResponse:
        return _error_response(422, "invalid_input", str(e))

    @app.exception_handler(BackendError)
    async def backend_down(_: Request, e: BackendError) -> JSONResponse:
        return _error_response(503, "backend_unavailable", str(e),
                               {"Retry-After": str(RETRY_AFTER_SECONDS)})

    @app.exception_handler(ConfigError)
    async def misconfigured(_: Request, e: ConfigError) -> JSONResponse:
        return _error_response(503, "backend_not_configured", str(e),
                               {"Retry-After": str(RETRY_AFTER_SECONDS)})

    @app.exception_handler(sqlite3.OperationalError)
    @app.exception_handler(psycopg.OperationalError)
    async def database_down(_: Request, e: Exception) -> JSONResponse:
        log.error("database error: %s", e)
        return _error_response(503, "database_unavailable",
                               "the database is unavailable; try again shortly",
                               {"Retry-After": str(RETRY_AFTER_SECONDS)})

    @app.exception_handler(SummarizerError)
    async def other(_: Request, e: SummarizerError) -> JSONResponse:
        return _error_response(500, "summarizer_error", str(e))

    @app.exception_handler(Exception)
    async def unexpected(_: Request, e: Exception) -> JSONResponse:
        log.error("unhandled error", exc_info=e)
        return _error_response(500, "internal_error", "internal error; see the server log")


async def _count_requests(request: Request,
                          call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    started = time.perf_counter()
    response = await call_next(request)
    route = getattr(request.scope.get("route"), "path", "unmatched")
    METRICS.requests.labels(request.method, route, str(response.status_code)).inc()
    METRICS.latency.labels(route).observe(time.perf_counter() - started)
    return response
