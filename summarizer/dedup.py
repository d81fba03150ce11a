"""Exact and near-duplicate removal for paragraphs and whole articles; every removal recorded.

Texts are compared as sets of word n-grams. Each n-gram is a 64-bit hash of its words (built
with numpy from one hash per word, no strings joined), and each set gets a MinHash signature
under one table of permutations shared by every text (built once, applied to all the sets of an
article in one numpy product); banded LSH over the signatures finds candidates, and the exact
Jaccard similarity of the two sets of n-gram hashes (a 64-bit collision aside) and equal figures
decide. Nothing is merged on a MinHash estimate. (datasketch did this before; its per-sketch
objects and per-element hashing were most of the cost.)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import compress
from operator import itemgetter

import numpy as np
import xxhash
from numpy.typing import NDArray

from .byline import strip_dateline
from .clean import is_reporting
from .models import UNKNOWN_OUTLET, Article, Duplicate
from .text import MONTHS, NEGATIONS, NUMBER_WORDS, ROUGH_NUMBERS, WEEKDAYS, figure, normalise

# Word 3-grams: a substituted, inserted or deleted word breaks 3 of them, not 5, so a copy with
# 2% of its words edited keeps a Jaccard of ~0.89 (~0.82 with 5-grams, often under the cut) while
# a text with a third more of its own reporting still falls under 0.8 with either size.
ARTICLE_SHINGLE = 3
ARTICLE_THRESHOLD = 0.8  # Jaccard of word 3-grams, confirmed exactly: wire copies with small edits
PARAGRAPH_THRESHOLD = 0.8  # Jaccard of word 3-grams, confirmed exactly before removal
PARAGRAPH_MIN_WORDS = 8  # shorter paragraphs are compared exactly only
# A wire copy: this share of an article's body words lies in paragraphs copied from one article.
COPY_SHARE = 0.8
COPY_MIN_PARAGRAPHS = 3  # one shared wire paragraph (or two) does not make two stories one
# A body paragraph counts as copied at this Jaccard of word 2-grams: one changed word ("neighbour"
# spelt "neighbor") in a 20-word paragraph still counts; a different sentence shares far less.
COPY_PARAGRAPH_THRESHOLD = 0.7

# MinHash signatures of 96 values in 24 bands of 4: a pair at Jaccard 0.7 shares a band with
# probability 0.9986, at 0.8 with 0.999997, at 0.3 with 0.18 and at 0.1 with 0.002; a candidate
# costs one exact comparison, never a merge by itself. (datasketch's MinHashLSH picks bands that
# balance false positives against misses: 9 of 13 at 0.8, where a pair at 0.8 is a candidate 40%
# of the time, and 14 of 9 at 0.7, 44% at 0.7: copies just over the cut went unfound.)
BANDS, ROWS = 24, 4
# A text of this many n-grams or more is signed by a quarter of them (chosen by hash): the
# signature costs a quarter, and 100 sampled n-grams still make a pair at 0.8 a candidate.
SAMPLE_FROM = 400
WORD_CACHE = 1 << 17  # words whose hash is kept (~16 MB); the cache starts again past this
NUM_PERM = BANDS * ROWS

WORD = re.compile(r"\w+")
# Words that change what a sentence says when swapped: days, months and denials.
TELLING_WORDS = frozenset({*WEEKDAYS, *MONTHS, *NEGATIONS})
# Words compared as figures: number words ("one" too), rough numbers and telling words; any word
# that starts with a digit is one as well (as `text.is_figure` reads it).
NAMED_FIGURES = frozenset({*NUMBER_WORDS, *ROUGH_NUMBERS, *TELLING_WORDS})

_U64 = NDArray[np.uint64]
_WORD_HASHES: dict[str, int] = {}
_U32 = NDArray[np.uint32]
# One permutation table for every signature: h -> (a * h + b) mod 2**32 with odd a is a
# bijection of 32-bit values; seeded, so signatures are the same in every process.
_PERMS = np.random.default_rng(1)
_A: _U32 = (_PERMS.integers(0, 2**31, (NUM_PERM, 1), dtype=np.uint64) * 2 + 1).astype(np.uint32)
_B: _U32 = _PERMS.integers(0, 2**32, (NUM_PERM, 1), dtype=np.uint64).astype(np.uint32)
# Odd 64-bit multipliers that place each word of an n-gram (a 3-gram at most), and each row
# of a band in its key; a band's own offset keeps equal rows in two bands apart.
_PLACES = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F),
           np.uint64(0x165667B19E3779F9))
_ROW_PLACES = _PERMS.integers(0, 2**63, ROWS, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_BAND_OFFSETS = _PERMS.integers(0, 2**63, BANDS, dtype=np.uint64)


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
    index = ArticleIndex()
    paragraphs = ParagraphIndex()
    kept: dict[str, Article] = {}
    spans: dict[str, list[Span]] = {}
    duplicates: list[Duplicate] = []
    for article in articles:
        analysis = analyse(article.text, paragraphs=True)
        original = index.find(article, analysis)
        if original is not None:
            first = kept[original]
            kept[original] = first.model_copy(update={"sources": merged_sources(first, article)})
            duplicates.append(duplicate_of(article, original))
            continue
        index.add(article, analysis)
        kept[article.id] = article
        # Kept articles keep their order, so their paragraphs can be compared as they come.
        spans[article.id] = paragraphs.keep(article, analysis)
    return Deduped(articles=list(kept.values()), paragraphs=spans,
                   duplicates=duplicates + paragraphs.duplicates)


@dataclass(frozen=True, eq=False, slots=True)
class Sketch:
    """A text as compared: hashes of its word n-grams, their MinHash bands, its figures."""

    grams: _U64  # 64-bit hashes of the n-grams, repeats included
    bands: tuple[int, ...]  # the LSH key of each band of its MinHash signature
    figures: frozenset[str]

    def distinct(self) -> _U64:
        return np.unique(self.grams)

    def matches(self, other: Sketch, threshold: float) -> bool:
        """Whether the exact Jaccard similarity of the two n-gram sets clears the threshold and
        both texts give the same numbers, days and months, and deny the same things: "four
        dead" against "three dead", or "has not asked" against "has asked", is a dispute to
        show, not a copy to drop."""
        if self.figures != other.figures:
            return False
        mine, theirs = self.distinct(), other.distinct()
        shared = np.intersect1d(mine, theirs, assume_unique=True).size
        return bool(shared / (mine.size + theirs.size - shared) >= threshold)


class Bands:
    """Banded LSH: the keys of the sketches that agree with a sketch on a whole band."""

    def __init__(self) -> None:
        # Band key -> the one key in it, or a list once a second arrives: most bands hold one,
        # and not building a list for each halves the cost of adding.
        self._table: dict[int, int | list[int]] = {}

    def add(self, key: int, sketch: Sketch) -> None:
        setdefault = self._table.setdefault
        for band in sketch.bands:
            keys = setdefault(band, key)
            if keys != key:
                if isinstance(keys, int):
                    self._table[band] = [keys, key]
                else:
                    keys.append(key)

    def candidates(self, sketch: Sketch) -> list[int]:
        """Keys sharing a band with the sketch, in the order they were added."""
        found: set[int] = set()
        get = self._table.get
        for band in sketch.bands:
            keys = get(band)
            if keys is None:
                continue
            if isinstance(keys, int):
                found.add(keys)
            else:
                found.update(keys)
        return sorted(found)


@dataclass(frozen=True)
class BodySketch:
    """One body paragraph as compared: its exact hash, its size, its word 2-grams."""

    digest: str
    words: int
    sketch: Sketch | None  # None for a paragraph too short to compare but exactly


@dataclass(frozen=True)
class Analysis:
    """What dedup reads of an article, computed once for `find`, `add` and `keep`."""

    digest: str  # hash of the whole normalised text
    sketch: Sketch | None  # word 3-grams of the whole text
    body: list[BodySketch]
    # Each paragraph (non-empty line) as the paragraph pass compares it: normalised without its
    # dateline, and its word 3-grams; empty unless asked for.
    paragraphs: list[tuple[str, Sketch | None]]


def analyse(text: str, paragraphs: bool = False) -> Analysis:
    """An article's text sketched whole and paragraph by paragraph, its words hashed once;
    `paragraphs` adds what the paragraph pass compares."""
    raw = [line for line in text.split("\n") if line.strip()]
    lines = [line.strip() for line in raw]
    normal = [normalise(line) for line in lines]
    words = [WORD.findall(line) for line in normal]
    flat = [w for own in words for w in own]
    hashes = _hash_words(flat)
    bigrams = _ngram_hashes(hashes, 2)
    telling = _figure_words(flat)  # read once for the article, then picked out line by line
    figures = [frozenset(map(figure, telling.intersection(own))) if telling else frozenset()
               for own in words]
    pieces: list[tuple[_U64, _U64, frozenset[str]]] = []
    if hashes.size >= ARTICLE_SHINGLE:
        grams = _ngram_hashes(hashes, ARTICLE_SHINGLE)
        pieces.append((grams, _sample(grams), frozenset(map(figure, telling))))
    body: list[tuple[str, int, int | None]] = []  # digest, words, piece
    start = 0
    for line, normalised, own, figs in zip(lines, normal, words, figures, strict=True):
        end = start + len(own)
        if is_reporting(line):
            compared = strip_dateline(line)
            if compared == line:
                paragraph, grams = own, bigrams[start : end - 1]
            else:  # the dateline's words are not the paragraph's
                normalised = normalise(compared)
                paragraph = WORD.findall(normalised)
                grams = _ngram_hashes(_hash_words(paragraph), 2)
                figs = frozenset(map(figure, _figure_words(paragraph)))
            long_enough = len(paragraph) >= max(PARAGRAPH_MIN_WORDS, 2)
            body.append((_digest(normalised), len(paragraph),
                         len(pieces) if long_enough else None))
            if long_enough:
                pieces.append((grams, grams, figs))
        start = end
    compared_paragraphs: list[tuple[str, int | None]] = []  # normalised paragraph, piece
    if paragraphs:
        trigrams = _ngram_hashes(hashes, 3)
        start = 0
        for whole_line, line, normalised, own, figs in zip(raw, lines, normal, words, figures,
                                                           strict=True):
            end = start + len(own)
            # "LONDON (Reuters) - " and "LONDON - " open one wire paragraph in two outlets.
            stripped = strip_dateline(whole_line)
            if stripped == line:
                paragraph, grams = own, trigrams[start : end - 2]
            else:
                normalised = normalise(stripped)
                paragraph = WORD.findall(normalised)
                grams = _ngram_hashes(_hash_words(paragraph), 3)
                figs = frozenset(map(figure, _figure_words(paragraph)))
            long_enough = len(paragraph) >= max(PARAGRAPH_MIN_WORDS, 3)
            compared_paragraphs.append((normalised, len(pieces) if long_enough else None))
            if long_enough:
                pieces.append((grams, grams, figs))
            start = end
    sketches = _sketches(pieces)
    whole = sketches[0] if hashes.size >= ARTICLE_SHINGLE else None
    # normalise() joins all whitespace, line breaks too, with one space.
    return Analysis(digest=_digest(" ".join(normal)), sketch=whole,
                    body=[BodySketch(digest=d, words=n, sketch=None if k is None else sketches[k])
                          for d, n, k in body],
                    paragraphs=[(c, None if k is None else sketches[k])
                                for c, k in compared_paragraphs])


class ArticleIndex:
    """Articles seen so far, to find an exact or near copy of a new one (wire copies)."""

    def __init__(self) -> None:
        self._exact: dict[str, str] = {}
        self._indexed: set[str] = set()
        self._bands = Bands()
        self._sketches: list[tuple[str, Sketch]] = []  # band key -> article id, its sketch
        self._bodies = BodyIndex()
        self._recent: tuple[str, Analysis] | None = None

    def find(self, article: Article, analysis: Analysis | None = None) -> str | None:
        """The id of an indexed article this one copies, exactly or nearly, if any
        (`analysis`: the article's, when the caller has it)."""
        if article.id in self._indexed:
            return article.id
        analysis = self._analysis(article, analysis)
        exact = self._exact.get(analysis.digest)
        if exact is not None:
            return exact
        if analysis.sketch is not None:
            for key in self._bands.candidates(analysis.sketch):
                original, sketch = self._sketches[key]
                if analysis.sketch.matches(sketch, ARTICLE_THRESHOLD):
                    return original
        return self._bodies.copied_from(article.id, analysis.body)

    def add(self, article: Article, analysis: Analysis | None = None) -> None:
        if article.id in self._indexed:
            return
        analysis = self._analysis(article, analysis)
        self._indexed.add(article.id)
        self._exact.setdefault(analysis.digest, article.id)
        if analysis.sketch is not None:
            self._bands.add(len(self._sketches), analysis.sketch)
            self._sketches.append((article.id, analysis.sketch))
        self._bodies.add(article.id, analysis.body)

    def _analysis(self, article: Article, given: Analysis | None) -> Analysis:
        # `find` then `add` of one article is the usual order: read it once.
        if given is not None:
            self._recent = (article.id, given)
        elif self._recent is None or self._recent[0] != article.id:
            self._recent = (article.id, analyse(article.text))
        return self._recent[1]


class BodyIndex:
    """The body paragraphs of indexed articles, to find an article whose body copies one of them.

    A wire copy carries its own headline, byline, dateline and footer around the same paragraphs,
    so the whole text differs more than a near-duplicate's; its body is what gives it away."""

    def __init__(self) -> None:
        self._owners: dict[str, list[str]] = {}  # normalised paragraph hash -> article ids
        self._bands = Bands()
        # Band key -> the paragraph's hash and sketch; a paragraph printed verbatim again adds
        # an owner, not a key, so a wire paragraph in a thousand articles is compared once.
        self._sketches: list[tuple[str, Sketch]] = []
        self._order: dict[str, int] = {}  # article id -> when it was indexed (first wins ties)

    def add(self, article_id: str, body: Sequence[BodySketch]) -> None:
        if article_id in self._order:
            return
        self._order[article_id] = len(self._order)
        for paragraph in body:
            owners = self._owners.get(paragraph.digest)
            if owners is None:
                owners = self._owners[paragraph.digest] = []
                if paragraph.sketch is not None:
                    self._bands.add(len(self._sketches), paragraph.sketch)
                    self._sketches.append((paragraph.digest, paragraph.sketch))
            if article_id not in owners:
                owners.append(article_id)

    def copied_from(self, article_id: str, body: Sequence[BodySketch]) -> str | None:
        """The one indexed article whose paragraphs hold most of this article's body, if any."""
        total = sum(paragraph.words for paragraph in body)
        words: dict[str, int] = {}
        count: dict[str, int] = {}
        for paragraph in body:
            for owner in self._sources_of(paragraph) - {article_id}:
                words[owner] = words.get(owner, 0) + paragraph.words
                count[owner] = count.get(owner, 0) + 1
        if not words or total == 0:
            return None
        best = min(words, key=lambda owner: (-words[owner], self._order[owner]))
        if count[best] >= COPY_MIN_PARAGRAPHS and words[best] / total >= COPY_SHARE:
            return best
        return None

    def _sources_of(self, paragraph: BodySketch) -> set[str]:
        """Indexed articles holding this paragraph, exactly or nearly."""
        owners = set(self._owners.get(paragraph.digest, ()))
        if paragraph.sketch is not None:
            for key in self._bands.candidates(paragraph.sketch):
                digest, other = self._sketches[key]
                holders = self._owners[digest]
                if owners.issuperset(holders):
                    continue  # already known to hold it: no need to compare again
                if paragraph.sketch.matches(other, COPY_PARAGRAPH_THRESHOLD):
                    owners.update(holders)
        return owners


class ParagraphIndex:
    """Paragraphs kept so far, to drop a later paragraph that repeats one exactly or nearly."""

    def __init__(self) -> None:
        self._exact: dict[str, str] = {}  # normalised hash -> article id of the first occurrence
        self._bands = Bands()
        self._sketches: list[tuple[str, Sketch]] = []  # band key -> article id, its sketch
        self.duplicates: list[Duplicate] = []

    def keep(self, article: Article, analysis: Analysis | None = None) -> list[Span]:
        """The spans of an article's paragraphs that no earlier paragraph repeats."""
        if analysis is None or not analysis.paragraphs:
            analysis = analyse(article.text, paragraphs=True)
        spans = paragraph_spans(article.text)
        kept = []
        for span, (normal, sketch) in zip(spans, analysis.paragraphs, strict=True):
            text = article.text[span.start : span.end]
            key = _digest(normal)
            match = self._exact.get(key)
            if match is None and sketch is not None:
                match = self._near(sketch)
            if match is not None:
                self.duplicates.append(Duplicate(kind="paragraph", article_id=article.id,
                                                 text=text, duplicate_of=match))
                continue
            self._exact[key] = article.id
            if sketch is not None:
                self._bands.add(len(self._sketches), sketch)
                self._sketches.append((article.id, sketch))
            kept.append(span)
        return kept

    def _near(self, sketch: Sketch) -> str | None:
        """The article of the first kept paragraph this one nearly repeats, if any."""
        for key in self._bands.candidates(sketch):
            owner, other = self._sketches[key]
            if sketch.matches(other, PARAGRAPH_THRESHOLD):
                return owner
        return None


def merged_sources(first: Article, copy: Article) -> tuple[str, ...]:
    """The outlets of an article and a copy of it. An article that names no outlet is still
    one outlet: it is listed as "unknown outlet", once for each such article."""
    mine = first.outlets()
    return mine + tuple(s for s in copy.outlets() if s == UNKNOWN_OUTLET or s not in mine)


def duplicate_of(article: Article, original: str) -> Duplicate:
    """The record of an article left out as a copy of `original`."""
    return Duplicate(kind="article", article_id=article.id,
                     text=article.title or article.text[:200], duplicate_of=original)


def _hash_words(words: Sequence[str]) -> _U64:
    """A 64-bit hash of each word; words seen before are looked up, not hashed again."""
    hashes = list(map(_WORD_HASHES.get, words))
    try:
        return np.fromiter(hashes, dtype=np.uint64, count=len(hashes))
    except TypeError:  # a word not seen before (None): cheaper to learn than to look for
        pass
    if len(_WORD_HASHES) > WORD_CACHE:
        _WORD_HASHES.clear()
    for i, value in enumerate(hashes):
        if value is None:
            hashes[i] = _WORD_HASHES[words[i]] = xxhash.xxh64_intdigest(words[i].encode())
    return np.fromiter(hashes, dtype=np.uint64, count=len(hashes))


def _sample(grams: _U64) -> _U64:
    """The n-grams a long text is signed by: a quarter of them, picked by their hash, so that two
    texts keep the same ones and the Jaccard similarity of the samples stays that of the sets."""
    if grams.size < SAMPLE_FROM:
        return grams
    kept: _U64 = grams[(grams & np.uint64(3)) == 0]
    return kept if kept.size else grams


def _ngram_hashes(hashes: _U64, n: int) -> _U64:
    """The hash of the n words from each position (those running past the end left out)."""
    count = hashes.size - n + 1
    if count <= 0:
        return np.empty(0, dtype=np.uint64)
    grams = hashes[:count] * _PLACES[0]
    for k in range(1, n):
        grams += hashes[k : k + count] * _PLACES[k]
    return grams


def _sketches(pieces: Sequence[tuple[_U64, _U64, frozenset[str]]]) -> list[Sketch]:
    """A sketch of each text given as (its n-gram hashes, those to sign, its figures), all
    signed at once: one product with the shared permutation table, one minimum per text, and
    band keys. Every set to sign is non-empty."""
    if not pieces:
        return []
    signed = [piece[1] for piece in pieces]
    values = (np.concatenate(signed) >> np.uint64(32)).astype(np.uint32)
    permuted = _A * values  # (NUM_PERM, n-grams), wrapping mod 2**32
    permuted += _B
    starts = np.cumsum([0, *(piece.size for piece in signed[:-1])])
    signatures = np.minimum.reduceat(permuted, starts, axis=1).T  # (sets, NUM_PERM)
    rows = signatures.reshape(len(pieces), BANDS, ROWS).astype(np.uint64)
    bands = (rows * _ROW_PLACES).sum(axis=2, dtype=np.uint64) + _BAND_OFFSETS
    # Tuples of ints, not lists: the garbage collector stops tracking them, and a big index
    # holds hundreds of thousands.
    return [Sketch(grams=grams, bands=tuple(keys), figures=figures)
            for (grams, _, figures), keys in zip(pieces, bands.tolist(), strict=True)]


def _figure_words(words: Iterable[str]) -> set[str]:
    """The words that give a figure (compared as `text.figure` reads them): "Forty families"
    and "40 families" give the same one. Every number word counts, "one" too: in two copies of
    one text, a pronoun "one" stands in both, a count "one" in one only."""
    distinct = list(set(words))
    found = set(NAMED_FIGURES.intersection(distinct))
    # Words that start with a digit, picked without a Python-level loop (the hot path).
    found.update(compress(distinct, map(str.isdigit, map(itemgetter(0), distinct))))
    return found


def _digest(text: str) -> str:
    return xxhash.xxh3_128_hexdigest(text.encode("utf-8"))
