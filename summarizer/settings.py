"""Configuration: the one place that reads the environment."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    job_concurrency: int = Field(default=1, ge=1)  # digest and summary jobs at once
    job_stale_seconds: float = Field(default=60.0, gt=0)  # no heartbeat this long: resumed
    update_window_days: int = Field(default=7, ge=0)  # how far back a story can continue

    def keys(self) -> set[str]:
        """The bearer keys the service accepts."""
        raw = self.api_keys.get_secret_value() if self.api_keys else ""
        return {k.strip() for k in raw.split(",") if k.strip()}


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings; tests clear this cache to override them."""
    return Settings()
