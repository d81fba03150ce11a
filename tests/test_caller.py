"""The one call path: re-asks with the error fed back, the window budget, cache and progress."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from summarizer.errors import ConfigError, UnreadableReply
from summarizer.llm.base import CompletionRequest
from summarizer.llm.cache import Cache
from summarizer.llm.caller import MIN_MATERIAL_TOKENS, Caller
from summarizer.llm.scripted import ScriptedBackend
from summarizer.prompts import parse

RETRY = "Your reply could not be read: $error. Reply with only a JSON list."
LISTING = parse(f"""---
id: listing
version: 3
retry: {RETRY}
---
## system
You list things as JSON.

## user
$material
""")
NO_RETRY = parse("---\nid: plain\nversion: 1\n---\n## system\nBe brief.\n\n## user\n$material\n")


def json_list(reply: str) -> list[str]:
    try:
        value = json.loads(reply)
    except json.JSONDecodeError as e:
        raise UnreadableReply(f"not JSON ({e.msg})") from e
    if not isinstance(value, list):
        raise UnreadableReply("expected a JSON list")
    return value


def ask(caller: Caller, prompt=LISTING, **kwargs):
    options = {"max_tokens": 32} | kwargs
    return asyncio.run(caller.ask(prompt, {"material": "apples, pears"}, json_list, **options))


def test_an_unreadable_reply_is_asked_again_with_the_reply_and_the_error():
    backend = ScriptedBackend(["apples and pears", '["apples", "pears"]'])
    assert ask(Caller(backend)) == ["apples", "pears"]
    first, second = backend.requests
    assert second.messages[:2] == first.messages
    assert second.messages[2].role == "assistant"
    assert second.messages[2].content == "apples and pears"
    assert second.messages[3].role == "user"
    assert second.messages[3].content.startswith("Your reply could not be read: not JSON (")
    assert (second.prompt_id, second.prompt_version) == ("listing", "3")


def test_a_reply_unreadable_twice_goes_to_otherwise_or_is_raised():
    backend = ScriptedBackend(default='{"not": "a list"}')
    seen: list[UnreadableReply] = []
    assert ask(Caller(backend), otherwise=lambda e: seen.append(e) or []) == []
    assert len(backend.requests) == 2  # one ask, one re-ask, no more
    assert str(seen[0]) == "expected a JSON list" and seen[0].attempts == 2
    assert seen[0].backend == "scripted"
    with pytest.raises(UnreadableReply, match="expected a JSON list"):
        ask(Caller(backend))
    assert len(backend.requests) == 4


def test_a_prompt_without_a_retry_message_is_asked_once():
    backend = ScriptedBackend(default="no list here")
    assert ask(Caller(backend), NO_RETRY, otherwise=lambda _: ["fallback"]) == ["fallback"]
    assert len(backend.requests) == 1


def test_an_error_of_the_backend_itself_is_neither_re_asked_nor_handed_to_otherwise():
    class Malformed(ScriptedBackend):
        async def complete(self, request: CompletionRequest):
            self.requests.append(request)
            raise UnreadableReply("malformed reply from the server", backend="stub")

    backend = Malformed()
    with pytest.raises(UnreadableReply, match="malformed reply"):
        ask(Caller(backend), otherwise=lambda _: ["fallback"])
    assert len(backend.requests) == 1


def test_a_re_ask_that_would_overflow_the_window_is_not_made():
    long_reply = "not a list " * 400  # far more than the window holds
    backend = ScriptedBackend(default=long_reply, context_window=600)
    assert ask(Caller(backend), otherwise=lambda _: ["fallback"]) == ["fallback"]
    assert len(backend.requests) == 1


def test_the_budget_keeps_room_for_the_answer_a_re_ask_and_a_margin():
    backend = ScriptedBackend(context_window=4096)
    caller = Caller(backend)
    reasked = caller.budget(LISTING, {"material": ""}, 200)
    asked_once = caller.budget(NO_RETRY, {"material": ""}, 200)
    prompt = sum(backend.count_tokens(m.content) + 8 for m in LISTING.render(material=""))
    assert reasked == 4096 - prompt - 200 - 4096 // 50 - (2 * 200 + backend.count_tokens(RETRY)
                                                          + 16)
    assert asked_once > reasked + 2 * 200
    # Whatever fills the budget, a first ask and its re-ask both fit the window.
    material = "word " * (7 * reasked // 10)
    assert backend.count_tokens(material) <= reasked
    assert caller.room(LISTING, {"material": material}, 200) >= 0


def test_a_window_with_no_room_for_a_re_ask_gives_the_material_what_is_left():
    backend = ScriptedBackend(context_window=520)
    caller = Caller(backend)
    assert caller.room(LISTING, {"material": ""}, 150) < MIN_MATERIAL_TOKENS
    assert caller.budget(LISTING, {"material": ""}, 150) >= MIN_MATERIAL_TOKENS
    with pytest.raises(ConfigError, match=r"context window \(520 tokens\).*'listing' prompt"):
        caller.budget(LISTING, {"material": ""}, 460)


def test_a_repeated_request_is_answered_from_the_cache_and_every_request_is_progress(
        tmp_path: Path):
    class Counted:
        def __init__(self) -> None:
            self.added = self.done = 0

        def add(self, n: int) -> None:
            self.added += n

        def advance(self, n: int = 1) -> None:
            self.done += n

    backend = ScriptedBackend(default='["apples"]')
    progress = Counted()
    caller = Caller(backend, cache=Cache(tmp_path / "calls.sqlite3"), progress=progress)
    assert ask(caller) == ask(caller) == ["apples"]
    assert len(backend.requests) == 1
    usage = caller.usage()
    assert (usage.llm_calls, usage.cache_hits) == (1, 1)
    assert (progress.added, progress.done) == (2, 2)
    assert caller.prompts == {"listing": "3"}


def test_a_blank_answer_is_unreadable_and_not_cached(tmp_path: Path):
    cache = Cache(tmp_path / "calls.sqlite3")
    with pytest.raises(UnreadableReply, match="answered with nothing"):
        ask(Caller(ScriptedBackend(["  \n", ""]), cache=cache), NO_RETRY)
    caller = Caller(ScriptedBackend(['["apples"]']), cache=cache)
    assert ask(caller, NO_RETRY) == ["apples"]
    assert (caller.calls, caller.cache_hits) == (1, 0)
    assert ask(caller, NO_RETRY) == ["apples"]  # a real answer is kept
    assert (caller.calls, caller.cache_hits) == (1, 1)


def test_a_reply_that_cannot_be_read_is_not_cached_but_its_readable_re_ask_is(tmp_path: Path):
    cache = Cache(tmp_path / "calls.sqlite3")
    first = ScriptedBackend(["apples and pears", '["apples", "pears"]'])
    assert ask(Caller(first, cache=cache)) == ["apples", "pears"]
    # Asked again: the first reply was not kept, so the model is asked; the re-ask is cached.
    again = ScriptedBackend(["apples and pears"])
    caller = Caller(again, cache=cache)
    assert ask(caller) == ["apples", "pears"]
    assert (caller.calls, caller.cache_hits) == (1, 1)


def test_a_well_formed_reply_that_was_refused_is_cached(tmp_path: Path):
    """A reply in the asked-for form whose content was refused gives the same answer when
    asked the same again: it is kept, so a rerun costs no call."""
    def refuse(reply: str) -> list[str]:
        raise UnreadableReply("[1] not supported by its sources", well_formed=True)

    cache = Cache(tmp_path / "calls.sqlite3")

    def run() -> tuple[list[str], Caller]:
        caller = Caller(ScriptedBackend(default='["apples"]'), cache=cache)
        value = asyncio.run(caller.ask(LISTING, {"material": "apples"}, refuse, max_tokens=32,
                                       otherwise=lambda _: ["quoted"]))
        return value, caller

    value, caller = run()
    assert value == ["quoted"] and caller.calls == 2
    value, caller = run()
    assert value == ["quoted"] and (caller.calls, caller.cache_hits) == (0, 2)
