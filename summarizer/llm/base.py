"""The backend interface: one async method, a tokenizer and a context window."""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

from ..models import Frozen


class Message(Frozen):
    role: Literal["system", "user", "assistant"]
    content: str


class Item(Frozen):
    """One line of a prompt's material, by the id the model answers with."""

    id: str
    text: str


Reply = Literal["text", "ids", "lines", "verdict", "claims", "backing"]


class CompletionRequest(Frozen):
    """A chat request, with what its answer must look like carried as fields, not prose:
    `reply` "ids" is up to `limit` lines "[id]"; "lines" is one "[id] sentence" line per item,
    or with `limit`, up to `limit` such lines for items of the model's choosing. The judge's
    JSON replies: "verdict" is {"verdict": ..., "evidence": ...}; "claims" a list of up to
    `limit` strings; "backing" {"backing": [...]} with numbers from 1 to `limit`.
    Backends that can constrain output (llama.cpp grammars) do so from these fields."""

    messages: tuple[Message, ...]
    max_tokens: int
    temperature: float = 0.0
    prompt_id: str = ""
    prompt_version: str = ""
    reply: Reply = "text"
    items: tuple[Item, ...] = ()
    limit: int | None = None


class Completion(Frozen):
    text: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


@runtime_checkable
class Backend(Protocol):
    """A model that completes chat requests. Implementations: openai, local, scripted."""

    name: str
    model: str
    context_window: int

    def count_tokens(self, text: str) -> int:
        """Tokens the model would see for this text (exact where the backend has a tokenizer)."""
        ...

    async def complete(self, request: CompletionRequest) -> Completion:
        """One chat completion. When none can be had it raises a kind of BackendError:
        RateLimited, BackendUnavailable, BackendRejected (asking again will not help) or
        UnreadableReply (a reply that is not a completion)."""
        ...


def estimate_tokens(text: str) -> int:
    """A conservative estimate for when no tokenizer is at hand (about 3.5 characters a token)."""
    return max(1, (len(text) * 2 + 6) // 7)
