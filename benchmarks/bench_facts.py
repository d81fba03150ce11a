"""Time preparing a run: clean, dedup, sentences and fact groups, with no model.

    python benchmarks/bench_facts.py [--sizes 200 1000]

Each article is its own outlet's report of one event: a wire paragraph every outlet prints
(the same in all, as copies are) and four sentences of its own drawn from a shared vocabulary,
so that many sentences share words, as one story's coverage does. Prints seconds per size and
the ratio between sizes: cost that grows with the pairs sharing words, not with the square of
the sentences, keeps the ratio near the ratio of sizes.
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import time
from itertools import pairwise
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from summarizer.clean import clean_document  # noqa: E402
from summarizer.models import Article, Document  # noqa: E402
from summarizer.pipeline import prepare  # noqa: E402

WIRE = ("TOLVEY (Carrow Press) - The old swing bridge over the Mere canal in Tolvey closed at "
        "about 7:10 a.m. on Tuesday after a barge struck its central pier, the canal trust said.")


def articles(n: int, seed: int = 1) -> list[Article]:
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(3000)]
    out = []
    for k in range(n):
        own = "\n".join(" ".join(rng.choice(words) for _ in range(18)).capitalize() + "."
                        for _ in range(4))
        cleaned = clean_document(Document(origin=f"{k}.txt", source=f"Outlet {k}",
                                          text=f"Report {k}\n{WIRE}\n{own}"))
        assert isinstance(cleaned, Article)
        out.append(cleaned)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 1000])
    args = parser.parse_args(argv)
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
    seconds = []
    for size in args.sizes:
        batch = articles(size)
        started = time.perf_counter()
        prepared = prepare(batch)
        seconds.append(time.perf_counter() - started)
        print(f"{size} articles: {seconds[-1]:.2f} s, {len(prepared.facts.sentences)} sentences, "
              f"{len(prepared.groups)} groups")
    for (a, ta), (b, tb) in pairwise(zip(args.sizes, seconds, strict=True)):
        print(f"{a} -> {b} articles: x{b / a:.1f} in size, x{tb / ta:.1f} in time")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
