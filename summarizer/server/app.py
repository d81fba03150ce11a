"""The HTTP service: ingest articles through the day, build and serve daily digests.

This module builds the app: its lifespan (store and service), the middleware (body limit,
request metrics, security headers), the API key check, and the one table that answers each kind
of error.
"""

from __future__ import annotations

import hmac
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.datastructures import MutableHeaders
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
from ..llm.base import Backend
from ..settings import Settings, get_settings
from .metrics import METRICS
from .routes import (
    RETRY_AFTER_SECONDS,
    ApiError,
    SettingsDep,
    docs,
    health,
    monitoring,
    reading,
    v1,
)
from .schemas import components
from .service import open_service

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, backend: Backend | None = None) -> FastAPI:
    """The service; `backend` replaces the configured model (tests, embedding)."""
    # The docs routes are the app's own (routes.docs), so they can sit behind the key.
    app = FastAPI(title="summarizer", version=__version__, lifespan=_lifespan,
                  description="Faithful, cited summaries and daily digests of news articles.",
                  openapi_url=None, docs_url=None, redoc_url=None)
    settings = settings or get_settings()
    app.state.settings = settings
    app.state.backend = backend
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders)
    app.middleware("http")(_count_requests)
    _add_error_handlers(app)
    app.include_router(health)
    app.include_router(v1, dependencies=[Depends(_check_key)])
    app.include_router(monitoring, dependencies=[Depends(_check_key_for_metrics)])
    app.include_router(reading, dependencies=[Depends(_check_key_for_feed)])
    app.include_router(docs, dependencies=[Depends(_check_key_for_docs)])
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, with the schemas its responses refer to by name."""
    if app.openapi_schema is None:
        document = get_openapi(title=app.title, version=app.version,
                               description=app.description, routes=app.routes)
        document.setdefault("components", {}).setdefault("schemas", {}).update(components())
        app.openapi_schema = document
    return app.openapi_schema


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    backend: Backend | None = app.state.backend

    async with open_service(settings, worker=settings.with_worker, backend=backend) as service:
        app.state.service = service
        yield


# -- auth and limits ------------------------------------------------------------------------------


_bearer = HTTPBearer(auto_error=False, description="A key from SUMMARIZER_API_KEYS; "
                                                   "needed only when keys are set")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def _check_key(settings: SettingsDep, credentials: Credentials) -> None:
    keys = settings.keys()
    if not keys:
        return  # the server only binds to loopback then (see `serve`)
    token = credentials.credentials.strip() if credentials else ""
    if not _known_key(token, sorted(keys)):
        raise ApiError(401, "unauthorized",
                       "missing or unknown API key; send 'Authorization: Bearer <key>' "
                       "with a key from SUMMARIZER_API_KEYS",
                       {"WWW-Authenticate": "Bearer"})


def _known_key(token: str, keys: Sequence[str]) -> bool:
    """Whether the token is one of the keys, compared in constant time with every key (the
    time taken says nothing about how much of a key was right, nor which one matched)."""
    sent = token.encode()
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(sent, key.encode())
    return matched


async def _check_key_for_metrics(settings: SettingsDep, credentials: Credentials) -> None:
    if not settings.public_metrics:
        await _check_key(settings, credentials)


async def _check_key_for_feed(settings: SettingsDep, credentials: Credentials) -> None:
    if not settings.public_feed:
        await _check_key(settings, credentials)


async def _check_key_for_docs(settings: SettingsDep, credentials: Credentials) -> None:
    if not settings.public_docs:
        await _check_key(settings, credentials)


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
        over = False
        answered = False

        async def counted() -> Message:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    over = True
                    raise _TooLarge()
            return message

        async def held(message: Message) -> None:
            # FastAPI answers any failure to read a body with its own 400; once the body is
            # over the limit, the answer is this middleware's 413 instead.
            nonlocal answered
            if over and not answered:
                return
            answered = True
            await send(message)

        try:
            await self.app(scope, counted, held)
        except _TooLarge:
            pass
        if over and not answered:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = _error_response(413, "body_too_large",
                                   f"request body over SUMMARIZER_MAX_BODY_BYTES "
                                   f"({self.limit} bytes); send smaller batches")
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass


class SecurityHeaders:
    """`X-Content-Type-Options: nosniff` on every response: browsers take the declared content
    type and never guess a more dangerous one (a JSON error read as HTML)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).setdefault("X-Content-Type-Options", "nosniff")
            await send(message)

        await self.app(scope, receive, marked)


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
        return _error_response(e.status, e.code, e.message, e.headers, e.field)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, e: RequestValidationError) -> JSONResponse:
        problems = [(_field_path(err["loc"]), _problem(err)) for err in e.errors()]
        message = "; ".join(f"{field}: {problem}" for field, problem in problems)
        return _error_response(422, "invalid_request", message,
                               field=problems[0][0] if problems else None)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, e: StarletteHTTPException) -> JSONResponse:
        unreadable = _unreadable_body(e)
        if unreadable is not None:
            return _error_response(422, "invalid_request", unreadable, field="body")
        code = {404: "not_found", 405: "method_not_allowed"}.get(e.status_code, "http_error")
        return _error_response(e.status_code, code, str(e.detail), dict(e.headers or {}))

    @app.exception_handler(SummarizerError)
    async def summarizer_error(_: Request, e: SummarizerError) -> JSONResponse:
        return _summarizer_error(e)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, e: Exception) -> JSONResponse:
        log.error("unhandled error", exc_info=e)
        return _error_response(500, "internal_error", "internal error; see the server log")


def _field_path(loc: Sequence[int | str]) -> str:
    """Where a validation error lies, as a client writes it: `articles[3].published`, `date`
    (a path parameter is named alone; the whole body is `body`)."""
    path = ""
    for part in loc[1:]:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path or str(loc[0] if loc else "body")


def _problem(error: Any) -> str:
    """One validation error's reason, in the words of the validator that found it."""
    if error["type"] == "json_invalid":  # the position is in `loc`, the reason in `ctx`
        reason = error.get("ctx", {}).get("error", "not JSON")
        return f"not valid JSON ({reason} at character {error['loc'][-1]})"
    return str(error["msg"]).removeprefix("Value error, ")


def _unreadable_body(error: StarletteHTTPException) -> str | None:
    """Why FastAPI could not read a request body as JSON, when its 400 hides the reason."""
    cause = error.__cause__
    if isinstance(cause, UnicodeDecodeError):
        return (f"the body is not UTF-8 (byte {cause.object[cause.start]:#04x} at "
                f"position {cause.start}); send JSON encoded as UTF-8")
    if isinstance(cause, RecursionError):
        return "the JSON body is nested too deeply to read; an article needs only two levels"
    return None
