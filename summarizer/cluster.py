"""Group a digest's articles into stories (same event), and link stories to earlier days' ones.

Two articles are compared by what they say and whom they name: a TF-IDF cosine over content-word
stems (IDF from the articles being clustered) and the overlap of the names they mention. Articles
published more than `max_days` apart never share a story. Grouping is average-linkage
agglomerative clustering: a cluster joins another only when their articles are similar on
average, so one broad article cannot chain unrelated stories together the way single linkage
lets a hub do.
"""

from __future__ import annotations

import hashlib
import math
import operator
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from .models import Article, published_at
from .text import TOKEN, find_names, is_content_word, plain_word, stem

# Weight of the TF-IDF cosine in the score; the rest is the overlap of names. Words carry most of
# the evidence; names separate two events of one kind (two bridge collapses, two council votes).
WORD_WEIGHT = 0.6
NAME_WEIGHT = 1.0 - WORD_WEIGHT
# Observed on the tests' data (tests/test_cluster.py): reports of one event from different outlets
# score 0.29-0.40 against each other (Syria air strikes, October 2015, four outlets) and 0.38-0.60
# (the Brackwater bridge collapse and its follow-ups); unrelated local news at most 0.06. A report
# on the same topic but a later event (Turkey asking for ground troops, February 2016) scores
# 0.17-0.31 against the October reports, 0.24-0.26 on average depending on the other articles
# that set the IDF: a borderline case, which dates settle. 0.25 keeps every same-event cluster's
# average (0.31 and up) clear of the bar: splitting one event's coverage across stories costs a
# digest more than folding a same-topic report into it.
CLUSTER_THRESHOLD = 0.25
# A story against an earlier story's title and summary sentences: same event 0.41-0.57, the
# February 2016 report against the October reports' headlines 0.21, unrelated at most 0.03.
# 0.3 is mid-gap: marking a story as an update of a different event misleads more than missing one.
CONTINUATION_THRESHOLD = 0.3
# A name mentioned once may be a passing reference; the overlap counts each name at most this
# many times, so a story's central names (said again and again) weigh more than asides.
NAME_COUNT_CAP = 3

@dataclass(frozen=True)
class Story:
    id: str  # stable: hash of its sorted article ids (16 hex chars)
    title: str | None  # the title of its earliest (or, undated, most central) article
    article_ids: tuple[str, ...]  # in the order given


@dataclass(frozen=True)
class Profile:
    """What a text is compared by: content-stem counts and name counts."""

    terms: Counter[str]
    names: Counter[str]


def cluster(articles: Sequence[Article], *, max_days: int = 3,
            threshold: float = CLUSTER_THRESHOLD) -> list[Story]:
    """Group articles that report the same event into stories."""
    if not articles:
        return []
    # Work in id order so that the grouping (and every float sum) is the same for any input order.
    order = sorted(range(len(articles)), key=lambda i: (articles[i].id, i))
    items = [articles[i] for i in order]
    profiles = [profile(article_text(a)) for a in items]
    times = [published_at(a.published) for a in items]
    sims = similarity_matrix(profiles)
    groups = average_linkage(sims, times, max_days, threshold)
    stories = []
    for group in groups:
        members = sorted(group, key=lambda k: order[k])  # back to the order given
        stories.append((order[members[0]], Story(
            id=story_id(items[k].id for k in members),
            title=pick_title([items[k] for k in members], [times[k] for k in members],
                             [[sims[k][j] for j in members] for k in members]),
            article_ids=tuple(items[k].id for k in members),
        )))
    return [story for _, story in sorted(stories, key=lambda pair: pair[0])]


def same_event(a_text: str, b_text: str, *, corpus: Sequence[str] = ()) -> float:
    """How alike two texts are as reports of one event, 0..1; IDF from both texts and `corpus`."""
    profiles = [profile(a_text), profile(b_text), *(profile(t) for t in corpus)]
    return similarity(profiles[0], profiles[1], idf_weights(profiles))


def continues(story_articles: Sequence[Article], earlier: Sequence[tuple[str, Sequence[str]]],
              *, threshold: float = CONTINUATION_THRESHOLD) -> str | None:
    """The id of the earlier story this story continues (same event), or None."""
    if not story_articles or not earlier:
        return None
    current = profile("\n".join(article_text(a) for a in story_articles))
    previous = [profile("\n".join(texts)) for _, texts in earlier]
    idf = idf_weights([current, *previous])
    scores = [similarity(current, p, idf) for p in previous]
    best = max(range(len(scores)), key=lambda i: (scores[i], -i))
    return earlier[best][0] if scores[best] >= threshold else None


def article_text(article: Article) -> str:
    """The text compared: the title (when the text does not already open with it) and the body."""
    if article.title and article.title not in article.text[: len(article.title) + 200]:
        return f"{article.title}\n{article.text}"
    return article.text


def profile(text: str) -> Profile:
    """Content-word stems and names of a text, with their counts."""
    raw = TOKEN.findall(text)
    words = [plain_word(w) for w in raw]
    terms = Counter(stem(w) for w in words if is_content_word(w) and not w[0].isdigit())
    lowercase = {stem(w) for w, r in zip(words, raw, strict=True) if r.islower()}
    return Profile(terms=terms, names=Counter(find_names(text, lowercase)))


def idf_weights(profiles: Sequence[Profile]) -> dict[str, float]:
    """Smoothed inverse document frequency of every stem: ln((1 + n) / (1 + df)) + 1."""
    df: Counter[str] = Counter()
    for p in profiles:
        df.update(p.terms.keys())
    n = len(profiles)
    return {term: math.log((1 + n) / (1 + count)) + 1 for term, count in df.items()}


def tfidf(p: Profile, idf: dict[str, float]) -> dict[str, float]:
    """Unit-length TF-IDF vector; counts are damped (1 + ln tf) so no one word dominates."""
    vector = {term: (1 + math.log(count)) * idf.get(term, 1.0) for term, count in p.terms.items()}
    norm = math.sqrt(sum(w * w for w in vector.values()))
    return {term: w / norm for term, w in vector.items()} if norm else {}


def cosine(u: dict[str, float], v: dict[str, float]) -> float:
    """Dot product of two unit vectors over their shared terms (the set intersection runs in C);
    summed exactly, as the order of a set of strings changes from run to run."""
    return math.fsum(u[term] * v[term] for term in u.keys() & v.keys())


def capped(names: Counter[str]) -> dict[str, int]:
    """Each name counted at most NAME_COUNT_CAP times."""
    return {name: min(count, NAME_COUNT_CAP) for name, count in names.items()}


def name_overlap(a: dict[str, int], b: dict[str, int]) -> float:
    """Overlap coefficient of two capped name multisets: shared mentions / the smaller total.

    Not Jaccard: a short report names fewer people than a long one about the same event, and
    should not be penalised for it.
    """
    if not a or not b:
        return 0.0
    shared = sum(min(a[name], b[name]) for name in a.keys() & b.keys())
    return shared / min(sum(a.values()), sum(b.values()))


def similarity(p: Profile, q: Profile, idf: dict[str, float]) -> float:
    """One score in 0..1: weighted TF-IDF cosine and name overlap."""
    words = cosine(tfidf(p, idf), tfidf(q, idf))
    return WORD_WEIGHT * words + NAME_WEIGHT * name_overlap(capped(p.names), capped(q.names))


def similarity_matrix(profiles: Sequence[Profile]) -> list[list[float]]:
    """Pairwise scores of all profiles, IDF taken from the profiles themselves."""
    idf = idf_weights(profiles)
    words = pair_sums([tfidf(p, idf) for p in profiles], operator.mul)
    names = [capped(p.names) for p in profiles]
    shared_names = pair_sums(names, min)
    totals = [sum(n.values()) for n in names]
    n = len(profiles)
    sims = [[1.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            smaller = min(totals[i], totals[j])
            overlap = shared_names[i][j] / smaller if smaller else 0.0
            sims[i][j] = sims[j][i] = WORD_WEIGHT * words[i][j] + NAME_WEIGHT * overlap
    return sims


def pair_sums(weights: Sequence[Mapping[str, float]],
              combine: Callable[[float, float], float]) -> list[list[float]]:
    """For every pair i < j, the sum over shared keys of combine(weight in i, weight in j).

    Through an inverted index, so only pairs that share a key cost anything: three times faster
    than intersecting every pair's key sets on 200 articles.
    """
    postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for i, items in enumerate(weights):
        for key, weight in items.items():
            postings[key].append((i, weight))
    sums = [[0.0] * len(weights) for _ in weights]
    for posting in postings.values():
        for k, (i, a) in enumerate(posting):
            row = sums[i]
            for j, b in posting[k + 1 :]:
                row[j] += combine(a, b)
    return sums


def too_far_apart(a: datetime | None, b: datetime | None, max_days: int) -> bool:
    """Known dates more than max_days apart; an unknown date never blocks."""
    return a is not None and b is not None and abs((a.date() - b.date()).days) > max_days


def average_linkage(sims: list[list[float]], times: Sequence[datetime | None], max_days: int,
                    threshold: float) -> list[list[int]]:
    """Merge the most similar pair of clusters while their average similarity clears the bar.

    Time is a hard limit: two clusters never merge when any pair across them is too far apart,
    so a chain of daily follow-ups cannot stretch one story over weeks.
    """
    n = len(sims)
    members: dict[int, list[int]] = {i: [i] for i in range(n)}
    link = {(i, j): sims[i][j] for i in range(n) for j in range(i + 1, n)}
    blocked = {(i, j) for i in range(n) for j in range(i + 1, n)
               if too_far_apart(times[i], times[j], max_days)}
    # Only pairs that could merge are searched; all links are kept for the averages.
    live = {pair: score for pair, score in link.items()
            if score >= threshold and pair not in blocked}
    while live:
        # Highest score first; ties to the lowest indexes, so the result never depends on order.
        pair = min(live, key=lambda key: (-live[key], key))
        a, b = pair
        size_a, size_b = len(members[a]), len(members[b])
        for c in members:
            if c in (a, b):
                continue
            ac, bc = _key(a, c), _key(b, c)
            # Lance-Williams update for average linkage: the size-weighted mean of the two links.
            link[ac] = (size_a * link[ac] + size_b * link.pop(bc)) / (size_a + size_b)
            if bc in blocked:
                blocked.add(ac)
            live.pop(bc, None)
            if link[ac] >= threshold and ac not in blocked:
                live[ac] = link[ac]
            else:
                live.pop(ac, None)
        del link[pair], live[pair]
        members[a].extend(members.pop(b))
    return [sorted(group) for group in members.values()]


def _key(i: int, j: int) -> tuple[int, int]:
    return (i, j) if i < j else (j, i)


def story_id(article_ids: Iterable[str]) -> str:
    """Stable id of a story: the same articles give the same id, in any order."""
    return hashlib.sha1("\n".join(sorted(article_ids)).encode("utf-8")).hexdigest()[:16]


def pick_title(members: Sequence[Article], times: Sequence[datetime | None],
               sims: Sequence[Sequence[float]]) -> str | None:
    """The title of the earliest dated member; among equals (or undated), the most central one."""
    candidates = [k for k, a in enumerate(members) if a.title]
    if not candidates:
        return None

    def rank(k: int) -> tuple[datetime, float, str]:
        centrality = sum(sims[k]) / len(sims[k])
        moment = times[k] or datetime.max
        if moment != datetime.max and len((members[k].published or "").strip()) <= 10:
            # A bare date (read off a byline, say) may be any hour of its day: it does not
            # come before a report stamped with a time that day.
            moment = moment.replace(hour=23, minute=59, second=59)
        return (moment, -centrality, members[k].id)

    return members[min(candidates, key=rank)].title
