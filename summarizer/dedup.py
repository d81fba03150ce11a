"""Exact and near-duplicate removal for paragraphs and whole articles; every removal recorded."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

import xxhash
from datasketch import MinHash, MinHashLSH

from .models import Article, Duplicate

NUM_PERM = 128
ARTICLE_THRESHOLD = 0.8  # Jaccard of word 5-grams: wire copies with small edits
PARAGRAPH_THRESHOLD = 0.8  # Jaccard of word 3-grams, confirmed exactly before removal
PARAGRAPH_MIN_WORDS = 8  # shorter paragraphs are compared exactly only

QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "`": "'", "´": "'"})
WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Span:
    start: int
    end: int


@dataclass
class Deduped:
    articles: list[Article]
    paragraphs: dict[str, list[Span]]  # article id -> spans of the paragraphs left to summarise
    duplicates: list[Duplicate] = field(default_factory=list)


def normalise(text: str) -> str:
    """Text as compared for exact duplicates: case, quotes and whitespace ignored."""
    return " ".join(text.translate(QUOTES).lower().split())


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

    def find(self, article: Article) -> str | None:
        """The id of an indexed article this one copies, exactly or nearly, if any."""
        if article.id in self._shingles:
            return article.id
        exact = self._exact.get(_digest(normalise(article.text)))
        if exact is not None:
            return exact
        return _near_match(self._lsh, _shingles(article.text, 5), self._shingles,
                           ARTICLE_THRESHOLD)

    def add(self, article: Article) -> None:
        if article.id in self._shingles:
            return
        shingles = _shingles(article.text, 5)
        self._exact.setdefault(_digest(normalise(article.text)), article.id)
        self._shingles[article.id] = shingles
        if shingles:
            self._lsh.insert(article.id, _minhash(shingles))


def _dedup_articles(articles: list[Article]) -> tuple[list[Article], list[Duplicate]]:
    index = ArticleIndex()
    kept: dict[str, Article] = {}
    duplicates: list[Duplicate] = []
    for article in articles:
        original = index.find(article)
        if original is not None:
            first = kept[original]
            sources = first.sources + tuple(s for s in article.sources if s not in first.sources)
            kept[original] = first.model_copy(update={"sources": sources})
            duplicates.append(duplicate_of(article, original))
            continue
        index.add(article)
        kept[article.id] = article
    return list(kept.values()), duplicates


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
            key = _digest(normalise(text))
            long_enough = len(WORD.findall(text)) >= PARAGRAPH_MIN_WORDS
            shingles = _shingles(text, 3) if long_enough else set()
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
        if len(shingles & other) / len(shingles | other) >= threshold:
            return key
    return None


def _shingles(text: str, n: int) -> set[str]:
    words = WORD.findall(normalise(text))
    return {" ".join(words[i : i + n]) for i in range(max(0, len(words) - n + 1))}


def _minhash(shingles: set[str]) -> MinHash:
    m = MinHash(num_perm=NUM_PERM, hashfunc=_hash32)
    m.update_batch([s.encode("utf-8") for s in shingles])
    return m


def _hash32(data: bytes) -> int:
    return xxhash.xxh32_intdigest(data)


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()
