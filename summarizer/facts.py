"""Fact groups: sentences from different articles that report the same fact, and their disputes.

Every cleaned article is split into source sentences (each one a citable passage). Sentences of
different articles that share most of their weighted content words report the same fact and
form a group around the sentence most like the others. A group knows its outlets; members that
give another number or date for the same thing, or deny what the others state, make it disputed.
Candidates come from an inverted index of content words, so cost grows with the pairs that share
words, not with the square of the sentences.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from .byline import dateline_end, is_byline
from .chunk import split_long
from .dedup import Span
from .models import UNKNOWN_OUTLET, Article, Citation, Dispute, Duplicate, Side
from .text import (
    MONTHS,
    NUMBER_WORDS,
    OPPOSITE,
    ROUGH_NUMBERS,
    SENTENCE_END,
    WEEKDAYS,
    Token,
    figure,
    is_calendar,
    is_content,
    is_figure,
    normalise,
    split_polarity,
    split_sentences,
    stem,
    tokenize,
)

SAME_FACT = 0.45  # weighted cosine of content words above which two sentences report one fact
RELATED = 0.375  # ... and above which a sentence may join a group all of whose members it nears
PARALLEL = 0.6  # ... above which a different number in them is a dispute, not another fact
SHOWN_CANDIDATES = 6  # members tried as the group's shown sentence
MAX_POSTINGS = 200  # a word in more sentences than this finds no candidates (too common)
WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class SourceSentence:
    """A sentence of a cleaned article: the passage a summary sentence can quote and cite."""

    id: str  # "a.s": article number and sentence number, as prompts show it
    article_id: str
    article_no: int
    start: int  # offsets in the cleaned article text; the dateline, if any, left out
    end: int
    text: str
    position: float  # 0 for the lead sentence, 1 for the last
    outlets: tuple[str, ...]  # outlet keys of its article (unknown ones unique per article)

    def citation(self) -> Citation:
        return Citation(article_id=self.article_id, passage=self.id, start=self.start,
                        end=self.end, quote=self.text)


@dataclass
class FactGroup:
    """Sentences of different articles reporting one fact; `members[0]` founded the group."""

    members: list[SourceSentence]
    # The sentence shown for the fact first, then the sentences that back it (some may sit
    # in other groups): these are counted and cited.
    agreeing: list[SourceSentence]
    disputes: list[Dispute] = field(default_factory=list)

    @property
    def shown(self) -> SourceSentence:
        return self.agreeing[0]

    def outlets(self) -> set[str]:
        """Outlet keys of the sentences that back the shown one, its own included."""
        return {o for m in self.agreeing for o in m.outlets}


def outlet_keys(article: Article) -> tuple[str, ...]:
    """Who carried an article; an article (or merged copy) with no known outlet stands for one
    of its own."""
    return tuple(f"{UNKNOWN_OUTLET}#{article.id}#{n}" if outlet == UNKNOWN_OUTLET else outlet
                 for n, outlet in enumerate(article.outlets()))


def outlet_name(key: str) -> str:
    """How an outlet key reads: 'unknown outlet' for articles that name none."""
    return UNKNOWN_OUTLET if key.startswith(f"{UNKNOWN_OUTLET}#") else key


def source_sentences(articles: Sequence[Article], paragraphs: Mapping[str, Sequence[Span]],
                     duplicates: Sequence[Duplicate] = ()) -> list[SourceSentence]:
    """The sentences of each article's kept paragraphs, numbered per article; headline and
    byline lines are left out: they are not facts to report. A sentence also counts the outlets
    of articles whose copy of its paragraph was left out as a duplicate."""
    by_id = {a.id: a for a in articles}
    copies: dict[str, list[tuple[str, tuple[str, ...]]]] = defaultdict(list)
    for d in duplicates:
        if d.kind == "paragraph" and d.duplicate_of in by_id and d.article_id in by_id:
            copies[d.duplicate_of].append((normalise(d.text), outlet_keys(by_id[d.article_id])))
    out: list[SourceSentence] = []
    for no, article in enumerate(articles, 1):
        spans = []
        for span in paragraphs.get(article.id, ()):
            paragraph = article.text[span.start:span.end]
            if _is_masthead(paragraph, article):
                continue
            spans += [(span.start + s + a, span.start + s + b)
                      for s, e in split_sentences(paragraph)
                      for a, b in split_long(paragraph[s:e])]
        for k, (start, end) in enumerate(spans, 1):
            start += _dateline_length(article.text[start:end])
            text = article.text[start:end]
            outlets = outlet_keys(article) + tuple(
                o for copy, theirs in copies[article.id] if _copied(text, copy)
                for o in theirs)
            out.append(SourceSentence(
                id=f"{no}.{k}", article_id=article.id, article_no=no, start=start, end=end,
                text=text, position=(k - 1) / max(1, len(spans) - 1),
                outlets=tuple(dict.fromkeys(outlets))))
    return out


def _copied(sentence: str, copy: str) -> bool:
    """Whether a paragraph left out as a (near) copy carries this sentence: verbatim, or with
    nearly all its words (a wire copy with a word respelt)."""
    text = normalise(sentence)
    if text in copy:
        return True
    words = set(WORD.findall(text))
    return len(words) >= 6 and len(words & set(WORD.findall(copy))) >= 0.85 * len(words)


def _is_masthead(paragraph: str, article: Article) -> bool:
    return paragraph == article.title or is_byline(paragraph)


def _dateline_length(text: str) -> int:
    """'LONDON (Reuters) - ': where a wire dateline ends, so that quotes start at the news."""
    end = dateline_end(text)
    return end if len(text) - end > 20 else 0


def is_quotable(sentence: SourceSentence) -> bool:
    """A sentence that reads as a statement on its own: whole, not a headline or a question."""
    words = len(sentence.text.split())
    return 6 <= words <= 70 and bool(SENTENCE_END.search(sentence.text)) \
        and not sentence.text.rstrip("\"”’' ").endswith("?")


# Words that lean on the sentence before: a quote of "He said ..." leaves the reader asking who.
LEANING = frozenset(
    "he she they it this that these those his her their its him them but and or so also "
    "however meanwhile still yet there then thus".split())


def standalone(sentence: SourceSentence) -> float:
    """0 for a sentence that stands alone, up to 1 for one that needs its neighbours."""
    text = sentence.text
    first = re.match(r"[\"“‘']?\s*([A-Za-z]+)", text)
    penalty = 0.0
    if first and first.group(1).lower() in LEANING:
        penalty += 0.6
    if text[:1] in "\"“‘'":
        penalty += 0.3  # a quotation first: who speaks comes last, if at all
    if re.search(r"[,.]?[\"”’']?\s+(?:he|she|they|it)\s+(?:said|added|says)\.?$", text):
        penalty += 0.3
    if text.count("\"") % 2 or text.count("“") != text.count("”"):
        penalty += 0.3  # a quotation cut by the sentence splitter
    return min(1.0, penalty)


@dataclass
class _Analysis:
    text: str
    tokens: list[Token]
    content: set[str]
    negated: set[str]
    plain: set[str]

    # Read off the tokens the first time a comparison needs them: a sentence near others is
    # compared with many, most sentences with none.
    @cached_property
    def quantities(self) -> list[tuple[str, str, str]]:
        return _quantities(self.tokens, self.text)

    @cached_property
    def figures(self) -> set[str]:
        return _figures(self.tokens)

    @cached_property
    def opposable(self) -> list[tuple[Token, set[str]]]:
        """Tokens with known opposites, and those opposites."""
        return [(t, OPPOSITE[t.stem]) for t in self.tokens if t.stem in OPPOSITE]


class Facts:
    """The source sentences of a run, analysed once: similarities, groups, disputes.

    Sums over sets of words are exact (math.fsum): a set's order changes with each run's string
    hashing, and a last-bit difference must not decide between two equally close sentences.
    """

    def __init__(self, sentences: Sequence[SourceSentence]) -> None:
        self.sentences = list(sentences)
        self.by_id = {s.id: s for s in self.sentences}
        # Sentences with the same words (a wire copy's) compare alike: each pair of texts is
        # compared once, through the first sentence that has the text.
        first: dict[str, str] = {}
        self._like = {s.id: first.setdefault(s.text, s.id) for s in self.sentences}
        self._clashes: dict[tuple[str, str], tuple[str, str] | None] = {}
        self._analysis: dict[str, _Analysis] = {}
        postings: dict[str, list[str]] = defaultdict(list)
        for s in self.sentences:
            tokens = tokenize(s.text)
            negated, plain = split_polarity(tokens)
            content = {t.stem for t in tokens if is_content(t)}
            self._analysis[s.id] = _Analysis(s.text, tokens, content, negated, plain)
            for word in content:
                postings[word].append(s.id)
        self._postings = postings
        total = max(1, len(self.sentences))
        self._idf = {w: math.log(1 + total / len(ids)) for w, ids in postings.items()}
        self._norm = {s.id: self._length(self._analysis[s.id].content) for s in self.sentences}
        # The same without figures, for telling "three died" and "four died" apart as parallel.
        self._plain = {s.id: {w for w in self._analysis[s.id].content if not _is_figure(w)}
                       for s in self.sentences}
        self._plain_norm = {sid: self._length(words) for sid, words in self._plain.items()}
        centroid: dict[str, float] = defaultdict(float)
        for s in self.sentences:
            for w in self._analysis[s.id].content:
                centroid[w] += self._idf[w] / self._norm[s.id]
        self._centroid = centroid
        self._centroid_norm = math.sqrt(math.fsum(v * v for v in centroid.values())) or 1.0

    def _length(self, words: set[str]) -> float:
        return math.sqrt(math.fsum(self._idf[w] ** 2 for w in words)) or 1.0

    def similarity(self, a: str, b: str, figures: bool = True) -> float:
        """Cosine of the two sentences' content words, each weighted by its rarity in the run;
        without `figures`, numbers are left out ("three died" and "four died" are parallel)."""
        if not figures:
            shared = math.fsum(self._idf[w] ** 2 for w in self._plain[a] & self._plain[b])
            return shared / (self._plain_norm[a] * self._plain_norm[b])
        wa, wb = self._analysis[a].content, self._analysis[b].content
        shared = math.fsum(self._idf[w] ** 2 for w in wa & wb)
        return shared / (self._norm[a] * self._norm[b])

    def centrality(self, sid: str) -> float:
        """How close a sentence is to what the run's sentences talk about overall (0..1)."""
        words = self._analysis[sid].content
        dot = math.fsum(self._idf[w] * self._centroid[w] for w in words) / self._norm[sid]
        return dot / self._centroid_norm

    def _shared(self, sid: str, among: set[str] | None) -> dict[str, tuple[float, float]]:
        """Per sentence that shares words with this one (those of its own article included):
        the weight of the shared words, with and without figures, summed along the inverted
        index (no pair is compared word by word). Words are taken in one fixed order, so that
        neither the sums nor the order of the sentences found depends on how this run hashes
        strings."""
        out: dict[str, list[float]] = {}
        for word in sorted(self._analysis[sid].content):
            ids = self._postings[word]
            if len(ids) > MAX_POSTINGS:
                continue
            weight = self._idf[word] ** 2
            plain = 0.0 if _is_figure(word) else weight
            for other in ids:
                if among is not None and other not in among:
                    continue
                sums = out.setdefault(other, [0.0, 0.0])
                sums[0] += weight
                sums[1] += plain
        return {other: (a, b) for other, (a, b) in out.items()}

    def groups(self, article_ids: Sequence[str] | None = None) -> list[FactGroup]:
        """Fact groups over the sentences of `article_ids` (default: all), each sentence in one.

        The sentence with the most (and closest) same-fact neighbours founds the first group;
        its neighbours join, closest first, one per article, each only when it reports the same
        fact as the founder and is related to every member already in (a sentence that tells
        two facts does not pull both facts' sentences into one group). Then the next founder.
        """
        wanted = None if article_ids is None else set(article_ids)
        pool = [s for s in self.sentences if wanted is None or s.article_id in wanted]
        ids = {s.id for s in pool}
        # One pass along the index per sentence: what reports the same fact (or disputes it),
        # and what is related enough to back a group's shown sentence from another group.
        near: dict[str, dict[str, float]] = {}
        related: dict[str, dict[str, float]] = {}
        found: dict[str, tuple[dict[str, float], dict[str, float]]] = {}
        for s in pool:
            like = self._like[s.id]  # one walk along the index per text
            if like not in found:
                found[like] = self._near(s.id, ids)
            near[s.id], related[s.id] = (
                {o: v for o, v in each.items() if self.by_id[o].article_id != s.article_id}
                for each in found[like])
        order = sorted(pool, key=lambda s: (-sum(near[s.id].values()), s.article_no, s.position))
        taken: set[str] = set()
        groups = []
        for founder in order:
            if founder.id in taken:
                continue
            members = [founder]
            articles = {founder.article_id}
            joined: dict[str, None] = {}  # the texts of the members after the founder
            for other, _ in sorted(near[founder.id].items(), key=lambda item: -item[1]):
                candidate = self.by_id[other]
                if other in taken or candidate.article_id in articles:
                    continue
                if all(self._related(m, other) for m in joined):
                    members.append(candidate)
                    articles.add(candidate.article_id)
                    joined[self._like[other]] = None
            taken.update(m.id for m in members)
            groups.append(self._settle(members, related))
        return groups

    def _near(self, sid: str, among: set[str],
              ) -> tuple[dict[str, float], dict[str, float]]:
        """Sentences that report the same fact as this one or dispute it, and those related
        to it at all, each with its similarity (those of its own article included)."""
        near, related = {}, {}
        for other, (shared, plain) in self._shared(sid, among).items():
            value = shared / (self._norm[sid] * self._norm[other])
            parallel = plain / (self._plain_norm[sid] * self._plain_norm[other])
            if value >= SAME_FACT or (parallel >= PARALLEL and self.clash(sid, other, True)):
                near[other] = value
            if value >= RELATED:
                related[other] = value
        return near, related

    def _related(self, a: str, b: str) -> bool:
        """Close enough to stay in one group with a member: near the same fact, or disputing it."""
        return self.similarity(a, b) >= RELATED or self.clash(a, b) is not None

    def _settle(self, members: list[SourceSentence],
                related: dict[str, dict[str, float]]) -> FactGroup:
        """The group with its disputes, and the member that shows it best.

        Members that clash on a number, a date or a negation (in sentences parallel enough to
        speak of one thing) take sides; the side the most outlets are on is the one shown, and
        each other value is a side of a dispute. Of the shown side, the sentence shown is the
        one the most outlets back (see `supports`); only those outlets count for it, and only
        their sentences are cited.
        """
        founder = self._founder(members)
        agreeing = [founder]
        sides = {self._like[founder.id]: None}  # the texts of the founder's side, in order
        clashes: dict[str, list[tuple[SourceSentence, str]]] = {}
        values: dict[str, str] = {}  # a value as compared (see `_value`) -> its key in clashes
        for member in (m for m in members if m is not founder):
            # A clash with any member of the founder's side puts it on another side: two
            # sentences may be too far apart in wording to compare, yet each near a third.
            clash = next((c for a in sides if (c := self.clash(a, member.id))), None)
            if clash is None:
                agreeing.append(member)
                sides[self._like[member.id]] = None
            else:
                mine = values.setdefault(_value(clash[0]), clash[0])
                clashes.setdefault(mine, []).append((member, clash[1]))
        shown, backing = self._best_backed(agreeing)
        backing += self._also_told(shown, [shown, *backing, *members], related[shown.id])
        group = FactGroup(members=[founder, *(m for m in members if m is not founder)],
                          agreeing=[shown, *backing])
        for mine, others in clashes.items():
            group.disputes.append(_dispute(agreeing, mine, others))
        return group

    def _founder(self, members: list[SourceSentence]) -> SourceSentence:
        """The member with the most outlets among the members it does not clash with (the
        first such); members with one text share their count, worked out once."""
        if len(members) == 1:
            return members[0]
        by_text: dict[str, list[SourceSentence]] = {}
        for m in members:
            by_text.setdefault(self._like[m.id], []).append(m)
        agreed = {a: len({o for b, theirs in by_text.items() if self.clash(a, b) is None
                          for x in theirs for o in x.outlets})
                  for a in by_text}
        return max(members, key=lambda m: agreed[self._like[m.id]])  # the first of the best

    def _also_told(self, shown: SourceSentence, counted: Sequence[SourceSentence],
                   related: dict[str, float]) -> list[SourceSentence]:
        """Sentences of articles not yet counted that also back the shown one, though they sit
        in another group: "the span fell at 6:40, killing two" tells of the dead too."""
        heard = {m.article_id for m in counted}
        best: dict[str, tuple[float, SourceSentence]] = {}
        for other, value in related.items():
            sentence = self.by_id[other]
            if sentence.article_id in heard:
                continue
            if self.supports(sentence, shown) and self.clash(shown.id, other) is None and \
                    value > best.get(sentence.article_id, (0.0, sentence))[0]:
                best[sentence.article_id] = (value, sentence)
        return [sentence for _, sentence in sorted(best.values(), key=lambda b: -b[0])]

    def _best_backed(self, agreeing: list[SourceSentence],
                     ) -> tuple[SourceSentence, list[SourceSentence]]:
        """The member the most outlets back, and the members that back it."""
        if len(agreeing) == 1:
            return agreeing[0], []
        candidates = [m for m in agreeing if is_quotable(m)][:SHOWN_CANDIDATES] or agreeing[:1]
        best: tuple[tuple[float, ...], SourceSentence, list[SourceSentence]] | None = None
        for candidate in candidates:
            backing = [m for m in agreeing if m is not candidate and self.supports(m, candidate)]
            outlets = {o for m in (candidate, *backing) for o in m.outlets}
            key = (len(outlets), -standalone(candidate), -candidate.position)
            if best is None or key > best[0]:
                best = (key, candidate, backing)
        assert best is not None
        return best[1], best[2]

    def supports(self, source: SourceSentence, claim: SourceSentence) -> bool:
        """Whether a member of the same fact group backs another: it gives every number, date
        and weekday the other gives, and denies nothing the other asserts. (The checker's
        entailment is too strict for one fact told in other words: it would count one outlet
        where three report it.)"""
        mine, theirs = self._analysis[source.id], self._analysis[claim.id]
        return theirs.figures <= mine.figures \
            and not (mine.negated & theirs.plain) and _opposed(theirs, mine) is None

    def clash(self, a: str, b: str, parallel: bool = False) -> tuple[str, str] | None:
        """What sentence `a` says and `b` says otherwise, e.g. ('3 people', '4 people'); None
        when they agree or are not parallel enough to tell (`parallel`: known to be). The
        answer is kept by the pair alone: a caller that says `parallel` has measured the same
        similarity `_clash` would (`_near`'s sums without figures, along the index)."""
        key = (self._like[a], self._like[b])
        if key not in self._clashes:
            self._clashes[key] = self._clash(*key, parallel)
        return self._clashes[key]

    def _clash(self, a: str, b: str, parallel: bool) -> tuple[str, str] | None:
        # What differs first, then whether the sentences are parallel enough for it to count:
        # most pairs differ in nothing, and that is quicker to see than their similarity.
        found = _differ(self._analysis[a], self._analysis[b])
        if found is None or \
                (not parallel and self.similarity(a, b, figures=False) < PARALLEL):
            return None
        return found


def _differ(first: _Analysis, second: _Analysis) -> tuple[str, str] | None:
    """The first thing one sentence says and the other says otherwise: a number counting the
    same thing, a denial, an opposite word; None when there is none."""
    ours, others = first.quantities, second.quantities
    for value, unit, text in ours:
        theirs = [(v, t) for v, u, t in others if u == unit]
        mine = {v for v, u, _ in ours if u == unit}
        if theirs and all(v not in mine for v, _ in theirs) and \
                value not in {v for v, _ in theirs}:
            return text, theirs[0][1]
    shared = first.content & second.content
    if denied := sorted(first.negated & second.plain & shared):
        return f"not {denied[0]}", denied[0]
    if denied := sorted(second.negated & first.plain & shared):
        return denied[0], f"not {denied[0]}"
    return _opposed(first, second)


def _opposed(first: _Analysis, second: _Analysis) -> tuple[str, str] | None:
    """A word of one sentence whose opposite the other uses instead ("approved" against
    "rejected"), as written in each; None when there is none."""
    for token, opposites in first.opposable:
        against = opposites & second.content
        if against and token.stem not in second.content:
            other = next(t for t in second.tokens if t.stem in against)
            return token.text, other.text
    return None


def _quantities(tokens: Sequence[Token], text: str) -> list[tuple[str, str, str]]:
    """(value, what it counts, as written): '3 people', '6:40 am', 'March 14' (the month counts
    the day). Values are kept as written, digits or words, normalised to digits where simple."""
    out = []
    for i, token in enumerate(tokens):
        if not is_figure(token.lower):
            continue
        value = figure(token.lower)
        previous = tokens[i - 1] if i else None
        if previous is not None and previous.lower in MONTHS:
            out.append((value, f"month:{MONTHS[previous.lower]}", text[previous.start:token.end]))
            continue
        for unit in tokens[i + 1:i + 3]:
            if unit.lower[:1].isdigit():
                break
            if unit.lower in ("am", "pm"):  # "2 a.m.": a time of day
                out.append((value, "time", text[token.start:unit.end]))
                break
            if is_content(unit):
                out.append((value, unit.stem, text[token.start:unit.end]))
                break
    return out


# Number words as their stems, to tell them among a sentence's content words.
FIGURE_STEMS = frozenset(stem(w) for w in (*NUMBER_WORDS, *ROUGH_NUMBERS))


def _figures(tokens: Sequence[Token]) -> set[str]:
    """The numbers (as digits), weekdays and months a sentence gives."""
    out = {figure(t.lower) for t in tokens if is_figure(t.lower)}
    calendar = [t for i, t in enumerate(tokens) if is_calendar(tokens, i)]
    out |= {WEEKDAYS[t.lower] for t in calendar if t.lower in WEEKDAYS}
    return out | {f"month:{MONTHS[t.lower]}" for t in calendar
                  if t.lower in MONTHS and t.lower != "may"}


def _is_figure(word: str) -> bool:
    return word[:1].isdigit() or word in FIGURE_STEMS


def _dispute(agreeing: Sequence[SourceSentence], mine: str,
             others: Sequence[tuple[SourceSentence, str]]) -> Dispute:
    """'Sources differ: The Courier and the Ledger report “3 people”; the Post “4 people”.'"""
    sides = [(mine, list(agreeing))]
    for member, value in others:
        same = next((side for side in sides[1:] if _same_value(side[0], value)), None)
        if same is None:
            sides.append((value, [member]))
        else:
            same[1].append(member)
    parts = []
    out = []
    for n, (value, who) in enumerate(sides):
        outlets = tuple(dict.fromkeys(outlet_name(o) for m in who for o in m.outlets))
        verb = "" if n else (" report" if len(outlets) > 1 else " reports")
        parts.append(f"{_names(outlets)}{verb} “{value}”")
        out.append(Side(outlets=outlets, value=value, citation=who[0].citation()))
    return Dispute(text=f"Sources differ: {'; '.join(parts)}.", sides=tuple(out))


def _same_value(a: str, b: str) -> bool:
    return _value(a) == _value(b)


@lru_cache(maxsize=4096)
def _value(text: str) -> str:
    """A value as compared: '4 People' and 'four people' alike."""
    return " ".join(map(figure, text.lower().split()))


def _names(outlets: Sequence[str]) -> str:
    if len(outlets) == 1:
        return outlets[0]
    return ", ".join(outlets[:-1]) + " and " + outlets[-1]
