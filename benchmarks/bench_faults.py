"""Runs under model faults: the CLI summarises 40 articles 10 times against an OpenAI-compatible
server on loopback that fails 30% of requests (429, 500, 503, hangs, dropped connections,
non-JSON 200s, no choices, null or empty content), and reports what each run made.

    .venv/bin/python benchmarks/bench_faults.py [--runs 10] [--articles 40] [--rate 0.3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fault_server import FaultServer, articles  # noqa: E402

from summarizer.cli import main  # noqa: E402
from summarizer.settings import get_settings  # noqa: E402


def run(runs: int, count: int, rate: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "articles"
        folder.mkdir()
        for n, article in enumerate(articles(count)):
            (folder / f"{n:03}.json").write_text(json.dumps(article))
        os.environ |= {"SUMMARIZER_BACKEND": "openai", "SUMMARIZER_MODEL": "stub-model",
                       "SUMMARIZER_TIMEOUT": "0.5", "SUMMARIZER_RETRY_MAX_WAIT": "0.02",
                       "SUMMARIZER_RETRY_ATTEMPTS": "6", "SUMMARIZER_CONCURRENCY": "8"}
        print(f"{runs} runs, {count} articles, {rate:.0%} faults")
        print("run | exit | summarised | failed (articles) | failed (other) | calls | seconds")
        totals = [0, 0, 0, 0]
        with FaultServer(rate, seed=1) as server:
            os.environ["OPENAI_BASE_URL"] = server.base_url
            for n in range(runs):
                os.environ["SUMMARIZER_CACHE_PATH"] = f"{tmp}/cache{n}.sqlite3"
                get_settings.cache_clear()
                out = Path(tmp) / f"run{n}.json"
                started = time.monotonic()
                with contextlib.redirect_stderr(io.StringIO()):
                    code = main(["summarize", str(folder), "--format", "json", "--out", str(out)])
                seconds = time.monotonic() - started
                result = json.loads(out.read_text()) if code == 0 else None
                done = len(result["articles"]) if result else 0
                failed = [f["part"] for f in result.get("failed", [])] if result else []
                lost = failed.count("article")
                print(f"{n + 1} | {code} | {done} | {lost} | {len(failed) - lost} | "
                      f"{result['usage']['llm_calls'] if result else '-'} | {seconds:.1f}")
                totals[0] += code == 0
                totals[1] += done
                totals[2] += lost
                totals[3] += len(failed) - lost
        print(f"completed {totals[0]} of {runs}; articles summarised {totals[1]} of "
              f"{runs * count}; recorded as failed {totals[2]}; other parts failed {totals[3]}")
        print("faults served:", dict(sorted(server.served.items())))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--articles", type=int, default=40)
    parser.add_argument("--rate", type=float, default=0.3)
    args = parser.parse_args()
    run(args.runs, args.articles, args.rate)
