"""Where the stages meet: clean -> dedup -> chunk -> map -> collapse -> reduce -> cite."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from . import prompts
from .cache import CacheLike
from .calls import Caller
from .chunk import make_passages, pack
from .citations import parse_output, render_line, resolve
from .clean import SENTENCE_END, clean_document
from .cluster import Story, cluster, continues
from .dedup import Deduped, dedup, normalise
from .errors import ConfigError, InputError
from .ingest import no_readable_article
from .llm.base import Backend, CompletionRequest
from .models import (
    Article,
    ArticleSummary,
    Document,
    Duplicate,
    Faithfulness,
    Passage,
    Result,
    Sentence,
    Skip,
    StoryRef,
    StorySummary,
)
from .settings import Settings
from .support import DEFAULT_THRESHOLD, Sources
from .verify import Verifier

log = logging.getLogger(__name__)

MIN_MATERIAL_TOKENS = 64
ARTICLE_SENTENCES = 5
OVERVIEW_SENTENCES = 6


class Progress(Protocol):
    def add(self, n: int) -> None:
        """More model calls are on the way."""

    def advance(self, n: int = 1) -> None:
        """Model calls finished."""


class NoProgress:
    def add(self, n: int) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass


@dataclass(frozen=True)
class Options:
    """How a run talks to its model and how strict it is."""

    concurrency: int = 4
    max_output_tokens: int = 400
    temperature: float = 0.0
    strict: bool = False
    threshold: float = DEFAULT_THRESHOLD


def run_options(settings: Settings, *, strict: bool = False,
                concurrency: int | None = None) -> Options:
    """Options from the settings, with what the caller asked for on top."""
    threshold = settings.support_threshold
    return Options(
        concurrency=concurrency or settings.concurrency,
        max_output_tokens=settings.max_output_tokens, temperature=settings.temperature,
        strict=strict, threshold=DEFAULT_THRESHOLD if threshold is None else threshold,
    )


@dataclass(frozen=True)
class Earlier:
    """A story of an earlier digest, for telling updates from new stories."""

    id: str
    day: str
    title: str | None
    texts: tuple[str, ...]  # its summary sentences


async def summarize(
    docs: Sequence[Document],
    skipped: Sequence[Skip] = (),
    *,
    backend: Backend,
    options: Options = Options(),
    cache: CacheLike | None = None,
    progress: Progress | None = None,
) -> Result:
    """Summarise each article and the set of them, every sentence checked against its sources.

    Sentences no passage supports are marked unsupported, with the reason; `strict` drops them.
    """
    skips = list(skipped)
    articles: list[Article] = []
    for doc in docs:
        cleaned = clean_document(doc)
        if isinstance(cleaned, Skip):
            skips.append(cleaned)
        else:
            articles.append(cleaned)
    if not articles:
        raise no_readable_article(skips)
    run = _Run(Caller(backend, concurrency=options.concurrency, cache=cache), backend, options,
               progress or NoProgress())
    deduped, summaries = await run.map_articles(articles)
    overview = await run.combine(summaries)
    return run.result(summaries, overview, (), deduped.duplicates, skips)


async def digest(
    articles: Sequence[Article],
    *,
    backend: Backend,
    earlier: Sequence[Earlier] = (),
    duplicates: Sequence[Duplicate] = (),
    options: Options = Options(),
    cache: CacheLike | None = None,
    progress: Progress | None = None,
) -> Result:
    """A day's digest: articles summarised, grouped into stories, one summary per story.

    A story that continues one of `earlier` is marked as its update and leads with what is new.
    """
    if not articles:
        raise InputError("no articles for this digest")
    run = _Run(Caller(backend, concurrency=options.concurrency, cache=cache), backend, options,
               progress or NoProgress())
    deduped, summaries = await run.map_articles(list(articles))
    by_id = {a.article.id: a for a in summaries}
    groups = cluster([a.article for a in summaries])
    stories = await asyncio.gather(*(
        run.story(group, [by_id[i] for i in group.article_ids], earlier) for group in groups
    ))
    return run.result(summaries, (), stories, [*duplicates, *deduped.duplicates], ())


class _Run:
    def __init__(self, caller: Caller, backend: Backend, options: Options,
                 progress: Progress) -> None:
        self.caller = caller
        self.backend = backend
        self.options = options
        # Leave most of a small window for the material; a summary needs few tokens.
        self.max_output = min(options.max_output_tokens, backend.context_window // 4)
        self.progress = progress
        self.passages: dict[str, Passage] = {}
        self.articles: dict[str, Article] = {}
        self._verifier: Verifier | None = None

    @property
    def verifier(self) -> Verifier:
        if self._verifier is None:  # built once every passage of the run is known
            self._verifier = Verifier(self.passages, self.articles, self.options.threshold)
        return self._verifier

    async def map_articles(self, articles: list[Article]) -> tuple[Deduped, list[ArticleSummary]]:
        """Deduplicate, summarise each article, and check every sentence against its sources."""
        deduped = dedup(articles)
        drafts = await self.summarize_articles(deduped.articles, deduped.paragraphs)
        return deduped, [
            a.model_copy(update={"summary": tuple(map(self.verifier.verify, a.summary))})
            for a in drafts
        ]

    async def combine(self, summaries: Sequence[ArticleSummary],
                      article_ids: Sequence[str] | None = None) -> list[Sentence]:
        """The summary across articles, built from supported sentences only, so that no
        invention is passed on; each sentence says how many outlets back it."""
        backed = [_supported_only(a) for a in summaries]
        if sum(1 for a in backed if a.summary) < 2:
            return []
        return [
            checked.model_copy(update={"sources": self.verifier.count_sources(checked,
                                                                              article_ids)})
            for checked in map(self.verifier.verify, await self.overview(backed))
        ]

    async def story(self, group: Story, summaries: list[ArticleSummary],
                    earlier: Sequence[Earlier]) -> StorySummary:
        """One story's summary; a lone article's own summary serves when nothing is to combine."""
        sentences = await self.combine(summaries, group.article_ids)
        if not sentences:  # nothing to combine: the supported sentences there are serve
            sentences = [
                s.model_copy(update={"sources": self.verifier.count_sources(s, group.article_ids)})
                for a in summaries for s in a.summary if s.support == "supported"
            ]
        update_of = None
        if earlier and (match := continues([a.article for a in summaries],
                                           [(e.id, e.texts) for e in earlier])) is not None:
            previous = next(e for e in earlier if e.id == match)
            update_of = StoryRef(id=previous.id, day=previous.day, title=previous.title)
            sentences = _news_first(sentences, previous.texts, self.options.threshold)
        return StorySummary(id=group.id, title=group.title, article_ids=group.article_ids,
                            summary=tuple(sentences), update_of=update_of)

    def result(self, summaries: Sequence[ArticleSummary], overview: Sequence[Sentence],
               stories: Sequence[StorySummary], duplicates: Sequence[Duplicate],
               skips: Sequence[Skip]) -> Result:
        """Everything the run made, with faithfulness counted before strict mode drops any."""
        sentences = [s for a in summaries for s in a.summary] + list(overview) + \
            [s for story in stories for s in story.summary]
        supported = sum(1 for s in sentences if s.support == "supported")
        if self.options.strict:
            summaries = [_supported_only(a) for a in summaries]
            overview = [s for s in overview if s.support == "supported"]
            stories = [st.model_copy(update={"summary": tuple(
                s for s in st.summary if s.support == "supported")}) for st in stories]
        return Result(
            articles=tuple(summaries),
            overview=tuple(overview),
            stories=tuple(stories),
            duplicates=tuple(duplicates),
            skipped=tuple(skips),
            usage=self.caller.usage(),
            faithfulness=Faithfulness(
                supported=supported, unsupported=len(sentences) - supported,
                score=round(supported / len(sentences), 4) if sentences else None,
                dropped=len(sentences) - supported if self.options.strict else 0,
            ),
            prompts=dict(self.caller.prompts),
        )

    def budget(self, prompt: prompts.Prompt, **values: object) -> int:
        """Tokens left for material once the prompt, the answer and a margin are counted."""
        empty = prompt.render(**values)
        fixed = sum(self.backend.count_tokens(m.content) for m in empty) + 8 * len(empty)
        margin = max(16, self.backend.context_window // 50)
        budget = self.backend.context_window - self.max_output - fixed - margin
        if budget < MIN_MATERIAL_TOKENS:
            raise ConfigError(
                f"the model's context window ({self.backend.context_window} tokens) leaves only "
                f"{budget} tokens for text after the '{prompt.id}' prompt; use a model with a "
                "larger window")
        return budget

    async def summarize_articles(self, articles: list[Article],
                                 paragraphs: dict) -> list[ArticleSummary]:
        map_prompt = prompts.load("map")
        jobs = []
        for no, article in enumerate(articles, 1):
            self.articles[article.id] = article
            budget = self.budget(map_prompt, sentences=ARTICLE_SENTENCES,
                                 title=article.title or "", passages="")
            passages = make_passages(article, no, paragraphs[article.id],
                                     self.backend.count_tokens, budget // 2)
            # The headline and byline are shown as such, not offered as facts to summarise
            # nor accepted as citations.
            shown = [p for p in passages if not _is_masthead(p, article)]
            self.passages.update((p.id, p) for p in shown)
            lines = [f"[{p.id}] {p.text}" for p in shown]
            groups = pack(lines, self.backend.count_tokens, budget)
            self.progress.add(len(groups))
            jobs.append(self._summarize_article(article, lines, groups))
        summaries = await asyncio.gather(*jobs)
        return [ArticleSummary(article=a, summary=tuple(s))
                for a, s in zip(articles, summaries, strict=True)]

    async def _summarize_article(self, article: Article, lines: list[str],
                                 groups: list[list[int]]) -> list[Sentence]:
        if not lines:
            return []
        parts = await asyncio.gather(*(
            self.ask("map", title=article.title or "",
                     sentences=_sentences_for(len(group)),
                     passages="\n".join(lines[i] for i in group))
            for group in groups
        ))
        sentences = [s for part in parts for s in part]
        if len(parts) == 1:
            return sentences
        return await self.condense(sentences, "collapse", ARTICLE_SENTENCES)

    async def overview(self, summaries: list[ArticleSummary]) -> list[Sentence]:
        sentences = [s for a in summaries for s in a.summary]
        count = sum(1 for a in summaries if a.summary)
        return await self.condense(sentences, "reduce", min(OVERVIEW_SENTENCES, count + 2),
                                   count=count)

    async def condense(self, sentences: list[Sentence], prompt_name: str, target: int,
                       **values: object) -> list[Sentence]:
        """One call when the sentences fit the window; else collapse groups, then recurse."""
        if not sentences:
            return []
        prompt = prompts.load(prompt_name)
        lines = [render_line(s) for s in sentences]
        budget = self.budget(prompt, lines="", sentences=target, **values)
        groups = pack(lines, self.backend.count_tokens, budget)
        self.progress.add(len(groups))
        if len(groups) == 1:
            return await self.ask(prompt_name, lines="\n".join(lines), sentences=target, **values)
        if len(groups) == len(lines):
            raise ConfigError("the model's context window is too small to combine summaries; "
                              "use a model with a larger window")
        # Each group must come back shorter than it went in, so the recursion ends.
        parts = await asyncio.gather(*(
            self.ask(prompt_name, lines="\n".join(lines[i] for i in group),
                     sentences=max(1, min(target, len(group) // 2)), **values)
            for group in groups
        ))
        return await self.condense([s for part in parts for s in part], prompt_name, target,
                                   **values)

    async def ask(self, prompt_name: str, **values: object) -> list[Sentence]:
        """One model call; its output parsed into sentences with resolved citations."""
        prompt = prompts.load(prompt_name)
        request = CompletionRequest(
            messages=prompt.render(**values), max_tokens=self.max_output,
            temperature=self.options.temperature, prompt_id=prompt.id,
            prompt_version=prompt.version,
        )
        completion = await self.caller.complete(request)
        self.progress.advance()
        limit = int(values["sentences"])  # type: ignore[call-overload]
        sentences = parse_output(completion.text)
        if completion.completion_tokens >= self.max_output and sentences \
                and not SENTENCE_END.search(sentences[-1][0]):
            sentences.pop()  # cut off by the token limit mid-sentence
        seen: set[str] = set()
        unique = []
        for text, ids in sentences:  # a sentence said twice counts once
            if (key := normalise(text)) not in seen:
                seen.add(key)
                unique.append((text, ids))
        return [resolve(text, ids, self.passages, self.articles)
                for text, ids in unique[:limit]]


def _is_masthead(passage: Passage, article: Article) -> bool:
    return passage.text == article.title or (
        passage.text.lower().startswith("by ") and len(passage.text.split()) <= 12)


def _sentences_for(passages: int) -> int:
    """A short article gets a short summary."""
    return max(2, min(ARTICLE_SENTENCES, (passages + 2) // 3))


def _supported_only(summary: ArticleSummary) -> ArticleSummary:
    return summary.model_copy(update={"summary": tuple(
        s for s in summary.summary if s.support == "supported")})


def _news_first(sentences: list[Sentence], before: Sequence[str],
                threshold: float) -> list[Sentence]:
    """Sentences the earlier story did not already say come first: an update leads with news."""
    if not before:
        return sentences
    told = Sources(list(before))
    new = [s for s in sentences if not told.check(s.text, threshold).supported]
    return new + [s for s in sentences if s not in new]
