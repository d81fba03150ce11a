"""Offline support checker: is a claim backed by the source passages? No model, no network.

A claim is split into sentences; each sentence is aligned with the source sentence sharing most
of its content words and scored from lexical evidence (unigram and bigram precision against that
sentence, and the share of its words a token alignment finds in place of other words there) and
from the errors summaries typically make (a name, number or date found in no passage, a negation
the source does not have, a number, colour, kin word... swapped for another of its kind, or a
word for its opposite). The weights come
from a small logistic regression fitted on dev rows of FRANK and SummEdits (evals/fit_support.py,
figures in evals/README.md); a claim scores as its weakest sentence, because one bad sentence
makes it unsupported.
"""

from __future__ import annotations

import difflib
import json
import math
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal

from ..text import (
    ALIASES,
    CLASSES_OF,
    MONTHS,
    NAME_CONNECTORS,
    OPPOSITE,
    WEEKDAYS,
    Token,
    extract_dates,
    extract_numbers,
    find_entities,
    initials,
    is_content,
    ngrams,
    number_found,
    number_units,
    split_polarity,
    split_sentences,
    tokenize,
)

# Fitted by evals/fit_support.py on dev rows only and kept beside this module as data: the
# features in the order of their weights, and the two cuts of the calibrated score.
FIT = json.loads(resources.files(__package__).joinpath("support_fit.json").read_text("utf-8"))
FEATURES: tuple[str, ...] = tuple(FIT["features"])
WEIGHTS: tuple[float, ...] = tuple(FIT["weights"])
BIAS: float = FIT["bias"]
# Below the default cut a claim is unsupported; at or above the supported cut it is supported;
# between the two it is uncertain (a judge, where there is one, decides).
DEFAULT_THRESHOLD: float = FIT["cuts"]["unsupported"]
SUPPORTED_CUT: float = FIT["cuts"]["supported"]

Label = Literal["supported", "uncertain", "unsupported"]

# Below this unigram precision the "little overlap" reason is given when nothing sharper applies.
LOW_OVERLAP = 0.5


@dataclass(frozen=True)
class Span:
    """A quotable piece of one passage: `passages[passage][start:end] == text`."""

    passage: int
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Verdict:
    supported: bool  # label == "supported"
    score: float  # 0..1, the calibrated probability that the claim is supported
    evidence: Span | None  # source sentence best aligned with the claim (its weakest sentence)
    reason: str | None  # why not supported; None when supported
    label: Label = "supported"
    # Checks of relations that fired on the weakest sentence ("role", "number"), even where
    # the score is high: what a judge is asked about first.
    flags: tuple[str, ...] = ()


# ---------------------------------------------------------------------------------------------
# The sources


@dataclass
class _SourceSentence:
    passage: int
    start: int
    end: int
    index: int  # position in Sources.sentences
    stems: list[str]
    is_content: list[bool]  # per stem
    content: set[str]
    bigrams: set[tuple[str, ...]]
    negated: set[str]  # stems a negation bears on
    plain: set[str]  # content stems asserted without negation


@dataclass
class SentenceCheck:
    """What one claim sentence was measured against, and what went wrong."""

    text: str
    features: dict[str, float]
    evidence: _SourceSentence | None
    novel_entities: list[str] = field(default_factory=list)
    novel_numbers: list[str] = field(default_factory=list)
    novel_dates: list[str] = field(default_factory=list)
    novel_words: list[str] = field(default_factory=list)
    swaps: list[str] = field(default_factory=list)  # "'30 years' where the source has ..."
    negation: str | None = None  # "negates the source" or "drops a negation in the source"
    score: float = 0.0

    @property
    def flags(self) -> tuple[str, ...]:
        """The relation checks that fired: a number counting another quantity ("number")."""
        return ("number",) if any(s.startswith("number ") for s in self.swaps) else ()


class Sources:
    """Passages analysed once, so that many claims can be checked against them cheaply."""

    def __init__(self, passages: Sequence[str]) -> None:
        self.passages = list(passages)
        self.sentences: list[_SourceSentence] = []
        self.stems: set[str] = set()
        self.lower: set[str] = set()
        self.numbers: set[float] = set()
        self.dates: set[str] = set()
        self.acronyms: set[str] = set()
        self.name_prefixes: dict[str, set[str]] = {}
        self.lowercase_vocab: set[str] = set()
        self.units: dict[str, set[float]] = {}  # noun stem -> the numbers counting it
        self.text_lower = "\n".join(" ".join(p.lower().split()) for p in self.passages)
        self._index: dict[str, list[int]] = {}
        for number, passage in enumerate(self.passages):
            self._add_passage(number, passage)

    def _add_passage(self, number: int, passage: str) -> None:
        tokens = tokenize(passage)
        for token in tokens:
            if token.text[:1].islower():
                self.lowercase_vocab.add(token.stem)
        starts = [t.start for t in tokens]  # in order: each sentence's tokens found by bisection
        for start, end in split_sentences(passage) or [(0, len(passage))]:
            first, last = bisect_left(starts, start), bisect_left(starts, end)
            self._add_sentence(number, start, end, tokens[first:last], passage)
        self.numbers.update(quantity.value for quantity in extract_numbers(passage))
        for value, unit, _ in number_units(tokens, passage):
            self.units.setdefault(unit, set()).add(value)
        # Every month-like word counts in the sources: a missed month would be a false alarm.
        self.dates.update(f"month:{MONTHS[t.lower]}" for t in tokens if t.lower in MONTHS)
        self.dates.update(f"day:{WEEKDAYS[t.lower]}" for t in tokens if t.lower in WEEKDAYS)

    def _add_sentence(self, number: int, start: int, end: int, tokens: list[Token],
                      passage: str) -> None:
        stems = [t.stem for t in tokens]
        content = {t.stem for t in tokens if is_content(t)}
        negated, plain = split_polarity(tokens)
        index = len(self.sentences)
        sentence = _SourceSentence(number, start, end, index, stems,
                                   [is_content(t) for t in tokens], content, ngrams(stems, 2),
                                   negated, plain)
        self.sentences.append(sentence)
        for word in content:
            self._index.setdefault(word, []).append(index)
        self.stems.update(stems)
        self.lower.update(t.lower for t in tokens)
        for run in find_entities(tokens, passage, set()):
            words = [tokens[i].lower for i in run]
            if len(words) > 1:
                self.acronyms.add(initials(words))
            for word in words:
                self.name_prefixes.setdefault(word[:4], set()).add(word)

    # -- claims ------------------------------------------------------------------------------

    def check(self, claim: str, threshold: float | None = None) -> Verdict:
        """Whether the claim is supported by these passages, with evidence or a reason.

        With no `threshold` the fitted cuts give three labels; a `threshold` is one cut for
        both (supported at or above it, else unsupported), as a meta-evaluation chooses one."""
        checks = self.analyse(claim)
        if not checks:
            return Verdict(supported=False, score=0.0, evidence=None, reason="empty claim",
                           label="unsupported")
        weakest = min(checks, key=lambda c: c.score)
        label = classify(weakest.score, threshold)
        return Verdict(
            supported=label == "supported",
            score=weakest.score,
            evidence=self._span(weakest.evidence),
            reason=None if label == "supported" else explain(weakest),
            label=label,
            flags=weakest.flags,
        )

    def analyse(self, claim: str) -> list[SentenceCheck]:
        """One scored SentenceCheck per sentence of the claim."""
        checks = []
        for start, end in split_sentences(claim):
            sentence = self.measure(claim[start:end])
            if sentence is not None:
                sentence.score = score(sentence.features)
                checks.append(sentence)
        return checks

    def measure(self, sentence: str) -> SentenceCheck | None:
        """Feature values of one claim sentence against the sources."""
        tokens = tokenize(sentence)
        if not tokens:
            return None
        stems = [t.stem for t in tokens]
        content = [t for t in tokens if is_content(t)]
        content_stems = {t.stem for t in content}
        best, close = self._align(content_stems)
        check = SentenceCheck(text=sentence, features={}, evidence=best)
        check.novel_words = _unique(t.text for t in content if t.stem not in self.stems
                                    and t.lower not in self.lower)
        check.novel_entities = self._novel_entities(tokens, sentence)
        check.novel_numbers = _unique(q.text for q in extract_numbers(sentence)
                                      if not number_found(q.value, self.numbers))
        check.novel_dates = _unique(text for key, text in extract_dates(tokens)
                                    if key not in self.dates)
        check.negation = self._polarity_clash(tokens, content_stems, best, close)
        check.swaps = self._swaps(tokens, sentence, best)
        bigrams = ngrams(stems, 2)
        # The detectors share one weight: each alone fires too rarely in dev rows to be fitted.
        errors = (check.novel_entities or check.novel_numbers or check.novel_dates
                  or check.negation or check.swaps)
        check.features = {
            "uni_sent": _share(content_stems, best.content if best else set()),
            "bi_sent": _share(bigrams, best.bigrams if best else set()),
            "replaced": _replaced_share(tokens, best),
            "errors": float(bool(errors)),
        }
        return check

    def _swaps(self, tokens: list[Token], sentence: str,
               best: _SourceSentence | None) -> list[str]:
        """Words standing for another of their kind in the sources: '30 years' for '35 years',
        'white' for 'blue', 'rise' where the aligned passage says 'fall'."""
        swaps = []
        for value, unit, text in number_units(tokens, sentence):
            known = self.units.get(unit)
            if known and not number_found(value, known):
                swaps.append(f"number '{text}' differs from the sources")
        near: set[str] = set()
        if best is not None:  # the aligned sentence and its neighbours
            for source in self.sentences[max(0, best.index - 1) : best.index + 2]:
                near.update(source.stems)
        for token in tokens:
            word = token.stem
            if word not in near and OPPOSITE.get(word, set()) & near:
                # the more telling reason first: "fell" for "rose" is an opposite, not a kin
                swaps.append(f"'{token.text}' where the source has its opposite")
                continue
            for members in CLASSES_OF.get(word, ()):
                others = members - {word}
                if (word not in self.stems and others & self.stems) or (word not in near
                                                                       and others & near):
                    swaps.append(f"'{token.text}' where the source has another of its kind")
                    break
        return _unique(swaps)

    def _align(self, content: set[str]) -> tuple[_SourceSentence | None, list[_SourceSentence]]:
        """The source sentence sharing most claim words, and those nearly as close to it."""
        overlap: dict[int, int] = {}
        for word in content:
            for index in self._index.get(word, ()):
                overlap[index] = overlap.get(index, 0) + 1
        if not overlap:
            return (self.sentences[0] if self.sentences else None), []
        ranked = sorted(overlap, key=lambda i: (-overlap[i], i))
        best = self.sentences[ranked[0]]
        close = [self.sentences[i] for i in ranked[:5] if overlap[i] >= 0.75 * overlap[ranked[0]]]
        return best, close

    def _polarity_clash(self, tokens: list[Token], content: set[str], best: _SourceSentence | None,
                        close: list[_SourceSentence]) -> str | None:
        """Whether the claim negates what its source sentence asserts, or the reverse."""
        if best is None or _share(content, best.content) < 0.5:
            return None  # too loosely aligned to compare polarities
        negated, plain = split_polarity(tokens)
        also_negated = set().union(*(s.negated for s in close)) if close else set()
        if negated & best.negated:
            return None  # both negate the same word: same polarity, however phrased
        if any(h in best.plain and h not in also_negated for h in negated):
            return "negates the source"
        if any(h in plain and h not in negated and h not in best.plain for h in best.negated):
            return "drops a negation in the source"
        return None

    def _novel_entities(self, tokens: list[Token], sentence: str) -> list[str]:
        """Names in the sentence that no passage mentions (in full, by a part, or by initials)."""
        novel = []
        for run in find_entities(tokens, sentence, self.lowercase_vocab):
            words = [tokens[i].lower for i in run]
            name = sentence[tokens[run[0]].start : tokens[run[-1]].end]
            if " ".join(name.lower().split()) in self.text_lower:
                continue
            missing = [w for w in words if w not in NAME_CONNECTORS and not self._knows_name(w)]
            if missing and not (len(words) > 1 and initials(words) in self.lower):
                novel.append(name)
        return _unique(novel)

    def _knows_name(self, word: str) -> bool:
        """A name word is known if the sources use it, its initials, or a close form (Russia/n)."""
        if word in self.lower or word in self.acronyms:
            return True
        if any(alias in self.lower or alias in self.text_lower for alias in ALIASES.get(word, ())):
            return True
        for known in self.name_prefixes.get(word[:4], ()):
            shorter = min(len(known), len(word))
            common = len(_common_prefix(known, word))
            if common >= 4 and common >= shorter - 1:
                return True
        return False

    def _span(self, sentence: _SourceSentence | None) -> Span | None:
        if sentence is None:
            return None
        text = self.passages[sentence.passage][sentence.start : sentence.end]
        return Span(sentence.passage, sentence.start, sentence.end, text)


def check(claim: str, passages: Sequence[str], threshold: float | None = None) -> Verdict:
    """Check one claim against passages; build a `Sources` once to check many claims."""
    return Sources(passages).check(claim, threshold)


def score(features: dict[str, float]) -> float:
    """The fitted logistic model: probability that a claim sentence is supported."""
    z = BIAS + sum(w * features[name] for name, w in zip(FEATURES, WEIGHTS, strict=True))
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def classify(score: float, threshold: float | None = None) -> Label:
    """The label of a score: by the fitted cuts, or by one `threshold` when given."""
    low, high = (DEFAULT_THRESHOLD, SUPPORTED_CUT) if threshold is None else (threshold, threshold)
    if score >= high:
        return "supported"
    return "unsupported" if score < low else "uncertain"


def explain(sentence: SentenceCheck) -> str:
    """Why a sentence is not supported, in words: every specific error, else the weak overlap."""
    reasons = []
    if sentence.novel_entities:
        reasons.append(f"names {_quote(sentence.novel_entities)}, found in no passage")
    if sentence.novel_numbers:
        reasons.append(f"number {_quote(sentence.novel_numbers)} not in the sources")
    if sentence.novel_dates:
        reasons.append(f"date {_quote(sentence.novel_dates)} not in the sources")
    if sentence.negation:
        reasons.append(sentence.negation)
    if sentence.swaps:
        reasons.append("; ".join(sentence.swaps))
    if reasons:
        return "; ".join(reasons)
    if sentence.novel_words:
        return f"words {_quote(sentence.novel_words[:3])} not in the sources"
    if sentence.features.get("uni_sent", 1.0) < LOW_OVERLAP:
        return "little overlap with the sources"
    return "weakly aligned with the sources"


def _replaced_share(tokens: Sequence[Token], best: _SourceSentence | None) -> float:
    """Share of the content words that a token alignment with the source sentence finds in place
    of other content words: 'police arrested the driver' for 'police arrested the owner'."""
    content = sum(1 for t in tokens if is_content(t))
    if not content or best is None:
        return 0.0
    matcher = difflib.SequenceMatcher(None, [t.stem for t in tokens], best.stems, autojunk=False)
    replaced = 0
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "replace" and any(best.is_content[j1:j2]):
            replaced += sum(1 for t in tokens[i1:i2] if is_content(t))
    return replaced / content


def _quote(items: Sequence[str]) -> str:
    return ", ".join(f"'{item}'" for item in items)


def _share(part: set[Any], whole: set[Any]) -> float:
    """The fraction of `part` found in `whole` (1.0 for an empty part: nothing to contradict)."""
    if not part:
        return 1.0
    return len(part & whole) / len(part)


def _common_prefix(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
