"""Article dedup state in the database: each stored article's exact digest, its MinHash LSH band
keys and n-gram hashes, and those of its body paragraphs, written in the transaction that stores
it and read back by indexed queries, so that every process checks a new article against every
stored one and none holds an index in memory.

The analysis and the decision are `dedup.py`'s (one permutation table, word 3-grams, 24 bands of
4, exact Jaccard and equal figures; body paragraphs on word 2-grams): the band keys find
candidates in SQL, their stored n-gram hashes confirm in Python. The caller runs `find` and
`write` in one transaction that only one writer holds at a time (`lock`), so two processes
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

# The statements that create the tables (schema migration 6); `{blob}` is the engine's bytes type.
SCHEMA = (
    # One row per distinct normalised text: the first article stored with it.
    """CREATE TABLE article_digests (
        digest TEXT PRIMARY KEY,
        article_id TEXT NOT NULL
    )""",
    # The word 3-gram hashes of each stored article (distinct, sorted, little-endian uint64) and
    # its figures (JSON list), keyed by the article's row so that the first stored wins.
    """CREATE TABLE article_sketches (
        seq BIGINT PRIMARY KEY,
        article_id TEXT NOT NULL,
        grams {blob} NOT NULL,
        figures TEXT NOT NULL
    )""",
    "CREATE TABLE article_bands (band BIGINT NOT NULL, seq BIGINT NOT NULL)",
    "CREATE INDEX article_bands_band ON article_bands (band)",
    # Which stored articles hold each body paragraph (normalised hash), verbatim.
    "CREATE TABLE body_paragraphs (digest TEXT NOT NULL, seq BIGINT NOT NULL)",
    "CREATE INDEX body_paragraphs_digest ON body_paragraphs (digest)",
    # Each distinct body paragraph long enough to compare: its word 2-gram hashes, its figures,
    # and its band keys; a paragraph printed again adds an owner above, not a sketch.
    """CREATE TABLE paragraph_sketches (
        seq {serial},
        digest TEXT NOT NULL UNIQUE,
        grams {blob} NOT NULL,
        figures TEXT NOT NULL
    )""",
    "CREATE TABLE paragraph_bands (band BIGINT NOT NULL, paragraph BIGINT NOT NULL)",
    "CREATE INDEX paragraph_bands_band ON paragraph_bands (band)",
)


@dataclass(frozen=True)
class Dialect:
    """How a list of values is passed to one engine: `IN (SELECT value FROM json_each(?))` with
    a JSON text on SQLite, `= ANY(?)` with an array on PostgreSQL."""

    name: str

    @property
    def any_of(self) -> str:
        return "= ANY(?)" if self.name == "postgresql" else "IN (SELECT value FROM json_each(?))"

    def values(self, items: Iterable[Any]) -> Any:
        listed = list(items)
        return listed if self.name == "postgresql" else json.dumps(listed)


def lock(db: Session, dialect: str) -> None:
    """Make this transaction the one writer that checks and stores articles, until it ends.

    SQLite's BEGIN IMMEDIATE already holds the database's one write lock. On PostgreSQL one
    transaction-scoped advisory lock does: the check reads band keys of the whole text and of
    every body paragraph (hundreds per article), more than PostgreSQL's lock table should hold
    per transaction, and locking fewer would let two wire copies pass each other. What runs
    under it is indexed look-ups and inserts; the analysis runs before, outside it."""
    if dialect == "postgresql":
        db.execute("SELECT pg_advisory_xact_lock(?)", (DEDUP_LOCK,))


def find(db: Session, dialect: str, article_id: str, analysis: Analysis) -> str | None:
    """The id of the stored article that this one copies (as `dedup.ArticleIndex.find` decides:
    the same id, the same normalised text, a near copy of the whole text, or a body copied from
    one article), if any."""
    sql = Dialect(dialect)
    same, exact = db.execute(
        "SELECT (SELECT id FROM articles WHERE id = ?), "
        "(SELECT article_id FROM article_digests WHERE digest = ?)",
        (article_id, analysis.digest),
    ).fetchone()
    if same is not None:
        return str(same)
    if exact is not None:
        return str(exact)
    if analysis.sketch is not None:
        rows = db.execute(
            "SELECT article_id, grams, figures FROM article_sketches WHERE seq IN "
            f"(SELECT seq FROM article_bands WHERE band {sql.any_of}) ORDER BY seq",
            (sql.values(signed(analysis.sketch.bands)),),
        ).fetchall()
        for original, grams, figures in rows:
            if analysis.sketch.matches(stored_sketch(grams, figures), ARTICLE_THRESHOLD):
                return str(original)
    return copied_from(db, sql, article_id, analysis)


def copied_from(db: Session, sql: Dialect, article_id: str, analysis: Analysis) -> str | None:
    """The one stored article whose paragraphs hold most of this article's body, if any (as
    `dedup.BodyIndex.copied_from` decides)."""
    body = analysis.body
    total = sum(paragraph.words for paragraph in body)
    if not body or total == 0:
        return None
    # Stored paragraphs that share a band with one of these, compared with that one.
    by_band: dict[int, list[int]] = {}  # band key -> the paragraphs (their place) that have it
    for n, paragraph in enumerate(body):
        if paragraph.sketch is not None:
            for band in signed(paragraph.sketch.bands):
                by_band.setdefault(band, []).append(n)
    near: dict[int, set[int]] = {}  # paragraph of this article -> rows of candidates
    digest_of: dict[int, str] = {}  # candidate row -> its digest
    if by_band:
        for band, row, digest in db.execute(
                "SELECT b.band, b.paragraph, s.digest FROM paragraph_bands b "
                f"JOIN paragraph_sketches s ON s.seq = b.paragraph WHERE b.band {sql.any_of}",
                (sql.values(by_band),)).fetchall():
            for n in by_band[band]:
                if digest != body[n].digest:  # the same text: its owners are found exactly
                    near.setdefault(n, set()).add(row)
                    digest_of[row] = digest
    sketches: dict[int, Sketch] = {}
    if digest_of:
        for row, grams, figures in db.execute(
                f"SELECT seq, grams, figures FROM paragraph_sketches WHERE seq {sql.any_of}",
                (sql.values(digest_of),)).fetchall():
            sketches[row] = stored_sketch(grams, figures)
    holders: dict[str, set[tuple[int, str]]] = {}  # paragraph digest -> (row, id) of owners
    wanted = {p.digest for p in body} | set(digest_of.values())
    for digest, seq, owner in db.execute(
            "SELECT b.digest, a.seq, a.id FROM body_paragraphs b JOIN articles a "
            f"ON a.seq = b.seq WHERE b.digest {sql.any_of}", (sql.values(wanted),)).fetchall():
        holders.setdefault(digest, set()).add((seq, owner))
    words: dict[tuple[int, str], int] = {}
    count: dict[tuple[int, str], int] = {}
    for n, paragraph in enumerate(body):
        owners = set(holders.get(paragraph.digest, ()))
        for row in sorted(near.get(n, ())):
            others = holders.get(digest_of[row], set())
            if owners.issuperset(others):
                continue
            assert paragraph.sketch is not None
            if paragraph.sketch.matches(sketches[row], COPY_PARAGRAPH_THRESHOLD):
                owners.update(others)
        for owner in owners:
            if owner[1] == article_id:
                continue
            words[owner] = words.get(owner, 0) + paragraph.words
            count[owner] = count.get(owner, 0) + 1
    if not words:
        return None
    best = min(words, key=lambda owner: (-words[owner], owner[0]))
    if count[best] >= COPY_MIN_PARAGRAPHS and words[best] / total >= COPY_SHARE:
        return best[1]
    return None


def write(db: Session, dialect: str, seq: int, article_id: str, analysis: Analysis) -> None:
    """Keep what `find` reads of a newly stored article (its row `seq`)."""
    sql = Dialect(dialect)
    db.execute("INSERT INTO article_digests (digest, article_id) VALUES (?, ?) "
               "ON CONFLICT (digest) DO NOTHING", (analysis.digest, article_id))
    if analysis.sketch is not None:
        db.execute("INSERT INTO article_sketches (seq, article_id, grams, figures) "
                   "VALUES (?, ?, ?, ?)",
                   (seq, article_id, *stored_form(analysis.sketch)))
        _insert_pairs(db, sql, "article_bands (band, seq)",
                      [(band, seq) for band in signed(analysis.sketch.bands)])
    digests = list(dict.fromkeys(p.digest for p in analysis.body))
    _insert_pairs(db, sql, "body_paragraphs (seq, digest)", [(seq, d) for d in digests],
                  ("bigint", "text"))
    sketched = {p.digest: p.sketch for p in analysis.body if p.sketch is not None}
    bands: list[tuple[int, int]] = []
    for digest, sketch in sketched.items():
        row = db.execute("INSERT INTO paragraph_sketches (digest, grams, figures) "
                         "VALUES (?, ?, ?) ON CONFLICT (digest) DO NOTHING RETURNING seq",
                         (digest, *stored_form(sketch))).fetchone()
        if row is not None:  # a paragraph stored before keeps its sketch and bands
            bands.extend((band, row[0]) for band in signed(sketch.bands))
    _insert_pairs(db, sql, "paragraph_bands (band, paragraph)", bands)


def backfill(db: Session, dialect: str) -> None:
    """Fill the tables from the articles already stored, oldest first (schema migration 6)."""
    last = 0
    while True:
        rows = db.execute("SELECT seq, id, text FROM articles WHERE seq > ? ORDER BY seq "
                          "LIMIT ?", (last, BACKFILL_BATCH)).fetchall()
        if not rows:
            return
        for seq, article_id, text in rows:
            write(db, dialect, seq, article_id, analyse(text))
        last = rows[-1][0]


def signed(keys: Sequence[int]) -> list[int]:
    """64-bit band keys as the signed integers a BIGINT column holds."""
    return np.asarray(keys, dtype=np.uint64).view(np.int64).tolist()  # type: ignore[no-any-return]


def stored_form(sketch: Sketch) -> tuple[bytes, str]:
    """A sketch's n-gram hashes (distinct, sorted, little-endian) and figures, as stored."""
    return (sketch.distinct().astype("<u8").tobytes(),
            json.dumps(sorted(sketch.figures), ensure_ascii=False))


def stored_sketch(grams: bytes, figures: str) -> Sketch:
    """A stored sketch, ready to compare (its band keys are not needed then)."""
    return Sketch(grams=np.frombuffer(grams, dtype="<u8").astype(np.uint64), bands=(),
                  figures=frozenset(json.loads(figures)))


def _insert_pairs(db: Session, sql: Dialect, into: str, pairs: Sequence[tuple[Any, Any]],
                  types: tuple[str, str] = ("bigint", "bigint")) -> None:
    """Insert rows of two columns (of these PostgreSQL types) in one statement."""
    if not pairs:
        return
    if sql.name == "postgresql":
        first, second = zip(*pairs, strict=True)
        db.execute(f"INSERT INTO {into} SELECT * FROM unnest(?::{types[0]}[], ?::{types[1]}[])",
                   (list(first), list(second)))
    else:
        db.execute(f"INSERT INTO {into} SELECT value ->> 0, value ->> 1 FROM json_each(?)",
                   (json.dumps(pairs),))
