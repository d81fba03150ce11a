"""An OpenAI-compatible chat server on loopback that fails a share of its requests on purpose,
in every way a real one has been seen to: 429, 500, 503, a hang past the client's timeout, a
dropped connection, a 200 that is not JSON, JSON without choices, null or empty content.

Its good answers read the request as a model would: to a request for ids it answers the first
ids it was shown; to a request for lines it restates each group by its first sentence.
"""

from __future__ import annotations

import json
import random
import re
import socket
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAULTS = ("429", "500", "503", "hang", "drop", "not-json", "no-choices", "null-content",
          "empty-content")
ITEM = re.compile(r"^\[(\d+\.\d+)\]\s*(.+)$", re.MULTILINE)
FIRST_SENTENCE = re.compile(r"^(.+?[.!?])(?=\s|$)")


class QuietServer(ThreadingHTTPServer):
    """Says nothing of a client that hung up mid-answer (a worker killed on purpose)."""

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class FaultServer:
    """Serves on 127.0.0.1; `rate` of requests (seeded) get one of `faults`."""

    def __init__(self, rate: float, *, faults: tuple[str, ...] = FAULTS, seed: int = 0,
                 hang_seconds: float = 2.0, delay: float = 0.0) -> None:
        self.rate = rate
        self.delay = delay  # seconds before each good answer, as a model takes
        # (time.time(), "asked" | "answered", the request's messages as JSON), in order
        self.log: list[tuple[float, str, str]] = []
        self.faults = faults
        self.hang_seconds = hang_seconds
        self.served: Counter[str] = Counter()
        self.asked: list[str] = []  # each request's messages, as JSON
        self.answered: set[str] = set()  # the requests given a good answer
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._server = QuietServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/v1"

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _draw(self, request: dict) -> str:
        key = json.dumps(request["messages"], sort_keys=True)
        with self._lock:
            fault = self._random.choice(self.faults) if self._random.random() < self.rate \
                else "ok"
            self.served[fault] += 1
            self.asked.append(key)
            self.log.append((time.time(), "asked", key))
            if fault == "ok":
                self.answered.add(key)
            return fault

    def _record_answer(self, request: dict) -> None:
        with self._lock:
            self.log.append((time.time(), "answered",
                             json.dumps(request["messages"], sort_keys=True)))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fault = server._draw(body)
                if fault == "drop":
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.connection.close()
                    return
                if fault == "hang":
                    time.sleep(server.hang_seconds)
                    return
                if fault == "ok" and server.delay:
                    time.sleep(server.delay)
                status, payload = _reply(fault, body)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status == 429:
                    self.send_header("Retry-After", "0")
                self.end_headers()
                self.wfile.write(data)
                if fault == "ok":
                    server._record_answer(body)

            def log_message(self, *args: object) -> None:
                pass

        return Handler


def _reply(fault: str, request: dict) -> tuple[int, object]:
    if fault in ("429", "500", "503"):
        return int(fault), {"error": {"message": f"injected {fault}", "type": "error"}}
    if fault == "not-json":
        return 200, b"<html>upstream proxy error</html>"
    if fault == "no-choices":
        return 200, {"id": "x", "object": "chat.completion", "model": "stub"}
    content = {"null-content": None, "empty-content": ""}.get(fault, _answer(request))
    return 200, {
        "id": "x", "object": "chat.completion", "created": 0, "model": "stub",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


def _answer(request: dict) -> str:
    """A well-formed answer to the request, read from its last user message."""
    system = " ".join(m["content"] for m in request["messages"] if m["role"] == "system")
    user = [m["content"] for m in request["messages"] if m["role"] == "user"][-1]
    items = ITEM.findall(user)
    if "<claim>" in user:  # the judge: every claim supported, by every passage
        numbers = [int(n) for n in re.findall(r"^\[(\d+)\]", user, re.MULTILINE)]
        if '"backing"' in user:
            return json.dumps({"backing": numbers})
        passage = ITEM.search(user)
        return json.dumps({"verdict": "supported", "evidence": passage.group(2) if passage else ""})
    if "ids only" in system:
        return "\n".join(f"[{i}]" for i, _ in items[:4])
    picked = re.search(r"Pick the (\d+)", user)  # choosing and restating in one reply
    lines = []
    for item_id, text in items[: int(picked.group(1)) if picked else None]:
        match = FIRST_SENTENCE.match(text.split(" | ")[0])
        lines.append(f"[{item_id}] {(match.group(1) if match else text).strip()}")
    return "\n".join(lines)


TOWNS = ["Arden", "Belmont", "Carrick", "Dunmore", "Elston", "Fairhaven", "Glenrock", "Harlow",
         "Ivybridge", "Jarrow", "Kelso", "Lymington", "Marlow", "Newquay", "Oakham", "Penrith",
         "Quarry Bank", "Redruth", "Selby", "Thirsk"]
PEOPLE = ["Ana Ortiz", "Ben Clarke", "Chen Wei", "Dara Nolan", "Eli Brandt", "Fatima Rahal",
          "Gus Mallory", "Hana Sato", "Ivan Petrov", "Jo Rivers", "Kofi Mensah", "Lena Holm"]
TOPICS = [
    ("council", "budget", "approved a budget of {n} million pounds for road repairs"),
    ("hospital", "ward", "opened a new ward with {n} beds for older patients"),
    ("school", "roof", "closed {n} classrooms after a roof leak during the storm"),
    ("bridge", "repairs", "reopened after {n} weeks of repairs to its supports"),
    ("library", "books", "received a donation of {n} thousand books from a local collector"),
    ("police", "arrests", "made {n} arrests after a series of shop break-ins"),
    ("river", "flooding", "rose {n} centimetres above its usual level overnight"),
    ("factory", "jobs", "announced {n} new jobs at its packaging plant"),
]
DETAILS = [
    "{person}, who leads the project, said work would begin in {month}.",
    "Residents asked for the plan to be published before the next meeting in {month}.",
    "{person} told reporters that the cost had risen since the first estimate.",
    "The decision followed a public consultation that drew {m} responses.",
    "Opposition members said the timetable was too ambitious.",
    "A spokesperson for the county said further updates would follow in {month}.",
    "Local businesses welcomed the news, according to {person}.",
    "The previous scheme ran for {m} years before it was replaced.",
]
MONTHS = ["January", "March", "May", "July", "September", "November"]


def articles(count: int, seed: int = 0) -> list[dict[str, str]]:
    """`count` distinct short news articles (text, title, source), each about its own event."""
    rng = random.Random(seed)
    out = []
    for n in range(count):
        town = TOWNS[n % len(TOWNS)]
        subject, word, event = TOPICS[(n // len(TOWNS) + n) % len(TOPICS)]
        lead = f"The {town} {subject} {event.format(n=rng.randint(2, 90))}."
        details = rng.sample(DETAILS, 6)
        body = [lead] + [d.format(person=rng.choice(PEOPLE), month=rng.choice(MONTHS),
                                  m=rng.randint(100, 4000)) for d in details]
        body.insert(3, f"The {word} plan in {town} had been delayed twice since {2010 + n % 12}.")
        out.append({"title": f"{town} {subject}: {word} news", "source": f"The {town} Post",
                    "text": "\n\n".join(" ".join(body[i:i + 2]) for i in range(0, len(body), 2))})
    return out
