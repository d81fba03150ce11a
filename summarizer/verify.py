"""Each summary sentence checked against its sources: kept, re-attributed or marked unsupported."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .models import Article, Citation, Passage, Sentence, SourceCount
from .support import DEFAULT_THRESHOLD, STOPWORDS, Sources, Verdict

CANDIDATES = 5  # passages checked one by one when a sentence's own citations fail it
WORD = re.compile(r"\w+")


@dataclass
class Verifier:
    """The passages of one run, analysed once, so that each sentence is cheap to check."""

    passages: Mapping[str, Passage]  # passage id -> passage, as shown to the model
    articles: Mapping[str, Article]
    threshold: float = DEFAULT_THRESHOLD
    _ids: list[str] = field(init=False)
    _all: Sources = field(init=False)
    _by_article: dict[str, Sources] = field(init=False, default_factory=dict)
    _one: dict[str, Sources] = field(init=False, default_factory=dict)
    _passage_words: dict[str, set[str]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._ids = list(self.passages)
        self._all = Sources([self.passages[i].text for i in self._ids])

    def verify(self, sentence: Sentence) -> Sentence:
        """Keep citations that support the sentence; else find passages that do; else say why."""
        cited = [c.passage for c in sentence.citations if c.passage in self.passages]
        if cited:
            verdict = Sources([self.passages[i].text for i in cited]).check(
                sentence.text, self.threshold)
            if verdict.supported and verdict.evidence is not None:
                return self._supported(sentence, cited, verdict, sentence.citations)
        pid, verdict = self._reattribute(sentence.text)
        pooled = self._all.check(sentence.text, self.threshold)
        # Both views must agree: the run's passages together, and the one passage it will cite.
        if pooled.supported and verdict.supported and verdict.evidence is not None \
                and pid is not None:
            return self._supported(sentence, [pid], verdict, ())
        # Something no article has at all is the clearer reason; else what the closest passage
        # lacks.
        if not pooled.supported:
            reason = _in_articles(pooled.reason or "not supported by any passage")
        else:
            reason = _in_best_passage(verdict.reason or "not supported by any single passage")
        return sentence.model_copy(update={
            "support": "unsupported", "citations": (), "reason": reason})

    def _reattribute(self, claim: str) -> tuple[str | None, Verdict]:
        """The passage that best supports the claim on its own, among those sharing most words.

        Each candidate is checked alone, so a name or number counts only where it is cited.
        The verdict is the best one found, supported or not.
        """
        words = _words(claim)
        ranked = sorted(self._ids, key=lambda i: -len(words & self._words_of(i)))
        best: tuple[str | None, Verdict] = (None, Verdict(False, 0.0, None, None))
        for pid in ranked[:CANDIDATES]:
            verdict = self._single(pid).check(claim, self.threshold)
            if verdict.score > best[1].score:
                best = (pid, verdict)
        return best

    def _single(self, pid: str) -> Sources:
        if pid not in self._one:
            self._one[pid] = Sources([self.passages[pid].text])
        return self._one[pid]

    def _words_of(self, pid: str) -> set[str]:
        if pid not in self._passage_words:
            self._passage_words[pid] = _words(self.passages[pid].text)
        return self._passage_words[pid]

    def count_sources(self, sentence: Sentence,
                      article_ids: Sequence[str] | None = None) -> SourceCount:
        """How many distinct outlets (of `article_ids`, else all) carry a supporting article.

        Whole articles are read, duplicate paragraphs included: a wire paragraph that three
        outlets printed is backed by three outlets, though the model saw it once.
        """
        supporting: set[str] = set()
        everyone: set[str] = set()
        ids = self.articles if article_ids is None else article_ids
        for article in (self.articles[i] for i in ids):
            outlets = _outlets(article)
            everyone.update(outlets)
            if self._whole(article).check(sentence.text, self.threshold).supported:
                supporting.update(outlets)
        return SourceCount(supporting=len(supporting), total=len(everyone),
                           outlets=tuple(sorted(supporting)))

    def _whole(self, article: Article) -> Sources:
        if article.id not in self._by_article:
            # Paragraph by paragraph: a headline line has no full stop to end it.
            paragraphs = [line for line in article.text.split("\n") if line.strip()]
            self._by_article[article.id] = Sources(paragraphs)
        return self._by_article[article.id]

    def _supported(self, sentence: Sentence, ids: Sequence[str], verdict: Verdict,
                   also: Sequence[Citation]) -> Sentence:
        """The sentence citing its evidence first, quoted verbatim, then the `also` citations."""
        assert verdict.evidence is not None
        passage = self.passages[ids[verdict.evidence.passage]]
        start = passage.start + verdict.evidence.start
        end = passage.start + verdict.evidence.end
        article = self.articles[passage.article_id]
        evidence = Citation(article_id=passage.article_id, passage=passage.id, start=start,
                            end=end, quote=article.text[start:end])
        others = tuple(c for c in also if c.passage != passage.id)
        return sentence.model_copy(update={
            "support": "supported", "citations": (evidence, *others), "reason": None,
        })


def _outlets(article: Article) -> tuple[str, ...]:
    """The outlets behind an article; without a named source, the article stands for one."""
    if article.sources:
        return article.sources
    return (article.source or article.origin.rsplit("/", 1)[-1],)


def _in_articles(reason: str) -> str:
    return reason.replace("found in no passage", "found in no article")


def _in_best_passage(reason: str) -> str:
    """Reasons from a check against one passage, worded so they do not claim more."""
    return (reason.replace("found in no passage", "not in the closest passage")
            .replace("not in the sources", "not in the closest passage"))


def _words(text: str) -> set[str]:
    return {w for w in WORD.findall(text.lower()) if w not in STOPWORDS}
