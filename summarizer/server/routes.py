"""The HTTP routes: `/v1` (behind the API key check) and the health, metrics and docs routes.

Each route declares every status it can answer and its media types, so the OpenAPI document
says what the service does (tests/test_contract.py holds it to that).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    Response,
    StreamingResponse,
)
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..errors import InputError, NotFound
from ..settings import Settings
from .metrics import METRICS
from .schemas import (
    COMPONENTS,
    SUMMARY_SCHEMA,
    ArticleIn,
    ArticlesIn,
    ArticlesOut,
    Day,
    DigestIn,
    FeedIn,
    FeedOut,
    FeedsOut,
    JobOut,
    OutcomeOut,
    ScheduleIn,
    ScheduleOut,
    SchedulesOut,
    SummaryIn,
)
from .service import EMAIL, Service

RETRY_AFTER_SECONDS = 30
EVENT_POLL_SECONDS = 0.25
# The digest page is self-contained: inline CSS, no scripts, no requests of its own.
HTML_POLICY = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; " \
              "form-action 'none'; frame-ancestors 'none'"
# The limits on one posted article's fields, by the setting that holds each.
FIELD_LIMITS = (("text", "max_article_chars"), ("html", "max_article_chars"),
                ("title", "max_title_chars"), ("source", "max_source_chars"),
                ("url", "max_url_chars"))


class ApiError(Exception):
    """An answer the error tree has no kind for: a missing key, a limit, a job not yet done."""

    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.field = field


class EventStream(StreamingResponse):
    media_type = "text/event-stream"


class Metrics(Response):
    media_type = "text/plain"  # documented so; the header says which Prometheus format


# What each error status means here; routes list the ones they can answer.
ERROR_MEANINGS = {
    401: "No API key, or an unknown one (only when SUMMARIZER_API_KEYS is set)",
    404: "Not found: the error's field says what",
    409: "The job is not done yet",
    413: "Over a limit: body size, articles per request, or a field's length; the message "
         "names the limit's setting and value, `field` the article's field",
    422: "The request cannot be used; the message says why, `field` where",
    502: "The model backend refused the request or answered unreadably",
    503: "The model backend or the database is unavailable; Retry-After says when to ask "
         "again where asking again can help",
}
RETRY_HEADER = {"Retry-After": {"description": "Seconds to wait before asking again",
                                "schema": {"type": "string"}}}


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses for these error statuses, each with the one error body (JSON, also
    where the route answers another media type)."""
    return {status: {"description": ERROR_MEANINGS[status],
                     "content": {"application/json": {"schema": {"$ref": COMPONENTS + "ErrorOut"}}},
                     **({"headers": RETRY_HEADER} if status == 503 else {})}
            for status in statuses}


def _summary(description: str) -> dict[str, Any]:
    """An OpenAPI response with the JSON output contract as its body."""
    return {"description": description, "content": {"application/json": {
        "schema": {"$ref": COMPONENTS + SUMMARY_SCHEMA}}}}


# Where a started job can be followed (OpenAPI links, by operation id).
JOB_LINKS = {name: {"operationId": operation, "parameters": {"job_id": "$response.body#/job_id"}}
             for name, operation in (("job", "get_job"), ("result", "get_job_result"),
                                     ("events", "get_job_events"))}


def _started(*, digest: bool = False) -> dict[str, Any]:
    """The 202 answer of a request that started a job."""
    links: dict[str, Any] = dict(JOB_LINKS)
    if digest:
        del links["result"]  # a digest is read by its day
        links["digest"] = {"operationId": "get_digest",
                           "parameters": {"day": "$request.body#/date"}}
    return {"model": JobOut, "description": "A job was started", "links": links,
            "headers": {"Location": {"description": "The job's URL",
                                     "schema": {"type": "string"}}}}


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
monitoring = APIRouter()  # behind the key unless SUMMARIZER_PUBLIC_METRICS
reading = APIRouter()  # the Atom feed of digests: behind the key unless SUMMARIZER_PUBLIC_FEED
docs = APIRouter()  # behind the key unless SUMMARIZER_PUBLIC_DOCS


@v1.post("/v1/articles", summary="Ingest a batch of articles", response_model=ArticlesOut,
         response_model_exclude_none=True,
         description="Each article is `stored`, a `duplicate` of a stored one, or `skipped` "
                     "with the reason (no text, nothing left after cleaning, a page that could "
                     "not be fetched); one bad article never fails the batch. An article with "
                     "only a `url` is fetched first.",
         responses=_errors(401, 413, 422, 503))
async def post_articles(body: ArticlesIn, service: ServiceDep,
                        settings: SettingsDep) -> ArticlesOut:
    _check_batch(body.articles, settings)
    outcomes = await service.ingest([a.model_dump() for a in body.articles])
    return ArticlesOut(articles=[OutcomeOut.of(o) for o in outcomes])


@v1.post("/v1/summaries", summary="Summarise posted articles",
         description="Up to SUMMARIZER_SYNC_SUMMARY_ARTICLES articles are answered at once "
                     "(200); more start a job (202) whose result is at /v1/jobs/{id}/result. "
                     "Articles with only a `url` are fetched first. Articles that cannot be "
                     "read or fetched are listed in `skipped`; when none can, the answer is "
                     "422.",
         responses={200: _summary("The summary (the JSON output contract)"), 202: _started(),
                    **_errors(401, 413, 422, 502, 503)})
async def post_summaries(body: SummaryIn, service: ServiceDep,
                         settings: SettingsDep) -> Response:
    _check_batch(body.articles, settings)
    records = [a.model_dump() for a in body.articles]
    strict, writing, verify = body.options.strict, body.options.writing, body.options.verify
    limit, language = body.options.max_cost_usd, body.options.language
    if len(records) <= settings.sync_summary_articles:
        return JSONResponse(await service.summarize_now(records, strict, writing, verify,
                                                        language, max_cost_usd=limit))
    job = await service.request_summary(records, strict, writing, verify, language,
                                        max_cost_usd=limit)
    return JSONResponse(JobOut.of(job).body(), status_code=202,
                        headers={"Location": f"/v1/jobs/{job.id}"})


@v1.post("/v1/digests", status_code=202, summary="Start building a day's digest",
         response_model=JobOut, response_model_exclude_none=True,
         description="The day must have stored articles (422 otherwise). While a digest of "
                     "the day is being built, asking again answers that job.",
         responses={202: _started(digest=True), **_errors(401, 413, 422, 503)})
async def post_digest(body: DigestIn, service: ServiceDep, response: Response) -> JobOut:
    day = body.date.isoformat()
    if not await service.has_articles(day):
        raise InputError(f"no articles stored for {day}; post them to /v1/articles first",
                         field="date")
    job, _ = await service.request_digest(day)
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    return JobOut.of(job)


DIGEST_MEDIA = {"application/json": {"schema": {"$ref": COMPONENTS + SUMMARY_SCHEMA}},
                "text/markdown": {"schema": {"type": "string"}},
                "text/html": {"schema": {"type": "string"}}}
# The Content-Type each stored rendering is sent with.
DIGEST_TYPES = {"application/json": "application/json",
                "text/markdown": "text/markdown; charset=utf-8",
                "text/html": "text/html; charset=utf-8",
                EMAIL: "text/html; charset=utf-8"}
# ?format= names a rendering outright, for links and clients that cannot set Accept.
FORMATS = {"json": "application/json", "markdown": "text/markdown", "html": "text/html",
           "email": EMAIL}
DigestFormat = Literal["json", "markdown", "html", "email"]
# A later digest of the same day replaces this one at the same URL, so a client may keep the
# answer but must ask again (with If-None-Match) before each use: max-age=0, must-revalidate.
# `private`: an answer given behind an API key is that client's, never a shared cache's.
DIGEST_CACHING = "private, max-age=0, must-revalidate"
ENTITY_TAG = re.compile(r'(?:W/)?("[^"]*")')


def _header(description: str, *, required: bool = True) -> dict[str, Any]:
    return {"description": description, "required": required, "schema": {"type": "string"}}


DIGEST_HEADERS = {
    "ETag": _header("Strong validator of this rendering (JSON, Markdown and HTML each have "
                    "their own); send it back in If-None-Match"),
    "Cache-Control": _header(f"`{DIGEST_CACHING}`: a later digest of the day may replace "
                             "this one, so revalidate before each use"),
    "Vary": _header("`Accept`: the rendering depends on it"),
    "Content-Security-Policy": _header("On HTML: no scripts, no requests of its own",
                                       required=False),
}
IF_NONE_MATCH = {"name": "If-None-Match", "in": "header", "required": False,
                 "description": "ETags of renderings the client holds (or `*`); when one "
                                "matches the current one (weak comparison), the answer is 304",
                 "schema": {"type": "string"}}


ATOM_TYPE = "application/atom+xml"


@reading.get("/v1/digests.atom", summary="The digests as an Atom feed, for feed readers",
        response_class=Response,
        description="One entry per day (the newest 30 days with a digest), its content the "
                    "day's email-ready rendering; an entry is updated when its day's digest is "
                    "built again. Behind the API key like /v1, unless SUMMARIZER_PUBLIC_FEED "
                    "opens it to feed readers, which cannot send one.",
        responses={200: {"description": "An Atom 1.0 feed",
                         "content": {ATOM_TYPE: {"schema": {"type": "string"}}}},
                   **_errors(401, 503)})
async def digests_atom(request: Request, service: ServiceDep) -> Response:
    base = str(request.base_url).rstrip("/")
    document = await service.atom(self_url=f"{base}/v1/digests.atom",
                                  link=lambda day: f"{base}/v1/digests/{day}?format=html")
    return Response(document, media_type=f"{ATOM_TYPE}; charset=utf-8",
                    headers={"Cache-Control": "private, max-age=60"})


@v1.post("/v1/feeds", summary="Poll an RSS or Atom feed for articles", status_code=201,
         response_model=FeedOut, response_model_exclude_none=True,
         description="Its new entries' pages are fetched and stored like posted articles (the "
                     "feed's name as the outlet), every SUMMARIZER_FEED_INTERVAL_SECONDS. 201 "
                     "for a new feed, 200 with the stored one if the URL is already polled.",
         responses={200: {"model": FeedOut, "description": "The feed was already polled"},
                    **_errors(401, 413, 422, 503)})
async def post_feed(body: FeedIn, service: ServiceDep, response: Response) -> FeedOut:
    feed, added = await service.add_feed(body.url, body.name)
    response.status_code = 201 if added else 200
    response.headers["Location"] = f"/v1/feeds/{feed.id}"
    return FeedOut.of(feed)


@v1.get("/v1/feeds", summary="The feeds polled, with their last poll and error",
        response_model=FeedsOut, response_model_exclude_none=True,
        responses=_errors(401, 503))
async def get_feeds(service: ServiceDep) -> FeedsOut:
    return FeedsOut(feeds=[FeedOut.of(feed) for feed in await service.feeds()])


@v1.get("/v1/feeds/{feed_id}", summary="A feed, and what became of each entry read from it",
        response_model=FeedOut, response_model_exclude_none=True,
        responses=_errors(401, 404, 503))
async def get_feed(feed_id: str, service: ServiceDep) -> FeedOut:
    feed, entries = await service.feed(feed_id)
    return FeedOut.of(feed, entries)


@v1.delete("/v1/feeds/{feed_id}", summary="Stop polling a feed (its articles stay)",
           status_code=204, response_class=Response, responses=_errors(401, 404, 503))
async def delete_feed(feed_id: str, service: ServiceDep) -> Response:
    await service.remove_feed(feed_id)
    return Response(status_code=204)


@v1.post("/v1/schedules", summary="Build a digest every day at a local time", status_code=201,
         response_model=ScheduleOut,
         description="A worker builds the day's digest (or, with `day`: yesterday, the day "
                     "before's) at `at` in `timezone`, once a day however many processes run, "
                     "and sends it to the webhook when one is set. 201 for a new schedule, 200 "
                     "with the stored one if the same time, zone and day are scheduled already.",
         responses={200: {"model": ScheduleOut, "description": "Already scheduled"},
                    **_errors(401, 413, 422, 503)})
async def post_schedule(body: ScheduleIn, service: ServiceDep, response: Response) -> ScheduleOut:
    schedule, added = await service.add_schedule(body.at, body.timezone, body.day)
    response.status_code = 201 if added else 200
    return ScheduleOut.of(schedule)


@v1.get("/v1/schedules", summary="The daily digests scheduled through the API",
        response_model=SchedulesOut, responses=_errors(401, 503))
async def get_schedules(service: ServiceDep) -> SchedulesOut:
    return SchedulesOut(schedules=[ScheduleOut.of(s) for s in await service.schedules()])


@v1.delete("/v1/schedules/{schedule_id}", summary="Stop a scheduled daily digest",
           status_code=204, response_class=Response, responses=_errors(401, 404, 503))
async def delete_schedule(schedule_id: str, service: ServiceDep) -> Response:
    await service.remove_schedule(schedule_id)
    return Response(status_code=204)


@v1.get("/v1/digests/{day}", summary="The latest digest of a day (JSON, Markdown or HTML)",
        operation_id="get_digest",
        description="JSON (the output contract, with `date`) unless `Accept` asks for "
                    "text/markdown or text/html (`text/html; profile=email`: the email-ready "
                    "page, styles inline), or `format` names one. Each rendering is stored "
                    "when the digest's job ends and carries an ETag; `If-None-Match` with it "
                    "answers 304 until a new digest of the day replaces it.",
        openapi_extra={"parameters": [IF_NONE_MATCH]},
        responses={200: {"description": "The digest", "content": DIGEST_MEDIA,
                         "headers": DIGEST_HEADERS},
                   304: {"description": "The rendering named in If-None-Match is still the "
                                        "current one; no body", "headers": DIGEST_HEADERS},
                   **_errors(401, 404, 422, 503)})
async def get_digest(day: Day, request: Request, service: ServiceDep,
                     format: DigestFormat | None = None) -> Response:
    media = FORMATS[format] if format else _negotiate(request.headers.get("accept", ""))
    page = await service.digest_page(day.isoformat(), media)
    headers = {"ETag": page.etag, "Cache-Control": DIGEST_CACHING, "Vary": "Accept"}
    if media in ("text/html", EMAIL):
        headers["Content-Security-Policy"] = HTML_POLICY
    held = request.headers.getlist("if-none-match")
    if held and _client_holds(held, page.etag):
        return Response(status_code=304, headers=headers)
    return Response(page.content, media_type=DIGEST_TYPES[media], headers=headers)


def _negotiate(accept: str) -> str:
    """The rendering an Accept header asks for: HTML (for email with `profile=email`), else
    Markdown, else JSON."""
    if "profile=email" in accept.replace(" ", "").replace('"', ""):
        return EMAIL
    if "text/html" in accept:
        return "text/html"
    if "text/markdown" in accept:
        return "text/markdown"
    return "application/json"


def _client_holds(values: list[str], etag: str) -> bool:
    """Whether If-None-Match (each line a list of tags, or `*`) names the current rendering:
    `*` names any, and on GET tags compare weakly (RFC 9110, 13.1.2): W/"x" matches "x"."""
    for value in values:
        if value.strip() == "*":
            return True
        if any(tag.group(1) == etag for tag in ENTITY_TAG.finditer(value)):
            return True
    return False


@v1.get("/v1/jobs/{job_id}", summary="A job's status and progress", operation_id="get_job",
        response_model=JobOut,
        response_model_exclude_none=True, responses=_errors(401, 404, 422, 503))
async def get_job(job_id: str, service: ServiceDep) -> JobOut:
    return JobOut.of(await service.job(job_id))


@v1.get("/v1/jobs/{job_id}/result", summary="What a summary job made",
        operation_id="get_job_result",
        responses={200: _summary("The summary (the JSON output contract)"),
                   **_errors(401, 404, 409, 422, 503)})
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


# One server-sent event, as OpenAPI 3.1 documents a stream: the schema of each event.
JOB_EVENT = {"type": "object", "required": ["event", "data"], "properties": {
    "event": {"enum": ["progress", "done", "failed"]},
    "data": {"type": "string", "contentMediaType": "application/json",
             "contentSchema": {"$ref": COMPONENTS + "JobOut"}}}}


@v1.get("/v1/jobs/{job_id}/events", summary="A job's progress as server-sent events",
        operation_id="get_job_events",
        response_class=EventStream,
        responses={200: {"description": "`progress` events, then `done` or `failed`; each "
                                        "event's data is the job as JSON",
                         "content": {"text/event-stream": {"schema": JOB_EVENT}}},
                   **_errors(401, 404, 422, 503)})
async def job_events(job_id: str, request: Request, service: ServiceDep) -> Response:
    await service.job(job_id)
    return EventStream(_events(service, job_id, request), headers={"Cache-Control": "no-cache"})


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
    """The limits on a batch and on each article's fields, each named with its value."""
    if len(articles) > settings.max_articles_per_request:
        raise ApiError(413, "too_many_articles",
                       f"{len(articles)} articles exceed SUMMARIZER_MAX_ARTICLES_PER_REQUEST "
                       f"({settings.max_articles_per_request}); send smaller batches",
                       field="articles")
    for n, article in enumerate(articles):
        for name, setting in FIELD_LIMITS:
            value: str | None = getattr(article, name)
            limit: int = getattr(settings, setting)
            if value is not None and len(value) > limit:
                code = "article_too_large" if name in ("text", "html") else f"{name}_too_long"
                raise ApiError(413, code,
                               f"articles[{n}].{name} has {len(value)} characters, over "
                               f"SUMMARIZER_{setting.upper()} ({limit})",
                               field=f"articles[{n}].{name}")


@health.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@health.get("/readyz", summary="The database answers", responses=_errors(503))
async def readyz(service: ServiceDep) -> dict[str, str]:
    if not await service.ready():
        raise ApiError(503, "not_ready", "the database does not answer",
                       {"Retry-After": str(RETRY_AFTER_SECONDS)})
    return {"status": "ready"}


@monitoring.get("/metrics", summary="Prometheus metrics", response_class=Metrics,
                responses={200: {"description": "The Prometheus text format",
                                 "content": {"text/plain": {"schema": {"type": "string"}}}},
                           **_errors(401)})
async def metrics() -> Response:
    return Metrics(generate_latest(METRICS.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})


@docs.get("/openapi.json", include_in_schema=False)
async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@docs.get("/docs", include_in_schema=False)
async def swagger() -> HTMLResponse:
    return get_swagger_ui_html(openapi_url="/openapi.json", title="summarizer API")


@docs.get("/redoc", include_in_schema=False)
async def redoc() -> HTMLResponse:
    return get_redoc_html(openapi_url="/openapi.json", title="summarizer API")
