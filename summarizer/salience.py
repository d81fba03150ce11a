"""Which facts a summary tells: ranked by outlets, centrality and position, chosen without
redundancy (maximal marginal relevance), with every article given a fair chance. A sentence that
reads as an instruction to a model is no candidate while anything else can be told."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .facts import SAME_FACT, FactGroup, Facts, SourceSentence, is_quotable, standalone
from .untrusted import suspicious

# Weights of a fact's worth: outlets reporting it dominate; the rest breaks ties among
# single-outlet facts, so that a lead sentence helps but cannot crowd out the rest.
OUTLETS = 1.0
CENTRALITY = 0.6
LEAD = 0.25
STANDALONE = 0.5
NOVELTY = 0.8  # digests: a fact the earlier story already told loses this much
REDUNDANCY = 0.7  # MMR: how much likeness to a chosen sentence counts against a candidate
NEW_ARTICLE = 0.15  # a fact from an article not yet heard from gets this bonus


@dataclass(frozen=True)
class Candidate:
    """A fact a summary may tell: the sentence that would show it and the group behind it."""

    shown: SourceSentence
    group: FactGroup
    score: float


def rank_groups(facts: Facts, groups: Sequence[FactGroup], total_outlets: int,
                told: Callable[[str], bool] | None = None) -> list[Candidate]:
    """Groups worth telling, best first; each shown by its best quotable member. Where no
    group has a quotable one (every line a fragment), fragments serve rather than nothing. A
    group shown by a sentence that reads as an instruction to a model is left out while any
    other can be told."""
    quotable = any(best_member(g) is not None for g in groups)
    shown_by = {id(g): best_member(g) if quotable else g.shown for g in groups}
    harmless = any(s is not None and not suspicious(s.text) for s in shown_by.values())
    out = []
    for group in groups:
        shown = shown_by[id(group)]
        if shown is None or (harmless and suspicious(shown.text)):
            continue
        score = OUTLETS * len(group.outlets()) / max(1, total_outlets) \
            + _worth(facts, shown)
        if told is not None and told(shown.text):
            score -= NOVELTY
        out.append(Candidate(shown=shown, group=group, score=score))
    return sorted(out, key=lambda c: -c.score)


def rank_sentences(facts: Facts, sentences: Sequence[SourceSentence],
                   group_of: dict[str, FactGroup], total_outlets: int) -> list[Candidate]:
    """One article's own quotable sentences, best first; a fact other outlets also report
    counts for more. Sentences that read as instructions to a model are offered only by an
    article that has nothing else (and are then shown marked)."""
    harmless = [s for s in sentences if not suspicious(s.text)] or list(sentences)
    quotable = [s for s in harmless if is_quotable(s)] or harmless
    out = []
    for s in quotable:
        group = group_of[s.id]
        score = OUTLETS * (len(group.outlets()) - 1) / max(1, total_outlets) \
            + _worth(facts, s)
        out.append(Candidate(shown=s, group=group, score=score))
    return sorted(out, key=lambda c: -c.score)


def best_member(group: FactGroup) -> SourceSentence | None:
    """The sentence that shows the group's fact (the one its outlets back), if quotable."""
    return group.shown if is_quotable(group.shown) else None


def _worth(facts: Facts, s: SourceSentence) -> float:
    """What a sentence is worth apart from its outlets: central, early, standing alone."""
    return CENTRALITY * facts.centrality(s.id) + LEAD * (1 - s.position) \
        - STANDALONE * standalone(s)


def select(facts: Facts, ranked: Sequence[Candidate], limit: int) -> list[Candidate]:
    """Up to `limit` candidates by maximal marginal relevance: worth, minus likeness to those
    already chosen, plus a bonus for an article not yet heard from."""
    chosen: list[Candidate] = []
    heard: set[str] = set()
    left = list(ranked)
    while left and len(chosen) < limit:
        def gain(c: Candidate) -> float:
            likeness = max((_likeness(facts, c, other) for other in chosen), default=0.0)
            new = any(m.article_id not in heard for m in c.group.members)
            return c.score - REDUNDANCY * likeness + (NEW_ARTICLE if new else 0.0)

        # A candidate that reports a fact already told (by another outlet's words) waits
        # until nothing new is left.
        fresh = [c for c in left
                 if all(_likeness(facts, c, other) < SAME_FACT for other in chosen)]
        best = max(fresh or left, key=gain)
        left.remove(best)
        chosen.append(best)
        heard.update(m.article_id for m in best.group.members)
    return chosen


def _likeness(facts: Facts, a: Candidate, b: Candidate) -> float:
    if a.group is b.group:
        return 1.0
    return facts.similarity(a.shown.id, b.shown.id)
