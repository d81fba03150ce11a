"""The HTTP service: ingest articles through the day, build and serve daily digests.

This module builds the app: its lifespan (store and service), the middleware (body limit,
request metrics), the API key check, and the one table that answers each kind of error.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__
from ..errors import (
    BackendError,
    BackendRejected,
    BackendUnavailable,
    ConfigError,
    InputError,
    NotFound,
    PromptError,
    RateLimited,
    StoreUnavailable,
    SummarizerError,
    UnreadableReply,
)
from ..llm import make_backend
from ..llm.base import Backend
from ..settings import Settings, get_settings
from .metrics import METRICS
from .routes import RETRY_AFTER_SECONDS, ApiError, SettingsDep, health, v1
from .service import Service
from .store import database_target, open_store

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, backend: Backend | None = None) -> FastAPI:
    """The service; `backend` replaces the configured model (tests, embedding)."""
    app = FastAPI(title="summarizer", version=__version__, lifespan=_lifespan,
                  description="Faithful, cited summaries and daily digests of news articles.")
    settings = settings or get_settings()
    app.state.settings = settings
    app.state.backend = backend
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.middleware("http")(_count_requests)
    _add_error_handlers(app)
    app.include_router(health)
    app.include_router(v1, dependencies=[Depends(_check_key)])
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    backend: Backend | None = app.state.backend

    def build_backend() -> Backend:
        return backend if backend is not None else make_backend(settings)

    store = await asyncio.to_thread(open_store, database_target(settings))
    service = Service(settings, store, build_backend)
    app.state.service = service
    try:
        await service.start()
        yield
    finally:
        await service.stop()
        store.close()


# -- auth and limits ------------------------------------------------------------------------------


async def _check_key(request: Request, settings: SettingsDep) -> None:
    keys = settings.keys()
    if not keys:
        return  # the server only binds to loopback then (see `serve`)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or token.strip() not in keys:
        raise ApiError(401, "unauthorized",
                       "missing or unknown API key; send 'Authorization: Bearer <key>' "
                       "with a key from SUMMARIZER_API_KEYS",
                       {"WWW-Authenticate": "Bearer"})


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


async def _count_requests(request: Request,
                          call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    started = time.perf_counter()
    response = await call_next(request)
    route = getattr(request.scope.get("route"), "path", "unmatched")
    METRICS.requests.labels(request.method, route, str(response.status_code)).inc()
    METRICS.latency.labels(route).observe(time.perf_counter() - started)
    return response


# -- errors ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """How one kind of error is answered: a status, a stable code, and whether to say when to
    ask again (only where asking again can succeed without anyone changing anything)."""

    status: int
    code: str
    retry: bool = False


# The one table from the error tree to HTTP; an error takes the row of its nearest kind.
ANSWERS: dict[type[SummarizerError], Answer] = {
    NotFound: Answer(404, "not_found"),
    InputError: Answer(422, "invalid_input"),
    PromptError: Answer(500, "prompt_error"),  # the installed prompt files are broken
    # While serving, settings are read only to build the model backend (the store is opened,
    # and its settings checked, at startup): a ConfigError here is the backend's.
    ConfigError: Answer(503, "backend_not_configured"),
    RateLimited: Answer(503, "backend_unavailable", retry=True),
    BackendUnavailable: Answer(503, "backend_unavailable", retry=True),
    # A refused key or model is this server's misconfiguration, not the client's: asking
    # again will not help until an operator changes a setting.
    BackendRejected: Answer(502, "backend_rejected"),
    UnreadableReply: Answer(502, "unreadable_reply"),
    BackendError: Answer(503, "backend_unavailable", retry=True),
    StoreUnavailable: Answer(503, "database_unavailable", retry=True),
    SummarizerError: Answer(500, "summarizer_error"),
}
# What was not found, by the input that named it.
NOT_FOUND_CODES = {"job_id": "job_not_found", "date": "digest_not_found"}
STORE_DOWN = "the database is unavailable; try again shortly"


def answer_for(error: SummarizerError) -> Answer:
    """The table's row for this error's kind."""
    return next(ANSWERS[kind] for kind in type(error).__mro__ if kind in ANSWERS)


def _error_response(status: int, code: str, message: str,
                    headers: dict[str, str] | None = None,
                    field: str | None = None) -> JSONResponse:
    body: dict[str, str] = {"code": code, "message": message}
    if field is not None:
        body["field"] = field
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def _summarizer_error(error: SummarizerError) -> JSONResponse:
    answer = answer_for(error)
    code, message, headers = answer.code, str(error), {}
    field = error.field if isinstance(error, InputError) else None
    if isinstance(error, NotFound):
        code = NOT_FOUND_CODES.get(field or "", code)
    if isinstance(error, StoreUnavailable):
        log.error("database error: %s", error)
        message = STORE_DOWN  # the detail may name hosts; it goes to the log
    if answer.retry:
        said = error.retry_after if isinstance(error, RateLimited) else None
        wait = said or RETRY_AFTER_SECONDS
        headers["Retry-After"] = str(math.ceil(wait))
    return _error_response(answer.status, code, message, headers, field)


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

    @app.exception_handler(SummarizerError)
    async def summarizer_error(_: Request, e: SummarizerError) -> JSONResponse:
        return _summarizer_error(e)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, e: Exception) -> JSONResponse:
        log.error("unhandled error", exc_info=e)
        return _error_response(500, "internal_error", "internal error; see the server log")
