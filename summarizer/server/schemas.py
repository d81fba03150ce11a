"""What the HTTP API takes and gives: request bodies, job states and ingest outcomes."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict
from datetime import date
from importlib import resources
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from pydantic.config import JsonDict

from ..errors import InputError
from ..language import check_code
from ..models import Failure, date_problem
from ..settings import known_zone
from .service import Outcome
from .store import Feed, FeedEntry, Job, Schedule

DAY_FORMAT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _day_string(value: object) -> object:
    """A day must be sent as the string YYYY-MM-DD: a number is no date (0 is not 1970-01-01)."""
    if not isinstance(value, str) or not DAY_FORMAT.fullmatch(value):
        raise ValueError("must be a date as YYYY-MM-DD, e.g. 2026-03-14")
    return value


def _day_in_range(value: date) -> date:
    problem = date_problem(value.isoformat())
    if problem is not None:
        raise ValueError(problem)
    return value


# A digest day, in the body or the path: a real date string, in the years articles may have.
Day = Annotated[date, BeforeValidator(_day_string), AfterValidator(_day_in_range)]


class ArticleIn(BaseModel):
    """An article as posted: `text` or `html`, and what is known about it; or only a `url`,
    and the service fetches the page (http or https; public addresses only unless
    SUMMARIZER_ALLOW_PRIVATE_URLS; robots.txt honoured; bounded by SUMMARIZER_FETCH_*).

    An article with none of them (or only blank ones), or whose page cannot be fetched or holds
    no article, is not refused: it is reported `skipped` with the reason, and the rest of its
    batch goes on. Lengths are limited by settings (413 naming the field).
    """

    model_config = ConfigDict(extra="forbid")

    text: str | None = None
    html: str | None = None
    title: str | None = None
    source: str | None = None
    url: str | None = Field(default=None, description="Where the article is published; with "
                                                      "no text or html, the page to fetch")
    published: str | None = Field(
        default=None, description="ISO date or datetime, years 1900 to next year; "
                                  "empty: not known")

    @field_validator("published")
    @classmethod
    def _iso(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None  # an empty date is an unknown one
        problem = date_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value


EXAMPLE_DAY = "2026-03-14"
EXAMPLE_ARTICLE: JsonDict = {
    "text": "The Kessing Street Bridge closed on Monday for repairs, the city council said. "
            "Crews found cracks in two of its supports last week. The work is expected to "
            "take six weeks, and buses will use the Mill Road crossing until it reopens.",
    "title": "Kessing Street Bridge closes for six weeks",
    "source": "Velle Valley Ledger",
    "url": "https://ledger.example/2026/03/14/bridge",
    "published": EXAMPLE_DAY,
}


class ArticlesIn(BaseModel):
    model_config = ConfigDict(extra="forbid",
                              json_schema_extra={"examples": [{"articles": [EXAMPLE_ARTICLE]}]})
    articles: list[ArticleIn] = Field(min_length=1)


class SummaryOptions(BaseModel):
    # strict: `true` or `false` only (0 or "yes" are refused, not read as a choice)
    model_config = ConfigDict(extra="forbid", strict=True)

    strict: bool = False
    # quoted | fused | auto, as `--writing`; unset: SUMMARIZER_WRITING
    writing: Literal["quoted", "fused", "auto"] | None = None
    # offline | llm | auto, as `--verify`; unset: SUMMARIZER_VERIFY
    verify: Literal["offline", "llm", "auto"] | None = None
    # ISO 639-1 to write the summary in, as `--language`; unset: SUMMARIZER_LANGUAGE, else
    # the language most of the articles are in
    language: str | None = None
    # A cost limit in USD for this run; SUMMARIZER_MAX_COST_USD, when set, bounds it too.
    max_cost_usd: float | None = Field(default=None, ge=0)

    @field_validator("language")
    @classmethod
    def _language(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return check_code(value)
        except InputError as e:
            raise ValueError(str(e)) from e


class SummaryIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"articles": [EXAMPLE_ARTICLE], "options": {"strict": True}}]})
    articles: list[ArticleIn] = Field(min_length=1)
    options: SummaryOptions = SummaryOptions()


class DigestIn(BaseModel):
    model_config = ConfigDict(extra="forbid",
                              json_schema_extra={"examples": [{"date": EXAMPLE_DAY}]})
    date: Day


class OutcomeOut(BaseModel):
    """What became of one posted article: `id` unless it was skipped, `duplicate_of` for a
    duplicate, `reason` for a skip."""

    id: str | None = None
    status: Literal["stored", "duplicate", "skipped"]
    duplicate_of: str | None = None
    reason: str | None = None

    @classmethod
    def of(cls, outcome: Outcome) -> OutcomeOut:
        return cls.model_validate(outcome, from_attributes=True)


class ArticlesOut(BaseModel):
    """What became of each posted article, in the order they were posted."""

    articles: list[OutcomeOut]


class JobOut(BaseModel):
    """A job as clients see it; `result_url` only for summary jobs (a digest is read by day)."""

    job_id: str
    kind: Literal["summary", "digest"]
    key: str
    status: Literal["queued", "running", "done", "failed"]
    progress: float
    error: str | None = None
    # Parts a finished job could not do (the model failed them even after retries), each
    # {part: article|overview|story, id, reason}; asking for the job again redoes only these.
    failed: list[Failure] | None = None
    result_url: str | None = None

    @classmethod
    def of(cls, job: Job) -> JobOut:
        return cls.model_validate({
            "job_id": job.id, "kind": job.kind, "key": job.key, "status": job.status,
            "progress": job.progress, "error": job.error or None,
            "failed": list(job.failed) or None,
            "result_url": f"/v1/jobs/{job.id}/result" if job.kind == "summary" else None,
        })

    def body(self) -> dict[str, object]:
        """The JSON body: fields with no value are left out."""
        return self.model_dump(exclude_none=True)


class FeedIn(BaseModel):
    """A feed to poll: its http(s) URL, and the outlet its articles are credited to (default:
    the feed's own title)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"url": "https://example.org/news/rss.xml", "name": "Example News"}]})
    url: str = Field(min_length=1, max_length=2048)
    name: str | None = Field(default=None, max_length=200)


class FeedEntryOut(BaseModel):
    """What became of one entry of a feed; `reason` for a skip."""

    entry: str
    url: str | None = None
    status: Literal["stored", "duplicate", "skipped"]
    article_id: str | None = None
    reason: str | None = None


class FeedOut(BaseModel):
    """A feed: when it was last polled and will be next; after failures in a row, `failures`
    and the last `error` (the next poll is pushed back, doubling each time)."""

    id: str
    url: str
    name: str | None = None
    polled: str | None = None
    next_poll: str
    failures: int
    error: str | None = None
    created: str
    entries: list[FeedEntryOut] | None = None

    @classmethod
    def of(cls, feed: Feed, entries: Sequence[FeedEntry] | None = None) -> FeedOut:
        return cls.model_validate({
            **asdict(feed),
            "entries": None if entries is None else [asdict(e) for e in entries]})


class FeedsOut(BaseModel):
    feeds: list[FeedOut]


class ScheduleIn(BaseModel):
    """A daily digest to build: at `at` (HH:MM or HH:MM:SS) local time in `timezone` (an IANA
    name; default SUMMARIZER_TIMEZONE), of that day or (`day`: yesterday) of the day before."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"at": "07:00", "timezone": "Europe/Paris", "day": "yesterday"}]})
    at: str = Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$",
                    description="HH:MM or HH:MM:SS, 24-hour local time")
    timezone: str | None = Field(default=None, max_length=64)
    day: Literal["today", "yesterday"] = "today"

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else known_zone(value)


class ScheduleOut(BaseModel):
    """A scheduled daily digest (`at` as HH:MM:SS)."""

    id: str
    at: str
    timezone: str
    day: Literal["today", "yesterday"]
    created: str

    @classmethod
    def of(cls, schedule: Schedule) -> ScheduleOut:
        return cls.model_validate(asdict(schedule))


class SchedulesOut(BaseModel):
    schedules: list[ScheduleOut]


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable: what kind of error (e.g. title_too_long)")
    message: str = Field(description="What was wrong and what to do")
    field: str | None = Field(default=None, description="The input at fault, when one is "
                                                        "(e.g. articles[3].title); left out "
                                                        "otherwise")


class ErrorOut(BaseModel):
    """Every error answer: a status and this body."""

    error: ErrorDetail


SUMMARY_SCHEMA = "Summary"  # the JSON output contract, as an OpenAPI component
COMPONENTS = "#/components/schemas/"


def components() -> dict[str, Any]:
    """OpenAPI components the routes refer to by name: `ErrorOut` (the body of every error,
    whatever the route's own media type) and the JSON output contract (`output.schema.json`)
    as `Summary`, so responses are documented by the schema the CLI's output is tested
    against."""
    errors = ErrorOut.model_json_schema(ref_template=COMPONENTS + "{model}")
    text = (resources.files("summarizer") / "output.schema.json").read_text(encoding="utf-8")
    summary = json.loads(text.replace('"#/$defs/', f'"{COMPONENTS}{SUMMARY_SCHEMA}_'))
    for key in ("$schema", "$id"):
        summary.pop(key, None)
    return {
        **errors.pop("$defs", {}), "ErrorOut": errors,
        **{f"{SUMMARY_SCHEMA}_{name}": value
           for name, value in summary.pop("$defs", {}).items()},
        SUMMARY_SCHEMA: summary,
    }
