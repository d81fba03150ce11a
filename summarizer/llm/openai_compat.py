"""Any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp server) through `openai`."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import openai
from openai.types.chat import ChatCompletionMessageParam

from ..errors import (
    BackendError,
    BackendRejected,
    BackendUnavailable,
    ConfigError,
    RateLimited,
    UnreadableReply,
)
from .base import Completion, CompletionRequest, Message, estimate_tokens
from .retry import MalformedReply, Sleep, policy, retry_after

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
        self._policy = partial(policy, attempts=attempts, max_seconds=max_seconds,
                               max_wait=max_wait, sleep=sleep or asyncio.sleep)
        self._count = _tokenizer(model)

    def count_tokens(self, text: str) -> int:
        return self._count(text)

    async def complete(self, request: CompletionRequest) -> Completion:
        retrying = self._policy()
        try:
            async for attempt in retrying:
                with attempt:
                    completion = self._completion(await self._create(request))
        except openai.APIStatusError as e:
            raise _status_error(e, self.base_url, self.name,
                                retrying.statistics.get("attempt_number")) from e
        except openai.APITimeoutError as e:
            attempts = retrying.statistics.get("attempt_number")
            raise BackendUnavailable(
                f"{self.base_url} did not answer in time after {attempts} attempts; check the "
                "server or raise SUMMARIZER_TIMEOUT", backend=self.name, attempts=attempts) from e
        except openai.APIConnectionError as e:
            raise BackendUnavailable(
                f"cannot connect to {self.base_url}; check OPENAI_BASE_URL and that the server "
                "is running", backend=self.name,
                attempts=retrying.statistics.get("attempt_number")) from e
        except MalformedReply as e:
            raise UnreadableReply(
                f"malformed reply from {self.base_url}: {e}", backend=self.name,
                attempts=retrying.statistics.get("attempt_number")) from e
        return completion

    async def _create(self, request: CompletionRequest) -> object:
        """One request; a body that is not JSON (or that the SDK cannot read) is malformed."""
        try:
            return await self._client.chat.completions.create(
                model=self.model,
                messages=[_wire(m) for m in request.messages],
                max_tokens=request.max_tokens,
                temperature=request.temperature,
            )
        except json.JSONDecodeError as e:  # a 200 labelled JSON whose body is not JSON
            raise MalformedReply(f"body is not JSON ({e.msg})") from e
        except openai.APIError:
            raise  # statuses, timeouts, connections: the policy knows these
        except openai.OpenAIError as e:
            raise MalformedReply(" ".join(str(e).split())) from e

    def _completion(self, response: object) -> Completion:
        try:
            choice = response.choices[0]  # type: ignore[attr-defined]
            text = choice.message.content
        except (AttributeError, IndexError, TypeError) as e:
            raise MalformedReply("no choices[0].message") from e
        if not isinstance(text, str):
            raise MalformedReply("message has no text content")
        if not text.strip():
            raise MalformedReply("message content is empty")
        usage = getattr(response, "usage", None)
        return Completion(
            text=text,
            model=getattr(response, "model", None) or self.model,
            prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
            completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
        )


def _wire(message: Message) -> ChatCompletionMessageParam:
    if message.role == "system":
        return {"role": "system", "content": message.content}
    if message.role == "user":
        return {"role": "user", "content": message.content}
    return {"role": "assistant", "content": message.content}


def _status_error(error: openai.APIStatusError, base_url: str, backend: str,
                  attempts: int | None) -> BackendError:
    """The kind of failure an HTTP status means: 429 a rate limit, 5xx an unavailable backend,
    any other status a rejected request (which asking again will not change)."""
    status = error.status_code
    if status == 429:
        wait = retry_after(error)
        asked = f"; it asked to wait {wait:g} s" if wait is not None else ""
        return RateLimited(f"{base_url} kept rate-limiting (429) through {attempts} "
                           f"attempts{asked}", backend=backend, attempts=attempts,
                           retry_after=wait)
    message = " ".join(error.message.split())  # the server's text may span lines
    if status >= 500:
        return BackendUnavailable(f"{base_url} answered {status}: {message}", backend=backend,
                                  attempts=attempts)
    if status in (401, 403):
        message = f"{base_url} refused the key ({status}); check OPENAI_API_KEY"
    elif status == 404:
        message = (f"{base_url} answered 404; check OPENAI_BASE_URL and that the model named "
                   "by SUMMARIZER_MODEL exists there")
    else:
        message = f"{base_url} answered {status}: {message}"
    return BackendRejected(message, backend=backend, status_code=status, attempts=attempts)


def _tokenizer(model: str) -> Callable[[str], int]:
    """The model family's BPE, offline from bpe-openai; an estimate for unknown encodings."""
    name = "o200k_base" if model.startswith(("gpt-4o", "gpt-4.1", "gpt-5", "o1", "o3", "o4")) \
        else "cl100k_base"
    try:
        tokenizer = _bpe(name)
    except Exception as e:  # noqa: BLE001 - any failure here means: estimate instead
        log.warning("no offline tokenizer (%s); estimating token counts", e)
        return estimate_tokens

    def count(text: str) -> int:
        try:
            return int(tokenizer.count(text))
        except UnicodeEncodeError:  # a lone surrogate: counted as the replacement character
            return int(tokenizer.count(
                text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")))

    return count


def _bpe(name: str) -> Any:
    """bpe-openai's native tokenizer for an encoding. Its extension module is loaded on its
    own: importing the package first parses every vocabulary it ships (about half a second
    before the first call) only to read their special tokens, which counting does not use."""
    spec = importlib.util.find_spec("bpe_openai")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("bpe-openai is not installed")
    folder = Path(next(iter(spec.submodule_search_locations)))
    path = next(folder.glob("_bindings*.so"), None) or next(folder.glob("_bindings*.pyd"))
    native = importlib.util.spec_from_file_location("bpe_openai._bindings", path)
    if native is None or native.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(native)
    native.loader.exec_module(module)
    return module.tokenizer_for_encoding(name)
