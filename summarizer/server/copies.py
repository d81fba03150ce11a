"""Article dedup state in the database: each stored article's exact digest, its MinHash LSH band
keys and n-gram hashes, and those of its body paragraphs, written in the transaction that stores
it and read back by indexed queries, so that every process checks a new article against every
stored one and none holds an index in memory.

The analysis and the decision are `dedup.py`'s (one permutation table, word 3-grams, 24 bands of
4, exact Jaccard and equal figures; body paragraphs on word 2-grams): the band keys find
candidates in SQL, their stored n-gram hashes confirm in Python. The caller runs `find` and
`insert` in one transaction that only one writer holds at a time (`lock`), so two processes
cannot both store one story.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ..dedup import (
    ARTICLE_THRESHOLD,
    COPY_MIN_PARAGRAPHS,
    COPY_PARAGRAPH_THRESHOLD,
    COPY_SHARE,
    Analysis,
    Sketch,
    analyse,
)


class Session(Protocol):
    """A connection lent for a few statements, of either engine."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any: ...


# Any fixed number, apart from the migration lock's: held by the transaction that checks and
# stores articles, so that one writer at a time decides what is a copy (see `lock`).
DEDUP_LOCK = 7_351_832_615_002
BACKFILL_BATCH = 500  # stored articles read at a time when the migration fills the tables

# The statements that create the tables (schema migration 6): `{blob}` is the engine's bytes type;
# `{clustered}` keeps a SQLite table in its primary key's b-tree (WITHOUT ROWID), so that a row
# is written once, not to a table and an index.
SCHEMA = (
    # One row per distinct normalised text: the first article stored with it.
    """CREATE TABLE article_digests (
        digest TEXT PRIMARY KEY,
        article_id TEXT NOT NULL
    )""",
    # The word 3-gram hashes of each stored article (little-endian uint64) and its figures
    # (JSON list), keyed by the article's row so that the first stored wins.
    """CREATE TABLE article_sketches (
        seq BIGINT PRIMARY KEY,
        article_id TEXT NOT NULL,
        grams {blob} NOT NULL,
        figures TEXT NOT NULL
    )""",
    """CREATE TABLE article_bands (
        band BIGINT NOT NULL,
        seq BIGINT NOT NULL,
        PRIMARY KEY (band, seq)
    ){clustered}""",
    # Body paragraphs are keyed by 64 bits of their normalised hash. Which stored articles
    # (rows) hold each one verbatim:
    """CREATE TABLE body_paragraphs (
        paragraph BIGINT NOT NULL,
        seq BIGINT NOT NULL,
        PRIMARY KEY (paragraph, seq)
    ){clustered}""",
    # Each distinct body paragraph long enough to compare: its word 2-gram hashes, its figures,
    # and its band keys; a paragraph printed again adds a holder above, not a sketch.
    """CREATE TABLE paragraph_sketches (
        paragraph BIGINT PRIMARY KEY,
        grams {blob} NOT NULL,
        figures TEXT NOT NULL
    )""",
    """CREATE TABLE paragraph_bands (
        band BIGINT NOT NULL,
        paragraph BIGINT NOT NULL,
        PRIMARY KEY (band, paragraph)
    ){clustered}""",
)


@dataclass(frozen=True)
class Dialect:
    """What differs between the engines here: how a list of values is passed (`IN (SELECT
    value FROM json_each(?))` with a JSON text on SQLite, `= ANY(?)` with an array on
    PostgreSQL), the bytes type, and how rows a subquery names are looked up."""

    name: str

    @property
    def any_of(self) -> str:
        return "= ANY(?)" if self.name == "postgresql" else "IN (SELECT value FROM json_each(?))"

    @property
    def blob(self) -> str:
        return "BYTEA" if self.name == "postgresql" else "BLOB"

    def in_rows(self, subquery: str) -> str:
        """`IN (subquery)`; on PostgreSQL its rows as an array first, so that the outer table
        is probed by its index whatever the planner believes of the tables' sizes."""
        return f"= ANY(ARRAY({subquery}))" if self.name == "postgresql" else f"IN ({subquery})"

    def values(self, items: Iterable[Any]) -> Any:
        listed = list(items)
        return listed if self.name == "postgresql" else json.dumps(listed)


def lock(db: Session, dialect: str) -> None:
    """Make this transaction the one writer that checks and stores articles, until it ends.

    SQLite's BEGIN IMMEDIATE already holds the database's one write lock. On PostgreSQL one
    transaction-scoped advisory lock does: the check reads band keys of the whole text and of
    every body paragraph (hundreds per article), more than PostgreSQL's lock table should hold
    per transaction, and locking fewer would let two wire copies pass each other. What runs
    under it is a few index look-ups and inserts per article; the analysis runs before, outside
    it. Every look-up here is by key, so sequential scans are ruled out for the transaction:
    while the tables grow faster than autovacuum samples them, the planner would otherwise
    scan a table it still believes small."""
    if dialect == "postgresql":
        db.execute("SELECT pg_advisory_xact_lock(?)", (DEDUP_LOCK,))
        db.execute("SET LOCAL enable_seqscan = off")


def find(db: Session, dialect: str, article_id: str, analysis: Analysis) -> str | None:
    """The id of the stored article that this one copies (as `dedup.ArticleIndex.find` decides:
    the same id, the same normalised text, a near copy of the whole text, or a body copied from
    one article), if any."""
    sql = Dialect(dialect)
    bands = signed(analysis.sketch.bands) if analysis.sketch is not None else []
    rows = db.execute(
        # 0: this very article stored; 1: its text stored; 2: candidates by band, oldest first
        f"SELECT 0 AS kind, 0 AS seq, id, CAST(NULL AS {sql.blob}) AS grams, "
        "CAST(NULL AS TEXT) AS figures FROM articles WHERE id = ? "
        "UNION ALL SELECT 1, 0, article_id, NULL, NULL FROM article_digests WHERE digest = ? "
        "UNION ALL SELECT 2, seq, article_id, grams, figures FROM article_sketches WHERE seq "
        + sql.in_rows(f"SELECT seq FROM article_bands WHERE band {sql.any_of}")
        + " ORDER BY kind, seq",
        (article_id, analysis.digest, sql.values(bands)),
    ).fetchall()
    for kind, _, original, grams, figures in rows:
        if kind < 2:
            return str(original)
        assert analysis.sketch is not None
        if analysis.sketch.matches(stored_sketch(grams, figures), ARTICLE_THRESHOLD):
            return str(original)
    return copied_from(db, sql, analysis)


def copied_from(db: Session, sql: Dialect, analysis: Analysis) -> str | None:
    """The one stored article whose paragraphs hold most of this body, if any (as
    `dedup.BodyIndex.copied_from` decides, for an article not stored: see `find`)."""
    body = analysis.body
    total = sum(paragraph.words for paragraph in body)
    if not body or total == 0:
        return None
    keys = [paragraph_key(p.digest) for p in body]
    by_band: dict[int, list[int]] = {}  # band key -> the paragraphs (their place) that have it
    for n, paragraph in enumerate(body):
        if paragraph.sketch is not None:
            for band in signed(paragraph.sketch.bands):
                by_band.setdefault(band, []).append(n)
    near: dict[int, set[int]] = {}  # paragraph of this article -> stored paragraphs to compare
    holders: dict[int, set[int]] = {}  # stored paragraph -> rows of the articles holding it
    for kind, a, b in db.execute(
            f"SELECT 0, band, paragraph FROM paragraph_bands WHERE band {sql.any_of} "
            f"UNION ALL SELECT 1, paragraph, seq FROM body_paragraphs WHERE paragraph "
            f"{sql.any_of}", (sql.values(by_band), sql.values(set(keys)))).fetchall():
        if kind == 1:
            holders.setdefault(a, set()).add(b)
            continue
        for n in by_band[a]:
            if b != keys[n]:  # the same text: its holders are found verbatim
                near.setdefault(n, set()).add(b)
    sketches: dict[int, Sketch] = {}
    candidates = set().union(*near.values()) if near else set()
    if candidates:
        for kind, key, seq, grams, figures in db.execute(
                "SELECT 0, paragraph, 0, grams, figures FROM paragraph_sketches "
                f"WHERE paragraph {sql.any_of} UNION ALL SELECT 1, paragraph, seq, NULL, NULL "
                f"FROM body_paragraphs WHERE paragraph {sql.any_of}",
                (sql.values(candidates), sql.values(candidates))).fetchall():
            if kind == 0:
                sketches[key] = stored_sketch(grams, figures)
            else:
                holders.setdefault(key, set()).add(seq)
    words: dict[int, int] = {}  # holding article's row -> words of this body it holds
    count: dict[int, int] = {}
    for n, paragraph in enumerate(body):
        owners = set(holders.get(keys[n], ()))
        for key in sorted(near.get(n, ())):
            others = holders.get(key, set())
            if owners.issuperset(others):
                continue  # nothing more to learn from comparing
            assert paragraph.sketch is not None
            if paragraph.sketch.matches(sketches[key], COPY_PARAGRAPH_THRESHOLD):
                owners.update(others)
        for owner in owners:
            words[owner] = words.get(owner, 0) + paragraph.words
            count[owner] = count.get(owner, 0) + 1
    if not words:
        return None
    # The most words, the first stored on a tie (the article itself is not stored: `find`).
    best = min(words, key=lambda seq: (-words[seq], seq))
    if count[best] < COPY_MIN_PARAGRAPHS or words[best] / total < COPY_SHARE:
        return None
    row = db.execute("SELECT id FROM articles WHERE seq = ?", (best,)).fetchone()
    return None if row is None else str(row[0])


# An article's row, in the order `insert` takes its values.
ARTICLE_INSERT = ("INSERT INTO articles (id, day, origin, text, title, source, url, published, "
                  "sources, removed, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                  "ON CONFLICT (id) DO NOTHING RETURNING seq")


def insert(db: Session, dialect: str, row: Sequence[Any], analysis: Analysis) -> bool:
    """Insert an article's row (ARTICLE_INSERT's values, its id first) and what `find` reads of
    it; False, and nothing written, if its id is stored already. On PostgreSQL one statement,
    so that a network round trip is paid once."""
    if dialect == "postgresql":
        return _insert_postgres(db, row, analysis)
    found = db.execute(ARTICLE_INSERT, row).fetchone()
    if found is None:
        return False
    write(db, found[0], row[0], analysis)
    return True


def write(db: Session, seq: int, article_id: str, analysis: Analysis) -> None:
    """Keep what `find` reads of an article stored in row `seq` (in either engine)."""
    db.execute("INSERT INTO article_digests (digest, article_id) VALUES (?, ?) "
               "ON CONFLICT (digest) DO NOTHING", (analysis.digest, article_id))
    if analysis.sketch is not None:
        db.execute("INSERT INTO article_sketches (seq, article_id, grams, figures) "
                   "VALUES (?, ?, ?, ?)",
                   (seq, article_id, *stored_form(analysis.sketch)))
        _insert_rows(db, "article_bands (band, seq)",
                     [(band, seq) for band in signed(analysis.sketch.bands)])
    _insert_rows(db, "body_paragraphs (paragraph, seq)",
                 [(key, seq) for key in dict.fromkeys(paragraph_key(p.digest)
                                                      for p in analysis.body)])
    # A paragraph stored before keeps its sketch and bands: only a new one gets them. One
    # statement for all of them (SQLite takes 32,766 values: a body has far fewer paragraphs).
    sketched = _sketched(analysis)
    if not sketched:
        return
    values = [v for key, sketch in sketched.items() for v in (key, *stored_form(sketch))]
    new = db.execute("INSERT INTO paragraph_sketches (paragraph, grams, figures) VALUES "
                     + ", ".join(["(?, ?, ?)"] * len(sketched))
                     + " ON CONFLICT (paragraph) DO NOTHING RETURNING paragraph",
                     values).fetchall()
    _insert_rows(db, "paragraph_bands (band, paragraph)",
                 [(band, key) for (key,) in new for band in signed(sketched[key].bands)])


def _insert_postgres(db: Session, row: Sequence[Any], analysis: Analysis) -> bool:
    """`insert` on PostgreSQL: every insert a data-modifying CTE of one statement, each reading
    the article's new row (none when its id was stored: then nothing is written)."""
    sketch = analysis.sketch
    whole = stored_form(sketch) if sketch is not None else (b"", "[]")
    sketched = _sketched(analysis)
    forms = [stored_form(s) for s in sketched.values()]
    paragraph_bands = [(key, band) for key, s in sketched.items() for band in signed(s.bands)]
    found = db.execute(
        f"WITH a AS ({ARTICLE_INSERT}), "
        "d AS (INSERT INTO article_digests (digest, article_id) SELECT ?, ? FROM a "
        "ON CONFLICT (digest) DO NOTHING), "
        "s AS (INSERT INTO article_sketches (seq, article_id, grams, figures) "
        "SELECT seq, ?, ?, ? FROM a WHERE ?), "
        "b AS (INSERT INTO article_bands (band, seq) SELECT k, seq FROM a, unnest(?::bigint[]) k), "
        "o AS (INSERT INTO body_paragraphs (paragraph, seq) "
        "SELECT x, seq FROM a, unnest(?::bigint[]) x), "
        "p AS (INSERT INTO paragraph_sketches (paragraph, grams, figures) "
        "SELECT x.* FROM a, unnest(?::bigint[], ?::bytea[], ?::text[]) x "
        "ON CONFLICT (paragraph) DO NOTHING RETURNING paragraph), "
        "q AS (INSERT INTO paragraph_bands (band, paragraph) SELECT y.band, p.paragraph FROM p "
        "JOIN unnest(?::bigint[], ?::bigint[]) y (paragraph, band) ON y.paragraph = p.paragraph) "
        "SELECT seq FROM a",
        (*row, analysis.digest, row[0], row[0], *whole, sketch is not None,
         signed(sketch.bands) if sketch is not None else [],
         list(dict.fromkeys(paragraph_key(p.digest) for p in analysis.body)),
         list(sketched), [f[0] for f in forms], [f[1] for f in forms],
         [k for k, _ in paragraph_bands], [b for _, b in paragraph_bands]),
    ).fetchone()
    return found is not None


def _sketched(analysis: Analysis) -> dict[int, Sketch]:
    """The body paragraphs long enough to compare, by key (each once)."""
    return {paragraph_key(p.digest): p.sketch for p in analysis.body if p.sketch is not None}


def paragraph_key(digest: str) -> int:
    """A paragraph's key: the first 64 bits of its normalised hash, as a signed BIGINT."""
    return int.from_bytes(bytes.fromhex(digest[:16]), "big", signed=True)


def backfill(db: Session, dialect: str) -> None:  # noqa: ARG001 - a migration step's signature
    """Fill the tables from the articles already stored, oldest first (schema migration 6)."""
    last = 0
    while True:
        rows = db.execute("SELECT seq, id, text FROM articles WHERE seq > ? ORDER BY seq "
                          "LIMIT ?", (last, BACKFILL_BATCH)).fetchall()
        if not rows:
            return
        for seq, article_id, text in rows:
            write(db, seq, article_id, analyse(text))
        last = rows[-1][0]


def signed(keys: Sequence[int]) -> list[int]:
    """64-bit band keys as the signed integers a BIGINT column holds."""
    return np.asarray(keys, dtype=np.uint64).view(np.int64).tolist()  # type: ignore[no-any-return]


def stored_form(sketch: Sketch) -> tuple[bytes, str]:
    """A sketch's n-gram hashes (little-endian, as analysed: `Sketch.matches` takes the
    distinct ones) and its figures, as stored."""
    return (sketch.grams.astype("<u8").tobytes(),
            json.dumps(sorted(sketch.figures), ensure_ascii=False))


def stored_sketch(grams: bytes, figures: str) -> Sketch:
    """A stored sketch, ready to compare (its band keys are not needed then)."""
    return Sketch(grams=np.frombuffer(grams, dtype="<u8").astype(np.uint64), bands=(),
                  figures=frozenset(json.loads(figures)))


def _insert_rows(db: Session, into: str, rows: Sequence[tuple[Any, Any]]) -> None:
    """Insert rows of two columns, many to a statement (SQLite takes 32,766 values at most)."""
    for start in range(0, len(rows), 16_000):
        chunk = rows[start : start + 16_000]
        db.execute(f"INSERT INTO {into} VALUES " + ", ".join(["(?, ?)"] * len(chunk)),
                   [value for pair in chunk for value in pair])
