"""The one retry policy for model calls: transient failures are retried, with bounds."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import openai
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[Any]]


class MalformedReply(Exception):
    """A 200 whose body is not a usable completion: not JSON, no choices, no or blank content.
    Servers answer so under load or mid-restart; the backend turns the last one into an
    UnreadableReply once the policy gives up."""


def is_transient(error: BaseException) -> bool:
    """Rate limits, server errors, timeouts, dropped connections and malformed replies are
    worth another try; a refused request (401, 404, 400...) is not."""
    if isinstance(error, openai.APIConnectionError | MalformedReply):  # incl. APITimeoutError
        return True
    if isinstance(error, openai.APIStatusError):
        return error.status_code == 429 or error.status_code >= 500
    return False


def retry_after(error: BaseException | None) -> float | None:
    """Seconds the server asked us to wait (Retry-After or retry-after-ms), if it said."""
    response = getattr(error, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, (when - datetime.now(UTC)).total_seconds())


def policy(*, attempts: int, max_seconds: float, max_wait: float,
           sleep: Sleep = asyncio.sleep) -> AsyncRetrying:
    """Exponential backoff with jitter, or the server's Retry-After, capped at `max_wait`."""
    backoff = wait_exponential_jitter(multiplier=0.5, max=max_wait, jitter=0.5)

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        asked = retry_after(error)
        return min(asked, max_wait) if asked is not None else min(backoff(state), max_wait)

    def log_retry(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.warning("model call failed (%s), attempt %d of %d; retrying",
                    type(error).__name__, state.attempt_number, attempts)

    return AsyncRetrying(
        retry=retry_if_exception(is_transient),
        wait=wait,
        stop=stop_after_attempt(attempts) | stop_after_delay(max_seconds),
        sleep=sleep,
        before_sleep=log_retry,
        reraise=True,
    )
