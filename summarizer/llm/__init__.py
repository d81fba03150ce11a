"""Model backends behind one interface, and the rules that pick one."""

from __future__ import annotations

from urllib.parse import urlparse

from ..errors import ConfigError
from ..settings import Settings
from .base import Backend, Completion, CompletionRequest, Message

__all__ = ["Backend", "Completion", "CompletionRequest", "Message", "make_backend",
           "make_judge_backend", "backend_name"]

BACKENDS = ("openai", "local", "scripted")
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
LOOPBACK = {"localhost", "127.0.0.1", "::1"}


def backend_name(settings: Settings, requested: str | None = None) -> str:
    """SUMMARIZER_BACKEND (or --backend), else openai when a key or URL is set, else local."""
    name = requested or settings.backend
    if name is None:
        name = "openai" if settings.openai_api_key or settings.openai_base_url else "local"
    if name not in BACKENDS:
        raise ConfigError(f"unknown backend '{name}'; choose one of {', '.join(BACKENDS)}")
    return name


def make_backend(settings: Settings, requested: str | None = None,
                 model: str | None = None, *, plan_only: bool = False) -> Backend:
    """Build the backend the settings (or the caller) ask for. `plan_only`: only to count
    tokens for planning (`--dry-run`), so the embedded model's weights are not loaded."""
    name = backend_name(settings, requested)
    model = model or settings.model
    if name == "scripted":
        from .scripted import ScriptedBackend

        return ScriptedBackend(context_window=settings.scripted_context_window,
                               delay=settings.scripted_delay,
                               **({"model": model} if model else {}))
    if name == "local":
        from .local import LocalBackend

        path = settings.local_model
        if model and model.endswith(".gguf"):
            from pathlib import Path

            path = Path(model)
        if plan_only:
            from .local import LocalVocab

            return LocalVocab(path, context_window=settings.local_context_window)
        return LocalBackend(path, context_window=settings.local_context_window,
                            threads=settings.local_threads)
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    if plan_only and not key and not settings.openai_base_url:
        key = "unused"  # planning counts tokens and prices calls; it never calls the model
    return _openai(settings, model or DEFAULT_OPENAI_MODEL, settings.openai_base_url, key,
                   calls=not plan_only)


def make_judge_backend(settings: Settings) -> Backend | None:
    """The judge's own OpenAI-compatible backend when SUMMARIZER_JUDGE_MODEL, _BASE_URL or
    _API_KEY is set; None when none is (the run's own backend judges).

    With a base URL of its own the judge gets only SUMMARIZER_JUDGE_API_KEY: the main key is
    never sent to another server. Without one it is served where OPENAI_BASE_URL points (or
    OpenAI), with SUMMARIZER_JUDGE_API_KEY, else OPENAI_API_KEY."""
    if not (settings.judge_model or settings.judge_base_url or settings.judge_api_key):
        return None
    secret = settings.judge_api_key
    base_url = settings.judge_base_url
    if base_url is None:
        base_url = settings.openai_base_url
        secret = secret or settings.openai_api_key
    key = secret.get_secret_value() if secret else None
    if not key and not base_url:
        raise ConfigError("the judge model needs SUMMARIZER_JUDGE_API_KEY (or "
                          "SUMMARIZER_JUDGE_BASE_URL for a local server); set it, or unset "
                          "SUMMARIZER_JUDGE_MODEL to let the run's own model judge")
    return _openai(settings, settings.judge_model or DEFAULT_OPENAI_MODEL, base_url, key)


def _openai(settings: Settings, model: str, base_url: str | None, key: str | None, *,
            calls: bool = True) -> Backend:
    """`calls=False`: a backend only to count tokens with (planning), which the network
    setting need not allow."""
    from .openai_compat import OpenAIBackend

    host = urlparse(base_url or "https://api.openai.com").hostname or ""
    if calls and not settings.allow_network and host not in LOOPBACK:
        raise ConfigError(f"network calls are disabled (SUMMARIZER_ALLOW_NETWORK=0); "
                          f"refusing to call {host}")
    return OpenAIBackend(
        model=model, api_key=key, base_url=base_url,
        context_window=settings.openai_context_window, timeout=settings.timeout,
        attempts=settings.retry_attempts, max_seconds=settings.retry_max_seconds,
        max_wait=settings.retry_max_wait,
    )
