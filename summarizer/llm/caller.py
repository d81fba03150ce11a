"""Model calls as the pipeline makes them: bounded concurrency, the cache, usage accounting."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from ..models import Usage
from .base import Backend, Completion, CompletionRequest
from .cache import CacheLike, cache_key


@dataclass
class Caller:
    backend: Backend
    concurrency: int = 4
    cache: CacheLike | None = None
    calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    prompts: dict[str, str] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self._limit = asyncio.Semaphore(self.concurrency)

    async def complete(self, request: CompletionRequest) -> Completion:
        """Answer from the cache when this exact request was made before, else ask the model."""
        self.prompts[request.prompt_id] = request.prompt_version
        key = cache_key(self.backend.name, self.backend.model, request)
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            self.cache_hits += 1
            return hit
        async with self._limit:
            completion = await self.backend.complete(request)
        self.calls += 1
        self.prompt_tokens += completion.prompt_tokens
        self.completion_tokens += completion.completion_tokens
        if self.cache is not None:
            self.cache.put(key, self.backend.name, request, completion)
        return completion

    def usage(self) -> Usage:
        return Usage(
            backend=self.backend.name, model=self.backend.model, llm_calls=self.calls,
            prompt_tokens=self.prompt_tokens, completion_tokens=self.completion_tokens,
            cache_hits=self.cache_hits, seconds=round(time.monotonic() - self.started, 3),
        )
