"""Meta-evaluation of a support scorer on human-labelled factual-consistency data (JSONL).

Rows carry `id, benchmark, origin, split (dev|test), document, summary, label` (1 = consistent).
The threshold is always chosen on the dev rows of the same file and origin, then applied to the
split being reported, so that no figure is tuned on the rows it describes. The offline checker
is also measured at the product's own cuts (`checking.offline.DEFAULT_THRESHOLD`, below which a
summary is flagged unsupported, and `SUPPORTED_CUT`), and beside two plain baselines scored on
the same rows: bigram precision and name/number novelty.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

from ..checking import offline
from ..checking.offline import Sources
from ..text import NAME_CONNECTORS, extract_numbers, find_entities, number_found, tokenize

if TYPE_CHECKING:
    from ..checking.judge import LLMJudge

Scorer = Callable[[str, str], float]  # (document, summary) -> score, higher = more consistent
AsyncScorer = Callable[[str, str], Awaitable[float]]  # the same, for model-backed scorers

REQUIRED = ("document", "summary", "label", "split")


@dataclass(frozen=True)
class Row:
    id: str
    benchmark: str
    origin: str
    split: str
    document: str
    summary: str
    label: int


@dataclass(frozen=True)
class CutFigures:
    """A scorer at a fixed cut (not chosen on these rows): predicted consistent at or above it."""

    threshold: float
    balanced_accuracy: float
    flagged_consistent: float | None  # consistent `split` rows scored below the cut; None: none


@dataclass(frozen=True)
class Evaluation:
    """Figures for one file/origin/split: threshold from dev rows, metrics on `split` rows."""

    path: str
    origin: str | None
    split: str
    rows: int
    positives: int
    dev_rows: int
    threshold: float
    balanced_accuracy: float
    roc_auc: float
    limit: int | None = None  # rows sampled from each of dev and `split`; None: all rows
    available_rows: int | None = None  # `split` rows before sampling
    available_dev_rows: int | None = None  # dev rows before sampling
    scorer: str = "checker"
    default_cut: CutFigures | None = None  # the offline checker at its DEFAULT_THRESHOLD
    supported_cut: CutFigures | None = None  # ... and at its SUPPORTED_CUT


def load_rows(path: str | Path, origin: str | None = None, split: str | None = None) -> list[Row]:
    """Rows of a labelled JSONL file, optionally only one origin and/or split."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"labelled data not found: {path} (expected a JSONL file with "
                                f"fields {', '.join(REQUIRED)})")
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                rows.append(_parse_row(line, path, number))
    return [r for r in rows
            if (origin is None or r.origin == origin) and (split is None or r.split == split)]


def _parse_row(line: str, path: Path, number: int) -> Row:
    try:
        record = json.loads(line)
        missing = [name for name in REQUIRED if name not in record]
        if missing:
            raise ValueError(f"missing {', '.join(missing)}")
        return Row(
            id=str(record.get("id", f"{path.name}:{number}")),
            benchmark=str(record.get("benchmark", "")),
            origin=str(record.get("origin", "")),
            split=str(record["split"]),
            document=str(record["document"]),
            summary=str(record["summary"]),
            label=int(record["label"]),
        )
    except (ValueError, TypeError) as error:  # json.JSONDecodeError is a ValueError
        raise ValueError(f"{path}:{number}: not a labelled row: {error}") from error


def balanced_accuracy(labels: Sequence[int], predictions: Sequence[int]) -> float:
    """Mean of the recall on positive rows and the recall on negative rows."""
    _check_lengths(labels, predictions)
    recalls = []
    for cls in (1, 0):
        chosen = [p for y, p in zip(labels, predictions, strict=True) if y == cls]
        if chosen:
            recalls.append(sum(1 for p in chosen if p == cls) / len(chosen))
    if not recalls:
        raise ValueError("balanced accuracy of no rows")
    return sum(recalls) / len(recalls)


def roc_auc(labels: Sequence[int], scores: Sequence[float]) -> float:
    """Area under the ROC curve from ranks (Mann-Whitney U); tied scores share their mean rank."""
    _check_lengths(labels, scores)
    positives = sum(1 for y in labels if y == 1)
    negatives = len(labels) - positives
    if not positives or not negatives:
        raise ValueError("ROC AUC needs both positive and negative rows")
    ranks = _average_ranks(scores)
    rank_sum = sum(r for r, y in zip(ranks, labels, strict=True) if y == 1)
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def _average_ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks of the values, ties given the mean of the ranks they span."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def choose_threshold(labels: Sequence[int], scores: Sequence[float]) -> float:
    """The cut (predict 1 when score >= cut) that maximises balanced accuracy on these rows.

    Candidates are midpoints between neighbouring distinct scores (plus both ends), so the cut
    generalises to unseen scores between them; the lowest best cut wins ties.
    """
    _check_lengths(labels, scores)
    if not labels:
        raise ValueError("cannot choose a threshold from no rows")
    positives = sum(1 for y in labels if y == 1)
    negatives = len(labels) - positives
    distinct = sorted(set(scores))
    below_pos = dict.fromkeys(distinct, 0)  # rows at each score, by class
    below_neg = dict.fromkeys(distinct, 0)
    for y, s in zip(labels, scores, strict=True):
        (below_pos if y == 1 else below_neg)[s] += 1
    best, best_accuracy = distinct[0], -1.0
    pos_under = neg_under = 0  # rows scored below the current cut
    cuts = [distinct[0]] + [(a + b) / 2 for a, b in pairwise(distinct)] + [distinct[-1] + 1e-9]
    for k, cut in enumerate(cuts):
        if k > 0:
            pos_under += below_pos[distinct[k - 1]]
            neg_under += below_neg[distinct[k - 1]]
        recalls = []
        if positives:
            recalls.append((positives - pos_under) / positives)
        if negatives:
            recalls.append(neg_under / negatives)
        accuracy = sum(recalls) / len(recalls)
        if accuracy > best_accuracy:
            best, best_accuracy = cut, accuracy
    return best


def support_scorer() -> Scorer:
    """The offline checker as a scorer; documents are analysed once however many summaries."""

    @lru_cache(maxsize=64)
    def sources(document: str) -> Sources:
        return Sources([document])

    def scorer(document: str, summary: str) -> float:
        return sources(document).check(summary).score

    return scorer


def judge_scorer(judge: LLMJudge) -> AsyncScorer:
    """The LLM judge as a scorer: the share of a summary's claims the document supports."""

    async def scorer(document: str, summary: str) -> float:
        return (await judge.check(summary, [document])).score

    return scorer


@dataclass(frozen=True)
class _Document:
    """What the baselines compare a summary with: the document's tokens, bigrams, numbers."""

    words: frozenset[str]  # lower-cased tokens
    bigrams: frozenset[tuple[str, str]]
    numbers: frozenset[float]
    lowercase: frozenset[str]  # stems the document writes in lower case (not names)

    @classmethod
    def of(cls, document: str) -> _Document:
        tokens = tokenize(document)
        words = [t.lower for t in tokens]
        return cls(words=frozenset(words), bigrams=frozenset(pairwise(words)),
                   numbers=frozenset(q.value for q in extract_numbers(document)),
                   lowercase=frozenset(t.stem for t in tokens if t.text[:1].islower()))


def bigram_precision(document: str, summary: str) -> float:
    """Share of the summary's bigrams (lower-cased tokens) found in the document; its words for
    a one-word summary; 1.0 for a summary with no words."""
    return _bigram_precision(_Document.of(document), summary)


def novelty(document: str, summary: str) -> float:
    """1 - the share of the summary's names and numbers that the document does not give; 1.0
    for a summary with neither. A name is found when the document uses each of its words, a
    number when the document gives it or a figure it rounds ('about 1.2m')."""
    return _novelty(_Document.of(document), summary)


def _bigram_precision(document: _Document, summary: str) -> float:
    words = [t.lower for t in tokenize(summary)]
    if len(words) < 2:
        return sum(w in document.words for w in words) / len(words) if words else 1.0
    grams = list(pairwise(words))
    return sum(g in document.bigrams for g in grams) / len(grams)


def _novelty(document: _Document, summary: str) -> float:
    tokens = tokenize(summary)
    names = [[tokens[i].lower for i in run if tokens[i].lower not in NAME_CONNECTORS]
             for run in find_entities(tokens, summary, set(document.lowercase))]
    found = [all(w in document.words for w in name) for name in names if name]
    found += [number_found(q.value, document.numbers) for q in extract_numbers(summary)]
    return 1.0 - found.count(False) / len(found) if found else 1.0


def bigram_scorer() -> Scorer:
    """Bigram precision as a scorer; documents are analysed once however many summaries."""
    profile = lru_cache(maxsize=64)(_Document.of)
    return lambda document, summary: _bigram_precision(profile(document), summary)


def novelty_scorer() -> Scorer:
    """Name and number novelty as a scorer (higher = fewer new names and numbers)."""
    profile = lru_cache(maxsize=64)(_Document.of)
    return lambda document, summary: _novelty(profile(document), summary)


# Plain baselines measured beside the checker, on the same rows, each with its own dev threshold.
BASELINES: dict[str, Callable[[], Scorer]] = {"bigram precision": bigram_scorer,
                                              "novelty": novelty_scorer}


def evaluate(path: str | Path, origin: str | None = None, split: str = "test",
             scorer: Scorer | AsyncScorer | None = None, *, limit: int | None = None,
             seed: int = 0, concurrency: int = 4, name: str | None = None) -> Evaluation:
    """Choose the threshold on dev rows, then report balanced accuracy and AUC on `split` rows.

    With no `scorer` the offline checker is measured, also at the product's fitted cuts.
    `scorer` may be async (a model-backed judge): rows are then scored concurrently, at most
    `concurrency` at once, in one event loop. `limit` scores a sample of that many rows of each
    of dev and `split`, stratified by label and drawn with `seed`, for scorers too slow for all.
    """
    rows = load_rows(path, origin=origin)
    return evaluate_rows(rows, path, origin, split, scorer or support_scorer(), limit=limit,
                         seed=seed, concurrency=concurrency, cuts=scorer is None,
                         name=name or ("checker" if scorer is None else "scorer"))


def compare(path: str | Path, origin: str | None = None, split: str = "test", *,
            judge: AsyncScorer | None = None, limit: int | None = None, seed: int = 0,
            concurrency: int = 4) -> list[Evaluation]:
    """The offline checker (also at its fitted cuts) and the baselines, on the same rows, each
    with its own threshold from dev rows; then the judge, when given, on a sample of `limit`
    rows of each of dev and `split`, and the checker on that same sample so that the two can be
    compared row for row."""
    rows = load_rows(path, origin=origin)
    checker = support_scorer()
    results = [evaluate_rows(rows, path, origin, split, checker, cuts=True, name="checker")]
    results += [evaluate_rows(rows, path, origin, split, make(), name=name)
                for name, make in BASELINES.items()]
    if judge is not None:
        results.append(evaluate_rows(rows, path, origin, split, judge, limit=limit, seed=seed,
                                     concurrency=concurrency, name="judge"))
        if limit is not None:
            results.append(evaluate_rows(rows, path, origin, split, checker, limit=limit,
                                         seed=seed, cuts=True, name="checker, judge's sample"))
    return results


def evaluate_rows(rows: Sequence[Row], path: str | Path, origin: str | None, split: str,
                  scorer: Scorer | AsyncScorer, *, limit: int | None = None, seed: int = 0,
                  concurrency: int = 4, cuts: bool = False, name: str = "scorer") -> Evaluation:
    """`evaluate` on rows already loaded (of one file and origin); `cuts` adds the figures at
    the offline checker's fitted cuts, which mean something for that scorer only."""
    all_dev = [r for r in rows if r.split == "dev"]
    all_chosen = [r for r in rows if r.split == split]
    if not all_dev:
        raise ValueError(f"{path}: no dev rows{_for(origin)} to choose a threshold on")
    if not all_chosen:
        raise ValueError(f"{path}: no {split} rows{_for(origin)}")
    dev, chosen = all_dev, all_chosen
    if limit is not None:
        dev, chosen = sample_rows(all_dev, limit, seed), sample_rows(all_chosen, limit, seed)
    if is_async(scorer):
        scored = asyncio.run(score_rows_async([*dev, *chosen], scorer, concurrency))
        dev_scores, scores = scored[: len(dev)], scored[len(dev) :]
    else:
        dev_scores = score_rows(dev, scorer)  # type: ignore[arg-type]
        scores = score_rows(chosen, scorer)  # type: ignore[arg-type]
    threshold = choose_threshold([r.label for r in dev], dev_scores)
    labels = [r.label for r in chosen]
    return Evaluation(
        path=str(path),
        origin=origin,
        split=split,
        rows=len(chosen),
        positives=sum(labels),
        dev_rows=len(dev),
        threshold=threshold,
        balanced_accuracy=balanced_accuracy(labels, [int(s >= threshold) for s in scores]),
        roc_auc=roc_auc(labels, scores) if 0 < sum(labels) < len(labels) else float("nan"),
        limit=limit,
        available_rows=len(all_chosen),
        available_dev_rows=len(all_dev),
        scorer=name,
        # Read at call time: the cuts are refitted from time to time (checking/support_fit.json).
        default_cut=at_cut(labels, scores, offline.DEFAULT_THRESHOLD) if cuts else None,
        supported_cut=at_cut(labels, scores, offline.SUPPORTED_CUT) if cuts else None,
    )


def at_cut(labels: Sequence[int], scores: Sequence[float], cut: float) -> CutFigures:
    """Balanced accuracy at a fixed cut, and the share of consistent rows it flags (scored
    below it)."""
    consistent = [s for y, s in zip(labels, scores, strict=True) if y == 1]
    flagged = sum(1 for s in consistent if s < cut) / len(consistent) if consistent else None
    return CutFigures(threshold=cut,
                      balanced_accuracy=balanced_accuracy(labels, [int(s >= cut) for s in scores]),
                      flagged_consistent=flagged)


def sample_rows(rows: Sequence[Row], n: int, seed: int = 0) -> list[Row]:
    """A deterministic sample of `n` rows keeping the label shares (each label at least once
    when n allows), in file order."""
    if n >= len(rows):
        return list(rows)
    by_label: dict[int, list[int]] = {}
    for i, row in enumerate(rows):
        by_label.setdefault(row.label, []).append(i)
    quota = {label: max(1, round(n * len(idx) / len(rows))) if n >= len(by_label) else 0
             for label, idx in by_label.items()}
    while sum(quota.values()) > n:  # rounding up every class can overshoot by one or two
        quota[max(quota, key=lambda k: quota[k])] -= 1
    while sum(quota.values()) < n:
        quota[max(by_label, key=lambda k: len(by_label[k]) - quota[k])] += 1
    rng = random.Random(seed)
    picked = [i for label in sorted(by_label)
              for i in rng.sample(by_label[label], min(quota[label], len(by_label[label])))]
    return [rows[i] for i in sorted(picked)]


def is_async(scorer: Callable[..., Any]) -> TypeGuard[AsyncScorer]:
    """Whether calling the scorer gives an awaitable (an async function or async __call__)."""
    return inspect.iscoroutinefunction(scorer) or inspect.iscoroutinefunction(
        type(scorer).__call__)


async def score_rows_async(rows: Sequence[Row], scorer: AsyncScorer,
                           concurrency: int = 4) -> list[float]:
    """Scores of the rows, in order, at most `concurrency` rows being scored at once."""
    limit = asyncio.Semaphore(concurrency)

    async def score(row: Row) -> float:
        async with limit:
            return await scorer(row.document, row.summary)

    return list(await asyncio.gather(*(score(r) for r in rows)))


def score_rows(rows: Sequence[Row], scorer: Scorer) -> list[float]:
    """Scores of the rows, in order; rows sharing a document are scored together for caching."""
    scores = [0.0] * len(rows)
    for i in sorted(range(len(rows)), key=lambda i: rows[i].document):
        scores[i] = scorer(rows[i].document, rows[i].summary)
    return scores


def _check_lengths(labels: Sequence[object], values: Sequence[object]) -> None:
    if len(labels) != len(values):
        raise ValueError(f"{len(labels)} labels but {len(values)} predictions or scores")


def _for(origin: str | None) -> str:
    return f" for origin {origin!r}" if origin else ""
