"""A backend that answers from a script: for tests and offline demos. It records every request."""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import Callable, Iterable

from .base import Completion, CompletionRequest, estimate_tokens

Reply = str | Callable[[CompletionRequest], str]
PASSAGE_LINE = re.compile(r"^\[(\d+\.\d+)\]\s+(.+)$", re.MULTILINE)
AT_MOST = re.compile(r"at most (\d+) sentences")
MATERIAL = re.compile(r"^(?:Passages|Lines):$", re.MULTILINE)
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
    """An extractive stand-in for a model: the first sentence of the first few cited lines.

    Prompts list their material as "[a.p] text" lines (passages, or summary sentences carrying
    their citations), so echoing them keeps every citation valid.
    """
    user = request.messages[-1].content
    material = MATERIAL.split(user)[-1]  # after the prompt's worked example
    lines = [(m, t) for m, t in PASSAGE_LINE.findall(material) if FIRST_SENTENCE.match(t)]
    asked = AT_MOST.search(user)
    limit = int(asked.group(1)) if asked else 3
    out = []
    for marker, text in lines[:limit]:
        match = FIRST_SENTENCE.match(text)
        sentence = (match.group(1) if match else text).strip()
        sentence = re.sub(r"\s*\[\d+\.\d+\]", "", sentence)
        out.append(f"{sentence} [{marker}]")
    return "\n".join(out)
