"""Model backends behind one interface, and the rules that pick one."""

from __future__ import annotations

from urllib.parse import urlparse

from ..errors import ConfigError
from ..settings import Settings
from .base import Backend, Completion, CompletionRequest, Message

__all__ = ["Backend", "Completion", "CompletionRequest", "Message", "make_backend",
           "backend_name"]

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
                 model: str | None = None) -> Backend:
    """Build the backend the settings (or the caller) ask for."""
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
        return LocalBackend(path, context_window=settings.local_context_window,
                            threads=settings.local_threads)
    from .openai_compat import OpenAIBackend

    host = urlparse(settings.openai_base_url or "https://api.openai.com").hostname or ""
    if not settings.allow_network and host not in LOOPBACK:
        raise ConfigError(f"network calls are disabled (SUMMARIZER_ALLOW_NETWORK=0); "
                          f"refusing to call {host}")
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    return OpenAIBackend(
        model=model or DEFAULT_OPENAI_MODEL, api_key=key, base_url=settings.openai_base_url,
        context_window=settings.openai_context_window, timeout=settings.timeout,
        attempts=settings.retry_attempts, max_seconds=settings.retry_max_seconds,
        max_wait=settings.retry_max_wait,
    )
