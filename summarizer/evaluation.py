"""Pipeline evals: what a run made of an article set, scored without a model.

Metrics (each 0..1, higher is better):
- leakage_free: removed boilerplate lines that reach no summary sentence.
- duplicates_once: article-summary sentences not said twice across the run.
- citation_validity: citations whose quote is the article text at their offsets.
- citation_recall: sentences their citations support, together (ALCE).
- citation_precision: citations that are needed: they support the sentence alone, or the others
  do not without them (ALCE).
- coverage: articles the overview cites.
- faithfulness: sentences supported by their sources, per the offline checker.
Position bias is reported beside coverage: overview citations to the first vs the last third of
the articles, in input order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from .dedup import normalise
from .models import Article, Citation, Result, Sentence
from .support import DEFAULT_THRESHOLD, Sources

LEAK_MIN_WORDS = 3  # shorter removed lines ("Share", "-") are words any sentence may contain
METRICS = ("leakage_free", "duplicates_once", "citation_validity", "citation_recall",
           "citation_precision", "coverage", "faithfulness")


@dataclass
class SetScores:
    name: str
    articles: int
    sentences: int
    citations: int
    metrics: dict[str, float | None] = field(default_factory=dict)
    position: dict[str, int] = field(default_factory=dict)
    leaks: list[str] = field(default_factory=list)  # removed lines found in a summary

    def to_dict(self) -> dict:
        return asdict(self)


def score_run(name: str, result: Result, threshold: float = DEFAULT_THRESHOLD) -> SetScores:
    """Every metric of one run over one article set."""
    articles = {a.article.id: a.article for a in result.articles}
    summary = [s for a in result.articles for s in a.summary]
    sentences = summary + list(result.overview)
    citations = [c for s in sentences for c in s.citations]
    leaks = find_leaks(result)
    checked = [_cited_support(s, articles, threshold) for s in sentences]
    scores = SetScores(name=name, articles=len(articles), sentences=len(sentences),
                       citations=len(citations), leaks=leaks)
    removed = [r for a in articles.values() for r in a.removed
               if len(r.text.split()) >= LEAK_MIN_WORDS]
    scores.metrics = {
        "leakage_free": share(len(removed) - len(leaks), len(removed)),
        "duplicates_once": share(len({normalise(s.text) for s in summary}), len(summary)),
        "citation_validity": share(sum(_valid(c, articles) for c in citations),
                                    len(citations)),
        "citation_recall": share(sum(ok for ok, _ in checked), len(sentences)),
        "citation_precision": share(sum(needed for _, needed in checked), len(citations)),
        "coverage": coverage(result),
        "faithfulness": result.faithfulness.score,
    }
    scores.position = position_bias(result)
    return scores


def find_leaks(result: Result) -> list[str]:
    """Removed boilerplate lines that a summary sentence repeats, in whole or in part."""
    said = [normalise(s.text) for a in result.articles for s in a.summary]
    said += [normalise(s.text) for s in result.overview]
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
    """Whether the citations together support the sentence, and how many of them are needed."""
    passages = [_passage_of(c, articles) for c in sentence.citations]
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
    for metric in METRICS:
        values = [s.metrics[metric] for s in scores if s.metrics.get(metric) is not None]
        out[metric] = round(sum(values) / len(values), 4) if values else None  # type: ignore[arg-type]
    return out
