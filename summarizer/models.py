"""The data that flows between stages: frozen, validated, serialisable."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

UNKNOWN_OUTLET = "unknown outlet"  # how an article that names no outlet is shown
# How a sentence is written: a source's own words, or the model's, verified.
WritingMode = Literal["quoted", "fused"]
# How the model's restatements are verified: by the offline checker alone, by the LLM judge
# alone, or (auto) by the checker, with the judge deciding what the checker cannot.
VerifyMode = Literal["offline", "llm", "auto"]
# What decided that a shown sentence is true to its sources: being a source sentence itself,
# the offline checker, or the LLM judge.
VerifiedBy = Literal["quote", "offline", "llm"]


# Publication years outside these bounds are typing errors or placeholders (0001, 9999); they are
# refused at the edge, and date arithmetic near them would overflow.
EARLIEST_YEAR = 1900


def latest_year() -> int:
    """The last publication year accepted: next year (clocks and time zones differ)."""
    return datetime.now(UTC).year + 1


def published_at(published: str | None) -> datetime | None:
    """An ISO date or datetime string as a naive UTC datetime; None when missing, unreadable,
    or outside EARLIEST_YEAR to next year (see `date_problem` for why)."""
    moment = _parse_iso(published) if published else None
    if moment is None or not EARLIEST_YEAR <= moment.year <= latest_year():
        return None
    return moment


def date_problem(published: str) -> str | None:
    """Why a publication date cannot be used, or None when it can."""
    moment = _parse_iso(published)
    if moment is None:
        return "must be an ISO date or datetime, e.g. 2026-03-14 or 2026-03-14T08:30:00Z"
    if not EARLIEST_YEAR <= moment.year <= latest_year():
        return f"year {moment.year} is outside {EARLIEST_YEAR} to {latest_year()}"
    return None


def _parse_iso(published: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(published.strip())
    except ValueError:
        try:
            moment = datetime.fromisoformat(published.strip()[:10])
        except ValueError:
            return None
    if moment.tzinfo is not None:
        try:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:  # 0001-01-01T00:00+05:00 has no UTC moment
            return moment.replace(tzinfo=None)
    return moment


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Document(Frozen):
    """One input as read, before cleaning."""

    origin: str  # file path, "stdin" or "file.jsonl:3": where it came from, for messages
    text: str
    title: str | None = None
    source: str | None = None
    url: str | None = None
    published: str | None = None


class Skip(Frozen):
    """An input that was left out of the run, and why."""

    origin: str
    reason: str


class Failure(Frozen):
    """A part of a run the model could not do, even after retries; the rest of the run stands.
    A later run asks again only for these (every finished call is answered from the cache)."""

    part: Literal["article", "overview", "story"]
    id: str | None = None  # the article's or the story's id
    reason: str


class Removal(Frozen):
    """A line taken out by the cleaner."""

    text: str
    reason: str


class Article(Frozen):
    """A cleaned article: `text` is what passages, offsets and quotes refer to."""

    id: str
    origin: str
    text: str
    title: str | None = None
    source: str | None = None
    url: str | None = None
    published: str | None = None
    sources: tuple[str, ...] = ()  # every outlet that carried it (wire copies merged into one)
    removed: tuple[Removal, ...] = ()
    language: str | None = None  # ISO 639-1, detected from `text` when it is cleaned

    def outlets(self) -> tuple[str, ...]:
        """The outlets that carried it, as named: its `sources`, else its own `source`. An
        article that names no outlet is still one outlet, listed as "unknown outlet"."""
        return self.sources or ((self.source,) if self.source else (UNKNOWN_OUTLET,))


class Duplicate(Frozen):
    """Text left out because it repeats text already kept."""

    kind: Literal["paragraph", "article"]
    article_id: str
    text: str
    duplicate_of: str  # article id (for articles) or passage id "a.p" in article numbering


class Passage(Frozen):
    """A citable span of an article: `article.text[start:end] == text`."""

    article_id: str
    article_no: int
    index: int
    start: int
    end: int
    text: str

    @property
    def id(self) -> str:
        return f"{self.article_no}.{self.index}"


class Citation(Frozen):
    article_id: str
    passage: str
    start: int
    end: int
    quote: str


class SourceCount(Frozen):
    """How many distinct outlets back a sentence: "3 of 4 sources"."""

    supporting: int
    total: int
    outlets: tuple[str, ...] = ()


class Sentence(Frozen):
    text: str
    # "suspicious": it reads as an instruction to a model, so it is never counted as supported;
    # "uncertain": between the checker's two cuts, with no judge to decide.
    support: Literal["supported", "uncertain", "unsupported", "suspicious"]
    citations: tuple[Citation, ...] = ()
    reason: str | None = None  # why a sentence is unsupported or suspicious
    sources: SourceCount | None = None  # for sentences across articles
    # "quoted": a source sentence verbatim; "fused": the model's restatement, verified.
    written: WritingMode | None = None
    verified_by: VerifiedBy | None = None  # None only in results stored before it was recorded
    # ISO 639-1: a quoted sentence's is its source's, a fused one's the language it is written
    # in. None only in results stored before it was recorded.
    language: str | None = None


class Side(Frozen):
    """One side of a dispute: what some outlets report, in their words."""

    outlets: tuple[str, ...]
    value: str  # the number, date, name or negation this side reports
    citation: Citation


class Dispute(Frozen):
    """Sources that report one fact differently: "Sources differ: the Courier reports ..."."""

    text: str
    sides: tuple[Side, ...]


class ArticleSummary(Frozen):
    article: Article
    summary: tuple[Sentence, ...]
    dropped: int = 0  # unsupported sentences strict mode left out here


class StoryRef(Frozen):
    """An earlier digest's story that a story continues."""

    id: str
    day: str
    title: str | None = None


class StorySummary(Frozen):
    """Articles about one event, and their summary across outlets."""

    id: str
    title: str | None
    article_ids: tuple[str, ...]
    summary: tuple[Sentence, ...]
    update_of: StoryRef | None = None
    disputes: tuple[Dispute, ...] = ()
    dropped: int = 0  # unsupported sentences strict mode left out here


class Usage(Frozen):
    backend: str
    model: str
    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cache_hits: int = 0
    seconds: float = 0.0
    cost_usd: float | None = None
    # Of `llm_calls`, those made to verify restatements (the LLM judge); its backend and model
    # when it is not the run's own, else None.
    judge_calls: int = 0
    judge_backend: str | None = None
    judge_model: str | None = None
    # The run's cost limit in USD (None: none), and whether it stopped a call: a part whose
    # call it stopped is among `failed`, or quoted where a restatement or judgement was left out.
    cost_limit_usd: float | None = None
    cost_limit_reached: bool = False


class Faithfulness(Frozen):
    supported: int
    unsupported: int
    score: float | None
    dropped: int = 0  # unsupported sentences left out by strict mode


class Writing(Frozen):
    """How the run's sentences were written, and how often the model's own words held up."""

    mode: WritingMode
    fused_attempted: int = 0  # sentences the model was asked to restate
    fused_kept: int = 0  # of those, restatements that passed verification
    verify: VerifyMode | None = None  # how restatements were verified (None: not recorded)
    judged: int = 0  # restatements the LLM judge decided
    judge_kept: int = 0  # of those, the ones it found supported
    # Sentences of other outlets counted for a fact across articles that the judge was asked
    # about (those the offline checker does not find backing the shown one), and of those, the
    # ones it refused or could not judge: their outlets are neither counted nor cited.
    backers_judged: int = 0
    backers_refused: int = 0


class Languages(Frozen):
    """Which language the run was asked to write in, and whether every sentence is in it."""

    output: str  # ISO 639-1: asked for, else the one most of the articles are in
    articles: tuple[str, ...] = ()  # the articles' languages, most common first
    honoured: bool = True  # every sentence shown is in `output`
    other: int = 0  # sentences shown in another language (quoted from their sources)
    reason: str | None = None  # why `output` could not be honoured, and what would


class Result(Frozen):
    """Everything a run produced; `render` turns it into JSON or Markdown."""

    articles: tuple[ArticleSummary, ...]
    overview: tuple[Sentence, ...]
    duplicates: tuple[Duplicate, ...]
    skipped: tuple[Skip, ...]
    usage: Usage
    faithfulness: Faithfulness
    stories: tuple[StorySummary, ...] = ()
    prompts: dict[str, str] = Field(default_factory=dict)  # prompt id -> version used
    disputes: tuple[Dispute, ...] = ()  # facts the overview's sources report differently
    overview_dropped: int = 0  # unsupported overview sentences strict mode left out
    writing: Writing | None = None
    failed: tuple[Failure, ...] = ()  # parts the model could not do; their articles are skipped
    language: Languages | None = None  # None only in results stored before it was recorded

    def sentences(self) -> list[Sentence]:
        """Every sentence the run shows: each article's summary, the overview, each story's."""
        return [s for a in self.articles for s in a.summary] + list(self.overview) + \
            [s for story in self.stories for s in story.summary]
