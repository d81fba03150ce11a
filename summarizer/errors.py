"""One tree of errors; the CLI and the API each map it in one place."""

from __future__ import annotations


class SummarizerError(Exception):
    """Base of every error the project raises on purpose."""


class InputError(SummarizerError):
    """The user's input cannot be used (no readable article, bad file, bad option)."""


class ConfigError(SummarizerError):
    """A setting, key or optional dependency is missing or wrong; the message says what to do."""


class BackendError(SummarizerError):
    """The model backend failed after retries."""

    def __init__(self, message: str, *, backend: str, attempts: int | None = None) -> None:
        super().__init__(message)
        self.backend = backend
        self.attempts = attempts


class PromptError(SummarizerError):
    """A prompt file is missing, malformed, or rendered without a variable it needs."""
