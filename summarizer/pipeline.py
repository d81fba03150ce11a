"""Where the stages meet: clean -> dedup -> sentences -> fact groups -> salience -> write.

The map step summarises each article from its own sentences; the reduce step writes the
overview (or each story of a digest) from the fact groups across articles. In both the model
chooses among the most salient candidates and, in fused writing, restates them; what it writes
is kept only where the sources support it (by the offline checker, or the LLM judge as the
verify mode says), so every sentence shown is true to what it cites.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal, TypeVar

from . import prompts
from .checking.offline import DEFAULT_THRESHOLD, Sources
from .chunk import pack
from .clean import clean_document
from .cluster import Story, cluster, continues
from .dedup import dedup
from .errors import (
    BackendError,
    BackendRejected,
    ConfigError,
    InputError,
    OverCostLimit,
    UnreadableReply,
)
from .facts import FactGroup, Facts, SourceSentence, outlet_keys, source_sentences
from .ingest import no_readable_article
from .language import DEFAULT, check_code, detect, language_name, most_common
from .llm.base import Backend, Item
from .llm.cache import Cache
from .llm.caller import Caller, NoProgress, Progress
from .llm.prices import (
    SET_PRICE,
    Meter,
    Plan,
    Planner,
    Prices,
    add_costs,
    dollars,
    load_prices,
    usd,
)
from .models import (
    Article,
    ArticleSummary,
    Dispute,
    Document,
    Duplicate,
    Failure,
    Faithfulness,
    Languages,
    Result,
    Sentence,
    Skip,
    StoryRef,
    StorySummary,
    Usage,
    VerifyMode,
    Writing,
)
from .salience import Candidate, rank_groups, rank_sentences, select
from .settings import Settings
from .writing import (
    Held,
    Outlets,
    WritingSetting,
    choice_items,
    fused,
    fusion_items,
    item_lines,
    parse_choice,
    parse_lines,
    quoted,
    render_items,
    resolve_mode,
    resolve_verify,
)

if TYPE_CHECKING:
    from .checking.judge import LLMJudge

log = logging.getLogger(__name__)
T = TypeVar("T")

ARTICLE_SENTENCES = 5
OVERVIEW_SENTENCES = 6
OVERVIEW_MIN_SENTENCES = 4
POOL = 2  # the model chooses among this many times the sentences it may keep
SMALL_BACKENDS = ("local", "scripted")  # the embedded model, and the extractive stand-in


@dataclass(frozen=True)
class Options:
    """How a run talks to its model, how it writes, and how strict it is."""

    concurrency: int = 4
    max_output_tokens: int = 400
    temperature: float = 0.0
    strict: bool = False
    threshold: float | None = None  # one cut for the checker; None: its two fitted cuts
    writing: WritingSetting = "auto"
    small_model: bool | None = None  # declared small (auto writes quoted); None: by backend
    verify: VerifyMode = "auto"  # how restatements are verified (see writing.fused)
    max_cost_usd: float | None = None  # the cost limit (see llm.prices); None: none
    prices: Prices | None = None  # None: the shipped price table alone
    language: str | None = None  # ISO 639-1 to write in; None: the articles' own


def run_options(settings: Settings, *, strict: bool = False, concurrency: int | None = None,
                writing: WritingSetting | None = None,
                verify: VerifyMode | None = None, max_cost_usd: float | None = None,
                language: str | None = None) -> Options:
    """Options from the settings, with what the caller asked for on top."""
    return Options(
        concurrency=concurrency or settings.concurrency,
        max_output_tokens=settings.max_output_tokens, temperature=settings.temperature,
        strict=strict, threshold=settings.support_threshold,
        writing=writing or settings.writing, small_model=settings.small_model,
        verify=verify or settings.verify,
        max_cost_usd=settings.max_cost_usd if max_cost_usd is None else max_cost_usd,
        prices=load_prices(settings),
        language=check_code(language) if language else _language_setting(settings),
    )


def _language_setting(settings: Settings) -> str | None:
    if settings.language is None:
        return None
    try:
        return check_code(settings.language)
    except InputError as e:
        raise ConfigError(f"SUMMARIZER_LANGUAGE: {e}") from e


@dataclass(frozen=True)
class Earlier:
    """A story of an earlier digest, for telling updates from new stories."""

    id: str
    day: str
    title: str | None
    texts: tuple[str, ...]  # its summary sentences


@dataclass
class Prepared:
    """Articles ready to summarise: deduplicated, split into sentences, facts grouped."""

    articles: list[Article]
    duplicates: list[Duplicate]
    facts: Facts
    groups: list[FactGroup]
    group_of: dict[str, FactGroup] = field(default_factory=dict)  # sentence id -> its group
    by_article: dict[str, list[SourceSentence]] = field(default_factory=dict)


def clean(docs: Iterable[Document | Skip]) -> list[Article | Skip]:
    """Each input as a cleaned article, or a skip that says why it has none, in input order."""
    return [doc if isinstance(doc, Skip) else clean_document(doc) for doc in docs]


def prepare(articles: Sequence[Article]) -> Prepared:
    """Deduplicate, split every article into its sentences, and group them into facts.
    An article read back from storage has its language detected again (it is not stored)."""
    deduped = dedup([a if a.language else a.model_copy(update={"language": detect(a.text)})
                     for a in articles])
    facts = Facts(source_sentences(deduped.articles, deduped.paragraphs, deduped.duplicates))
    groups = facts.groups()
    group_of = {m.id: g for g in groups for m in g.members}
    by_article: dict[str, list[SourceSentence]] = {a.id: [] for a in deduped.articles}
    for sentence in facts.sentences:
        by_article[sentence.article_id].append(sentence)
    return Prepared(deduped.articles, deduped.duplicates, facts, groups, group_of, by_article)


async def summarize(
    docs: Sequence[Document],
    skipped: Sequence[Skip] = (),
    *,
    backend: Backend,
    judge: Backend | None = None,
    options: Options = Options(),
    cache: Cache | None = None,
    progress: Progress | None = None,
) -> Result:
    """Summarise each article and the set of them; every sentence true to what it cites.
    `judge`: a backend of its own for the LLM judge; None: `backend` judges."""
    cleaned = clean(docs)
    articles = [a for a in cleaned if isinstance(a, Article)]
    skips = [*skipped, *(s for s in cleaned if isinstance(s, Skip))]
    if not articles:
        raise no_readable_article(skips)
    prepared = prepare(articles)
    await _within_limit(prepared, backend, judge, options, cache, _overview)
    run = _Run(prepared, backend, options, cache, progress or NoProgress(), judge)
    run.start_counting([a.id for a in prepared.articles])
    try:
        summaries = await run.summarize_articles()
        overview, disputes = await _overview(run, summaries)
    finally:
        await run.settle()
    return run.result(summaries, overview, disputes, (), prepared.duplicates,
                      [*skips, *run.failed_articles()])


async def plan(
    docs: Sequence[Document],
    *,
    backend: Backend,
    judge: Backend | None = None,
    options: Options = Options(),
    cache: Cache | None = None,
) -> Plan:
    """The calls `summarize` would make, each with its prompt tokens and output allowance, and
    their worst-case cost; no model is called (see llm.prices.Planner)."""
    cleaned = clean(docs)
    articles = [a for a in cleaned if isinstance(a, Article)]
    if not articles:
        raise no_readable_article([s for s in cleaned if isinstance(s, Skip)])
    return await _estimate(prepare(articles), backend, judge, options, cache, _overview)


async def _overview(run: _Run, summaries: list[ArticleSummary],
                    ) -> tuple[list[Sentence], list[Dispute]]:
    """The summary across the articles, when at least two have one of their own."""
    if len([a for a in summaries if a.summary]) < 2:
        return [], []
    across = await run.guard(run.across([a.article.id for a in summaries]), "overview")
    return across or ([], [])


async def digest(
    articles: Sequence[Article],
    *,
    backend: Backend,
    judge: Backend | None = None,
    earlier: Sequence[Earlier] = (),
    duplicates: Sequence[Duplicate] = (),
    options: Options = Options(),
    cache: Cache | None = None,
    progress: Progress | None = None,
) -> Result:
    """A day's digest: articles summarised, grouped into stories, one summary per story.

    A story that continues one of `earlier` is marked as its update and leads with what is new.
    `duplicates` (those found when the articles were stored) and what this run finds are listed
    once each. `judge`: a backend of its own for the LLM judge; None: `backend` judges.
    """
    if not articles:
        raise InputError("no articles for this digest")
    prepared = prepare(articles)

    async def stories(run: _Run, summaries: list[ArticleSummary]) -> list[StorySummary]:
        by_id = {a.article.id: a for a in summaries}
        made = await asyncio.gather(*(
            run.guard(run.story(group, [by_id[i] for i in group.article_ids], earlier),
                      "story", group.id)
            for group in cluster([a.article for a in summaries])
        ))
        return [s for s in made if s is not None]

    await _within_limit(prepared, backend, judge, options, cache, stories)
    run = _Run(prepared, backend, options, cache, progress or NoProgress(), judge)
    summaries = await run.summarize_articles()
    found = list(dict.fromkeys([*duplicates, *prepared.duplicates]))  # first of each, in order
    return run.result(summaries, (), (), await stories(run, summaries), found,
                      run.failed_articles())


Reduce = Callable[["_Run", list[ArticleSummary]], Awaitable[object]]


async def _estimate(prepared: Prepared, backend: Backend, judge: Backend | None,
                    options: Options, cache: Cache | None, reduce: Reduce) -> Plan:
    """The run's calls as a `Planner` records them: the map step, then `reduce`. Restatements
    are all judged where a judge would decide some of them, so judge calls are counted at
    their most."""
    prices = options.prices or Prices()
    planner = Planner(backend, prices.of(backend.name, backend.model, own=True), cache)
    judge_planner = None if judge is None else \
        Planner(judge, prices.of(judge.name, judge.model, own=False), cache)
    run = _Run(prepared, planner, replace(options, max_cost_usd=None), None, NoProgress(),
               judge_planner)
    if run.verify == "auto":
        run.verify = "llm"
    summaries = await run.summarize_articles()
    planner.stage = "reduce"
    await reduce(run, summaries)
    return Plan(backend=backend.name, model=backend.model, price=planner.price,
                calls=tuple(planner.calls + (judge_planner.calls if judge_planner else [])),
                judge_backend=judge.name if judge else None,
                judge_model=judge.model if judge else None,
                judge_price=judge_planner.price if judge_planner else None,
                max_cost_usd=options.max_cost_usd)


async def _within_limit(prepared: Prepared, backend: Backend, judge: Backend | None,
                        options: Options, cache: Cache | None, reduce: Reduce) -> None:
    """Refuse a run whose estimated cost is over its limit, before any call is made."""
    limit = options.max_cost_usd
    if limit is None:
        return
    estimate = await _estimate(prepared, backend, judge, options, cache, reduce)
    cost = estimate.cost_usd
    if cost is None:
        unpriced = sorted({c.model for c in estimate.calls if c.cost_usd is None})
        raise ConfigError(f"a cost limit of {dollars(limit)} is set, but no price is known for "
                          f"{', '.join(unpriced)}, so the run's cost cannot be bounded; "
                          f"{SET_PRICE}")
    if cost > limit + 1e-12:
        raise OverCostLimit(
            f"the run's estimated cost {dollars(cost)} ({len(estimate.calls)} model calls at "
            f"most) is over its cost limit of {dollars(limit)}; raise the limit (--max-cost, "
            "max_cost_usd, SUMMARIZER_MAX_COST_USD), use a cheaper model, or summarise fewer "
            "articles", estimate=cost, limit=limit, field="max_cost_usd")


class _Run:
    """One run's model calls: choosing among candidates and, in fused writing, restating and
    judging the restatements."""

    def __init__(self, prepared: Prepared, backend: Backend, options: Options,
                 cache: Cache | None, progress: Progress, judge: Backend | None = None) -> None:
        self.prepared = prepared
        self.facts = prepared.facts
        prices = options.prices or Prices()
        self.caller = Caller(backend, concurrency=options.concurrency, cache=cache,
                             progress=progress, meter=Meter(options.max_cost_usd),
                             price=prices.of(backend.name, backend.model, own=True))
        self.backend = backend
        self.options = options
        small = options.small_model if options.small_model is not None \
            else backend.name in SMALL_BACKENDS
        self.mode = resolve_mode(options.writing, small_model=small)
        # The judge is the run's own model unless one of its own is given; `auto` leaves a
        # small one out (the checker decides alone).
        small_judge = small if judge is None else judge.name in SMALL_BACKENDS
        self.verify = resolve_verify(options.verify, small_judge=small_judge)
        self.judge: LLMJudge | None = None
        if self.mode == "fused" and self.verify != "offline":
            from .checking.judge import LLMJudge  # loaded only where a judge is used

            judge_caller = self.caller if judge is None else self.caller.sibling(
                judge, prices.of(judge.name, judge.model, own=False))
            self.judge = LLMJudge(judge_caller.backend, caller=judge_caller)
        self.fused_attempted = 0
        self.fused_kept = 0
        self.judged = 0
        self.judge_kept = 0
        self.backers_judged = 0
        self.backers_refused = 0
        # Outlet checks by candidate (its shown sentence and its group's agreeing members).
        self._counting: dict[tuple[str, ...], asyncio.Future[tuple[Candidate, int, int]]] = {}
        # Leave most of a small window for the material; answers are short.
        self.max_output = min(options.max_output_tokens, backend.context_window // 4)
        self.all_outlets = self._outlets({a.id for a in prepared.articles})
        self.failures: list[tuple[Failure, BackendError]] = []
        self.languages = {a.id: a.language for a in prepared.articles}
        self.language = options.language or \
            most_common(a.language for a in prepared.articles) or DEFAULT
        self.small = small

    async def guard(self, work: Awaitable[T], part: Literal["article", "overview", "story"],
                    id: str | None = None) -> T | None:
        """The work's result; None when the model failed it even after the retry policy, with
        the failure recorded so that the rest of the run stands. A refused request (a bad key,
        an unknown model) fails every call alike: it ends the run."""
        try:
            return await work
        except BackendRejected:
            raise
        except BackendError as error:
            log.warning("the model failed the %s%s: %s", part, f" {id}" if id else "", error)
            self.failures.append((Failure(part=part, id=id, reason=str(error)), error))
            return None

    def failed_articles(self) -> list[Skip]:
        """The articles the model failed, as skips that say why."""
        origins = {a.id: a.origin for a in self.prepared.articles}
        return [Skip(origin=origins[f.id], reason=f"the model failed: {f.reason}")
                for f, _ in self.failures if f.part == "article" and f.id in origins]

    async def summarize_articles(self) -> list[ArticleSummary]:
        """Each article's own most salient sentences, in the order the article tells them.
        Articles the model failed are left out (see `failed_articles`); when it failed every
        one, its first error is raised, saying so."""
        articles = self.prepared.articles
        texts = await asyncio.gather(*(self.guard(self._article(a), "article", a.id)
                                       for a in articles))
        done = [ArticleSummary(article=a, summary=tuple(s))
                for a, s in zip(articles, texts, strict=True) if s is not None]
        if not done and self.failures:
            failure, error = self.failures[0]
            error.args = (f"no article could be summarised: the model failed all "
                          f"{len(articles)} ({error})",)
            raise error
        return done

    async def _article(self, article: Article) -> list[Sentence]:
        ranked = rank_sentences(self.facts, self.prepared.by_article[article.id],
                                self.prepared.group_of, len(self.all_outlets))
        if not ranked:
            return []
        limit = _sentences_for(len(ranked))
        about = "These sentences come from one news article."  # its title is untrusted text
        pool = select(self.facts, ranked, POOL * limit)
        if (written := await self._choose_and_fuse(pool, limit, about)) is not None:
            return written
        chosen = await self.choose(pool, limit, about)
        chosen.sort(key=lambda c: c.shown.position)
        return await self.write(chosen, None)

    async def _choose_and_fuse(self, pool: list[Candidate], limit: int, about: str,
                               ) -> list[Sentence] | None:
        """Fused writing of one article's summary in one call: the model picks `limit` of the
        pool and restates each; salience fills any gap its answer leaves (all of it where the
        answer could not be read), quoted. None where this does not apply (quoted writing, a
        pool that needs no choosing, a window that holds too few to choose among, a source no
        restatement could be verified against): then the model chooses, and what it chose is
        written, as across articles."""
        if self.mode != "fused" or len(pool) <= limit or \
                (self.verify == "offline" and any(self._crosses(c) for c in pool)):
            return None
        prompt = prompts.load("choose_and_fuse")
        values = {"about": about, "limit": limit, "language": language_name(self.language)}
        budget = self.caller.budget(prompt, {**values, "lines": ""}, self.max_output)
        items = fusion_items(pool, across=False)
        offered = pool[:len(pack(item_lines(items), self.backend.count_tokens, budget)[0])]
        if len(offered) <= limit:
            return None
        chosen, written = await self._restate(prompt, values, offered, items[:len(offered)],
                                              None, limit=limit)
        filled = chosen + [c for c in pool if c not in chosen][: limit - len(chosen)]
        sentences = written + [self._quoted(c, None) for c in filled[len(chosen):]]
        order = sorted(range(len(filled)), key=lambda k: filled[k].shown.position)
        return [sentences[k] for k in order]

    def _pool(self, article_ids: Sequence[str], told: Callable[[str], bool] | None = None,
              ) -> tuple[list[FactGroup], Outlets, list[Candidate], int]:
        """The fact groups of these articles, their outlets, the candidates the overview chooses
        among, and how many sentences it tells."""
        wanted = set(article_ids)
        everyone = len(wanted) == len(self.prepared.articles)
        groups = self.prepared.groups if everyone else self.facts.groups(article_ids)
        outlets = self._outlets(wanted)
        ranked = rank_groups(self.facts, groups, len(outlets), told)
        limit = min(OVERVIEW_SENTENCES, max(OVERVIEW_MIN_SENTENCES, len(wanted) + 2))
        return groups, outlets, select(self.facts, ranked, POOL * limit), limit

    def start_counting(self, article_ids: Sequence[str]) -> None:
        """Where the run has a judge, start checking the outlets of the facts the overview
        across these articles will keep (see `choose`), beside the map step's calls: the pool
        does not depend on them. `across` takes the answers (or asks again, for facts its pool
        holds otherwise, as where an article failed); `settle` waits for what it did not take."""
        if self.judge is None or len(article_ids) < 2:
            return
        _, _, pool, limit = self._pool(article_ids)
        for candidate in [c for c in pool if len(c.group.outlets()) > 1][:limit]:
            self._counting_of(candidate)

    async def settle(self) -> None:
        """Wait for the outlet checks started and not taken (their answers are cached)."""
        await asyncio.gather(*self._counting.values(), return_exceptions=True)

    def _counting_of(self, candidate: Candidate) -> asyncio.Future[tuple[Candidate, int, int]]:
        """The check of this candidate's outlets, started once."""
        key = (candidate.shown.id, *(m.id for m in candidate.group.agreeing))
        if key not in self._counting:
            self._counting[key] = asyncio.ensure_future(self._counted(candidate))
        return self._counting[key]

    async def across(self, article_ids: Sequence[str], told: Callable[[str], bool] | None = None,
                     ) -> tuple[list[Sentence], list[Dispute]]:
        """The summary across articles, from their fact groups, and the facts they dispute."""
        groups, outlets, pool, limit = self._pool(article_ids, told)
        about = f"These sentences come from {len(set(article_ids))} articles about one story."
        if self.judge is None:
            chosen = await self.choose(pool, limit, about, across=True)
        else:
            # Facts several outlets report are kept whatever the model picks (see `choose`), so
            # their outlets are judged while it picks, not after (or since the map step began:
            # see `start_counting`).
            several = [c for c in pool if len(c.group.outlets()) > 1][:limit]
            judging = [self._counting_of(c) for c in several]
            try:
                chosen = await self.choose(pool, limit, about, across=True)
            finally:  # the judge's answers are awaited (and cached) even if choosing failed
                judged = await asyncio.gather(*judging, return_exceptions=True)
            if failed := next((j for j in judged if isinstance(j, BaseException)), None):
                raise failed
            done = {j[0].shown.id: j for j in judged if not isinstance(j, BaseException)}
            rest = [c for c in chosen if c.shown.id not in done]
            done.update((c.shown.id, (c, n, r)) for c, n, r in await asyncio.gather(
                *(self._counting_of(c) for c in rest)))
            chosen = [done[c.shown.id][0] for c in chosen]
            # Counted for the sentences the overview shows, once it stands.
            self.backers_judged += sum(done[c.shown.id][1] for c in chosen)
            self.backers_refused += sum(done[c.shown.id][2] for c in chosen)
        disputes = [d for g in groups for d in g.disputes]
        return await self.write(chosen, outlets), disputes

    async def story(self, group: Story, summaries: list[ArticleSummary],
                    earlier: Sequence[Earlier]) -> StorySummary:
        """One story's summary across its articles; an update leads with what is new."""
        previous = None
        if earlier and (match := continues([a.article for a in summaries],
                                           [(e.id, e.texts) for e in earlier])) is not None:
            previous = next(e for e in earlier if e.id == match)
        told = _told(previous.texts, self.options.threshold) if previous else None
        sentences, disputes = await self.across(group.article_ids, told)
        update_of = None
        if previous is not None and told is not None:
            update_of = StoryRef(id=previous.id, day=previous.day, title=previous.title)
            sentences.sort(key=lambda s: told(s.text))  # what is new first; stable otherwise
        return StorySummary(id=group.id, title=group.title, article_ids=group.article_ids,
                            summary=tuple(sentences), update_of=update_of,
                            disputes=tuple(disputes))

    async def _counted(self, candidate: Candidate) -> tuple[Candidate, int, int]:
        """The candidate with only the sentences of other outlets that back its shown one, with
        how many the judge was asked about and how many of those it refused.

        Fact groups count an outlet whose sentence reports the same fact in words near enough
        and gives no other number, date or denial; near words can still tell another fact
        ("the inquiry into the fire that burnt 240 hectares" beside "the fire burnt 240
        hectares"). Where the run has a judge, each such sentence the offline checker does not
        find supporting the shown one (every one, under `--verify llm`) is put to the judge;
        one it does not find supporting, or could not judge, is neither counted nor cited.
        """
        shown = candidate.shown
        others = [m for m in candidate.group.agreeing[1:] if m.text != shown.text]
        doubtful = [m for m in others
                    if self.verify == "llm" or not _backs(m, shown, self.options.threshold)]
        if not doubtful:
            return candidate, 0, 0
        texts = list(dict.fromkeys(m.text for m in doubtful))  # a wire copy's text once
        backed = dict(zip(texts, await self._judged_backers(texts, shown), strict=True))
        refused = {m.id for m in doubtful if not backed[m.text]}
        if not refused:
            return candidate, len(doubtful), 0
        group = replace(candidate.group, agreeing=[m for m in candidate.group.agreeing
                                                   if m.id not in refused])
        return replace(candidate, group=group), len(doubtful), len(refused)

    async def _judged_backers(self, texts: list[str], shown: SourceSentence) -> list[bool]:
        """The judge's answer, for each of `texts`, whether it backs the shown sentence (none
        does where it could not judge: see `LLMJudge.backing`)."""
        assert self.judge is not None  # asked only where there is a judge
        backed = await self.judge.backing(shown.text, texts)
        for text, ok in zip(texts, backed, strict=True):
            if not ok:
                log.info("the judge found that %r does not back %r", text, shown.text)
        return backed

    def _outlets(self, article_ids: set[str]) -> Outlets:
        """The outlets of these articles, each article with no known outlet one of its own."""
        return frozenset(o for a in self.prepared.articles if a.id in article_ids
                         for o in outlet_keys(a))

    async def choose(self, pool: list[Candidate], limit: int, about: str,
                     across: bool = False) -> list[Candidate]:
        """The model picks `limit` of the pool, most important first; salience fills any gap
        its answer leaves. Across articles, facts several outlets report are kept whatever it
        picks (no model judges better than the outlets that chose to print them). A pool no
        larger than `limit` needs no call."""
        kept = [c for c in pool if across and len(c.group.outlets()) > 1][:limit]
        if len(pool) <= limit or len(kept) == limit:
            return sorted(pool[:limit] if len(pool) <= limit else kept, key=pool.index)
        rest = [c for c in pool if c not in kept]
        return sorted(kept + await self._pick(rest, limit - len(kept), about), key=pool.index)

    async def _pick(self, pool: list[Candidate], limit: int, about: str) -> list[Candidate]:
        """The model's choice of `limit` from the pool, filled in salience order."""
        if len(pool) <= limit:
            return pool
        prompt = prompts.load("choose")
        budget = self.caller.budget(prompt, {"about": about, "limit": limit, "lines": ""},
                                    self.max_output)
        items = choice_items(pool)
        first = pack(item_lines(items), self.backend.count_tokens, budget)[0]
        offered = list(items[: len(first)])
        if len(offered) <= limit:  # the window holds too few to choose among: salience decides
            return pool[:limit]
        ids = [i.id for i in offered]
        answer = await self.caller.ask(
            prompt, {"about": about, "limit": limit, "lines": render_items(offered)},
            lambda reply: parse_choice(reply, ids), max_tokens=self.max_output,
            temperature=self.options.temperature, reply="ids", items=offered, limit=limit)
        by_id = {c.shown.id: c for c in pool}
        picked = [by_id[i] for i in answer][:limit]
        # The model chooses; the telling order stays the salience order, so the fact most
        # outlets report comes first whatever order a small model answers in.
        return picked + [c for c in pool if c not in picked][: limit - len(picked)]

    async def write(self, chosen: list[Candidate], outlets: Outlets | None) -> list[Sentence]:
        """Each chosen fact as one sentence: quoted, or fused where the model's words hold."""
        # With no judge, a restatement in another language than its source could never be
        # kept (the checker cannot compare words across languages): its source is quoted.
        asked = [c for c in chosen if self.verify != "offline" or not self._crosses(c)]
        if self.mode == "quoted" or not asked:
            return [self._quoted(c, outlets) for c in chosen]
        prompt = prompts.load("fuse")
        language = language_name(self.language)
        budget = self.caller.budget(prompt, {"lines": "", "language": language},
                                    self.max_output)
        items = fusion_items(asked, across=outlets is not None)
        batches = pack(item_lines(items), self.backend.count_tokens, budget)
        parts = await asyncio.gather(*(
            self._restate(prompt, {"language": language}, [asked[k] for k in batch],
                          [items[k] for k in batch], outlets)
            for batch in batches))
        written = {c.shown.id: s for part in parts for c, s in zip(*part, strict=True)}
        return [written.get(c.shown.id) or self._quoted(c, outlets) for c in chosen]

    def _crosses(self, candidate: Candidate) -> bool:
        """Whether the candidate's source is in another language than the run writes."""
        return self.languages.get(candidate.shown.article_id) not in (None, self.language)

    def _quoted(self, candidate: Candidate, outlets: Outlets | None) -> Sentence:
        return quoted(candidate, outlets, self.languages)

    async def _restate(self, prompt: prompts.Prompt, values: dict[str, object],
                       offered: list[Candidate], items: Sequence[Item], outlets: Outlets | None,
                       limit: int | None = None) -> tuple[list[Candidate], list[Sentence]]:
        """One restating call for `offered` (the model restates each; with `limit`, it also
        picks which, up to `limit`, in its first readable reply), one re-ask for the lines that
        fail, then the judge for the lines held for it. Returns the candidates restated (with
        `limit`, none when the model's answers could not be read) and a sentence for each: what
        is not kept is quoted. A call that fails before anything is chosen raises; after, the
        choice stands and the sources' own words serve."""
        ids = [i.id for i in items]
        by_id = {c.shown.id: c for c in offered}
        chosen = list(offered) if limit is None else []
        kept: dict[str, Sentence] = {}
        held: dict[str, Held] = {}  # for the judge, whose calls cannot run inside `read`

        def read(reply: str) -> None:
            """Keep each line its sources support and hold those the judge decides; the lines
            refused make the reply unreadable, with the reason for each, so that the re-ask
            asks for those again."""
            written = parse_lines(reply, ids)
            if limit is not None and not chosen:
                chosen.extend(by_id[i] for i in list(written)[:limit])
            pending = [c for c in chosen if c.shown.id not in kept and c.shown.id not in held]
            if not chosen or (not written and pending):
                raise UnreadableReply("no '[id] sentence' line for any " +
                                      ("sentence" if limit is not None else "group"))
            refused: dict[str, str] = {}
            for c in pending:
                text = written.get(c.shown.id)
                result = "no line for this group" if text is None else \
                    fused(text, c, self.options.threshold, outlets, self.verify,
                          self.languages, self.language)
                if isinstance(result, Sentence):
                    kept[c.shown.id] = result
                elif isinstance(result, Held):
                    held[c.shown.id] = result
                else:
                    refused[c.shown.id] = result
            if refused:
                raise UnreadableReply("; ".join(f"[{k}] {v}" for k, v in refused.items()),
                                      well_formed=True)

        try:
            await self.caller.ask(prompt, {**values, "lines": render_items(items)}, read,
                                  max_tokens=self.max_output,
                                  temperature=self.options.temperature, reply="lines",
                                  items=items, limit=limit, otherwise=lambda _: None)
        except BackendRejected:
            raise
        except BackendError as error:
            if not chosen:  # as when a choosing call fails: the part failed (see `guard`)
                raise
            log.warning("restating failed (%s); quoting the sources instead", error)
        if held:
            verdicts = await asyncio.gather(*(self._judged(h) for h in held.values()))
            kept.update({key: h.sentence for (key, h), ok in
                         zip(held.items(), verdicts, strict=True) if ok})
            self.judged += len(held)
            self.judge_kept += sum(verdicts)
        self.fused_attempted += len(chosen)
        self.fused_kept += len(kept)
        return chosen, [kept.get(c.shown.id) or self._quoted(c, outlets) for c in chosen]

    async def _judged(self, held: Held) -> bool:
        """Whether the judge finds a held restatement supported by its sources. A judge that
        fails even after the retry policy keeps nothing: the source sentence is quoted."""
        assert self.judge is not None  # held only where there is a judge
        try:
            verdict = await self.judge.check_whole(held.sentence.text, held.passages)
        except BackendRejected:
            raise
        except BackendError as error:
            log.warning("the judge failed (%s); quoting the source instead", error)
            return False
        if not verdict.supported:
            log.info("the judge refused a restatement: %s", verdict.reason)
        return verdict.supported

    def result(self, summaries: Sequence[ArticleSummary], overview: Sequence[Sentence],
               disputes: Sequence[Dispute], stories: Sequence[StorySummary],
               duplicates: Sequence[Duplicate], skips: Sequence[Skip]) -> Result:
        """Everything the run made, with faithfulness counted before strict mode drops any."""
        made = Result(
            articles=tuple(summaries), overview=tuple(overview), disputes=tuple(disputes),
            stories=tuple(stories), duplicates=tuple(duplicates), skipped=tuple(skips),
            usage=self.usage(),
            faithfulness=Faithfulness(supported=0, unsupported=0, score=None),  # counted below
            prompts={**self.caller.prompts,
                     **(self.judge.caller.prompts if self.judge else {})},
            writing=Writing(mode=self.mode, fused_attempted=self.fused_attempted,
                            fused_kept=self.fused_kept, verify=self.verify, judged=self.judged,
                            judge_kept=self.judge_kept, backers_judged=self.backers_judged,
                            backers_refused=self.backers_refused),
            failed=tuple(f for f, _ in self.failures),
        )
        sentences = made.sentences()
        made = made.model_copy(update={"language": self.report_language(sentences)})
        supported = sum(1 for s in sentences if s.support == "supported")
        unsupported = len(sentences) - supported
        faithfulness = Faithfulness(
            supported=supported, unsupported=unsupported,
            score=round(supported / len(sentences), 4) if sentences else None,
            dropped=unsupported if self.options.strict else 0,
        )
        if not self.options.strict:
            return made.model_copy(update={"faithfulness": faithfulness})
        return made.model_copy(update={
            "faithfulness": faithfulness,
            "articles": tuple(a.model_copy(update=_kept(a.summary)) for a in summaries),
            "stories": tuple(st.model_copy(update=_kept(st.summary)) for st in stories),
            "overview": tuple(s for s in overview if s.support == "supported"),
            "overview_dropped": sum(1 for s in overview if s.support != "supported"),
        })

    def report_language(self, sentences: Sequence[Sentence]) -> Languages:
        """The language the run wrote in and, where some sentences are in another (quoted in
        their source's), why and what would write them in it."""
        counts = Counter(a.language for a in self.prepared.articles if a.language)
        other = [s for s in sentences if s.language not in (None, self.language)]
        report = Languages(output=self.language, articles=tuple(c for c, _ in counts.most_common()),
                           honoured=not other, other=len(other))
        if not other:
            return report
        wanted, found = language_name(self.language), " and ".join(
            language_name(c) for c in dict.fromkeys(s.language or "" for s in other))
        said = f"{len(other)} of {len(sentences)} sentences are in {found}, their sources' " \
               "language"
        if self.mode == "quoted":
            why = "a small model (the embedded one, or one declared small) quotes its sources " \
                "rather than writing" if self.small and self.options.writing == "auto" \
                else "quoted writing shows the sources' own words"
            fix = f"for {wanted}, use a capable model (auto writing then fuses) or --writing fused"
        elif self.verify == "offline":
            why = "a restatement in another language than its sources cannot be verified " \
                  "offline"
            fix = "let the LLM judge verify them (--verify auto or llm)" \
                if self.options.verify == "offline" else \
                "a capable judge model of its own (SUMMARIZER_JUDGE_MODEL) would verify them"
        else:
            why = f"the model's restatements in {wanted} were not kept"
            fix = "a stronger model, or a judge of its own (SUMMARIZER_JUDGE_MODEL), may keep more"
        return report.model_copy(update={"honoured": False, "reason": f"{said}: {why}; {fix}"})

    def usage(self) -> Usage:
        """The run's calls, the judge's among them (and its backend when it has its own), what
        they cost, and whether the cost limit stopped any."""
        usage = self.caller.usage().model_copy(update={
            "cost_limit_usd": self.options.max_cost_usd,
            "cost_limit_reached": self.caller.meter.refused > 0})
        if self.judge is None:
            return usage
        judge = self.judge.caller
        if judge is self.caller:
            return usage.model_copy(update={
                "judge_calls": judge.calls_for(self.judge.PROMPTS)})
        return usage.model_copy(update={
            "llm_calls": usage.llm_calls + judge.calls,
            "prompt_tokens": usage.prompt_tokens + judge.prompt_tokens,
            "completion_tokens": usage.completion_tokens + judge.completion_tokens,
            "cache_hits": usage.cache_hits + judge.cache_hits,
            "cost_usd": usd(add_costs(usage.cost_usd, judge.cost_usd())),
            "judge_calls": judge.calls, "judge_backend": judge.backend.name,
            "judge_model": judge.backend.model,
        })


def _sentences_for(candidates: int) -> int:
    """A short article gets a short summary."""
    return max(2, min(ARTICLE_SENTENCES, (candidates + 2) // 3))


def _backs(backer: SourceSentence, shown: SourceSentence, threshold: float | None) -> bool:
    """Whether the offline checker finds the backer's sentence supporting the shown one, with
    no relation check fired."""
    verdict = Sources([backer.text]).check(shown.text, threshold)
    return verdict.label == "supported" and not verdict.flags


def _kept(sentences: Sequence[Sentence]) -> dict[str, object]:
    """The supported sentences, and how many strict mode left out."""
    kept = tuple(s for s in sentences if s.support == "supported")
    return {"summary": kept, "dropped": len(sentences) - len(kept)}


def _told(texts: Sequence[str], threshold: float | None) -> Callable[[str], bool]:
    """Whether an earlier story's sentences already say this (at the lower cut: a sentence
    the checker is unsure of is more likely told than new)."""
    sources = Sources(list(texts))
    cut = DEFAULT_THRESHOLD if threshold is None else threshold
    return lambda text: bool(texts) and sources.check(text, cut).supported
