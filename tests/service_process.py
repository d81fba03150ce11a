"""`summarizer serve` and `summarizer worker` as real processes on loopback, for the tests that
kill one or run several."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


class Server:
    """A `summarizer serve` process (or another command, such as `worker`); `kill` and
    `start` again to test a crash."""

    def __init__(self, env: dict[str, str], workdir: Path,
                 command: tuple[str, ...] = ("serve",)) -> None:
        self.env = env
        self.command = command
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.log = workdir / f"server-{self.port}.log"

    def start(self) -> Server:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        port = ("--port", str(self.port)) if self.command[0] == "serve" else ()
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "summarizer", *self.command, *port],
                env=self.env, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT)
        if self.command[0] != "serve":
            return self
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.2)
        raise AssertionError(f"server did not start: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]




def process_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """The environment of a `summarizer` process under test: this one's, without any setting of
    the project's or of OpenAI's, then the scripted model, no network beyond loopback, a cache
    of its own, and `settings` (variable names as keys)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SUMMARIZER_", "OPENAI_", "DATABASE_URL"))}
    env.update({
        "SUMMARIZER_BACKEND": "scripted",
        "SUMMARIZER_ALLOW_NETWORK": "0",
        "SUMMARIZER_CACHE_PATH": str(tmp_path / "cache.sqlite3"),
        **settings,
    })
    return env
