"""Time dedup and measure how many planted near copies it merges, and whether it merges more.

    python benchmarks/bench_dedup.py [--sizes 1000 10000] [--repeat 1]
        [--databases sqlite postgresql] [--postgres URL] [--db-sizes 1000 10000]

Each article is ~5 KB of paragraphs whose sentences are drawn from one shared vocabulary (a few
common words most of the time, as in real prose), so distinct articles share many words, as one
story's coverage does. Every ten distinct articles also print one wire paragraph of their story
verbatim, so stories that share a paragraph must still stay apart. Paragraphs are short (1-3
sentences, 60% of articles), long (5-10, 25%) or the whole body on one line (15%, as some feeds
send it). 10% of the articles are
planted near copies of an earlier distinct one, with 1%, 2% or 5% of their words edited
(substituted, inserted or deleted; figures are left alone: a copy with other numbers is a
dispute, not a copy). Prints, per size: articles/s for the article pass alone (`ArticleIndex`
find then add, as `server/service.py` ingests) and for the whole `dedup` (articles, then
paragraphs, as `pipeline.prepare` runs it); recall per edit level (planted copies merged into
their original); false positives (distinct articles merged, or copies merged into another
article); and the time ratio between sizes.

Then, per database (a fresh SQLite file, a fresh PostgreSQL schema) and size, the database path
the service takes: *before*, the in-memory `ArticleIndex` with one plain insert per stored
article (as the service ingested before dedup moved to the database); *after*, `Store.admit` in
batches of 100 (candidates by band key in SQL, exact confirmation, the article and its dedup
rows inserted in one transaction), timed with the analysis (`dedup.analyse`) apart and included;
and `Service.ingest` in batches of 100 (cleaning, analysis, admission), as POST /v1/articles
runs. Each prints articles/s, recall per edit level and false positives.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import platform
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import accumulate, pairwise
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from summarizer.dedup import Analysis, ArticleIndex, analyse, dedup  # noqa: E402
from summarizer.llm.scripted import ScriptedBackend  # noqa: E402
from summarizer.models import Article  # noqa: E402
from summarizer.pipeline import clean  # noqa: E402
from summarizer.server.service import Outcome, Service, _read  # noqa: E402
from summarizer.server.store import Store, open_store  # noqa: E402
from summarizer.settings import Settings  # noqa: E402

LEVELS = (0.01, 0.02, 0.05)
ARTICLE_CHARS = 5000
# Sentences per paragraph: short paragraphs, long ones, and a feed's whole body on one line.
LAYOUTS = ((1, 3), (5, 10), (200, 200))
LAYOUT_SHARES = (0.6, 0.25, 0.15)
STORY_SIZE = 10  # distinct articles per story, sharing one wire paragraph
BATCH = 100  # articles per admission and per ingest call, as a client posts them
DAY = "2026-05-01"
POSTGRES = os.environ.get("SUMMARIZER_TEST_DATABASE_URL",
                          "postgresql://postgres@127.0.0.1:5432/postgres")
# The article insert as the service ran it before dedup moved to the database.
PLAIN_INSERT = ("INSERT INTO articles (id, day, origin, text, title, source, url, published, "
                "sources, removed, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO NOTHING")


@dataclass
class Corpus:
    articles: list[Article]
    original_of: dict[str, str]  # planted copy id -> original id
    level_of: dict[str, float]  # planted copy id -> share of words edited


def _vocabulary(rng: random.Random) -> list[str]:
    syllables = ["ka", "lo", "mi", "ren", "to", "sa", "vel", "dor", "an", "pe", "ri", "ust",
                 "mo", "ne", "ga", "bri", "ol", "tes"]
    words: set[str] = set()
    while len(words) < 4000:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(1, 3))))
    return sorted(words)


def _draw(rng: random.Random, vocab: list[str], weights: list[float]) -> str:
    if rng.random() < 0.03:
        return str(rng.randint(2, 999))  # a figure, now and then
    return rng.choices(vocab, cum_weights=weights)[0]


def _sentence(rng: random.Random, vocab: list[str], weights: list[float]) -> list[str]:
    return [_draw(rng, vocab, weights) for _ in range(rng.randint(12, 28))]


def _render(title: list[str], paragraphs: list[list[list[str]]]) -> str:
    lines = [" ".join(title).capitalize()]
    for paragraph in paragraphs:
        lines.append(" ".join(" ".join(s).capitalize() + "." for s in paragraph))
    return "\n".join(lines)


def _article(text: str, k: int) -> Article:
    return Article(id=hashlib.sha1(text.encode()).hexdigest()[:16], origin=f"{k}.txt", text=text,
                   source=f"Outlet {k}")


def _edit(rng: random.Random, paragraphs: list[list[list[str]]], level: float,
          vocab: list[str], weights: list[float]) -> list[list[list[str]]]:
    """A copy with `level` of its words substituted, inserted or deleted (figures untouched)."""
    copy = [[list(s) for s in p] for p in paragraphs]
    places = [(p, s) for p, para in enumerate(copy) for s in range(len(para))]
    total = sum(len(copy[p][s]) for p, s in places)
    for _ in range(max(1, round(level * total))):
        p, s = rng.choice(places)
        sentence = copy[p][s]
        i = rng.randrange(len(sentence))
        if sentence[i][0].isdigit():
            continue  # leave figures alone; the draw is rare, so few edits are lost
        op = rng.choice(("sub", "ins", "del"))
        if op == "sub":
            sentence[i] = rng.choices(vocab, cum_weights=weights)[0]
        elif op == "ins":
            sentence.insert(i, rng.choices(vocab, cum_weights=weights)[0])
        elif len(sentence) > 4:
            del sentence[i]
    return copy


def corpus(n: int, seed: int = 1) -> Corpus:
    rng = random.Random(seed)
    vocab = _vocabulary(rng)
    # Zipf: a few common words everywhere (cumulative weights, for rng.choices)
    weights = list(accumulate(1 / (rank + 1) for rank in range(len(vocab))))
    distinct = n - n // 10
    bodies: list[tuple[list[str], list[list[list[str]]]]] = []
    wire: list[list[str]] = []
    for k in range(distinct):
        if k % STORY_SIZE == 0:
            wire = [_sentence(rng, vocab, weights) for _ in range(2)]
        paragraphs: list[list[list[str]]] = [wire]
        layout = rng.choices(LAYOUTS, LAYOUT_SHARES)[0]
        sentences, chars = [], 0
        while chars < ARTICLE_CHARS:
            sentences.append(_sentence(rng, vocab, weights))
            chars += len(" ".join(sentences[-1])) + 2
        while sentences:
            size = rng.randint(*layout)
            paragraphs.append(sentences[:size])
            sentences = sentences[size:]
        rng.shuffle(paragraphs)  # the wire paragraph sits anywhere in the article
        bodies.append((_sentence(rng, vocab, weights)[:8], paragraphs))
    distincts = [_article(_render(*body), k) for k, body in enumerate(bodies)]
    articles = list(distincts)
    original_of: dict[str, str] = {}
    level_of: dict[str, float] = {}
    for c in range(n - distinct):
        k = rng.randrange(distinct)
        level = LEVELS[c % len(LEVELS)]
        title, paragraphs = bodies[k]
        copy = _article(_render(title, _edit(rng, paragraphs, level, vocab, weights)),
                        distinct + c)
        original = distincts[k]
        # After its original, anywhere: an article and its copies arrive over the day.
        articles.insert(rng.randint(articles.index(original) + 1, len(articles)), copy)
        original_of[copy.id] = original.id
        level_of[copy.id] = level
    return Corpus(articles, original_of, level_of)


def article_pass(articles: list[Article],
                 stored: Callable[[Article], None] | None = None) -> dict[str, str]:
    """Copy id -> original id, as the service ingests: find, else add (and `stored`)."""
    index = ArticleIndex()
    merged = {}
    for article in articles:
        original = index.find(article)
        if original is None:
            index.add(article)
            if stored is not None:
                stored(article)
        elif original != article.id:
            merged[article.id] = original
    return merged


def score(data: Corpus, merged: dict[str, str]) -> tuple[dict[float, float], int]:
    recall = {}
    for level in LEVELS:
        copies = [c for c, lv in data.level_of.items() if lv == level]
        hits = sum(merged.get(c) == data.original_of[c] for c in copies)
        recall[level] = hits / len(copies)
    false = sum(1 for c, o in merged.items() if data.original_of.get(c) != o)
    return recall, false


@contextmanager
def fresh_store(engine: str, postgres: str) -> Iterator[Store]:
    """A store on an empty database: a new SQLite file, or a new PostgreSQL schema."""
    if engine == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            store = open_store(Path(folder) / "bench.sqlite3")
            try:
                yield store
            finally:
                store.close()
        return
    import psycopg

    schema = f"bench_dedup_{os.getpid()}_{time.monotonic_ns()}"
    store = open_store(postgres, schema=schema)
    try:
        yield store
    finally:
        store.close()
        with psycopg.connect(postgres, autocommit=True) as db:
            db.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def before_pass(store: Store, articles: list[Article]) -> dict[str, str]:
    """The in-memory index, then one plain insert per article it stores."""
    def insert(article: Article) -> None:
        with store._engine.session() as db:
            db.execute(PLAIN_INSERT, (
                article.id, DAY, article.origin, article.text, article.title, article.source,
                article.url, article.published, f'["{article.source}"]', "[]", "now"))

    return article_pass(articles, insert)


def admit_pass(store: Store, articles: list[Article],
               analyses: list[Analysis | None]) -> dict[str, str]:
    """`Store.admit` in batches, with the articles' analyses (None: computed inside)."""
    merged = {}
    for start in range(0, len(articles), BATCH):
        chunk = articles[start : start + BATCH]
        given = analyses[start : start + BATCH]
        found = store.admit([(a, DAY, g) for a, g in zip(chunk, given, strict=True)])
        merged.update({a.id: f for a, f in zip(chunk, found, strict=True)
                       if f is not None and f != a.id})
    return merged


def records_of(articles: list[Article]) -> list[dict[str, Any]]:
    """The articles as a client posts them."""
    return [{"text": a.text, "source": a.source, "published": DAY} for a in articles]


def ingest_pass(store: Store, articles: list[Article], batch: int = BATCH) -> dict[str, str]:
    """`Service.ingest` in batches of `batch`, the posted records as a client sends them; the
    answer's ids (of the cleaned text) mapped back to the corpus's."""
    service = Service(Settings(), store, ScriptedBackend)
    records = records_of(articles)

    async def run() -> list[Outcome]:
        outcomes: list[Outcome] = []
        for start in range(0, len(records), batch):
            outcomes += await service.ingest(records[start : start + batch])
        return outcomes

    outcomes = asyncio.run(run())
    ours = {o.id: a.id for o, a in zip(outcomes, articles, strict=True) if o.status == "stored"}
    return {a.id: ours.get(o.duplicate_of, "?") for o, a in zip(outcomes, articles, strict=True)
            if o.status == "duplicate" and o.duplicate_of != o.id}


def timed(work: Callable[..., dict[str, str]], *args: Any) -> tuple[dict[str, str], float]:
    """What `work(*args)` merged, and the seconds it took."""
    started = time.perf_counter()
    merged = work(*args)
    return merged, time.perf_counter() - started


def database_runs(engines: list[str], sizes: list[int], postgres: str,
                  batches: tuple[int, ...] = (BATCH,)) -> None:
    """The database path, before and after, per engine and size."""
    for engine in engines:
        for size in sizes:
            data = corpus(size)
            articles = data.articles
            rows = []
            with fresh_store(engine, postgres) as store:
                rows.append(("before: in-memory index + insert",
                             *timed(before_pass, store, articles)))
            started = time.perf_counter()
            analyses: list[Analysis | None] = [analyse(a.text) for a in articles]
            analysis_s = time.perf_counter() - started
            with fresh_store(engine, postgres) as store:
                merged, check_s = timed(admit_pass, store, articles, analyses)
                rows.append(("after: Store.admit, analysis apart", merged, check_s))
                rows.append(("after: analysis + Store.admit", merged, check_s + analysis_s))
            for batch in batches:
                with fresh_store(engine, postgres) as store:
                    rows.append((f"after: Service.ingest, batches of {batch}",
                                 *timed(ingest_pass, store, articles, batch)))
            started = time.perf_counter()
            clean(_read(records_of(articles), Settings()))
            cleaning_s = time.perf_counter() - started
            print(f"{engine}, {size} articles (alone: analysis {size / analysis_s:.0f} "
                  f"articles/s; reading and cleaning posted records, which ingest does first "
                  f"on either path, {size / cleaning_s:.0f} articles/s):")
            for name, merged, seconds in rows:
                recall, false = score(data, merged)
                print(f"  {name}: {seconds:.2f} s = {size / seconds:.0f} articles/s; recall "
                      + ", ".join(f"{lv:.0%} {r:.3f}" for lv, r in recall.items())
                      + f"; false positives {false}")


def postgres_problem(url: str) -> str | None:
    import psycopg

    try:
        psycopg.connect(url, connect_timeout=2).close()
    except psycopg.Error as e:
        return " ".join(str(e).split())
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=1, help="best of N timings per size")
    parser.add_argument("--databases", nargs="*", default=["sqlite", "postgresql"],
                        choices=["sqlite", "postgresql"], help="none: in-memory passes only")
    parser.add_argument("--db-sizes", type=int, nargs="+", default=None,
                        help="sizes for the database path (default: --sizes)")
    parser.add_argument("--batches", type=int, nargs="+", default=[BATCH],
                        help="articles per Service.ingest call, as a client posts them")
    parser.add_argument("--postgres", default=POSTGRES,
                        help="PostgreSQL URL (default: SUMMARIZER_TEST_DATABASE_URL, else "
                             "postgresql://postgres@127.0.0.1:5432/postgres)")
    args = parser.parse_args(argv)
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
    seconds = []
    for size in args.sizes:
        data = corpus(size)
        kb = sum(len(a.text) for a in data.articles) / len(data.articles) / 1000
        index_s = full_s = float("inf")
        for _ in range(args.repeat):
            started = time.perf_counter()
            merged = article_pass(data.articles)
            index_s = min(index_s, time.perf_counter() - started)
            started = time.perf_counter()
            result = dedup(data.articles)
            full_s = min(full_s, time.perf_counter() - started)
        seconds.append(index_s)
        recall, false = score(data, merged)
        full = {d.article_id: d.duplicate_of for d in result.duplicates if d.kind == "article"}
        assert score(data, full) == (recall, false), "dedup and ArticleIndex disagree"
        print(f"{size} articles ({kb:.1f} KB avg, {len(data.original_of)} planted copies): "
              f"article pass {index_s:.2f} s = {size / index_s:.0f} articles/s; "
              f"dedup {full_s:.2f} s = {size / full_s:.0f} articles/s")
        print("  recall " + ", ".join(f"{lv:.0%} edits {r:.3f}" for lv, r in recall.items())
              + f"; false positives {false}")
    for (a, ta), (b, tb) in pairwise(zip(args.sizes, seconds, strict=True)):
        print(f"{a} -> {b} articles: x{b / a:.1f} in size, x{tb / ta:.1f} in article-pass time")
    engines = list(args.databases)
    if "postgresql" in engines and (problem := postgres_problem(args.postgres)):
        print(f"PostgreSQL left out: {problem}")
        engines.remove("postgresql")
    database_runs(engines, args.db_sizes or args.sizes, args.postgres, tuple(args.batches))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
