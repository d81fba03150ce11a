"""Configuration: the one place that reads the environment."""

from __future__ import annotations

from datetime import time
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs
from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import ConfigError


def known_zone(name: str) -> str:
    """An IANA time zone name as given, or a ValueError that says what one looks like."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ValueError(f"unknown time zone {name!r}; use an IANA name such as "
                         "Europe/Paris or UTC") from e
    return name


def default_cache_path() -> Path:
    """Where the LLM call cache lives unless SUMMARIZER_CACHE_PATH says otherwise."""
    return Path(platformdirs.user_cache_dir("summarizer")) / "llm-cache.sqlite3"


def default_db_path() -> Path:
    """Where the service keeps its SQLite file unless DATABASE_URL or SUMMARIZER_DB_PATH says."""
    return Path(platformdirs.user_data_dir("summarizer")) / "summarizer.sqlite3"


class Settings(BaseSettings):
    """Every setting, read from `SUMMARIZER_*` variables (and the OpenAI ones) or a `.env` file."""

    model_config = SettingsConfigDict(
        env_prefix="SUMMARIZER_", env_file=".env", extra="ignore", populate_by_name=True,
        env_ignore_empty=True,
    )

    backend: str | None = None
    model: str | None = None
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_API_KEY", "openai_api_key")
    )
    openai_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_BASE_URL", "openai_base_url")
    )
    openai_context_window: int = 128_000
    local_model: Path | None = None
    local_context_window: int | None = None
    local_threads: int | None = None
    scripted_context_window: int = 8192
    concurrency: int = Field(default=4, ge=1)
    max_output_tokens: int = Field(default=400, ge=16)
    temperature: float = 0.0
    timeout: float = Field(default=60.0, gt=0)
    retry_attempts: int = Field(default=5, ge=1)
    retry_max_seconds: float = Field(default=120.0, gt=0)
    retry_max_wait: float = Field(default=30.0, ge=0)
    support_threshold: float | None = Field(default=None, ge=0, le=1)
    # quoted: the sources' own sentences; fused: the model restates, verified; auto: quoted
    # for the embedded model and any model declared small (SUMMARIZER_SMALL_MODEL), else fused.
    writing: Literal["quoted", "fused", "auto"] = "auto"
    small_model: bool | None = None
    # How restatements are verified: offline (the checker alone), llm (the judge decides every
    # one), auto (the judge decides what the checker finds uncertain or flags; offline for
    # the embedded model and models declared small).
    verify: Literal["offline", "llm", "auto"] = "auto"
    # The language summaries are written in (ISO 639-1, e.g. fr), for one-off runs and digests;
    # unset: the language most of the run's articles are in.
    language: str | None = None
    # A judge model of its own, OpenAI-compatible; none set: the run's own backend judges.
    # Without judge_base_url it is served where OPENAI_BASE_URL points, with OPENAI_API_KEY.
    judge_model: str | None = None
    judge_base_url: str | None = None
    judge_api_key: SecretStr | None = None
    # What calls cost (USD per million tokens): a file shaped as summarizer/llm/prices.json
    # whose entries add to or replace the shipped ones, and a price for the run's own model.
    prices_file: Path | None = None
    price_input_per_mtok: float | None = Field(default=None, ge=0)
    price_output_per_mtok: float | None = Field(default=None, ge=0)
    # A cost limit in USD for every run (CLI, API, digest jobs); none: no limit.
    max_cost_usd: float | None = Field(default=None, ge=0)
    cache_path: Path = Field(default_factory=default_cache_path)
    database_url: str | None = Field(  # postgresql://... or sqlite:///path; unset: db_path
        default=None, validation_alias=AliasChoices("DATABASE_URL", "database_url")
    )
    db_path: Path = Field(default_factory=default_db_path)
    no_cache: bool = False
    allow_network: bool = True
    scripted_delay: float = Field(default=0.0, ge=0)  # seconds per scripted call (demos, tests)

    # The HTTP service
    api_keys: SecretStr | None = None  # comma-separated bearer keys; none: loopback only
    # With keys set, /metrics and the API docs (/docs, /redoc, /openapi.json) need one too,
    # unless these open them.
    public_metrics: bool = False
    public_docs: bool = False
    # Feed readers send no key: this opens the Atom feed of digests (/v1/digests.atom), and so
    # the digests' text, to anyone who can reach the service.
    public_feed: bool = False
    max_body_bytes: int = Field(default=5_000_000, ge=1024)
    max_articles_per_request: int = Field(default=200, ge=1)
    # Limits on one article, the same for the CLI (a skip) and the API (413 naming the field)
    max_article_chars: int = Field(default=200_000, ge=100)
    max_title_chars: int = Field(default=1_000, ge=10)
    max_source_chars: int = Field(default=200, ge=10)
    max_url_chars: int = Field(default=2_048, ge=10)
    # The CLI skips a file (or stdin) larger than this before reading it
    max_file_bytes: int = Field(default=20_000_000, ge=1024)
    sync_summary_articles: int = Field(default=5, ge=0)  # more than this: 202 and a job
    job_concurrency: int = Field(default=1, ge=1)  # digest and summary jobs at once, per worker
    # A worker holds a job for this long, renewed by its heartbeat; a worker that stops (killed,
    # machine lost) lets its job go to another this long after its last heartbeat.
    job_lease_seconds: float = Field(default=6.0, ge=1)
    # `summarizer serve` runs a worker in its process too (one command for everything); false:
    # the API only queues, and `summarizer worker` processes run the jobs.
    with_worker: bool = True
    worker_poll_seconds: float = Field(default=1.0, gt=0)  # how often a worker looks for work

    # Feeds (RSS, Atom): polled this often, each; a failing feed waits twice as long after each
    # failure, up to feed_max_backoff_seconds.
    feed_interval_seconds: float = Field(default=900.0, ge=1)
    feed_max_backoff_seconds: float = Field(default=6 * 3600.0, ge=1)
    feed_max_entries: int = Field(default=50, ge=1)  # newest entries read per poll

    # The daily digest: built at digest_at (HH:MM, or HH:MM:SS) in `timezone`, once a day
    # whatever the number of workers. The timezone also decides which day an article is of.
    digest_at: time | None = None
    timezone: str = "UTC"
    # today: the digest built at digest_at is of that day; yesterday: of the day before.
    digest_day: Literal["today", "yesterday"] = "today"
    # When a digest is done: POST it here, signed with webhook_secret (HMAC-SHA256).
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_max_attempts: int = Field(default=8, ge=1)
    webhook_retry_seconds: float = Field(default=30.0, gt=0)  # first wait; doubles, up to 1 h
    update_window_days: int = Field(default=7, ge=0)  # how far back a story can continue

    # Articles fetched from URLs (fetch.py)
    fetch_timeout: float = Field(default=10.0, gt=0)  # seconds for one fetch in all
    fetch_max_bytes: int = Field(default=10_000_000, ge=1024)  # a page's most bytes, unpacked
    fetch_max_redirects: int = Field(default=5, ge=0)
    # true: fetch from private, loopback, link-local and other non-public addresses too
    allow_private_urls: bool = False
    respect_robots: bool = True  # false: fetch what a site's robots.txt disallows

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return known_zone(value)

    @field_validator("webhook_url")
    @classmethod
    def _webhook(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not a webhook URL: {value!r}; give an http:// or https:// address")
        return value.strip()

    def zone(self) -> ZoneInfo:
        """The time zone digests are scheduled and dated in."""
        return ZoneInfo(self.timezone)

    def keys(self) -> set[str]:
        """The bearer keys the service accepts."""
        raw = self.api_keys.get_secret_value() if self.api_keys else ""
        return {k.strip() for k in raw.split(",") if k.strip()}


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings; tests clear this cache to override them. A value that cannot
    be used is a ConfigError naming its variable, not a traceback."""
    try:
        return Settings()
    except ValidationError as e:
        raise ConfigError("; ".join(_problem(error) for error in e.errors())) from e


def _problem(error: Any) -> str:
    """One setting's problem, named by the variable that holds it."""
    name = str(error["loc"][0]) if error.get("loc") else ""
    field = Settings.model_fields.get(name)
    choices = getattr(field.validation_alias, "choices", None) if field else None
    variable = next((c for c in choices or () if isinstance(c, str) and c.isupper()),
                    f"SUMMARIZER_{name.upper()}")
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{variable}: {message}"
