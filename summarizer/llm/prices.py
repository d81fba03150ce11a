"""What model calls cost, and the one policy for counting and bounding it.

- Prices: `prices.json` (shipped here, each entry with its source page and date), then a file of
  the same shape named by SUMMARIZER_PRICES_FILE (adds to or replaces entries), then
  SUMMARIZER_PRICE_INPUT_PER_MTOK / _OUTPUT_PER_MTOK for the run's own model, which win over
  both. The embedded model and the scripted stand-in run in process: they cost 0.0.
- Names: a model's name is looked up as given, then lower-cased, then with a trailing date
  taken off (`gpt-4o-mini-2024-07-18`, `gpt-4-0613` and `...-20250101` are priced as
  `gpt-4o-mini`, `gpt-4` and `...`). A model with no price has a cost of null, with a warning
  once per model per process.
- The limit: a `Meter` shared by every caller of a run holds what was spent and what calls in
  flight may still spend; a call whose worst case (its prompt tokens, then its whole output
  allowance) would take the run past the limit is not made (`CostLimitReached`).
- Estimates: a `Planner` stands in for a backend and records the calls a run would make, each
  with its prompt tokens and output allowance, answering from the cache where it can and
  otherwise with a stand-in answer chosen to make later prompts as long as they can be.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import ConfigError, CostLimitReached
from .base import Completion, CompletionRequest, Message
from .cache import Cache, cache_key

if TYPE_CHECKING:
    from ..settings import Settings
    from .base import Backend

log = logging.getLogger(__name__)

PRICES_FILE = "prices.json"
FREE_BACKENDS = ("local", "scripted")  # they run in this process: no one bills for them
# A trailing date of a dated model version: -2024-07-18, -20240718, or -0613.
DATED = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8}|\d{4})$")
# Tokens a chat template wraps around each message (role markers, separators), which counting
# the message's text does not see; generous for ChatML and the OpenAI format.
TEMPLATE_TOKENS_PER_MESSAGE = 8
MILLION = 1_000_000
SET_PRICE = ("set SUMMARIZER_PRICE_INPUT_PER_MTOK and SUMMARIZER_PRICE_OUTPUT_PER_MTOK (USD "
             "per million tokens) for the run's model, or add it to a SUMMARIZER_PRICES_FILE")


class Price(BaseModel):
    """A model's price in USD per million tokens, and where it was read."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)
    cached_input_per_mtok: float | None = Field(default=None, ge=0)
    source: str | None = None  # the public page the figures were read from
    date: str | None = None  # the date that page gives for them

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """USD for a call of these sizes."""
        return (prompt_tokens * self.input_per_mtok +
                completion_tokens * self.output_per_mtok) / MILLION


FREE = Price(input_per_mtok=0.0, output_per_mtok=0.0, source="runs in this process")


class PriceFile(BaseModel):
    """The shape of prices.json and of a SUMMARIZER_PRICES_FILE."""

    model_config = ConfigDict(extra="forbid")

    about: str | None = None
    models: dict[str, Price]


def read_prices(text: str, origin: str) -> dict[str, Price]:
    """The entries of a price file; a ConfigError that says what is wrong with it."""
    try:
        return PriceFile.model_validate_json(text).models
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'file'}: {error['msg']}"
            for error in e.errors()[:3])
        raise ConfigError(f"price file {origin} cannot be used ({problems}); it needs "
                          '{"models": {"NAME": {"input_per_mtok": N, "output_per_mtok": N}}}'
                          ) from e


def shipped_prices() -> dict[str, Price]:
    """The price table shipped with the package."""
    text = (resources.files("summarizer.llm") / PRICES_FILE).read_text(encoding="utf-8")
    return read_prices(text, PRICES_FILE)


_warned: set[str] = set()


class Prices:
    """Model name -> price, and a price of its own for the run's model when one is set."""

    def __init__(self, table: Mapping[str, Price] | None = None, own: Price | None = None
                 ) -> None:
        self.table = dict(shipped_prices() if table is None else table)
        self.own = own

    def lookup(self, model: str) -> Price | None:
        """The price of `model`: by its exact name, lower-cased, then without a trailing date."""
        for name in (model, model.lower(), DATED.sub("", model.lower())):
            if name in self.table:
                return self.table[name]
        return None

    def of(self, backend: str, model: str, *, own: bool) -> Price | None:
        """What calls to this backend's model cost; `own`: the run's own model, which a price
        set in the settings prices first. None (and a warning once per model) when unknown."""
        if own and self.own is not None:
            return self.own
        if backend in FREE_BACKENDS:
            return FREE
        price = self.lookup(model)
        if price is None and model not in _warned:
            _warned.add(model)
            log.warning("no price is known for model %s, so its cost is left null; %s",
                        model, SET_PRICE)
        return price


def load_prices(settings: Settings) -> Prices:
    """The shipped table, with SUMMARIZER_PRICES_FILE's entries over it, and the run model's
    own price from SUMMARIZER_PRICE_INPUT_PER_MTOK / _OUTPUT_PER_MTOK."""
    table = shipped_prices()
    if settings.prices_file is not None:
        path = Path(settings.prices_file)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise ConfigError(f"cannot read SUMMARIZER_PRICES_FILE {path}: {e.strerror}") from e
        table.update(read_prices(text, str(path)))
    given = (settings.price_input_per_mtok, settings.price_output_per_mtok)
    if (given[0] is None) != (given[1] is None):
        raise ConfigError("set both SUMMARIZER_PRICE_INPUT_PER_MTOK and "
                          "SUMMARIZER_PRICE_OUTPUT_PER_MTOK, or neither")
    own = None
    if given[0] is not None and given[1] is not None:
        own = Price(input_per_mtok=given[0], output_per_mtok=given[1],
                    source="SUMMARIZER_PRICE_INPUT_PER_MTOK, _OUTPUT_PER_MTOK")
    return Prices(table, own)


def request_tokens(backend: Backend, messages: Sequence[Message]) -> int:
    """Tokens a request's messages take, with what a chat template adds around each."""
    return sum(backend.count_tokens(m.content) + TEMPLATE_TOKENS_PER_MESSAGE for m in messages)


def add_costs(*costs: float | None) -> float | None:
    """A sum of costs; None when any of them is unknown."""
    if any(c is None for c in costs):
        return None
    return sum(c for c in costs if c is not None)


def dollars(value: float) -> str:
    """An amount as a message shows it: $0.00001, $0.0042, $1."""
    return "$" + (f"{value:.8f}".rstrip("0").rstrip(".") or "0")


def usd(value: float | None) -> float | None:
    """A cost as shown: to a millionth of a cent, which keeps sums of small calls exact enough."""
    return None if value is None else round(value, 8)


@dataclass
class Meter:
    """What a run has spent, what its calls in flight may still spend, and its limit."""

    limit: float | None = None
    spent: float = 0.0
    held: float = 0.0
    refused: int = 0  # calls not made because of the limit

    def reserve(self, price: Price | None, tokens: int, max_tokens: int, model: str,
                backend: str) -> float:
        """Hold a call's worst case against the limit, or refuse the call (CostLimitReached)."""
        if self.limit is None:
            return 0.0
        if price is None:
            self.refused += 1
            raise CostLimitReached(f"not asked: no price is known for {model}, so the call "
                                   f"cannot be kept under the cost limit; {SET_PRICE}",
                                   backend=backend)
        worst = price.cost(tokens, max_tokens)
        if self.spent + self.held + worst > self.limit + 1e-12:
            self.refused += 1
            raise CostLimitReached(
                f"not asked: the call (up to {dollars(worst)}) would take the run past its "
                f"cost limit of {dollars(self.limit)} ({dollars(self.spent + self.held)} "
                "spent or in flight)", backend=backend)
        self.held += worst
        return worst

    def settle(self, held: float, cost: float | None) -> None:
        """A call is done: its hold is released and what it cost is counted."""
        self.held -= held
        self.spent += cost or 0.0


# -- estimates -----------------------------------------------------------------------------------

CallKind = Literal["map", "reduce", "judge"]
JUDGE_PROMPTS = ("claims", "judge", "backs")
# Prompts made from the input alone, never from an earlier answer.
EXACT_PROMPTS = ("choose", "choose_and_fuse")
STAND_IN_VERDICT = '{"verdict": "unsupported", "evidence": ""}'


@dataclass(frozen=True)
class PlannedCall:
    """A call a run would make: its prompt tokens (exact, or an upper bound when the prompt is
    made from an earlier answer), its output allowance, and its worst-case cost (0.0 when the
    cache already holds its answer; None when the model has no price)."""

    kind: CallKind
    model: str
    prompt_id: str
    prompt_tokens: int
    max_output_tokens: int
    exact: bool
    cached: bool
    cost_usd: float | None
    messages: tuple[Message, ...] = ()


class Planner:
    """A stand-in backend that records the calls a run would make and makes none.

    It answers from `cache` where the real call's answer is there (that call costs nothing),
    else with a stand-in: the longest of the items offered when asked to choose, and each
    item's own sentence when asked to restate, so that prompts made from earlier answers are
    at their longest; a verdict for the judge."""

    def __init__(self, backend: Backend, price: Price | None, cache: Cache | None = None
                 ) -> None:
        self.backend = backend
        self.name = backend.name
        self.model = backend.model
        self.context_window = backend.context_window
        self.price = price
        self.cache = cache
        self.stage: CallKind = "map"
        self.calls: list[PlannedCall] = []

    def count_tokens(self, text: str) -> int:
        return self.backend.count_tokens(text)

    async def complete(self, request: CompletionRequest) -> Completion:
        hit = self.cache.get(cache_key(self.name, self.model, request)) if self.cache else None
        tokens = request_tokens(self.backend, request.messages)
        judging = request.prompt_id in JUDGE_PROMPTS
        cost = 0.0 if hit is not None else \
            None if self.price is None else self.price.cost(tokens, request.max_tokens)
        self.calls.append(PlannedCall(
            kind="judge" if judging else self.stage, model=self.model,
            prompt_id=request.prompt_id,
            prompt_tokens=tokens, max_output_tokens=request.max_tokens,
            exact=request.prompt_id in EXACT_PROMPTS, cached=hit is not None, cost_usd=cost,
            messages=request.messages))
        if hit is not None:
            return hit
        return Completion(text=self._stand_in(request), model=self.model)

    def _stand_in(self, request: CompletionRequest) -> str:
        if request.reply == "ids":
            longest = sorted(request.items, key=lambda i: -self.count_tokens(i.text))
            chosen = {i.id for i in longest[: request.limit or 1]}
            return "\n".join(f"[{i.id}]" for i in request.items if i.id in chosen)
        if request.reply == "lines":  # choosing too (a limit): the longest, as for "ids"
            written = list(request.items) if request.limit is None else sorted(
                request.items, key=lambda i: -self.count_tokens(i.text))[: request.limit]
            return "\n".join(f"[{i.id}] {i.text.split(' | ')[0]}" for i in request.items
                             if i in written)
        if request.prompt_id == "backs":  # every passage backs: the restating prompt is longest
            user = request.messages[-1].content
            numbers = [int(n) for n in re.findall(r"^\[(\d+)\]", user, re.MULTILINE)]
            return json.dumps({"backing": numbers})
        return STAND_IN_VERDICT


@dataclass(frozen=True)
class Plan:
    """The calls a run would make, and what they would cost at most."""

    backend: str
    model: str
    price: Price | None
    calls: tuple[PlannedCall, ...]
    judge_backend: str | None = None
    judge_model: str | None = None
    judge_price: Price | None = None
    max_cost_usd: float | None = None

    @property
    def cost_usd(self) -> float | None:
        """The worst case of every call; None when a model without a price would be called."""
        return add_costs(*(c.cost_usd for c in self.calls))

    @property
    def fits(self) -> bool | None:
        """Whether the estimate is within the limit; None when there is no limit or no price."""
        cost = self.cost_usd
        if self.max_cost_usd is None or cost is None:
            return None
        return cost <= self.max_cost_usd + 1e-12

    def by_kind(self, prompts: bool = False) -> dict[str, dict[str, object]]:
        """Calls, tokens and worst-case cost for each kind of call (map, reduce, judge; with
        `prompts`, each kind's prompts apart, as "map choose"), then for them all."""
        groups: dict[str, list[PlannedCall]] = {}
        order = {"map": 0, "reduce": 1, "judge": 2}
        for call in sorted(self.calls, key=lambda c: order[c.kind]):
            named = prompts and call.prompt_id != call.kind
            groups.setdefault(f"{call.kind} {call.prompt_id}" if named else call.kind,
                              []).append(call)
        groups["total"] = list(self.calls)
        return {kind: {
            "calls": len(calls), "cached": sum(c.cached for c in calls),
            "prompt_tokens": sum(c.prompt_tokens for c in calls),
            "prompt_tokens_exact": all(c.exact for c in calls),
            "max_output_tokens": sum(c.max_output_tokens for c in calls),
            "cost_usd": usd(add_costs(*(c.cost_usd for c in calls))),
        } for kind, calls in groups.items()}

    def as_json(self) -> dict[str, object]:
        """The plan as `summarize --dry-run --format json` prints it."""
        def price(value: Price | None) -> dict[str, object] | None:
            return None if value is None else value.model_dump(exclude_none=True)

        return {
            "dry_run": True, "backend": self.backend, "model": self.model,
            "price": price(self.price),
            "judge": None if self.judge_model is None else {
                "backend": self.judge_backend, "model": self.judge_model,
                "price": price(self.judge_price)},
            "calls": [{"kind": c.kind, "model": c.model, "prompt_id": c.prompt_id,
                       "prompt_tokens": c.prompt_tokens,
                       "max_output_tokens": c.max_output_tokens, "exact": c.exact,
                       "cached": c.cached, "cost_usd": usd(c.cost_usd)} for c in self.calls],
            "by_kind": self.by_kind(), "cost_usd": usd(self.cost_usd),
            "max_cost_usd": self.max_cost_usd, "fits": self.fits,
        }
