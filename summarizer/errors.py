"""One tree of errors; the CLI and the HTTP API each map it to exit codes and statuses in one table.

    SummarizerError
    ├── InputError          the user's input cannot be used; `field` names the part at fault
    │   ├── NotFound        a job, digest or file asked for does not exist
    │   ├── FetchError      a URL could not be fetched; `url` and `reason` say which and why
    │   └── OverCostLimit   a run's estimated cost is over its limit (`estimate`, `limit`)
    ├── ConfigError         a setting, key or optional dependency is missing or wrong
    │   └── PromptError     a prompt file is missing, malformed, or rendered without a variable
    ├── BackendError        the model could not answer (after retries where retrying helps)
    │   ├── RateLimited         the backend asked us to slow down; `retry_after` seconds if it said
    │   ├── BackendUnavailable  no answer: connection refused, timeout, a 5xx
    │   ├── BackendRejected     the backend refused the request (`status_code`: 401, 403, 400...)
    │   ├── UnreadableReply     an answer, but not in the form the prompt asked for
    │   └── CostLimitReached    not asked: the call could take the run past its cost limit
    ├── StoreUnavailable    the database cannot be reached or refused the operation
    └── GateError           an evaluation fell below its pinned floor
"""

from __future__ import annotations


class SummarizerError(Exception):
    """Base of every error the project raises on purpose."""


class InputError(SummarizerError):
    """The user's input cannot be used (no readable article, bad file, bad option)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(InputError):
    """What was asked for does not exist: an unknown job, a day with no digest, a missing file."""


class FetchError(InputError):
    """A URL could not be fetched as an article (or feed): refused, unreachable, an HTTP error,
    too large, not the content asked for. `reason` is the human part ("HTTP 404 Not Found");
    `transient` when asking again later may succeed (a timeout, a dropped connection, a 5xx or
    429 answer)."""

    def __init__(self, url: str, reason: str, *, transient: bool = False) -> None:
        super().__init__(f"cannot fetch {url}: {reason}", field="url")
        self.url = url
        self.reason = reason
        self.transient = transient


class OverCostLimit(InputError):
    """A run's estimated cost is over the cost limit it was given: it is not started."""

    def __init__(self, message: str, *, estimate: float | None, limit: float,
                 field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.estimate = estimate
        self.limit = limit


class ConfigError(SummarizerError):
    """A setting, key or optional dependency is missing or wrong; the message says what to do."""


class PromptError(ConfigError):
    """A prompt file is missing, malformed, or rendered without a variable it needs."""


class BackendError(SummarizerError):
    """The model backend could not give an answer."""

    def __init__(self, message: str, *, backend: str, attempts: int | None = None) -> None:
        super().__init__(message)
        self.backend = backend
        self.attempts = attempts


class RateLimited(BackendError):
    """The backend asked for fewer requests (HTTP 429) and kept asking through the retries."""

    def __init__(self, message: str, *, backend: str, attempts: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message, backend=backend, attempts=attempts)
        self.retry_after = retry_after


class BackendUnavailable(BackendError):
    """No answer at all: the connection failed, timed out, or the backend failed (5xx)."""


class BackendRejected(BackendError):
    """The backend refused the request itself (a bad key, an unknown model, a bad request):
    asking again will not help until the setting or request changes."""

    def __init__(self, message: str, *, backend: str, status_code: int,
                 attempts: int | None = None) -> None:
        super().__init__(message, backend=backend, attempts=attempts)
        self.status_code = status_code


class UnreadableReply(BackendError):
    """The model answered, but not in the form the prompt asked for; the message says why.

    `well_formed`: the reply has the asked-for form, but what it says was refused (a
    restatement its sources do not support); such a reply is worth keeping in the cache,
    since asking the same again gives the same answer. A malformed one is never kept.
    """

    def __init__(self, message: str, *, backend: str = "", attempts: int | None = None,
                 well_formed: bool = False) -> None:
        super().__init__(message, backend=backend, attempts=attempts)
        self.well_formed = well_formed


class CostLimitReached(BackendError):
    """A call was not made: its worst case would have taken the run past its cost limit. The
    part it was for fails with this reason; the rest of the run stands."""


class StoreUnavailable(SummarizerError):
    """The database cannot be reached, or failed an operation; the message says which."""


class GateError(SummarizerError):
    """An evaluation result fell below its pinned floor, or the baseline cannot be used."""
