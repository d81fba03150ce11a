"""How much a summary run costs beyond its model calls, side by side with two other pipelines.

One OpenAI-compatible stub on loopback (its own process, so it takes no CPU from what is timed)
answers every request after a fixed delay, the way the pipeline's prompts expect (see
tests/fault_server.py). Against it, interleaved, `--repeats` times each:

  cli        `summarizer summarize` as a subprocess (--backend openai, no cache)
  cli-quoted the same with --writing quoted: the model chooses, it does not restate (one call
             per article, as in the other two, instead of two)
  asyncio    a minimal map + reduce: one call per article, then one reduce call
  langchain  LangChain's map_reduce summarize chain (langchain-classic, async), if installed

For each it reports the wall time, the time to the first model call, the calls, the waves (the
time some call was in flight, in delays), the prompt tokens (counted by the stub, one BPE for all)
and the ratio to the physical limit: ceil(articles / concurrency) + 1 waves of one call per
article and one reduce call.

    .venv/bin/python benchmarks/bench_pipeline.py [--articles 40 200] [--copies 1]
        [--delay 0.5] [--concurrency 16] [--repeats 3] [--only cli asyncio langchain]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from fault_server import FIRST_SENTENCE, ITEM, _answer, articles  # noqa: E402

KINDS = ("cli", "cli-quoted", "asyncio", "langchain")
MAP_PROMPT = "Summarise this news article in one or two sentences.\n\n{text}"
REDUCE_PROMPT = "Write an overview of these article summaries in a few sentences.\n\n{text}"


# --- the stub ------------------------------------------------------------------------------

def stub_answer(request: dict) -> str:
    """The pipeline's prompts answered as tests/fault_server.py answers them; any other prompt
    (a free-text summary) by the first sentence of its material."""
    user = [m["content"] for m in request["messages"] if m["role"] == "user"][-1]
    if ITEM.search(user) or "<claim>" in user:  # the pipeline's prompts, and the judge's
        return _answer(request)
    body = user.split("\n\n", 1)[-1].strip() or user
    match = FIRST_SENTENCE.match(body)
    return (match.group(1) if match else body[:200]).strip() or "Nothing to report."


def serve(delay: float) -> None:
    """Run the stub until stdin closes: prints its port; GET /log gives each request's
    arrival, end and messages (wall-clock times) and empties the log."""
    log: list[dict] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            arrived = time.time()
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            time.sleep(max(0.0, delay - (time.time() - arrived)))
            content = stub_answer(body)
            data = json.dumps({
                "id": "x", "object": "chat.completion", "created": 0, "model": "stub",
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": content}}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            }).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            with lock:
                log.append({"arrived": arrived, "ended": time.time(),
                            "messages": body["messages"]})

        def do_GET(self) -> None:
            with lock:
                data = json.dumps(log).encode()
                log.clear()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = _Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_port, flush=True)
    sys.stdin.read()  # until the benchmark ends
    server.shutdown()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # every client's connections at once, before any is accepted

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client closing its kept-alive connections at exit is no error of the run's


class Stub:
    """The stub in a process of its own."""

    def __init__(self, delay: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(delay)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline())
        self.base_url = f"http://127.0.0.1:{self.port}/v1"

    def take_log(self) -> list[dict]:
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/log") as response:
            return json.loads(response.read())

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=10)


# --- the three pipelines -------------------------------------------------------------------

def run_cli(folder: Path, base_url: str, concurrency: int, out: Path,
            *options: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENAI_BASE_URL": base_url,
           "OPENAI_API_KEY": "not-needed", "SUMMARIZER_MODEL": "stub-model",
           "SUMMARIZER_ALLOW_NETWORK": "1", "SUMMARIZER_TIMEOUT": "60"}
    done = subprocess.run(
        [sys.executable, "-m", "summarizer", "summarize", str(folder), "--backend", "openai",
         "--concurrency", str(concurrency), "--no-cache", "--format", "json", "--out", str(out),
         *options],
        env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the CLI failed ({done.returncode}): {done.stderr[-2000:]}")


async def minimal(docs: list[dict], base_url: str, concurrency: int) -> str:
    """One call per article under a semaphore, then one reduce call: the least a map + reduce
    summary can do."""
    import openai

    client = openai.AsyncOpenAI(api_key="not-needed", base_url=base_url, max_retries=0)
    limit = asyncio.Semaphore(concurrency)

    async def ask(text: str) -> str:
        async with limit:
            reply = await client.chat.completions.create(
                model="stub-model", messages=[{"role": "user", "content": text}],
                max_tokens=400, temperature=0.0)
        return reply.choices[0].message.content or ""

    parts = await asyncio.gather(*(ask(MAP_PROMPT.format(text=d["text"])) for d in docs))
    overview = await ask(REDUCE_PROMPT.format(text="\n".join(parts)))
    await client.close()
    return overview


async def langchain_map_reduce(docs: list[dict], base_url: str, concurrency: int) -> str:
    """LangChain's map_reduce summarize chain (langchain-classic), its calls bounded by the
    HTTP client's connection limit (the chain itself sends every map call at once)."""
    import httpx
    from bpe_openai import get_encoding
    from langchain_classic.chains.summarize import load_summarize_chain
    from langchain_core.documents import Document
    from langchain_openai import ChatOpenAI

    encoding = get_encoding("cl100k_base")  # tiktoken would download its tables
    client = httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency),
                               timeout=60)
    llm = ChatOpenAI(model="stub-model", api_key="not-needed",  # type: ignore[arg-type]
                     base_url=base_url, max_retries=0, temperature=0.0,
                     http_async_client=client,
                     custom_get_token_ids=lambda text: list(encoding.encode(text)))
    chain = load_summarize_chain(llm, chain_type="map_reduce")
    result = await chain.ainvoke({"input_documents": [
        Document(page_content=d["text"], metadata={"title": d["title"]}) for d in docs]})
    await client.aclose()
    return str(result["output_text"])


# --- measuring -----------------------------------------------------------------------------

@dataclass
class Sample:
    wall: float
    cpu: float  # the pipeline's own CPU seconds (user + system), the stub's left out
    first_call: float
    calls: int
    waves: float
    prompt_tokens: int


def measure(log: list[dict], started: float, ended: float, cpu: float, delay: float,
            count_tokens) -> Sample:
    """The run's calls as the stub saw them: the first one's arrival after the start, and the
    time some call was in flight, in delays."""
    spans = sorted((r["arrived"], r["ended"]) for r in log)
    busy, reach = 0.0, -math.inf
    for start, end in spans:
        if end > reach:
            busy += end - max(start, reach)
            reach = end
    tokens = sum(count_tokens(m["content"] or "") for r in log for m in r["messages"])
    first = spans[0][0] - started if spans else math.nan
    return Sample(wall=ended - started, cpu=cpu, first_call=first, calls=len(log),
                  waves=busy / delay, prompt_tokens=tokens)


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the CLI runs as one); the stub
    is a child still running, so its own are not counted."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), \
        resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def write_articles(folder: Path, count: int, copies: int) -> list[dict]:
    """`count` articles, each in `copies` copies (from other outlets), as JSON files."""
    docs = []
    for n, article in enumerate(articles(count)):
        for c in range(copies):
            doc = dict(article, source=article["source"] if c == 0 else
                       re.sub("Post$", ["Courier", "Ledger", "Herald"][(c - 1) % 3],
                              article["source"]))
            docs.append(doc)
            (folder / f"{n:03}-{c}.json").write_text(json.dumps(doc))
    return docs


def bench(counts: list[int], copies: int, delay: float, concurrency: int, repeats: int,
          only: list[str], keep: Path | None = None) -> None:
    from bpe_openai import get_encoding

    encoding = get_encoding("cl100k_base")
    kinds = [k for k in KINDS if k in only]
    if "langchain" in kinds:
        try:
            import langchain_classic  # noqa: F401
            import langchain_openai  # noqa: F401
        except ImportError:
            print("langchain-classic / langchain-openai not installed (pip install "
                  "'.[bench]'): left out")
            kinds.remove("langchain")
    stub = Stub(delay)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; delay {delay} s per call, "
          f"concurrency {concurrency}, {repeats} repeats, interleaved")
    print("| articles | pipeline | wall s (median, min-max) | cpu s | first call s | calls | "
          "waves | prompt tokens | limit s | x limit | x asyncio |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    try:
        for count in counts:
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp) / "articles"
                folder.mkdir()
                docs = write_articles(folder, count, copies)
                limit = (math.ceil(len(docs) / concurrency) + 1) * delay
                samples: dict[str, list[Sample]] = {k: [] for k in kinds}
                for _ in range(repeats):
                    for kind in kinds:
                        stub.take_log()
                        cpu = _cpu()
                        started = time.time()
                        if kind == "cli-quoted":
                            run_cli(folder, stub.base_url, concurrency, Path(tmp) / "q.json",
                                    "--writing", "quoted")
                        elif kind == "cli":
                            out = Path(tmp) / "out.json"
                            run_cli(folder, stub.base_url, concurrency, out)
                            if keep is not None:
                                keep.mkdir(parents=True, exist_ok=True)
                                (keep / f"cli-{count}x{copies}.json").write_bytes(out.read_bytes())
                        elif kind == "asyncio":
                            asyncio.run(minimal(docs, stub.base_url, concurrency))
                        else:
                            asyncio.run(langchain_map_reduce(docs, stub.base_url, concurrency))
                        ended = time.time()
                        samples[kind].append(measure(stub.take_log(), started, ended,
                                                     _cpu() - cpu, delay,
                                                     lambda t: len(encoding.encode(t))))
                base = statistics.median(s.wall for s in samples.get("asyncio", [])) \
                    if "asyncio" in samples else math.nan
                label = f"{count}" if copies == 1 else f"{count} x {copies}"
                for kind, runs in samples.items():
                    wall = statistics.median(s.wall for s in runs)
                    first = statistics.median(s.first_call for s in runs)
                    last = runs[-1]
                    print(f"| {label} | {kind} | {wall:.2f} ({min(s.wall for s in runs):.2f}-"
                          f"{max(s.wall for s in runs):.2f}) | "
                          f"{statistics.median(s.cpu for s in runs):.2f} | {first:.2f} | "
                          f"{last.calls} | "
                          f"{last.waves:.1f} | {last.prompt_tokens} | {limit:.1f} | "
                          f"{wall / limit:.2f} | {wall / base:.2f} |", flush=True)
    finally:
        stub.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, nargs="+", default=[40, 200])
    parser.add_argument("--copies", type=int, default=1,
                        help="copies of each article from other outlets")
    parser.add_argument("--delay", type=float, default=0.5)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", nargs="+", default=list(KINDS), choices=KINDS)
    parser.add_argument("--keep", type=Path, help="keep the CLI's last output in this folder")
    parser.add_argument("--serve", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve)
    else:
        bench(args.articles, args.copies, args.delay, args.concurrency, args.repeats, args.only,
              args.keep)
