"""Pipeline evals: what a run made of an article set, scored without a model.

Metrics (each 0..1, higher is better):
- leakage_free: removed boilerplate lines that reach no summary sentence.
- duplicates_once: article-summary sentences not said twice across the run.
- citation_validity: citations whose quote is the article text at their offsets.
- citation_recall: sentences their citations support, together (ALCE).
- citation_precision: citations that carry the sentence and are needed: they support it alone,
  or the others do not without them (ALCE). A quoted sentence is carried by the one passage it
  quotes; its further citations are the other outlets' sentences of the same fact group.
- corroboration: of those further citations, the share that the offline checker finds to
  support the quoted sentence on their own (the checker is strict on paraphrase, so this is a
  floor on how often another outlet's words back it).
- coverage: articles the overview cites.
- faithfulness: sentences supported by their sources, per the offline checker.
- language_consistency: sentences in the language the run was asked to write in (each one's
  language detected from its text, not taken from the run), of those that should be: a quoted
  sentence in its source's language, declared as such, is counted apart
  (`quoted_in_source_language`, the share of all sentences), neither for nor against.

Against the set's key facts (`evals/data/key_facts.json`), where the set has them:
- key_fact_coverage: key facts that some overview sentence states (all the strings of one of the
  fact's alternatives occur in that sentence, case-insensitive, as whole words).
- agreement_correct: of the covered facts whose reporting outlets are known, those whose covering
  sentences all count that many outlets ("3 of 4 sources" for 3 outlets; for a disputed fact, the
  outlets reporting the value the sentence states).
- disputes_found: of the planted conflicts, those shown as a dispute whose sides carry every
  planted value, each on its own side.
- fused_acceptance: restatements the model wrote that verification kept (None when none were
  asked for).
Position bias is reported beside coverage: overview citations to the first vs the last third of
the articles, in input order.

Against hand labels (`evals/data/embedded_labels.json`, the embedded model's sentences read
against their passages), for a run of the model the labels were written for:
- true_among_supported: of the sentences the run marks supported, those a reader labelled true.
  A false sentence marked supported, or one never labelled, counts against it: the target is 1.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from itertools import permutations
from pathlib import Path
from typing import Any

from ..checking.offline import DEFAULT_THRESHOLD, Sources
from ..language import detect
from ..models import Article, Citation, Dispute, Result, Sentence, Side
from ..text import normalise

LEAK_MIN_WORDS = 3  # shorter removed lines ("Share", "-") are words any sentence may contain
METRICS = ("leakage_free", "duplicates_once", "citation_validity", "citation_recall",
           "citation_precision", "corroboration", "coverage", "faithfulness",
           "language_consistency")
FACT_METRICS = ("key_fact_coverage", "agreement_correct", "disputes_found", "fused_acceptance")


@dataclass(frozen=True)
class KeyFact:
    """A fact a good overview of its set states, and how to recognise it in a sentence."""

    id: str
    match: tuple[tuple[str, ...], ...]  # alternatives; every string of one must occur
    outlets: tuple[str, ...] = ()  # the outlets whose articles report it, when several do
    disputed: tuple[str, ...] = ()  # values the outlets report differently (planted conflicts)
    sides: tuple[tuple[str, ...], ...] = ()  # the outlets reporting each disputed value


@dataclass(frozen=True)
class KeyFacts:
    """The key facts of one article set."""

    name: str
    folder: Path
    facts: tuple[KeyFact, ...]


@dataclass
class SetScores:
    name: str
    articles: int
    sentences: int
    citations: int
    metrics: dict[str, float | None] = field(default_factory=dict)
    position: dict[str, int] = field(default_factory=dict)
    leaks: list[str] = field(default_factory=list)  # removed lines found in a summary
    missed: list[str] = field(default_factory=list)  # key facts no overview sentence states
    disputes: int = 0  # disputes the run shows
    language: str | None = None  # the language the run was asked to write in
    quoted_in_source_language: float | None = None  # sentences quoted in another, declared

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def score_run(name: str, result: Result, threshold: float = DEFAULT_THRESHOLD,
              facts: Sequence[KeyFact] = ()) -> SetScores:
    """Every metric of one run over one article set; the fact metrics need the set's facts."""
    articles = {a.article.id: a.article for a in result.articles}
    summary = [s for a in result.articles for s in a.summary]
    sentences = result.sentences()
    citations = [c for s in sentences for c in s.citations]
    carrying = [c for s in sentences for c in _carrying(s)]
    leaks = find_leaks(result)
    checked = [_cited_support(s, articles, threshold) for s in sentences]
    backing = [_alone(s, c, articles, threshold) for s in sentences
               for c in s.citations[len(_carrying(s)):]]
    scores = SetScores(name=name, articles=len(articles), sentences=len(sentences),
                       citations=len(citations), leaks=leaks,
                       missed=[f.id for f in facts if not covering(f, result.overview)],
                       disputes=len(result.disputes),
                       language=result.language.output if result.language else None)
    consistent, quoted_apart = language_consistency(result)
    scores.quoted_in_source_language = quoted_apart
    removed = [r for a in articles.values() for r in a.removed
               if len(r.text.split()) >= LEAK_MIN_WORDS]
    scores.metrics = {
        "leakage_free": share(len(removed) - len(leaks), len(removed)),
        "duplicates_once": share(len({normalise(s.text) for s in summary}), len(summary)),
        "citation_validity": share(sum(_valid(c, articles) for c in citations),
                                    len(citations)),
        "citation_recall": share(sum(ok for ok, _ in checked), len(sentences)),
        "citation_precision": share(sum(needed for _, needed in checked), len(carrying)),
        "corroboration": share(sum(backing), len(backing)),
        "coverage": coverage(result),
        "faithfulness": result.faithfulness.score,
        "language_consistency": consistent,
        "key_fact_coverage": key_fact_coverage(result, facts),
        "agreement_correct": agreement_correct(result, facts),
        "disputes_found": disputes_found(result, facts),
        "fused_acceptance": fused_acceptance(result),
    }
    scores.position = position_bias(result)
    return scores


@dataclass
class LabelScores:
    """A run's sentences on one hand-labelled set, held to their labels."""

    name: str
    mode: str  # the writing mode of the run, which the labels are kept by
    sentences: int = 0
    supported: int = 0  # marked supported by the run
    true: int = 0  # of those, labelled true
    false: list[str] = field(default_factory=list)  # marked supported but labelled false
    unlabelled: list[str] = field(default_factory=list)  # marked supported, not labelled yet

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


Labels = dict[tuple[str, str, str, str], bool | None]  # (set, mode, where, key) -> true
HASH_ONLY = frozenset({"seeds"})  # shared articles: their sentences are named by key only


def load_labels(path: Path) -> Labels:
    """The hand labels by set, writing mode, place in the run and sentence key."""
    rows = json.loads(path.read_text(encoding="utf-8"))["rows"]
    return {(r["set"], r["mode"], r["where"], r["key"]): r["true"] for r in rows}


def sentence_key(text: str) -> str:
    """How a labelled sentence is found again (as `evals/label_embedded.py` keys it)."""
    return hashlib.sha1(normalise(text).encode("utf-8")).hexdigest()[:16]


def score_labels(name: str, result: Result, labels: Labels) -> LabelScores | None:
    """The run's sentences against the labels of its set; None when the set has none."""
    if not any(key[0] == name for key in labels):
        return None
    mode = result.writing.mode if result.writing else "quoted"
    placed = [(f"article {n}", s) for n, a in enumerate(result.articles, 1) for s in a.summary]
    placed += [("overview", s) for s in result.overview]
    scores = LabelScores(name=name, mode=mode, sentences=len(placed))
    for where, sentence in placed:
        if sentence.support != "supported":
            continue
        scores.supported += 1
        key = sentence_key(sentence.text)
        true = labels.get((name, mode, where, key))
        if true:
            scores.true += 1
        else:
            shown = f"sentence {key}" if name in HASH_ONLY else sentence.text
            (scores.unlabelled if true is None else scores.false).append(f"{where}: {shown}")
    return scores


def true_among_supported(scores: Sequence[LabelScores]) -> float | None:
    """Share of the sentences marked supported that a reader labelled true, over the sets."""
    return share(sum(s.true for s in scores), sum(s.supported for s in scores))


def find_leaks(result: Result) -> list[str]:
    """Removed boilerplate lines that a summary sentence repeats, in whole or in part."""
    said = [normalise(s.text) for s in result.sentences()]
    said = [s for s in said if len(s.split()) >= LEAK_MIN_WORDS]
    leaks = []
    for article in (a.article for a in result.articles):
        for removal in article.removed:
            line = normalise(removal.text)
            if len(line.split()) >= LEAK_MIN_WORDS and any(
                    line in sentence or sentence in line for sentence in said):
                leaks.append(removal.text)
    return leaks


def coverage(result: Result) -> float | None:
    """Share of the articles that the overview cites at least once."""
    if not result.overview or len(result.articles) < 2:
        return None
    cited = {c.article_id for s in result.overview for c in s.citations}
    return share(len(cited), len(result.articles))


def load_key_facts(path: Path, root: Path) -> list[KeyFacts]:
    """The sets' key facts from `path`; set folders there are relative to `root`."""
    data = json.loads(path.read_text(encoding="utf-8"))
    sets = []
    for name, entry in data["sets"].items():
        facts = []
        for fact in entry["facts"]:
            match = tuple(tuple(alternative) for alternative in fact["match"])
            if not match or not all(match) or not all(s.strip() for a in match for s in a):
                raise ValueError(f"{path}: key fact {name}/{fact['id']} has an empty match")
            disputed = fact.get("disputed", {})
            facts.append(KeyFact(id=fact["id"], match=match,
                                 outlets=tuple(fact.get("outlets", ())),
                                 disputed=tuple(disputed.get("values", ())),
                                 sides=tuple(tuple(o) for o in disputed.get("outlets", ()))))
        sets.append(KeyFacts(name=name, folder=root / entry["folder"], facts=tuple(facts)))
    return sets


def mentions(text: str, phrase: str) -> bool:
    """Whether `phrase` occurs in `text` as whole words, ignoring case and quote style.

    A number must be whole too: "5 percent" is not in "6.5 percent", nor "15" in "3:15".
    """
    pattern = rf"(?<!\w)(?<!\d[.,:]){re.escape(normalise(phrase))}(?![.,:]\d)(?!\w)"
    return re.search(pattern, normalise(text)) is not None


def covering(fact: KeyFact, sentences: Sequence[Sentence]) -> list[Sentence]:
    """The sentences that state the fact: all the strings of one alternative in one sentence."""
    return [s for s in sentences
            if any(all(mentions(s.text, p) for p in alt) for alt in fact.match)]


def key_fact_coverage(result: Result, facts: Sequence[KeyFact]) -> float | None:
    """Share of the set's key facts that some overview sentence states."""
    if not facts:
        return None
    return share(sum(bool(covering(f, result.overview)) for f in facts), len(facts))


def agreement_correct(result: Result, facts: Sequence[KeyFact]) -> float | None:
    """Of the covered facts whose outlets are known, those every covering sentence counts right.

    The right count is the number of outlets that report the fact or, for a disputed fact, the
    one value the sentence states. A sentence with no source count shows the reader nothing, so
    it is not right.
    """
    counted = right = 0
    for fact in facts:
        expected = [(s, _outlets_for(fact, s)) for s in covering(fact, result.overview)]
        expected = [(s, n) for s, n in expected if n is not None]
        if expected:
            counted += 1
            right += all(s.sources is not None and s.sources.supporting == n
                         for s, n in expected)
    return share(right, counted)


def _outlets_for(fact: KeyFact, sentence: Sentence) -> int | None:
    """How many outlets back what the sentence says of the fact; None when that is not known."""
    if fact.outlets:
        return len(fact.outlets)
    stated = [side for value, side in zip(fact.disputed, fact.sides, strict=False)
              if mentions(sentence.text, value)]
    return len(stated[0]) if len(stated) == 1 else None


def disputes_found(result: Result, facts: Sequence[KeyFact]) -> float | None:
    """Share of the planted conflicts that some dispute of the run shows with all their values."""
    planted = [f for f in facts if f.disputed]
    found = sum(any(_shows(d, f.disputed) for d in result.disputes) for f in planted)
    return share(found, len(planted))


def _shows(dispute: Dispute, values: Sequence[str]) -> bool:
    """Whether each value is on a side of its own (in the side's value or its quote)."""
    return any(all(_carries(side, value) for side, value in zip(sides, values, strict=True))
               for sides in permutations(dispute.sides, len(values)))


def _carries(side: Side, value: str) -> bool:
    return mentions(side.value, value) or mentions(side.citation.quote, value)


def language_consistency(result: Result) -> tuple[float | None, float | None]:
    """The share of sentences in the asked language, of those that should be in it, and the
    share of all sentences quoted in their source's language (declared so), counted apart:
    quoting is how a run that cannot write the asked language stays faithful. None where there
    is nothing to measure (or the run recorded no language)."""
    sentences = result.sentences()
    if result.language is None or not sentences:
        return None, None
    asked = result.language.output
    languages = {a.article.id: a.article.language for a in result.articles}
    right = wrong = apart = 0
    for sentence in sentences:
        found = detect(sentence.text)
        sources = {languages.get(c.article_id) for c in sentence.citations}
        if found == asked:
            right += 1
        elif sentence.written == "quoted" and found in sources and sentence.language == found:
            apart += 1
        else:
            wrong += 1
    return share(right, right + wrong), share(apart, len(sentences))


def fused_acceptance(result: Result) -> float | None:
    """Share of the model's restatements that verification kept; None when none were asked."""
    if result.writing is None:
        return None
    return share(result.writing.fused_kept, result.writing.fused_attempted)


def position_bias(result: Result) -> dict[str, int]:
    """Overview citations to the first and the last third of the articles (input order)."""
    order = [a.article.id for a in result.articles]
    third = max(1, len(order) // 3)
    first, last = set(order[:third]), set(order[-third:])
    cited = [c.article_id for s in result.overview for c in s.citations]
    return {"first_third": sum(1 for a in cited if a in first),
            "last_third": sum(1 for a in cited if a in last)}


def _cited_support(sentence: Sentence, articles: dict[str, Article],
                   threshold: float) -> tuple[bool, int]:
    """Whether the citations that carry it support the sentence, and how many are needed."""
    passages = [_passage_of(c, articles) for c in _carrying(sentence)]
    if not passages:
        return False, 0
    together = Sources(passages).check(sentence.text, threshold).supported
    if len(passages) == 1:
        return together, int(together)
    needed = 0
    for i, passage in enumerate(passages):
        alone = Sources([passage]).check(sentence.text, threshold).supported
        others = passages[:i] + passages[i + 1:]
        without = Sources(others).check(sentence.text, threshold).supported
        needed += int(alone or (together and not without))
    return together, needed


def _carrying(sentence: Sentence) -> tuple[Citation, ...]:
    """The citations a sentence rests on: for a quoted one, the passage it quotes."""
    if sentence.written == "quoted":
        return sentence.citations[:1]
    return sentence.citations


def _alone(sentence: Sentence, citation: Citation, articles: dict[str, Article],
           threshold: float) -> bool:
    return Sources([_passage_of(citation, articles)]).check(sentence.text, threshold).supported


def _passage_of(citation: Citation, articles: dict[str, Article]) -> str:
    """The paragraph of the article that holds the quote: what the model was shown."""
    text = articles[citation.article_id].text
    start = text.rfind("\n", 0, citation.start) + 1
    end = text.find("\n", citation.end)
    return text[start: end if end != -1 else len(text)]


def _valid(citation: Citation, articles: dict[str, Article]) -> bool:
    article = articles.get(citation.article_id)
    return article is not None and bool(citation.quote) and \
        article.text[citation.start:citation.end] == citation.quote


def share(part: int, whole: int) -> float | None:
    """part / whole to 4 places; None when there is nothing to measure."""
    return round(part / whole, 4) if whole else None


def summarise_sets(scores: Sequence[SetScores]) -> dict[str, float | None]:
    """Each metric averaged over the sets that have it."""
    out: dict[str, float | None] = {}
    for metric in METRICS + FACT_METRICS:
        values = [s.metrics[metric] for s in scores if s.metrics.get(metric) is not None]
        out[metric] = round(sum(values) / len(values), 4) if values else None  # type: ignore[arg-type]
    return out
