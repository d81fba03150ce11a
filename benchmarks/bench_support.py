"""Time the offline support checker: a 500-word article against a 5-sentence summary.

    python benchmarks/bench_support.py [--repeat N]
    python benchmarks/bench_support.py --lines 1 5

Prints milliseconds per check, with the article analysed once (`Sources(...).check`, how the
pipeline uses it) and from scratch each time (the `check(...)` convenience wrapper). With
`--lines`, times instead `split_sentences` and `Sources([line])` on one line of that many
megabytes, of three kinds: words with no sentence end, whole sentences, and a roll of names
("Mr. A. Okafor, 45, Dr. B. Brill, ...") with no sentence end.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from summarizer.checking.offline import Sources, check  # noqa: E402
from summarizer.text import split_sentences  # noqa: E402

PARAGRAPHS = [
    "The regional government said on Tuesday that 45,000 people had been moved out of the "
    "coastal towns of Alden and Brill after three days of heavy rain. Officials warned that "
    "the river could rise a further two metres before the weekend.",
    "Mr. Okafor, the mayor of Alden, said the town's sea wall had held but that more than 300 "
    "homes were flooded. He did not expect residents to return before the end of March.",
    "Rescue teams from the Red Cross worked through the night to reach villages cut off by the "
    "water, using boats borrowed from local fishermen. No deaths had been reported by Wednesday "
    "morning, according to the emergency services.",
    "The national weather agency said the rainfall was the heaviest recorded in the region "
    "since 1998, when a similar storm caused damage estimated at 1.2 billion dollars. Forecasters "
    "expect drier weather from Thursday.",
]
SUMMARY = (
    "The regional government said 45,000 people had been moved out of Alden and Brill. "
    "The mayor of Alden said more than 300 homes were flooded. "
    "Red Cross teams used boats borrowed from local fishermen to reach cut-off villages. "
    "The UN Security Council said 90 people had died in the floods. "
    "The rainfall was not the heaviest recorded in the region since 1998."
)


def make_article(words: int = 500) -> str:
    """Paragraphs repeated until the article reaches about `words` words."""
    out: list[str] = []
    while sum(len(p.split()) for p in out) < words:
        out.append(PARAGRAPHS[len(out) % len(PARAGRAPHS)])
    return "\n\n".join(out)


def make_line(kind: str, size: int) -> str:
    """One line of about `size` characters: 'words', 'sentences' or 'roll' (see the docstring)."""
    if kind == "words":
        unit = " ".join(w.strip(".,").lower() for p in PARAGRAPHS for w in p.split()) + " "
    elif kind == "sentences":
        unit = " ".join(PARAGRAPHS) + " "
    else:
        unit = "Mr. A. Okafor, 45, Dr. B. Brill, two hundred, Gen. C. Alden, Sept. 5, "
    return (unit * (size // len(unit) + 1))[:size]


def time_lines(megabytes: list[float]) -> None:
    """Seconds for `split_sentences` and `Sources` on single lines of each kind and size."""
    print(f"python {platform.python_version()} on {platform.machine()}")
    print("| line | size | split_sentences s | Sources([line]) s |")
    print("|---|---|---|---|")
    for kind in ("words", "sentences", "roll"):
        for mb in megabytes:
            line = make_line(kind, int(mb * 1_000_000))
            start = time.perf_counter()
            split_sentences(line)
            split = time.perf_counter() - start
            start = time.perf_counter()
            Sources([line])
            build = time.perf_counter() - start
            print(f"| {kind} | {mb:g} MB | {split:.2f} | {build:.2f} |", flush=True)


def time_ms(fn, repeat: int) -> float:
    """Median milliseconds per call over `repeat` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--lines", type=float, nargs="+", metavar="MB",
                        help="time single lines of these sizes instead")
    args = parser.parse_args()
    if args.lines:
        time_lines(args.lines)
        return
    article = make_article()
    sources = Sources([article])
    cached = time_ms(lambda: sources.check(SUMMARY), args.repeat)
    fresh = time_ms(lambda: check(SUMMARY, [article]), args.repeat)
    build = time_ms(lambda: Sources([article]), args.repeat)
    print(f"article: {len(article.split())} words, summary: 5 sentences; "
          f"python {platform.python_version()} on {platform.machine()}")
    print(f"Sources(...).check, article analysed once: {cached:.2f} ms per check")
    print(f"check(claim, passages), from scratch:     {fresh:.2f} ms per check")
    print(f"Sources(passages) alone:                   {build:.2f} ms")


if __name__ == "__main__":
    main()
