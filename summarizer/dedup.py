"""Exact and near-duplicate removal for paragraphs and whole articles; every removal recorded."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Set
from dataclasses import dataclass, field
from functools import lru_cache

import xxhash
from datasketch import MinHash, MinHashLSH

from .byline import strip_dateline
from .clean import is_reporting
from .models import UNKNOWN_OUTLET, Article, Duplicate
from .text import MONTHS, NEGATIONS, NUMBER_WORDS, WEEKDAYS, figure, is_figure, normalise

NUM_PERM = 128
ARTICLE_THRESHOLD = 0.8  # Jaccard of word 5-grams: wire copies with small edits
PARAGRAPH_THRESHOLD = 0.8  # Jaccard of word 3-grams, confirmed exactly before removal
PARAGRAPH_MIN_WORDS = 8  # shorter paragraphs are compared exactly only
# A wire copy: this share of an article's body words lies in paragraphs copied from one article.
COPY_SHARE = 0.8
COPY_MIN_PARAGRAPHS = 3  # one shared wire paragraph (or two) does not make two stories one
# A body paragraph counts as copied at this Jaccard of word 2-grams: one changed word ("neighbour"
# spelt "neighbor") in a 20-word paragraph still counts; a different sentence shares far less.
COPY_PARAGRAPH_THRESHOLD = 0.7

WORD = re.compile(r"\w+")
# Words that change what a sentence says when swapped: days, months and denials.
TELLING_WORDS = frozenset({*WEEKDAYS, *MONTHS, *NEGATIONS})


@dataclass(frozen=True)
class Span:
    start: int
    end: int


@dataclass
class Deduped:
    articles: list[Article]
    paragraphs: dict[str, list[Span]]  # article id -> spans of the paragraphs left to summarise
    duplicates: list[Duplicate] = field(default_factory=list)


def paragraph_spans(text: str) -> list[Span]:
    """Each non-empty line of a cleaned article is a paragraph."""
    spans, pos = [], 0
    for line in text.split("\n"):
        if line.strip():
            spans.append(Span(pos, pos + len(line)))
        pos += len(line) + 1
    return spans


def dedup(articles: list[Article]) -> Deduped:
    """Merge duplicate articles into the first copy, then drop repeated paragraphs."""
    kept, duplicates = _dedup_articles(articles)
    result = Deduped(articles=kept, paragraphs={}, duplicates=duplicates)
    _dedup_paragraphs(result)
    return result


class ArticleIndex:
    """Articles seen so far, to find an exact or near copy of a new one (wire copies)."""

    def __init__(self) -> None:
        self._lsh = MinHashLSH(threshold=ARTICLE_THRESHOLD, num_perm=NUM_PERM)
        self._exact: dict[str, str] = {}
        self._shingles: dict[str, set[str]] = {}
        self._bodies = BodyIndex()

    def find(self, article: Article) -> str | None:
        """The id of an indexed article this one copies, exactly or nearly, if any."""
        if article.id in self._shingles:
            return article.id
        exact = self._exact.get(_digest(normalise(article.text)))
        if exact is not None:
            return exact
        near = _near_match(self._lsh, _shingles(article.text, 5), self._shingles,
                           ARTICLE_THRESHOLD)
        return near if near is not None else self._bodies.copied_from(article)

    def add(self, article: Article) -> None:
        if article.id in self._shingles:
            return
        shingles = _shingles(article.text, 5)
        self._exact.setdefault(_digest(normalise(article.text)), article.id)
        self._shingles[article.id] = shingles
        if shingles:
            self._lsh.insert(article.id, _minhash(shingles))
        self._bodies.add(article)


@dataclass(frozen=True)
class BodySketch:
    """One body paragraph as compared: its exact hash, its size, its word 2-grams and MinHash."""

    digest: str
    words: int
    shingles: frozenset[str]
    minhash: MinHash | None


class BodyIndex:
    """The body paragraphs of indexed articles, to find an article whose body copies one of them.

    A wire copy carries its own headline, byline, dateline and footer around the same paragraphs,
    so the whole text differs more than a near-duplicate's; its body is what gives it away."""

    def __init__(self) -> None:
        self._owners: dict[str, list[str]] = {}  # normalised paragraph hash -> article ids
        self._lsh = MinHashLSH(threshold=COPY_PARAGRAPH_THRESHOLD, num_perm=NUM_PERM)
        self._shingles: dict[str, frozenset[str]] = {}  # "article id:n" -> word 2-grams
        self._order: dict[str, int] = {}  # article id -> when it was indexed (first wins ties)
        self._recent: tuple[str, list[BodySketch]] | None = None

    def add(self, article: Article) -> None:
        if article.id in self._order:
            return
        self._order[article.id] = len(self._order)
        for n, sketch in enumerate(self._sketches(article)):
            owners = self._owners.setdefault(sketch.digest, [])
            if article.id not in owners:
                owners.append(article.id)
            if sketch.minhash is not None:
                key = f"{article.id}:{n}"
                self._shingles[key] = sketch.shingles
                self._lsh.insert(key, sketch.minhash)

    def copied_from(self, article: Article) -> str | None:
        """The one indexed article whose paragraphs hold most of this article's body, if any."""
        sketches = self._sketches(article)
        total = sum(sketch.words for sketch in sketches)
        words: dict[str, int] = {}
        count: dict[str, int] = {}
        for sketch in sketches:
            for owner in self._sources_of(sketch) - {article.id}:
                words[owner] = words.get(owner, 0) + sketch.words
                count[owner] = count.get(owner, 0) + 1
        if not words or total == 0:
            return None
        best = min(words, key=lambda owner: (-words[owner], self._order[owner]))
        if count[best] >= COPY_MIN_PARAGRAPHS and words[best] / total >= COPY_SHARE:
            return best
        return None

    def _sketches(self, article: Article) -> list[BodySketch]:
        # `find` then `add` of one article is the usual order: sketch its paragraphs once.
        if self._recent is None or self._recent[0] != article.id:
            self._recent = (article.id, sketch_body(article.text))
        return self._recent[1]

    def _sources_of(self, sketch: BodySketch) -> set[str]:
        """Indexed articles holding this paragraph, exactly or nearly."""
        owners = set(self._owners.get(sketch.digest, ()))
        if sketch.minhash is not None:
            for key in self._lsh.query(sketch.minhash):
                if key.rsplit(":", 1)[0] in owners:
                    continue  # already known to hold it: no need to compare again
                other = self._shingles[key]
                union = len(sketch.shingles | other)
                if len(sketch.shingles & other) / union >= COPY_PARAGRAPH_THRESHOLD \
                        and same_figures(sketch.shingles, other):
                    owners.add(key.rsplit(":", 1)[0])
        return owners


def body_paragraphs(text: str) -> list[str]:
    """The lines of reporting, each without its dateline: what a wire copy shares verbatim."""
    return [strip_dateline(line.strip()) for line in text.split("\n")
            if line.strip() and is_reporting(line.strip())]


def sketch_body(text: str) -> list[BodySketch]:
    """Each body paragraph of a text, sketched for comparison."""
    sketches = []
    for paragraph in body_paragraphs(text):
        words = len(WORD.findall(paragraph))
        long_enough = words >= PARAGRAPH_MIN_WORDS
        shingles = frozenset(_shingles(paragraph, 2)) if long_enough else frozenset()
        sketches.append(BodySketch(digest=_digest(normalise(paragraph)), words=words,
                                   shingles=shingles,
                                   minhash=_minhash(set(shingles)) if shingles else None))
    return sketches


def _dedup_articles(articles: list[Article]) -> tuple[list[Article], list[Duplicate]]:
    index = ArticleIndex()
    kept: dict[str, Article] = {}
    duplicates: list[Duplicate] = []
    for article in articles:
        original = index.find(article)
        if original is not None:
            first = kept[original]
            kept[original] = first.model_copy(update={"sources": merged_sources(first, article)})
            duplicates.append(duplicate_of(article, original))
            continue
        index.add(article)
        kept[article.id] = article
    return list(kept.values()), duplicates


def merged_sources(first: Article, copy: Article) -> tuple[str, ...]:
    """The outlets of an article and a copy of it. An article that names no outlet is still
    one outlet: it is listed as "unknown outlet", once for each such article."""
    mine = first.outlets()
    return mine + tuple(s for s in copy.outlets() if s == UNKNOWN_OUTLET or s not in mine)


def duplicate_of(article: Article, original: str) -> Duplicate:
    """The record of an article left out as a copy of `original`."""
    return Duplicate(kind="article", article_id=article.id,
                     text=article.title or article.text[:200], duplicate_of=original)


def _dedup_paragraphs(result: Deduped) -> None:
    lsh = MinHashLSH(threshold=PARAGRAPH_THRESHOLD, num_perm=NUM_PERM)
    exact: dict[str, str] = {}  # normalised hash -> article id of the first occurrence
    shingles_of: dict[str, set[str]] = {}
    owner: dict[str, str] = {}  # lsh key -> article id
    for article in result.articles:
        spans = []
        for n, span in enumerate(paragraph_spans(article.text)):
            text = article.text[span.start : span.end]
            # "LONDON (Reuters) - " and "LONDON - " open one wire paragraph in two outlets.
            compared = strip_dateline(text)
            key = _digest(normalise(compared))
            long_enough = len(WORD.findall(compared)) >= PARAGRAPH_MIN_WORDS
            shingles = _shingles(compared, 3) if long_enough else set()
            match = exact.get(key)
            if match is None and shingles:
                near = _near_match(lsh, shingles, shingles_of, PARAGRAPH_THRESHOLD)
                match = owner[near] if near is not None else None
            if match is not None:
                result.duplicates.append(Duplicate(kind="paragraph", article_id=article.id,
                                                   text=text, duplicate_of=match))
                continue
            exact[key] = article.id
            if shingles:
                lsh_key = f"{article.id}:{n}"
                shingles_of[lsh_key] = shingles
                owner[lsh_key] = article.id
                lsh.insert(lsh_key, _minhash(shingles))
            spans.append(span)
        result.paragraphs[article.id] = spans


def _near_match(lsh: MinHashLSH, shingles: set[str], shingles_of: dict[str, set[str]],
                threshold: float) -> str | None:
    """The first stored key whose true Jaccard similarity clears the threshold."""
    if not shingles:
        return None
    for key in sorted(lsh.query(_minhash(shingles))):
        other = shingles_of[key]
        if len(shingles & other) / len(shingles | other) >= threshold \
                and same_figures(shingles, other):
            return str(key)
    return None


def same_figures(shingles: Set[str], other: Set[str]) -> bool:
    """Whether two near-identical texts give the same numbers, days and months, and deny the
    same things. Copies that differ in one are kept apart: "four dead" against "three dead", or
    "has not asked" against "has asked", is a dispute to show, not a copy to drop."""
    return _figures(frozenset(shingles)) == _figures(frozenset(other))


@lru_cache(maxsize=4096)
def _figures(shingles: frozenset[str]) -> frozenset[str]:
    # "Forty families" and "40 families" give the same figure. Every number word counts, "one"
    # too: in two copies of one text, a pronoun "one" stands in both, a count "one" in one only.
    return frozenset(figure(w) for shingle in shingles for w in shingle.split()
                     if is_figure(w) or w in NUMBER_WORDS or w in TELLING_WORDS)


def _shingles(text: str, n: int) -> set[str]:
    words = WORD.findall(normalise(text))
    return {" ".join(words[i : i + n]) for i in range(max(0, len(words) - n + 1))}


def _hash32(data: bytes) -> int:
    return xxhash.xxh32_intdigest(data)


# Copying an empty sketch reuses its permutations; building them anew is 9/10 of a paragraph's cost.
_EMPTY = MinHash(num_perm=NUM_PERM, hashfunc=_hash32)


def _minhash(shingles: set[str]) -> MinHash:
    m = _EMPTY.copy()
    m.update_batch([s.encode("utf-8") for s in shingles])
    return m


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()
