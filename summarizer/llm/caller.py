"""The one way to call a model: a budget from the context window, the cache, bounded concurrency,
usage and cost (kept under the run's cost limit), progress, and one re-ask with the error fed
back when a reply cannot be read."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from ..errors import ConfigError, UnreadableReply
from ..models import Usage
from ..prompts import Prompt
from .base import Backend, Completion, CompletionRequest, Item, Message, Reply
from .cache import Cache, cache_key
from .prices import TEMPLATE_TOKENS_PER_MESSAGE, Meter, Price, request_tokens, usd

T = TypeVar("T")

# Less room than this for the material (the sentences, passages or summary a prompt carries)
# and the window is too small to be worth a call.
MIN_MATERIAL_TOKENS = 64


class Progress(Protocol):
    def add(self, n: int) -> None:
        """More model calls are on the way."""

    def advance(self, n: int = 1) -> None:
        """Model calls finished."""


class NoProgress:
    def add(self, n: int) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass


@dataclass
class Caller:
    """Every model call of a run or a judge goes through one Caller, which counts them all."""

    backend: Backend
    concurrency: int = 4
    cache: Cache | None = None
    progress: Progress = field(default_factory=NoProgress)
    calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    prompts: dict[str, str] = field(default_factory=dict)
    calls_by_prompt: dict[str, int] = field(default_factory=dict)  # prompt id -> model calls
    started: float = field(default_factory=time.monotonic)
    price: Price | None = None  # None: not known, so the cost is too (see llm.prices)
    meter: Meter = field(default_factory=Meter)  # the run's spending and limit, shared
    cost: float = 0.0  # USD of the calls this caller made

    def __post_init__(self) -> None:
        self._limit = asyncio.Semaphore(self.concurrency)

    def sibling(self, backend: Backend, price: Price | None = None) -> Caller:
        """A caller for another backend (a judge of its own, at its own `price`) on the same
        path: the same cache, progress, cost meter and concurrency bound, so the run's
        `--concurrency` and cost limit bound all its calls. Its counts are its own: the run
        adds them to its usage."""
        other = Caller(backend, concurrency=self.concurrency, cache=self.cache,
                       progress=self.progress, started=self.started, price=price,
                       meter=self.meter)
        other._limit = self._limit
        return other

    async def ask(self, prompt: Prompt, values: Mapping[str, object],
                  parse: Callable[[str], T], *, max_tokens: int, temperature: float = 0.0,
                  reply: Reply = "text", items: Sequence[Item] = (),
                  limit: int | None = None,
                  otherwise: Callable[[UnreadableReply], T] | None = None) -> T:
        """`parse` of the model's answer to `prompt` filled with `values`.

        When `parse` raises UnreadableReply and the prompt has a `retry:` message, the model sees
        its reply and the error and is asked once more (if that fits the window). A reply still
        unreadable goes to `otherwise`, or is raised. `reply`, `items` and `limit` tell the
        backend what the answer holds (see CompletionRequest).
        """
        messages: tuple[Message, ...] | None = prompt.render(**values)
        attempts = 0
        while messages is not None and attempts < 2:
            attempts += 1
            request = CompletionRequest(
                messages=messages, max_tokens=max_tokens, temperature=temperature,
                prompt_id=prompt.id, prompt_version=prompt.version, reply=reply,
                items=tuple(items), limit=limit)
            completion, fresh = await self._fetch(request)
            try:
                if not completion.text.strip():
                    raise UnreadableReply("the model answered with nothing")
                value = parse(completion.text)
            except UnreadableReply as error:
                failure = error
                if fresh and error.well_formed:
                    await self._keep(request, completion)
            else:
                if fresh:
                    await self._keep(request, completion)
                return value
            messages = self._reask(prompt, messages, completion.text, failure, max_tokens)
        unreadable = UnreadableReply(str(failure), backend=self.backend.name, attempts=attempts)
        if otherwise is None:
            raise unreadable from failure
        return otherwise(unreadable)

    async def complete(self, request: CompletionRequest) -> Completion:
        """Answer from the cache when this exact request was made before, else ask the model
        (and keep a non-blank answer)."""
        completion, fresh = await self._fetch(request)
        if fresh and completion.text.strip():
            await self._keep(request, completion)
        return completion

    async def _fetch(self, request: CompletionRequest) -> tuple[Completion, bool]:
        """The cached answer to this exact request, else the model's (then `True`: fresh).
        Only answers that could be read are kept (see `_keep`): a malformed or blank one is a
        fault of the moment, and kept it would stand in for every later try."""
        self.progress.add(1)
        self.prompts[request.prompt_id] = request.prompt_version
        # The cache may be the service's database: read and write it off the event loop.
        if self.cache is not None and (hit := await asyncio.to_thread(
                self.cache.get, self._key(request))) is not None:
            self.cache_hits += 1
            self.progress.advance()
            return hit, False
        try:
            # Refused here (CostLimitReached) when its worst case could pass the cost limit.
            held = self.meter.reserve(self.price, request_tokens(self.backend, request.messages),
                                      request.max_tokens, self.backend.model, self.backend.name)
            try:
                async with self._limit:
                    completion = await self.backend.complete(request)
            except BaseException:
                self.meter.settle(held, 0.0)  # no answer is billed
                raise
        finally:
            self.progress.advance()  # a failed call is finished too
        self._count_cost(completion, held)
        self.calls += 1
        prompt_id = request.prompt_id
        self.calls_by_prompt[prompt_id] = self.calls_by_prompt.get(prompt_id, 0) + 1
        self.prompt_tokens += completion.prompt_tokens
        self.completion_tokens += completion.completion_tokens
        return completion, True

    def _count_cost(self, completion: Completion, held: float) -> None:
        """What the call cost, by the tokens the backend reports. A backend that reports none
        is counted at the call's worst case against the limit, which must hold either way."""
        cost = None if self.price is None else \
            self.price.cost(completion.prompt_tokens, completion.completion_tokens)
        self.cost += cost or 0.0
        reported = completion.prompt_tokens or completion.completion_tokens
        self.meter.settle(held, cost if reported else max(held, cost or 0.0))

    async def _keep(self, request: CompletionRequest, completion: Completion) -> None:
        if self.cache is not None:
            await asyncio.to_thread(self.cache.put, self._key(request), self.backend.name,
                                    request, completion)

    def _key(self, request: CompletionRequest) -> str:
        return cache_key(self.backend.name, self.backend.model, request)

    def budget(self, prompt: Prompt, values: Mapping[str, object], max_tokens: int) -> int:
        """Tokens left for material beside `prompt` filled with `values`, once its answer, a
        margin and a re-ask are counted. A window too small to keep room for a re-ask gives the
        material what is left without one (the re-ask is then made only where it fits); a window
        too small for the material at all is a ConfigError."""
        left = self.room(prompt, values, max_tokens)
        if left < MIN_MATERIAL_TOKENS:
            left = self._left(prompt.render(**values), max_tokens)
        if left < MIN_MATERIAL_TOKENS:
            raise ConfigError(
                f"the {self.backend.model} context window ({self.backend.context_window} tokens) "
                f"leaves only {left} tokens for text after the '{prompt.id}' prompt; use a model "
                "with a larger window")
        return left

    def room(self, prompt: Prompt, values: Mapping[str, object], max_tokens: int) -> int:
        """Tokens the window has left once `prompt` filled with `values`, its answer, a margin
        and a re-ask are counted; below zero when they do not fit."""
        return self._left(prompt.render(**values), max_tokens) - \
            self._reask_tokens(prompt, max_tokens)

    def usage(self) -> Usage:
        return Usage(
            backend=self.backend.name, model=self.backend.model, llm_calls=self.calls,
            prompt_tokens=self.prompt_tokens, completion_tokens=self.completion_tokens,
            cache_hits=self.cache_hits, seconds=round(time.monotonic() - self.started, 3),
            cost_usd=self.cost_usd(),
        )

    def cost_usd(self) -> float | None:
        """What this caller's calls cost; None when it made calls to a model with no price
        (answers from the cache cost nothing)."""
        return None if self.price is None and self.calls else usd(self.cost)

    def calls_for(self, prompt_ids: Sequence[str]) -> int:
        """Model calls made with these prompts (cache hits not counted)."""
        return sum(self.calls_by_prompt.get(p, 0) for p in prompt_ids)

    def _left(self, messages: Sequence[Message], max_tokens: int) -> int:
        """The window less these messages, their answer and a margin for inexact counts."""
        margin = max(16, self.backend.context_window // 50)
        used = request_tokens(self.backend, messages)
        return self.backend.context_window - used - max_tokens - margin

    def _reask_tokens(self, prompt: Prompt, max_tokens: int) -> int:
        """What a re-ask adds to a request: the first reply, the error (about as long as the
        reply) and the prompt's re-ask message."""
        if prompt.retry is None:
            return 0
        return 2 * max_tokens + self.backend.count_tokens(prompt.retry.template) + \
            2 * TEMPLATE_TOKENS_PER_MESSAGE

    def _reask(self, prompt: Prompt, messages: tuple[Message, ...], reply: str,
               error: UnreadableReply, max_tokens: int) -> tuple[Message, ...] | None:
        """The conversation with the reply and the error fed back; None when the prompt has no
        re-ask message or the re-ask would not fit the window."""
        if prompt.retry is None:
            return None
        reask = (*messages, Message(role="assistant", content=reply),
                 Message(role="user", content=prompt.retry.substitute(error=str(error))))
        return reask if self._left(reask, max_tokens) >= 0 else None
