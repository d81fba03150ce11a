"""Serving a built digest: GET /v1/digests/{date} latency at 1 and 16 concurrent clients.

Builds a digest of ~200 synthetic articles (tests/fault_server.py writes them) with the scripted
backend into a SQLite file, serves it with `summarizer serve` (uvicorn on loopback, one process)
and times GETs from httpx async clients in this process: p50 and p99 per concurrency, for the
JSON rendering, Markdown, HTML, and a 304 answer to If-None-Match.

With `--before DIR` (a checkout of an earlier commit, e.g. from
`git worktree add --detach /tmp/before <commit>`), that checkout's server builds the digest and
is timed first; then this checkout's server opens the same file (its migrations run, so the
digest is one stored before them: rendered on its first read) and is timed; then it builds the
digest again (rendered when its job ends) and is timed once more.

With `--postgres URL` the server keeps its data in a database of its own that the benchmark
creates on that PostgreSQL server (and drops afterwards) instead of a SQLite file.

    .venv/bin/python benchmarks/bench_serve.py [--before /tmp/before] [--articles 200]
        [--requests 400] [--postgres postgresql://postgres@127.0.0.1/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from fault_server import articles  # noqa: E402

DAY = "2026-03-14"
CONCURRENCY = (1, 16)
BATCH = 100  # articles per POST


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def own_database(server: str) -> Iterator[str]:
    """A new database on the PostgreSQL server at `server`, as a URL; dropped afterwards."""
    import psycopg

    name = f"bench_serve_{os.getpid()}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield urlunsplit(urlsplit(server)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextmanager
def serving(checkout: Path, folder: Path, database_url: str | None) -> Iterator[httpx.Client]:
    """`summarizer serve` from `checkout` on the SQLite file in `folder` (or the PostgreSQL
    database at `database_url`); a client for it."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SUMMARIZER_", "OPENAI_", "DATABASE_URL"))}
    env |= {"PYTHONPATH": str(checkout), "SUMMARIZER_BACKEND": "scripted",
            "SUMMARIZER_ALLOW_NETWORK": "0", "SUMMARIZER_DB_PATH": str(folder / "service.sqlite3"),
            "SUMMARIZER_CACHE_PATH": str(folder / "cache.sqlite3")}
    if database_url:
        env["DATABASE_URL"] = database_url
    log = (folder / f"server-{port}.log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "summarizer", "serve", "--port", str(port)],
                               cwd=checkout, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600) as client:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"server did not start; see {log.name}")
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            yield client
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def build(client: httpx.Client, count: int, *, post: bool) -> float:
    """Post the articles (when `post`) and build the day's digest; seconds the job took."""
    if post:
        posted = [dict(a, published=DAY) for a in articles(count)]
        for start in range(0, len(posted), BATCH):
            answer = client.post("/v1/articles", json={"articles": posted[start:start + BATCH]})
            answer.raise_for_status()
    started = time.monotonic()
    job = client.post("/v1/digests", json={"date": DAY}).json()
    while (state := client.get(f"/v1/jobs/{job['job_id']}").json())["status"] not in (
            "done", "failed"):
        time.sleep(0.2)
    if state["status"] != "done":
        raise SystemExit(f"the digest job failed: {state}")
    return time.monotonic() - started


async def timed(url: str, headers: dict[str, str], clients: int, requests: int,
                status: int) -> tuple[list[float], float]:
    """Milliseconds of each of `requests` GETs of `url`, spread over `clients` concurrent
    clients; and the seconds they all took."""
    left = requests
    times: list[float] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def one_client() -> None:
            nonlocal left, warm
            await client.get(url, headers=headers)  # its connection opened before timing
            warm += 1
            if warm == clients:
                ready.set()
            await ready.wait()
            while left > 0:
                left -= 1
                started = time.perf_counter()
                answer = await client.get(url, headers=headers)
                times.append((time.perf_counter() - started) * 1000)
                if answer.status_code != status:
                    raise SystemExit(f"GET {url} answered {answer.status_code}, not {status}")

        ready = asyncio.Event()
        warm = 0
        running = [asyncio.create_task(one_client()) for _ in range(clients)]
        await ready.wait()
        started = time.perf_counter()
        await asyncio.gather(*running)
    return times, time.perf_counter() - started


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure(client: httpx.Client, label: str, requests: int) -> dict[str, str]:
    """Print one table row per (rendering, clients); the body hash of each rendering."""
    url = f"{str(client.base_url).rstrip('/')}/v1/digests/{DAY}"
    hashes = {}
    first = time.perf_counter()
    answer = client.get(url)
    print(f"{label}: first GET (JSON) {(time.perf_counter() - first) * 1000:.1f} ms, "
          f"{len(answer.content) / 1000:.0f} KB, ETag {answer.headers.get('etag', '-')}")
    cases = [("JSON", {"Accept": "application/json"}, 200),
             ("Markdown", {"Accept": "text/markdown"}, 200),
             ("HTML", {"Accept": "text/html"}, 200)]
    if "etag" in answer.headers:
        cases.append(("JSON, 304", {"If-None-Match": answer.headers["etag"]}, 304))
    for name, headers, status in cases:
        body = client.get(url, headers=headers)  # also warms this rendering up
        digest = hashlib.sha256(body.content).hexdigest()[:12]
        hashes[name] = f"{digest} ({len(body.content) // 1000} KB)"
        for clients in CONCURRENCY:
            times, seconds = asyncio.run(timed(url, headers, clients, requests, status))
            print(f"| {label} | {name} | {clients} | {percentile(times, 0.5):.1f} | "
                  f"{percentile(times, 0.99):.1f} | {len(times) / seconds:.0f} |")
    return hashes


def run(before: Path | None, count: int, requests: int, postgres: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        folder = Path(tmp)
        database_url = stack.enter_context(own_database(postgres)) if postgres else None
        print(f"{count} articles, {requests} GETs per row, "
              f"{'PostgreSQL' if postgres else 'SQLite'}, one server process")
        print("| server | rendering | clients | p50 ms | p99 ms | GETs/s |")
        print("|---|---|---|---|---|---|")
        hashes = {}
        if before is not None:
            with serving(before, folder, database_url) as client:
                seconds = build(client, count, post=True)
                print(f"(before: digest built in {seconds:.1f} s)")
                hashes["before"] = measure(client, "before", requests)
        with serving(ROOT, folder, database_url) as client:
            if before is None:
                seconds = build(client, count, post=True)
                print(f"(digest built in {seconds:.1f} s)")
            else:
                hashes["after, stored before"] = measure(client, "after, digest stored before",
                                                         requests)
                seconds = build(client, count, post=False)
                print(f"(after: digest built again in {seconds:.1f} s)")
            hashes["after"] = measure(client, "after", requests)
        for label, by_rendering in hashes.items():
            print(f"body hashes, {label}: {by_rendering}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="a checkout of the commit to compare with")
    parser.add_argument("--articles", type=int, default=200)
    parser.add_argument("--requests", type=int, default=400, help="GETs per row")
    parser.add_argument("--postgres", help="a PostgreSQL server's URL (a database on it is "
                                           "created for the run and dropped)")
    args = parser.parse_args()
    run(args.before.resolve() if args.before else None, args.articles, args.requests,
        args.postgres)
