"""A backend that answers from a script: for tests and offline demos. It records every request."""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import Callable, Iterable

from .base import Completion, CompletionRequest, estimate_tokens

Reply = str | Callable[[CompletionRequest], str]
FIRST_SENTENCE = re.compile(r"^(.+?[.!?][\"”’']?)(?=\s+[A-Z“\"]|$)")


class ScriptedBackend:
    """Replies are taken from a queue in order; when it runs out, `default` answers."""

    name = "scripted"

    def __init__(self, replies: Iterable[Reply] = (), *, default: Reply | None = None,
                 context_window: int = 8192, model: str = "scripted-lead",
                 delay: float = 0.0) -> None:
        self.replies: deque[Reply] = deque(replies)
        self.default: Reply = default if default is not None else lead_sentences
        self.context_window = context_window
        self.model = model
        self.requests: list[CompletionRequest] = []
        self.delay = delay  # seconds each call takes, to stand in for a slow model

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    async def complete(self, request: CompletionRequest) -> Completion:
        self.requests.append(request)
        if self.delay:
            await asyncio.sleep(self.delay)
        reply = self.replies.popleft() if self.replies else self.default
        text = reply(request) if callable(reply) else reply
        prompt = "".join(m.content for m in request.messages)
        return Completion(text=text, model=self.model, prompt_tokens=self.count_tokens(prompt),
                          completion_tokens=self.count_tokens(text))


def lead_sentences(request: CompletionRequest) -> str:
    """An extractive stand-in for a model, read from the request's fields, never its wording.

    Asked to choose, it picks the first `limit` items; asked to write one line per item (or
    per item it chooses, up to `limit`), it restates each item by its first sentence. Either way
    every id it gives is a real one.
    """
    if request.reply == "ids":
        return "\n".join(f"[{item.id}]" for item in request.items[: request.limit or 3])
    return "\n".join(f"[{item.id}] {_first_sentence(item.text)}"
                     for item in request.items[: request.limit])


def _first_sentence(text: str) -> str:
    match = FIRST_SENTENCE.match(text.split(" | ")[0])
    return (match.group(1) if match else text).strip()
