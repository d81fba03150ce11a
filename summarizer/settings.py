"""Configuration: the one place that reads the environment."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import platformdirs
from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_cache_path() -> Path:
    """Where the LLM call cache lives unless SUMMARIZER_CACHE_PATH says otherwise."""
    return Path(platformdirs.user_cache_dir("summarizer")) / "llm-cache.sqlite3"


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
    cache_path: Path = Field(default_factory=default_cache_path)
    no_cache: bool = False
    allow_network: bool = True


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings; tests clear this cache to override them."""
    return Settings()
