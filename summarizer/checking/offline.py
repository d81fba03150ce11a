"""Offline support checker: is a claim backed by the source passages? No model, no network.

A claim is split into sentences (list markers and words about the text, "The article reports
that", left out); each sentence is aligned with the source sentence sharing most of its content
words and scored from lexical evidence (unigram and bigram precision against that sentence, and
the share of its words a token alignment finds in place of other words there) and from the errors
summaries typically make (a name, number or date found in no passage, a negation the source does
not have, a number, colour, kin word... swapped for another of its kind, or a word for its
opposite said of the same thing). The weights and cuts come from a small logistic regression
fitted on the dev rows of every labelled set (evals/fit_support.py writes support_fit.json;
figures in evals/README.md); a claim scores as its weakest sentence, because one bad sentence
makes it unsupported. Relations the words alone do not show (who does what, who says it, on what
condition, how surely, which quantity a number gives) are flagged for a judge, not scored.
"""

from __future__ import annotations

import difflib
import json
import math
from bisect import bisect_left
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal

from ..language import language_name
from ..text import (
    ALIASES,
    CLASSES_OF,
    MONTHS,
    NAME_CONNECTORS,
    NUMBER_WORDS,
    OPPOSITE,
    SCALES,
    SPEECH_WORDS,
    TITLES,
    WEEKDAYS,
    Token,
    claim_body,
    clause_ids,
    conditions,
    extract_dates,
    extract_numbers,
    find_entities,
    initials,
    is_content,
    is_hedged,
    is_verb_like,
    join_split_numbers,
    ngrams,
    number_found,
    number_units,
    roles,
    speaker_of,
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

# "with Russia", "alongside Russia", "against Russia": a name tied to the doer of the clause.
PARTNER_WORDS = frozenset({"with", "alongside", "against", "beside"})

# Relations are read in sentences: a longer "sentence" (a line with no stop) is not checked for
# them, and a word is looked for in at most so many places of one source sentence, so that a
# check stays linear in the length of its text.
LONGEST_SENTENCE = 150
MOST_PLACES = 20

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
    reason: str | None  # why not supported, or which relation check fired; else None
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
    tokens: list[Token]  # offsets in the passage


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
    # Who does what, said what, on what condition, how surely: "roles reversed: ..."
    roles: list[str] = field(default_factory=list)
    score: float = 0.0

    @property
    def flags(self) -> tuple[str, ...]:
        """The relation checks that fired: a number counting another quantity ("number"), an
        actor, speaker, condition or certainty other than the source's ("role")."""
        flags = []
        if any(s.startswith("number ") for s in self.swaps):
            flags.append("number")
        if self.roles:
            flags.append("role")
        return tuple(flags)


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
        # Lower-case words the sources write capitalised inside a sentence and never in lower
        # case: names, by which a lower-cased claim is given its capitals back.
        self.capitalised: set[str] = set()
        self.written_lower: set[str] = set()
        self.text_lower = "\n".join(" ".join(p.lower().split()) for p in self.passages)
        self._index: dict[str, list[int]] = {}
        # computed when a claim first asks: the roles around a source word, a sentence's numbers
        self._roles_at: dict[tuple[int, int], tuple[set[str], set[str]]] = {}
        self._numbers_at: dict[int, list[tuple[float, set[str]]]] = {}
        self._speaker_at: dict[int, set[str] | None] = {}  # None: the sentence quotes no one
        self._positions_at: dict[int, dict[str, list[int]]] = {}
        for number, passage in enumerate(self.passages):
            self._add_passage(number, passage)
        self.names = self.capitalised - self.written_lower

    def _add_passage(self, number: int, passage: str) -> None:
        tokens = tokenize(passage)
        capitals = 0
        for token in tokens:
            if token.text[:1].islower():
                self.lowercase_vocab.add(token.stem)
                self.written_lower.add(token.lower)
            elif token.text[:1].isupper():
                capitals += 1
        # A lower-cased passage (tokenised CNN/DM, XSum) shows no names by their capitals: any
        # of its content words may be one, to be met by a claim's name in its other forms.
        lowered = capitals < 0.02 * len(tokens)
        starts = [t.start for t in tokens]  # in order: each sentence's tokens found by bisection
        for start, end in split_sentences(passage) or [(0, len(passage))]:
            first, last = bisect_left(starts, start), bisect_left(starts, end)
            self._add_sentence(number, start, end, tokens[first:last], passage, lowered)
        joined = join_split_numbers(passage)  # '735, 000' read as 735,000 as well as 735 and 0
        for text in {passage, joined}:
            self.numbers.update(v for q in extract_numbers(text) for v in q.readings())
        for value, unit, _ in number_units(tokens, joined):
            self.units.setdefault(unit, set()).add(value)
        # Every month-like word counts in the sources: a missed month would be a false alarm.
        self.dates.update(f"month:{MONTHS[t.lower]}" for t in tokens if t.lower in MONTHS)
        self.dates.update(f"day:{WEEKDAYS[t.lower]}" for t in tokens if t.lower in WEEKDAYS)

    def _add_sentence(self, number: int, start: int, end: int, tokens: list[Token],
                      passage: str, lowered: bool) -> None:
        stems = [t.stem for t in tokens]
        content = {t.stem for t in tokens if is_content(t)}
        negated, plain = split_polarity(tokens)
        index = len(self.sentences)
        sentence = _SourceSentence(number, start, end, index, stems,
                                   [is_content(t) for t in tokens], content, ngrams(stems, 2),
                                   negated, plain, tokens)
        self.sentences.append(sentence)
        for word in content:
            self._index.setdefault(word, []).append(index)
        self.stems.update(stems)
        self.lower.update(t.lower for t in tokens)
        for i, token in enumerate(tokens[1:], 1):
            gap = passage[tokens[i - 1].end : token.start].strip()
            if token.text[:1].isupper() and gap in ("", ",", "-", "'"):
                self.capitalised.add(token.lower)
        runs = find_entities(tokens, passage, set())
        if lowered:
            runs = _content_runs(tokens)
        for run in runs:
            words = [tokens[i].lower for i in run]
            sizes = range(2, min(len(words), 4) + 1) if lowered else range(len(words), 1 + (
                len(words) if len(words) > 1 else 0))
            for size in sizes:
                for first in range(len(words) - size + 1):
                    self.acronyms.add(initials(words[first : first + size]))
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
            reason=None if label == "supported" and not weakest.flags else explain(weakest),
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
        start, end = claim_body(sentence)
        body = sentence[start:end]
        tokens = tokenize(body)
        if not tokens:
            return None
        stems = [t.stem for t in tokens]
        content = [t for t in tokens if is_content(t)]
        content_stems = {t.stem for t in content}
        best, close = self._align(content_stems)
        check = SentenceCheck(text=sentence, features={}, evidence=best)
        check.novel_words = _unique(t.text for t in content if t.stem not in self.stems
                                    and t.lower not in self.lower)
        cased, cased_body = self._recase(tokens, body)
        check.novel_entities = self._novel_entities(cased, cased_body)
        check.novel_numbers = min(
            (_unique(q.text for q in extract_numbers(text)
                     if not any(number_found(v, self.numbers) for v in q.readings()))
             for text in {body, join_split_numbers(body)}), key=len)
        check.novel_dates = _unique(text for key, text in extract_dates(tokens)
                                    if key not in self.dates)
        check.negation = self._polarity_clash(tokens, content_stems, best, close)
        check.swaps = self._swaps(tokens, body, best)
        check.roles = self._roles(tokens, body, best, close)
        bigrams = ngrams(stems, 2)
        if not check.novel_numbers:  # "forty-five thousand" is in the source as "45,000"
            content_stems = {t.stem for t in content if not _is_figure_word(t.lower)}
        # The detectors share one weight: each alone fires too rarely in dev rows to be fitted.
        errors = (check.novel_entities or check.novel_numbers or check.novel_dates
                  or check.negation or check.swaps)
        check.features = {
            "uni_sent": _share(content_stems, best.content if best else set()),
            "bi_sent": _share(bigrams, best.bigrams if best else set()),
            "replaced": _replaced_share(tokens, best),
            "errors": float(bool(errors)),
            # measured for the fit to weigh; in cross-validation it cost more than it gained, so
            # the fit leaves it out and a relation check is a flag for a judge, not a penalty
            "role": float(bool(check.roles)),
        }
        return check

    def _recase(self, tokens: list[Token], text: str) -> tuple[list[Token], str]:
        """A lower-cased claim with the capitals of the names the sources write, and of an unknown
        word before one of them or after a title ('john okafor' where the sources have 'Jim
        Okafor'), so that its names are checked as a cased claim's are."""
        if any(t.text[:1].isupper() for t in tokens[1:]) or not self.names:
            return tokens, text
        named = [t.lower in self.names for t in tokens]
        for i, token in enumerate(tokens):
            unknown = token.lower not in self.lower and token.stem not in self.stems \
                and token.lower.isalpha() and is_content(token)
            after_name = i > 0 and tokens[i - 1].lower in self.names  # 'united beat aston'
            if unknown and ((i > 0 and tokens[i - 1].lower in TITLES) or (
                    i + 1 < len(tokens) and tokens[i + 1].lower in self.names
                    and not after_name)):
                named[i] = True
        if not any(named):
            return tokens, text
        chars = list(text)
        for token, name in zip(tokens, named, strict=True):
            if name:
                chars[token.start] = chars[token.start].upper()
        cased = "".join(chars)
        return tokenize(cased), cased

    def _roles(self, tokens: list[Token], text: str, best: _SourceSentence | None,
               close: list[_SourceSentence]) -> list[str]:
        """Relations the claim gets wrong though its words are in the source sentence: who does
        the verb (reversed roles, another actor), who says it, on what condition, how surely."""
        if best is None or len(tokens) > LONGEST_SENTENCE:
            return []
        found = []
        candidates = [best, *(c for c in close if c is not best)]
        for i, token in enumerate(tokens):
            if token.lower in SPEECH_WORDS or not is_verb_like(tokens, i):
                continue
            places = [(s, j) for s in candidates
                      for j in self._positions(s).get(token.stem, ())[:MOST_PLACES]]
            if not places:
                continue
            agent, patient = roles(tokens, text, i)
            clashes = [self._role_clash(token.text, agent, patient, s, j) for s, j in places]
            if agent or patient:
                if all(clashes):
                    found.append(clashes[0] or "")
            hedged = [is_hedged(s.tokens, j) for s, j in places]
            if all(hedged) and not is_hedged(tokens, i):
                found.append(f"'{token.text}' stated as sure where the source says it may be")
        found += self._apart(tokens, text, best)
        found += self._attribution(tokens, text, best)
        found += self._conditions(tokens, text, best)
        return _unique(found)

    def _role_clash(self, verb: str, agent: set[str], patient: set[str],
                    source: _SourceSentence, place: int) -> str | None:
        """How the claim's doer and done-to of a verb differ from the source's, if they do."""
        key = (source.index, place)
        if key not in self._roles_at:
            self._roles_at[key] = roles(source.tokens, self.passages[source.passage], place)
        s_agent, s_patient = self._roles_at[key]
        if (agent & s_patient and s_agent and not agent & s_agent) or (
                patient & s_agent and s_patient and not patient & s_patient):
            return f"roles reversed around '{verb}'"
        # another doer: the claim's is in the sentence, but only after the verb (before it, it
        # may be the doer with a clause between: 'Frankie, who plays for Dagenham, took ...')
        positions = self._positions(source)
        only_later = all(positions.get(w) and positions[w][0] > place for w in agent)
        if agent and s_agent and not agent & s_agent and not agent & s_patient and only_later:
            doer = " ".join(t.text for t in source.tokens if t.stem in s_agent)
            return f"'{verb}' done by {doer} in the source"
        return None

    def _apart(self, tokens: list[Token], text: str, best: _SourceSentence) -> list[str]:
        """Two names the claim ties in one clause ('Turkey requested an operation with Russia')
        that the aligned source sentence keeps in separate clauses, the second one acting in
        its own ('Turkey asked its allies ... as forces backed by Russia advanced')."""
        names = _name_runs(tokens, text, self.lowercase_vocab, self.names)
        if len(names) < 2 or not any(run[0] and tokens[run[0] - 1].lower in PARTNER_WORDS
                                     for run in names):
            return []
        passage = self.passages[best.passage]
        source_clause = clause_ids(best.tokens, passage)
        where: dict[str, set[int]] = {}
        for j, token in enumerate(best.tokens):
            where.setdefault(token.stem, set()).add(source_clause[j])
        acting: dict[str, set[int]] = {}  # stem -> the clauses where it does a verb
        for j in range(len(best.tokens)):
            if is_verb_like(best.tokens, j):
                key = (best.index, j)
                if key not in self._roles_at:
                    self._roles_at[key] = roles(best.tokens, passage, j)
                for stem in self._roles_at[key][0]:
                    acting.setdefault(stem, set()).add(source_clause[j])
        claim_clause = clause_ids(tokens, text)
        heads = [(tokens[run[-1]].stem, claim_clause[run[0]], claim_clause[run[-1]],
                  text[tokens[run[0]].start : tokens[run[-1]].end],
                  run[0] > 0 and tokens[run[0] - 1].lower in PARTNER_WORDS) for run in names]
        for first, clause, _, first_text, _ in heads:
            for second, begins, ends, second_text, partner in heads:
                if first == second or begins != ends or clause != begins or not partner:
                    continue
                if first in where and second in acting and not where[first] & where[second] \
                        and acting[second] & where[second]:
                    return [f"ties {first_text} to {second_text}, who acts apart in the source"]
        return []

    def _attribution(self, tokens: list[Token], text: str, best: _SourceSentence) -> list[str]:
        """A claim quoting someone the source does not quote for it ('the critics said' where
        the source has the minister say it), that person being named near it in the source."""
        speaker = speaker_of(tokens, text)
        window = self.sentences[max(0, best.index - 1) : best.index + 2]
        if not speaker or not speaker <= set().union(*(s.content for s in window)):
            return []
        # who says the aligned sentence: its own speaker, else the next sentence's ('..., he said')
        for source in self.sentences[best.index : best.index + 2]:
            quoted = self._speaker(source)
            if quoted is not None:
                if quoted and not speaker & quoted:
                    return ["attributed to someone the source does not quote for it"]
                return []  # the same speaker, or 'he said': who it is cannot be told
        return []

    def _speaker(self, source: _SourceSentence) -> set[str] | None:
        """Who a source sentence quotes (empty for 'he said'); None if it quotes no one."""
        if source.index not in self._speaker_at:
            speaks = any(t.lower in SPEECH_WORDS or t.lower == "according"
                         for t in source.tokens)
            self._speaker_at[source.index] = speaker_of(
                source.tokens, self.passages[source.passage]) if speaks else None
        return self._speaker_at[source.index]

    def _conditions(self, tokens: list[Token], text: str, best: _SourceSentence) -> list[str]:
        """An 'if' / 'unless' clause that is not a condition the source sets."""
        claimed = conditions(tokens, text)
        if not claimed:
            return []
        stated = [c for source in self.sentences[max(0, best.index - 1) : best.index + 2]
                  for c in conditions(source.tokens, self.passages[source.passage])]
        if not stated:
            return []
        for content, negative in claimed:
            if not any(_share(content, other) >= 0.5 and negative == other_negative
                       for other, other_negative in stated):
                return ["a condition the source does not set"]
        return []

    def _swaps(self, tokens: list[Token], sentence: str,
               best: _SourceSentence | None) -> list[str]:
        """Words standing for another of their kind in the sources: '30 years' for '35 years',
        'white' for 'blue', 'rise' where the aligned passage says 'fall' of the same thing."""
        swaps = []
        for value, unit, text in number_units(tokens, sentence):
            known = self.units.get(unit)
            if known and not number_found(value, known):
                swaps.append(f"number '{text}' differs from the sources")
        near_sentences = [] if best is None else \
            self.sentences[max(0, best.index - 1) : best.index + 2]
        swaps += self._misplaced_numbers(tokens, near_sentences)
        near: set[str] = set()
        for source in near_sentences:  # the aligned sentence and its neighbours
            near.update(source.stems)
        for i, token in enumerate(tokens):
            word = token.stem
            opposites = OPPOSITE.get(word, set())
            # the opposite said of the same thing, and the word itself (if there) of another:
            # 'sales fell' against 'sales rose while costs were falling'
            if opposites & near \
                    and self._said_of_the_same(tokens, i, opposites, near_sentences) \
                    and not (word in near
                             and self._said_of_the_same(tokens, i, {word}, near_sentences)):
                # the more telling reason first: "fell" for "rose" is an opposite, not a kin
                swaps.append(f"'{token.text}' where the source has its opposite")
                continue
            for members in CLASSES_OF.get(word, ()):
                others = members - {word}
                if ((word not in self.stems and others & self.stems) or (word not in near
                                                                        and others & near)) \
                        and self._said_of_the_same(tokens, i, others, self._holding(others)):
                    swaps.append(f"'{token.text}' where the source has another of its kind")
                    break
        return _unique(swaps)

    def _holding(self, words: Iterable[str]) -> list[_SourceSentence]:
        """The source sentences using any of these words."""
        indexes = sorted({i for w in words for i in self._index.get(w, ())})
        return [self.sentences[i] for i in indexes]

    def _said_of_the_same(self, tokens: list[Token], i: int, others: Iterable[str],
                          sources: Sequence[_SourceSentence]) -> bool:
        """Whether a source word of `others` shares a content word with tokens[i]'s own
        surroundings: 'prices fell' against 'prices rose', not against 'jobs falling'."""
        mine = _around(tokens, i)
        for source in sources:
            positions = self._positions(source)
            for other in others:
                for j in positions.get(other, ())[:MOST_PLACES]:
                    if mine & _around(source.tokens, j):
                        return True
        return False

    def _positions(self, source: _SourceSentence) -> dict[str, list[int]]:
        """Where each stem stands in a source sentence, in order."""
        if source.index not in self._positions_at:
            positions: dict[str, list[int]] = {}
            for j, word in enumerate(source.stems):
                positions.setdefault(word, []).append(j)
            self._positions_at[source.index] = positions
        return self._positions_at[source.index]

    def _numbers_of(self, source: _SourceSentence) -> list[tuple[float, set[str]]]:
        """The numbers in digits of a source sentence, each with the content words around it."""
        if source.index not in self._numbers_at:
            self._numbers_at[source.index] = [
                (value, _around(source.tokens, j)) for j, token in enumerate(source.tokens)
                if (value := _number_value(token)) is not None]
        return self._numbers_at[source.index]

    def _misplaced_numbers(self, tokens: list[Token],
                           sources: Sequence[_SourceSentence]) -> list[str]:
        """A number of the source given to another quantity of it: 'rose to 2.1 m' where the
        source has it rise to 6.2 m, 2.1 m being how far above flood stage."""
        found: list[str] = []
        if len(tokens) > LONGEST_SENTENCE:
            return found
        for i, token in enumerate(tokens):
            value = _number_value(token)
            if value is None:
                continue
            mine = _around(tokens, i)
            same = other = 0
            for source in sources:
                for known, context in self._numbers_of(source):
                    overlap = len(mine & context)
                    if number_found(value, [known]):
                        same = max(same, overlap)
                    else:
                        other = max(other, overlap)
            if same and other >= 2 and other > same + 1 or (not same and other >= 3
                                                           and number_found(value, self.numbers)):
                found.append(f"number '{token.text}' belongs to another quantity in the source")
        return _unique(found)

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


def across_languages(claim: str | None, passages: Collection[str]) -> Verdict | None:
    """The verdict on a claim written in another language than its passages (ISO 639-1
    codes): uncertain, whatever its words, since this checker compares words and cannot
    compare them across languages; a judge decides. None when the claim shares its passages'
    language, or either is not known: then `check` can read it."""
    others = sorted(set(passages) - {claim}) if claim else []
    if not others:
        return None
    return Verdict(supported=False, score=(DEFAULT_THRESHOLD + SUPPORTED_CUT) / 2,
                   evidence=None, label="uncertain",
                   reason=f"written in {language_name(claim or '')}, its sources in "
                          f"{' and '.join(language_name(c) for c in others)}: words cannot be "
                          "compared across languages")


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
    if sentence.roles:
        reasons.append("; ".join(sentence.roles))
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


def _around(tokens: Sequence[Token], i: int, reach: int = 3) -> set[str]:
    """Content stems within `reach` tokens of tokens[i], numbers and the token itself left out."""
    return {t.stem for t in tokens[max(0, i - reach) : i + reach + 1]
            if t is not tokens[i] and is_content(t) and not t.lower[:1].isdigit()}


def _is_figure_word(word: str) -> bool:
    """A lower-case word that writes (part of) a number: '45,000', 'forty', 'thousand'."""
    return word[:1].isdigit() or word in NUMBER_WORDS or word in SCALES


def _number_value(token: Token) -> float | None:
    """The value of a token in digits ('6.2', '45,000'); None for other tokens."""
    if not token.lower[:1].isdigit():
        return None
    try:
        return float(token.lower.replace(",", "").rstrip("stndrh"))
    except ValueError:
        return None


def _name_runs(tokens: Sequence[Token], text: str, lowercase: set[str],
               names: set[str]) -> list[list[int]]:
    """Runs of adjacent name words: capitalised runs, and words the sources write as names."""
    named = {i for run in find_entities(tokens, text, lowercase) for i in run}
    named |= {i for i, t in enumerate(tokens) if t.lower in names}
    runs: list[list[int]] = []
    for i in sorted(named):
        if runs and runs[-1][-1] == i - 1 and not text[tokens[i - 1].end : tokens[i].start].strip():
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def _content_runs(tokens: Sequence[Token]) -> list[list[int]]:
    """Runs of adjacent content words: where names may stand in a lower-cased passage."""
    runs: list[list[int]] = []
    current: list[int] = []
    for i, token in enumerate(tokens):
        if is_content(token) and token.lower.isalpha():
            current.append(i)
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return runs


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
