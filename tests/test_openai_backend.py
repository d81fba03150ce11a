"""OpenAIBackend against a real stub OpenAI-compatible server on loopback."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from summarizer.errors import (
    BackendRejected,
    BackendUnavailable,
    RateLimited,
    UnreadableReply,
)
from summarizer.llm import CompletionRequest, Message, make_backend
from summarizer.llm.openai_compat import OpenAIBackend
from summarizer.settings import get_settings

REQUEST = CompletionRequest(
    messages=(Message(role="system", content="You summarize news faithfully."),
              Message(role="user", content="Summarize: the council approved the budget.")),
    max_tokens=64, temperature=0.2)
NGINX_500 = ("<html>\r\n<head><title>500 Internal Server Error</title></head>\r\n<body>\r\n"
             "<center><h1>500 Internal Server Error</h1></center>\r\n</body>\r\n</html>\r\n")


@dataclass
class Reply:
    """One scripted answer: a dict body is sent as JSON, a str body as it is."""

    status: int = 200
    body: object = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def ok(text: str = "The council approved the budget.", model: str = "stub-model") -> Reply:
    return Reply(body={
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": model,
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": 21, "completion_tokens": 7, "total_tokens": 28}})


def error(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, {"error": {"message": message, "type": "error", "code": None}},
                 headers or {})


class Stub:
    """Serves scripted replies in order and records every request it receives."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[dict] = []
        self.stopping = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                stub.requests.append({
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "json": json.loads(raw) if raw else None})
                reply = stub.replies.popleft() if stub.replies else error(418, "unscripted")
                if self.path != "/v1/chat/completions":
                    reply = error(404, f"no route {self.path}")
                if reply.delay and stub.stopping.wait(reply.delay):
                    return  # the test is over; nobody is listening
                body = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
                data = body.encode()
                try:
                    self.send_response(reply.status)
                    headers = {"Content-Type": "application/json"} | reply.headers
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def log_message(self, *args: object) -> None:
                pass

        return Handler


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def build(stub: Stub, sleeps: list[float]):
    """A factory for backends pointed at the stub; retry waits are recorded, not slept."""

    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    def build(**overrides: object) -> OpenAIBackend:
        options = dict(model="gpt-4o-mini", api_key="test-key", base_url=stub.url,
                       context_window=8192, timeout=5.0, attempts=3, max_seconds=60.0,
                       max_wait=10.0, sleep=record)
        return OpenAIBackend(**(options | overrides))  # type: ignore[arg-type]

    return build


def complete(backend: OpenAIBackend):
    return asyncio.run(backend.complete(REQUEST))


def test_normal_reply_returns_text_model_usage_and_sends_the_request(stub, build):
    """A normal reply comes back whole; the server sees model, messages, limits and the key."""
    stub.script(ok("Budget approved.", model="stub-model-2024"))
    result = complete(build())
    assert (result.text, result.model) == ("Budget approved.", "stub-model-2024")
    assert (result.prompt_tokens, result.completion_tokens) == (21, 7)
    [seen] = stub.requests
    assert seen["path"] == "/v1/chat/completions"
    assert seen["headers"]["authorization"] == "Bearer test-key"
    body = seen["json"]
    assert body["model"] == "gpt-4o-mini"
    assert body["messages"] == [{"role": m.role, "content": m.content} for m in REQUEST.messages]
    assert (body["max_tokens"], body["temperature"]) == (64, 0.2)


@pytest.mark.parametrize(("retry_after", "max_wait", "waited"), [("7", 10.0, 7.0),
                                                                  ("100", 5.0, 5.0)])
def test_rate_limit_waits_as_the_server_asks_capped_by_max_wait(
        stub, build, sleeps, retry_after, max_wait, waited):
    """A 429 is retried after Retry-After seconds, never longer than max_wait."""
    stub.script(error(429, "slow down", {"Retry-After": retry_after}), ok("after the wait"))
    assert complete(build(max_wait=max_wait)).text == "after the wait"
    assert len(stub.requests) == 2
    assert sleeps == [waited]


def test_a_rate_limit_that_outlasts_the_retries_is_rate_limited_with_the_servers_wait(
        stub, build, sleeps):
    """429 on every attempt: RateLimited, with the attempts and the Retry-After the server gave
    (not the capped wait), and a message that says so."""
    stub.script(*[error(429, "slow down", {"Retry-After": "30"})] * 3)
    with pytest.raises(RateLimited) as caught:
        complete(build(attempts=3, max_wait=2.0))
    assert caught.value.retry_after == 30.0 and caught.value.attempts == 3
    assert caught.value.backend == "openai"
    assert sleeps == [2.0, 2.0] and len(stub.requests) == 3
    assert "429" in str(caught.value) and "30 s" in str(caught.value)


def test_a_rate_limit_without_retry_after_has_none(stub, build):
    stub.script(*[error(429, "slow down")] * 2)
    with pytest.raises(RateLimited) as caught:
        complete(build(attempts=2))
    assert caught.value.retry_after is None


def test_server_errors_are_retried_until_success(stub, build, sleeps):
    """Two 500s then a good reply: three requests, two bounded waits, the good reply returned."""
    stub.script(error(500, "boom"), error(500, "boom"), ok("third time lucky"))
    assert complete(build(attempts=5, max_wait=2.0)).text == "third time lucky"
    assert len(stub.requests) == 3
    assert len(sleeps) == 2 and all(0 <= s <= 2.0 for s in sleeps)


@pytest.mark.parametrize("reply", [
    Reply(500, NGINX_500, {"Content-Type": "text/html"}),
    error(500, "Internal error:\nTraceback (most recent call last):\n  File \"serve.py\""),
], ids=["html-page", "multi-line-json-message"])
def test_persistent_server_error_gives_up_after_the_configured_attempts(
        stub, build, sleeps, reply):
    """A server that keeps failing is tried `attempts` times, then a one-line
    BackendUnavailable."""
    stub.script(*[reply] * 5)
    with pytest.raises(BackendUnavailable) as caught:
        complete(build(attempts=3))
    assert len(stub.requests) == 3 and len(sleeps) == 2
    message = str(caught.value)
    assert "500" in message and stub.url in message
    assert "\n" not in message and "\r" not in message
    assert caught.value.attempts == 3


def test_a_server_that_does_not_answer_in_time_times_out(stub, build):
    """A reply slower than the timeout on every attempt ends in a 'did not answer in time' error."""
    stub.script(*[Reply(delay=2.0, body=ok().body) for _ in range(3)])
    started = time.monotonic()
    with pytest.raises(BackendUnavailable, match="did not answer in time") as caught:
        complete(build(timeout=0.3, attempts=2))
    assert caught.value.attempts == 2
    assert time.monotonic() - started < 5
    assert len(stub.requests) == 2


MALFORMED = [
    ("application/json", "not json"),
    ("text/plain", "not json"),
    ("application/json", {"id": "chatcmpl-1", "object": "chat.completion", "model": "m"}),
    ("application/json", {"model": "m", "choices": []}),
    ("application/json", {"model": "m", "choices": [{"message": {"role": "assistant",
                                                                  "content": None}}]}),
    ("application/json", {"model": "m", "choices": [{"message": {"role": "assistant",
                                                                  "content": ""}}]}),
    ("application/json", {"model": "m", "choices": [{"message": {"role": "assistant",
                                                                  "content": " \n\t"}}]}),
]
MALFORMED_IDS = ["invalid-json", "plain-text", "no-choices", "empty-choices", "null-content",
                 "empty-content", "blank-content"]


@pytest.mark.parametrize(("content_type", "body"), MALFORMED, ids=MALFORMED_IDS)
def test_a_malformed_reply_is_retried_like_a_server_error(stub, build, sleeps, content_type,
                                                           body):
    """A 200 whose body is not a usable completion is a fault of the moment: asked again."""
    stub.script(Reply(200, body, {"Content-Type": content_type}), ok("The answer."))
    assert complete(build(attempts=3)).text == "The answer."
    assert len(stub.requests) == 2 and len(sleeps) == 1


@pytest.mark.parametrize(("content_type", "body"), MALFORMED, ids=MALFORMED_IDS)
def test_a_reply_malformed_through_every_attempt_is_an_unreadable_reply(stub, build, sleeps,
                                                                        content_type, body):
    """After the last attempt it is 'malformed reply' with the count, on one line."""
    stub.script(*[Reply(200, body, {"Content-Type": content_type})] * 3, ok("never reached"))
    with pytest.raises(UnreadableReply, match="malformed reply") as caught:
        complete(build(attempts=3))
    assert "\n" not in str(caught.value)
    assert caught.value.attempts == 3
    assert len(stub.requests) == 3


def test_rejected_key_is_not_retried_and_names_the_variable(stub, build, sleeps):
    """A 401 fails at once (one request, no wait) and tells the user to check OPENAI_API_KEY."""
    stub.script(error(401, "Incorrect API key provided"), ok("never reached"))
    with pytest.raises(BackendRejected, match="OPENAI_API_KEY") as caught:
        complete(build())
    assert caught.value.status_code == 401
    assert len(stub.requests) == 1
    assert sleeps == []


@pytest.mark.parametrize(("status", "says"), [
    (403, "OPENAI_API_KEY"), (404, "SUMMARIZER_MODEL"), (400, "max_tokens is too large"),
    (422, "max_tokens is too large")])
def test_a_refused_request_is_rejected_at_once_with_its_status(stub, build, sleeps, status, says):
    """Statuses that asking again cannot change are not retried; the status is kept."""
    stub.script(error(status, "max_tokens is too large"), ok("never reached"))
    with pytest.raises(BackendRejected, match=says) as caught:
        complete(build(attempts=5))
    assert caught.value.status_code == status and caught.value.attempts == 1
    assert len(stub.requests) == 1 and sleeps == []


def test_connection_refused_names_the_base_url_setting(build, sleeps):
    """Nothing listening at the base URL: BackendUnavailable, pointing at OPENAI_BASE_URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again before the backend connects
    url = f"http://127.0.0.1:{port}/v1"
    with pytest.raises(BackendUnavailable, match="OPENAI_BASE_URL") as caught:
        complete(build(base_url=url, attempts=2))
    assert url in str(caught.value) and caught.value.attempts == 2
    assert len(sleeps) == 1  # a refused connection is transient, so it was retried once


def test_count_tokens_uses_the_offline_tokenizer(build, monkeypatch):
    """Token counts come from the model's real BPE, without touching the network."""

    def no_network(*args: object) -> None:
        raise AssertionError("count_tokens tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    backend = build()
    assert backend.count_tokens("hello world") == 2  # the estimate would say 4
    article = "The city council approved the budget on Tuesday after a long debate. " * 20
    assert 200 <= backend.count_tokens(article) <= 400
    assert build(model="gpt-3.5-turbo").count_tokens("hello world") == 2  # cl100k_base


@pytest.mark.parametrize("model, encoding", [("gpt-4o-mini", "o200k_base"),
                                             ("stub-model", "cl100k_base")])
def test_count_tokens_agrees_with_bpe_openai_and_counts_any_text(build, model, encoding):
    """The native tokenizer, loaded alone, counts as bpe-openai's own encoding does; text
    that looks like a special token, or holds a lone surrogate, is counted, not refused."""
    from bpe_openai import get_encoding

    backend, reference = build(model=model), get_encoding(encoding)
    for text in ["The county closed the Orlen Road ferry on Tuesday.", "Zürich 12,5 € — “ok”",
                 "北京 市 ", "a" * 3000, ""]:
        assert backend.count_tokens(text) == len(reference.encode(text))
    assert backend.count_tokens("a <|endoftext|> b") > 3
    assert backend.count_tokens("broken \ud800 text") == backend.count_tokens("broken \ufffd text")


def test_settings_from_the_environment_reach_the_request(stub, monkeypatch):
    """OPENAI_BASE_URL, OPENAI_API_KEY and SUMMARIZER_MODEL configure what the server sees."""
    monkeypatch.setenv("OPENAI_BASE_URL", stub.url)
    monkeypatch.setenv("OPENAI_API_KEY", "env-key")
    monkeypatch.setenv("SUMMARIZER_MODEL", "qwen2.5-7b-instruct")
    get_settings.cache_clear()
    stub.script(ok("from env"))
    backend = make_backend(get_settings())
    assert isinstance(backend, OpenAIBackend)
    assert complete(backend).text == "from env"
    [seen] = stub.requests
    assert seen["json"]["model"] == "qwen2.5-7b-instruct"
    assert seen["headers"]["authorization"] == "Bearer env-key"
