"""LLM judge: is a claim backed by the source passages? Same interface as the offline checker.

The claim (often a whole summary) is split into atomic claims by the model (`prompts/claims.md`),
and each is judged supported / unsupported / contradicted against the passages
(`prompts/judge.md`, JSON, temperature 0). The model is called as the pipeline calls it
(`llm.caller`): a reply that is not the JSON asked for is re-asked once with the error fed back;
claims then fall back to sentence splitting, and a verdict to "unsupported". Passages that do not
fit the backend's context window are cut down to the sentences sharing most words with the claim.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..chunk import pack
from ..errors import BackendError, BackendRejected, UnreadableReply
from ..llm.base import Backend
from ..llm.cache import Cache
from ..llm.caller import Caller
from ..prompts import load
from ..text import is_content, split_sentences, tokenize
from ..untrusted import material
from .offline import Span, Verdict

log = logging.getLogger(__name__)
VERDICTS = ("supported", "unsupported", "contradicted")
UNREADABLE = "judge output unreadable"
# Output caps: a verdict with a one-sentence quote, and claims at most twice the summary's length.
JUDGE_OUTPUT_TOKENS = 96
BACKS_OUTPUT_TOKENS = 96  # {"backing": [...]}: at most BACKS_PER_CALL numbers
BACKS_PER_CALL = 20  # passages per call asking which back a claim
CLAIMS_OUTPUT_MIN_TOKENS = 64
MAX_CLAIMS_PER_SENTENCE = 6  # a bound on the claims list, for backends that constrain replies
ELISION = " … "  # joins the sentences kept of a passage that had to be cut down
# What a character of a passage as shown (`material`) may have been in the passage itself.
SHOWN_AS = {" ": r"\s+", "(": r"[(\[]", ")": r"[)\]]", "‹": "[‹<]", "›": "[›>]"}


@dataclass(frozen=True)
class ClaimVerdict:
    claim: str
    verdict: str  # one of VERDICTS
    evidence: Span | None
    unreadable: bool = False


class LLMJudge:
    """Judges claims against passages with a model; `check` returns the checker's `Verdict`.

    One judge serves one event loop at a time (its calls share a concurrency bound). Inside a
    run it is given the run's `caller` (or its sibling for a judge backend of its own), so its
    calls share the run's cache, concurrency bound and usage.
    """

    PROMPTS = ("claims", "judge", "backs")  # the prompt ids of its calls, for counting them

    def __init__(self, backend: Backend, *, cache: Cache | None = None,
                 concurrency: int = 4, caller: Caller | None = None) -> None:
        self.backend = backend
        self.caller = caller or Caller(backend, concurrency=concurrency, cache=cache)
        self.claims_prompt = load("claims")
        self.judge_prompt = load("judge")
        self.backs_prompt = load("backs")

    async def check_whole(self, claim: str, passages: Sequence[str]) -> Verdict:
        """Judge `claim` as it stands, as one claim: one call (a re-ask if its reply cannot be
        read), for a single sentence, where splitting it into claims would cost a call more.
        An unreadable verdict counts as unsupported."""
        if not any(p.strip() for p in passages):
            return Verdict(supported=False, score=0.0, evidence=None,
                           reason=f"claim '{claim}' not supported by the sources",
                           label="unsupported")
        verdict = await self._judge(claim, passages, _passage_units(passages))
        supported = verdict.verdict == "supported"
        return Verdict(supported=supported, score=1.0 if supported else 0.0,
                       evidence=verdict.evidence, reason=None if supported else _reason(verdict),
                       label="supported" if supported else "unsupported")

    async def check(self, claim: str, passages: Sequence[str]) -> Verdict:
        """Split `claim` into atomic claims, judge each, and sum up as the offline checker does."""
        verdicts = await self.judge_claims(claim, passages)
        if not verdicts:
            return Verdict(supported=True, score=1.0, evidence=None, reason=None)
        supported = sum(1 for v in verdicts if v.verdict == "supported")
        failing = next((v for v in verdicts if v.verdict != "supported"), None)
        evidence = next((v.evidence for v in ([failing] if failing else verdicts)
                         if v.evidence is not None), None)
        return Verdict(supported=failing is None, score=supported / len(verdicts),
                       evidence=evidence, reason=_reason(failing) if failing else None,
                       label="supported" if failing is None else "unsupported")

    async def judge_claims(self, claim: str, passages: Sequence[str]) -> list[ClaimVerdict]:
        """Each atomic claim of `claim` with its verdict and the quote it rests on, in order."""
        claims = await self.split_claims(claim)
        if not any(p.strip() for p in passages):
            return [ClaimVerdict(c, "unsupported", None) for c in claims]
        units = _passage_units(passages)
        return list(await asyncio.gather(*(self._judge(c, passages, units) for c in claims)))

    async def split_claims(self, text: str) -> list[str]:
        """Atomic claims of a summary from the model, else its sentences."""
        sentences = [text[s:e] for s, e in split_sentences(text)]
        if not sentences:
            return []
        values = {"summary": material(text)}
        max_tokens = max(CLAIMS_OUTPUT_MIN_TOKENS, 2 * self.backend.count_tokens(text))
        if self.caller.room(self.claims_prompt, values, max_tokens) < 0:
            return sentences  # the summary alone nearly fills the window: its sentences will do
        return await self.caller.ask(self.claims_prompt, values,
                                     lambda reply: _parse_claims(reply, text),
                                     max_tokens=max_tokens, reply="claims",
                                     limit=MAX_CLAIMS_PER_SENTENCE * len(sentences),
                                     otherwise=lambda _: sentences)

    async def backing(self, claim: str, sentences: Sequence[str]) -> list[bool]:
        """Which of `sentences` (other outlets') back `claim` (one outlet's sentence): report
        the fact it states, in any words. One call for as many as the window holds (a re-ask if
        its reply cannot be read), at most BACKS_PER_CALL of them; a sentence that could not be
        judged (an unreadable reply, a call that failed) does not back it."""
        shown_claim = material(claim)
        budget = self.caller.budget(self.backs_prompt, {"passages": "", "claim": shown_claim},
                                    BACKS_OUTPUT_TOKENS)
        lines = [f"[{n + 1}] {material(s)}" for n, s in enumerate(sentences)]
        batches = [batch[k : k + BACKS_PER_CALL]
                   for batch in pack(lines, self.backend.count_tokens, budget)
                   for k in range(0, len(batch), BACKS_PER_CALL)]
        # Asked in this task, one batch after the other (usually there is one), not in new
        # tasks: a check started before other calls then reaches the concurrency bound first.
        found = [await self._backing(shown_claim, [lines[k] for k in batch])
                 for batch in batches]
        backed = {batch[n - 1] for batch, numbers in zip(batches, found, strict=True)
                  for n in numbers}
        return [k in backed for k in range(len(sentences))]

    async def _backing(self, claim: str, lines: list[str]) -> set[int]:
        """The 1-based positions in `lines` that the model finds backing the claim."""
        renumbered = [re.sub(r"^\[\d+\]", f"[{n + 1}]", line) for n, line in enumerate(lines)]

        def read(reply: str) -> set[int]:
            value = _json_value(reply, "{")
            numbers = value.get("backing") if isinstance(value, dict) else None
            if not isinstance(numbers, list) or not all(
                    isinstance(n, int) and not isinstance(n, bool) for n in numbers):
                raise UnreadableReply('expected {"backing": [passage numbers]}')
            return {n for n in numbers if 1 <= n <= len(lines)}

        try:
            return await self.caller.ask(
                self.backs_prompt, {"passages": "\n".join(renumbered), "claim": claim}, read,
                max_tokens=BACKS_OUTPUT_TOKENS, reply="backing", limit=len(lines),
                otherwise=lambda _: set())
        except BackendRejected:
            raise
        except BackendError as error:
            log.warning("the judge failed (%s); the outlets it was to check are not counted",
                        error)
            return set()

    async def _judge(self, claim: str, passages: Sequence[str],
                     units: list[_Unit]) -> ClaimVerdict:
        prompt = self.judge_prompt
        shown_claim = material(claim)
        budget = self.caller.budget(prompt, {"passages": "", "claim": shown_claim},
                                    JUDGE_OUTPUT_TOKENS)
        shown = _render_passages(passages, units, claim, budget, self.backend.count_tokens)

        def read(reply: str) -> ClaimVerdict:
            verdict, quote = _parse_verdict(reply)
            return ClaimVerdict(claim, verdict, _find_quote(quote, passages))

        return await self.caller.ask(
            prompt, {"passages": shown, "claim": shown_claim}, read,
            max_tokens=JUDGE_OUTPUT_TOKENS, reply="verdict",
            otherwise=lambda _: ClaimVerdict(claim, "unsupported", None, unreadable=True))


# ---------------------------------------------------------------------------------------------
# Replies


def _parse_claims(reply: str, summary: str) -> list[str]:
    """A JSON list of non-empty strings, each sharing a content word with the summary."""
    value = _json_value(reply, "[")
    if isinstance(value, dict) and len(value) == 1:  # {"claims": [...]}
        value = next(iter(value.values()))
    if not isinstance(value, list) or not value:
        raise UnreadableReply("expected a non-empty JSON list of strings")
    if not all(isinstance(c, str) and c.strip() for c in value):
        raise UnreadableReply("every item of the list must be a non-empty string")
    words = _content_stems(summary)
    for claim in value:
        if words and not _content_stems(claim) & words:
            raise UnreadableReply(f"the claim {json.dumps(claim)} is not in the summary")
    return [" ".join(c.split()) for c in value]


def _parse_verdict(reply: str) -> tuple[str, str]:
    """(verdict, quote) from `{"verdict": ..., "evidence": ...}`."""
    value = _json_value(reply, "{")
    if not isinstance(value, dict):
        raise UnreadableReply('expected a JSON object with "verdict" and "evidence"')
    verdict = value.get("verdict")
    if not isinstance(verdict, str) or verdict.strip().lower() not in VERDICTS:
        raise UnreadableReply(f'"verdict" must be one of {", ".join(VERDICTS)}, '
                              f"not {json.dumps(verdict)}")
    evidence = value.get("evidence") or ""
    if not isinstance(evidence, str):
        raise UnreadableReply('"evidence" must be a string')
    return verdict.strip().lower(), evidence


def _json_value(reply: str, opener: str) -> Any:
    """The first JSON value in a reply, fences and chatter around it tolerated."""
    decoder = json.JSONDecoder()
    text = reply.strip()
    starts = [i for i, ch in enumerate(text) if ch in "[{"]
    starts.sort(key=lambda i: text[i] != opener)  # the expected kind first, in order
    for start in starts:
        try:
            return decoder.raw_decode(text, start)[0]
        except json.JSONDecodeError:
            continue
    raise UnreadableReply(f"no JSON {'list' if opener == '[' else 'object'} found in the reply")


def _find_quote(quote: str, passages: Sequence[str]) -> Span | None:
    """The quote as a span of the first passage holding it, else None. The model saw the
    passages as `material` (one line, "(2)" for "[2]", ‹ › for < >), so its copy is read back
    through that rendering."""
    quote = quote.strip().strip("\"'“”‘’").strip()
    if not quote:
        return None
    for number, passage in enumerate(passages):
        start = passage.find(quote)
        if start >= 0:
            return Span(number, start, start + len(quote), quote)
    pattern = re.compile("".join(SHOWN_AS.get(ch, re.escape(ch)) for ch in " ".join(quote.split())))
    for number, passage in enumerate(passages):
        match = pattern.search(passage)
        if match:
            return Span(number, match.start(), match.end(), match.group(0))
    return None


def _reason(verdict: ClaimVerdict) -> str:
    if verdict.unreadable:
        return f"claim '{verdict.claim}' unsupported: {UNREADABLE}"
    if verdict.verdict == "contradicted":
        return f"claim '{verdict.claim}' contradicted by the sources"
    return f"claim '{verdict.claim}' not supported by the sources"


# ---------------------------------------------------------------------------------------------
# Passages within the budget


@dataclass(frozen=True)
class _Unit:
    """One sentence of one passage, with the words it shares with claims."""

    passage: int
    start: int
    end: int
    stems: frozenset[str]


def _passage_units(passages: Sequence[str]) -> list[_Unit]:
    units = []
    for number, passage in enumerate(passages):
        for start, end in split_sentences(passage):
            units.append(_Unit(number, start, end, _content_stems(passage[start:end])))
    return units


def _render_passages(passages: Sequence[str], units: Sequence[_Unit], claim: str, budget: int,
                     count: Callable[[str], int]) -> str:
    """All passages, numbered; when they do not fit `budget`, the sentences most like the claim."""
    whole = _numbered({n: p.strip() for n, p in enumerate(passages) if p.strip()})
    if count(whole) <= budget:
        return whole
    words = _content_stems(claim)
    ranked = sorted(units, key=lambda u: (-len(u.stems & words), u.passage, u.start))
    kept: list[_Unit] = []
    used = 0
    for unit in ranked:
        cost = count(passages[unit.passage][unit.start:unit.end]) + count(ELISION)
        if used + cost <= budget:
            kept.append(unit)
            used += cost
    # Tokens of the joined text can differ from the sum of the parts: drop until it fits.
    while kept:
        shown = _numbered(_join_kept(passages, kept))
        if count(shown) <= budget:
            return shown
        kept.pop()
    best = ranked[0] if ranked else None
    if best is None:
        return ""
    text = passages[best.passage][best.start:best.end]
    return _numbered({best.passage: _truncate(text, best.passage, budget, count)})


def _join_kept(passages: Sequence[str], kept: Sequence[_Unit]) -> dict[int, str]:
    """Kept sentences grouped by passage, in their original order."""
    by_passage: dict[int, list[_Unit]] = {}
    for unit in sorted(kept, key=lambda u: (u.passage, u.start)):
        by_passage.setdefault(unit.passage, []).append(unit)
    return {n: ELISION.strip().join(f" {passages[n][u.start:u.end]} " for u in units).strip()
            for n, units in by_passage.items()}


def _numbered(texts: dict[int, str]) -> str:
    """One "[n] passage" line each; the passage as `material`, so that nothing in it starts a
    line or reads as another passage's number."""
    return "\n".join(f"[{n + 1}] {material(text)}" for n, text in sorted(texts.items()))


def _truncate(text: str, number: int, budget: int, count: Callable[[str], int]) -> str:
    """The longest word prefix of a sentence longer than the whole budget that still fits."""
    words = text.split()
    low, high = 0, len(words)
    while low < high:
        middle = (low + high + 1) // 2
        if count(_numbered({number: " ".join(words[:middle])})) <= budget:
            low = middle
        else:
            high = middle - 1
    return " ".join(words[:low])


def _content_stems(text: str) -> frozenset[str]:
    return frozenset(t.stem for t in tokenize(text) if is_content(t))
