"""What the HTTP API takes and gives: request bodies, job states and ingest outcomes."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..models import published_at
from .service import Outcome
from .store import Job


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
        if value is not None and published_at(value) is None:
            raise ValueError("must be an ISO date or datetime, e.g. 2026-03-14 or "
                             "2026-03-14T08:30:00Z")
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


class ArticlesOut(BaseModel):
    """What became of each posted article, in the order they were posted."""

    articles: list[Outcome]


class JobOut(BaseModel):
    """A job as clients see it; `result_url` only for summary jobs (a digest is read by day)."""

    job_id: str
    kind: Literal["summary", "digest"]
    key: str
    status: Literal["queued", "running", "done", "failed"]
    progress: float
    error: str | None = None
    result_url: str | None = None

    @classmethod
    def of(cls, job: Job) -> JobOut:
        return cls.model_validate({
            "job_id": job.id, "kind": job.kind, "key": job.key, "status": job.status,
            "progress": job.progress, "error": job.error or None,
            "result_url": f"/v1/jobs/{job.id}/result" if job.kind == "summary" else None,
        })

    def body(self) -> dict[str, object]:
        """The JSON body: fields with no value are left out."""
        return self.model_dump(exclude_none=True)
