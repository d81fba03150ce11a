"""Any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp server) through `openai`."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import openai

from ..errors import BackendError, ConfigError
from .base import Completion, CompletionRequest, estimate_tokens
from .retry import Sleep, policy

log = logging.getLogger(__name__)


class OpenAIBackend:
    name = "openai"

    def __init__(self, *, model: str, api_key: str | None, base_url: str | None,
                 context_window: int, timeout: float, attempts: int, max_seconds: float,
                 max_wait: float, sleep: Sleep | None = None) -> None:
        if not api_key and not base_url:
            raise ConfigError("the openai backend needs OPENAI_API_KEY (or OPENAI_BASE_URL for a "
                              "local server); set it, or use --backend local")
        self.model = model
        self.context_window = context_window
        self.base_url = base_url or "https://api.openai.com/v1"
        # The SDK's own retries are off: `retry.policy` is the only one, so attempts don't multiply.
        self._client = openai.AsyncOpenAI(api_key=api_key or "not-needed", base_url=base_url,
                                          timeout=timeout, max_retries=0)
        self._retry = dict(attempts=attempts, max_seconds=max_seconds, max_wait=max_wait)
        self._sleep = sleep
        self._count = _tokenizer(model)

    def count_tokens(self, text: str) -> int:
        return self._count(text)

    async def complete(self, request: CompletionRequest) -> Completion:
        kwargs = {} if self._sleep is None else {"sleep": self._sleep}
        retrying = policy(**self._retry, **kwargs)  # type: ignore[arg-type]
        try:
            async for attempt in retrying:
                with attempt:
                    response = await self._client.chat.completions.create(
                        model=self.model,
                        messages=[{"role": m.role, "content": m.content}
                                  for m in request.messages],  # type: ignore[misc]
                        max_tokens=request.max_tokens,
                        temperature=request.temperature,
                    )
        except openai.APIStatusError as e:
            raise BackendError(_status_message(e, self.base_url), backend=self.name,
                               attempts=retrying.statistics.get("attempt_number")) from e
        except openai.APITimeoutError as e:
            raise BackendError(
                f"{self.base_url} did not answer in time after "
                f"{retrying.statistics.get('attempt_number')} attempts; check the server or "
                "raise SUMMARIZER_TIMEOUT", backend=self.name) from e
        except openai.APIConnectionError as e:
            raise BackendError(f"cannot connect to {self.base_url}; check OPENAI_BASE_URL and "
                               "that the server is running", backend=self.name) from e
        except openai.OpenAIError as e:
            raise BackendError(f"malformed reply from {self.base_url}: {e}",
                               backend=self.name) from e
        except json.JSONDecodeError as e:  # a 200 labelled JSON whose body is not JSON
            raise BackendError(f"malformed reply from {self.base_url}: body is not JSON ({e})",
                               backend=self.name) from e
        return self._completion(response)

    def _completion(self, response: object) -> Completion:
        try:
            choice = response.choices[0]  # type: ignore[attr-defined]
            text = choice.message.content
        except (AttributeError, IndexError, TypeError) as e:
            raise BackendError(f"malformed reply from {self.base_url}: no choices[0].message",
                               backend=self.name) from e
        if not isinstance(text, str):
            raise BackendError(f"malformed reply from {self.base_url}: message has no text "
                               "content", backend=self.name)
        usage = getattr(response, "usage", None)
        return Completion(
            text=text,
            model=getattr(response, "model", None) or self.model,
            prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
            completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
        )


def _status_message(error: openai.APIStatusError, base_url: str) -> str:
    if error.status_code in (401, 403):
        return f"{base_url} refused the key ({error.status_code}); check OPENAI_API_KEY"
    if error.status_code == 404:
        return (f"{base_url} answered 404; check OPENAI_BASE_URL and that the model named by "
                "SUMMARIZER_MODEL exists there")
    if error.status_code == 429:
        return f"{base_url} kept rate-limiting (429) after retries; lower SUMMARIZER_CONCURRENCY"
    message = " ".join(error.message.split())  # the server's text may span lines
    return f"{base_url} answered {error.status_code}: {message}"


def _tokenizer(model: str) -> Callable[[str], int]:
    """The model family's BPE, offline from bpe-openai; an estimate for unknown encodings."""
    name = "o200k_base" if model.startswith(("gpt-4o", "gpt-4.1", "gpt-5", "o1", "o3", "o4")) \
        else "cl100k_base"
    try:
        from bpe_openai import get_encoding

        encoding = get_encoding(name)
    except Exception as e:  # noqa: BLE001 - any failure here means: estimate instead
        log.warning("no offline tokenizer (%s); estimating token counts", e)
        return estimate_tokens
    return lambda text: len(encoding.encode(text))
