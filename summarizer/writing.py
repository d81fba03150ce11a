"""Writing a chosen fact as a sentence: quoted from a source, or fused by the model and verified.

A quoted sentence is a source sentence verbatim, so it is true to the passage it cites by
construction. A fused sentence is the model's restatement of a group's sentences; it is kept
only when it is verified against them: by the offline checker, or by the LLM judge where the run
has one and the verify mode gives it the decision (see `fused`). Both cite every member of the
group, and a sentence across articles counts the outlets of its members.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from .checking.offline import Sources, Verdict, across_languages
from .facts import SourceSentence, outlet_name
from .language import detect
from .llm.base import Item
from .models import Sentence, SourceCount, VerifyMode, WritingMode
from .salience import Candidate
from .text import is_content, tokenize
from .untrusted import material, suspicious

WritingSetting = Literal["quoted", "fused", "auto"]
ID_LINE = re.compile(r"^\s*\[\s*(\d+\.\d+)\s*\]\s*(.*)$")
FUSED_MEMBERS = 4  # members a restatement is written from and checked against
# A restatement may bring a word or two of its own ("died" for "were killed"); more is new matter.
NOVEL_WORDS = 2
# ... and keeps at least this share of the content words of the sentence it restates: a fragment
# that drops most of them ("sank off Caddon Point" for a sentence about a refloating) says
# something else, in words the checker cannot fault one by one.
KEPT_WORDS = 0.5


def resolve_mode(setting: WritingSetting, *, small_model: bool) -> WritingMode:
    """`auto`: the sources' own words for small models, the model's words for capable ones."""
    if setting == "auto":
        return "quoted" if small_model else "fused"
    return setting


def resolve_verify(setting: VerifyMode, *, small_judge: bool) -> VerifyMode:
    """`auto`: the checker alone when the judge would be a small model (the embedded one, or a
    model declared small), which judges no better than the checker; else the judge decides
    what the checker cannot."""
    if setting == "auto" and small_judge:
        return "offline"
    return setting


@dataclass(frozen=True)
class Held:
    """A restatement past the hard gates that the LLM judge decides: the sentence as it is
    shown if the judge finds it supported, the passages it is judged against, and what the
    offline checker said."""

    sentence: Sentence
    passages: tuple[str, ...]
    verdict: Verdict


def choice_items(candidates: Sequence[Candidate]) -> tuple[Item, ...]:
    """The candidates as the model sees them when it chooses: id and the sentence shown."""
    return tuple(Item(id=c.shown.id, text=material(c.shown.text)) for c in candidates)


def fusion_items(candidates: Sequence[Candidate], across: bool) -> tuple[Item, ...]:
    """The candidates as the model sees them when it restates: id and the words it may use
    (across articles, every member's; in one article's summary, its own sentence)."""
    return tuple(Item(id=c.shown.id, text=" | ".join(
        material(m.text) for m in (_members(c)[:FUSED_MEMBERS] if across else [c.shown])))
        for c in candidates)


def item_lines(items: Sequence[Item]) -> list[str]:
    """Items as the prompt shows them, one "[id] text" line each (the text already `material`:
    no marker inside it reads as an id, no tag closes the block)."""
    return [f"[{item.id}] {item.text}" for item in items]


def render_items(items: Sequence[Item]) -> str:
    return "\n".join(item_lines(items))


def parse_choice(reply: str, allowed: Sequence[str]) -> list[str]:
    """The ids a reply names, in its order, each once; ids it was not offered are ignored."""
    # Only an id that opens a line counts: an id quoted inside prose is not a choice.
    found = re.findall(r"^\s*\[\s*(\d+\.\d+)\s*\]", reply, re.MULTILINE)
    return [i for i in dict.fromkeys(found) if i in set(allowed)]


def parse_lines(reply: str, allowed: Sequence[str]) -> dict[str, str]:
    """'[id] sentence' lines of a reply, by id; the first line for an id wins."""
    out: dict[str, str] = {}
    for line in reply.splitlines():
        match = ID_LINE.match(line.replace("**", ""))
        if match and match.group(1) in allowed and match.group(1) not in out:
            text = re.sub(r"\s*\[\s*\d+\.\d+\s*\]", "", match.group(2)).strip()
            if text:
                out[match.group(1)] = text
    return out


Outlets = frozenset[str]  # the outlet keys of the articles a summary is across


ArticleLanguages = Mapping[str, str | None]  # article id -> the language it is written in


def quoted(candidate: Candidate, outlets: Outlets | None = None,
           languages: ArticleLanguages | None = None) -> Sentence:
    """The candidate's own sentence, verbatim, in its source's language (from `languages`).
    Across articles (`outlets` given) it cites every member of its group and counts their
    outlets; in one article's summary, only itself. A sentence that reads as an instruction to
    a model is marked suspicious, never supported."""
    members = _members(candidate) if outlets is not None else [candidate.shown]
    doubt = suspicious(candidate.shown.text)
    return Sentence(text=candidate.shown.text, support="suspicious" if doubt else "supported",
                    reason=doubt, written="quoted", verified_by="quote",
                    citations=tuple(m.citation() for m in members),
                    sources=_count(members, outlets),
                    language=(languages or {}).get(candidate.shown.article_id))


def fused(text: str, candidate: Candidate, threshold: float | None,
          outlets: Outlets | None = None, verify: VerifyMode = "offline",
          languages: ArticleLanguages | None = None, asked: str | None = None,
          ) -> Sentence | Held | str:
    """The model's sentence when it is verified against its group's sentences; a `Held` one
    when the judge is to decide; else the reason it fails.

    Hard gates first, whatever the mode: a restatement that reads as an instruction to a model,
    brings more than a word or two of its own, or drops most of the sentence it restates fails.
    Then the offline checker (the fitted cuts, or one `threshold` when the user set one):
    `offline` keeps only what it finds supported with no relation check fired; `llm` gives
    every restatement to the judge; `auto` gives the judge what it finds uncertain or where a
    relation check fired (a number counting another quantity, a role swapped), keeps the rest
    it supports, and refuses what it does not.

    Asked for a language (`asked`) other than its sources' (by `languages`), a restatement
    written in it cannot be compared word for word with them: the word gates are left out and
    the offline checker finds it uncertain, so that only a judge can keep it.
    """
    doubt = suspicious(text) or suspicious(candidate.shown.text)
    if doubt:
        return doubt  # re-asked, then quoted: a quote of such a source is marked suspicious
    # Checked against exactly the sentences it will cite and count: in one article's summary,
    # its own.
    members = _members(candidate)[:FUSED_MEMBERS] if outlets is not None \
        else [candidate.shown]
    passages = tuple(m.text for m in members)
    sources = {code for m in members if (code := (languages or {}).get(m.article_id))}
    written_in = asked if asked is None or sources <= {asked} \
        else detect(text, among={asked, *sources})
    verdict = across_languages(written_in, sources)
    if verdict is None:
        novel = _novel_words(text, members)
        if len(novel) > NOVEL_WORDS:
            return f"words {', '.join(repr(w) for w in novel)} are in none of its sources"
        kept = _kept_share(text, candidate.shown)
        if kept < KEPT_WORDS:
            return f"it keeps {kept:.0%} of the words of the sentence it restates"
        verdict = Sources(list(passages)).check(text, threshold)
    sentence = Sentence(text=text, support="supported", written="fused",
                        verified_by="offline", citations=tuple(m.citation() for m in members),
                        sources=_count(members, outlets),
                        language=written_in or next(iter(sources), None))
    doubtful = verdict.label == "uncertain" or (verdict.label == "supported" and verdict.flags)
    if verify == "llm" or (verify == "auto" and doubtful):
        return Held(sentence.model_copy(update={"verified_by": "llm"}), passages, verdict)
    if not verdict.supported or verdict.flags:
        # A relation check that fired is doubt enough where no judge decides: the source's own
        # words serve instead.
        return verdict.reason or "not supported by its sources"
    return sentence


def _novel_words(text: str, members: Sequence[SourceSentence]) -> list[str]:
    """Content words of a restatement that none of its sources uses, in any form."""
    known = {t.stem for m in members for t in tokenize(m.text)}
    return list(dict.fromkeys(t.lower for t in tokenize(text)
                              if is_content(t) and t.stem not in known))


def _kept_share(text: str, source: SourceSentence) -> float:
    """The share of the source sentence's content words that a restatement keeps, in any form."""
    wanted = {t.stem for t in tokenize(source.text) if is_content(t)}
    if not wanted:
        return 1.0
    return len(wanted & {t.stem for t in tokenize(text)}) / len(wanted)


def _members(candidate: Candidate) -> list[SourceSentence]:
    """The shown sentence first, then the group's other members that agree with it (none that
    reads as an instruction to a model: it is neither shown to one nor cited)."""
    others = [m for m in candidate.group.agreeing
              if m.id != candidate.shown.id and not suspicious(m.text)]
    return [candidate.shown, *others]


def _count(members: Sequence[SourceSentence], outlets: Outlets | None) -> SourceCount | None:
    """How many of the summary's outlets the members speak for: "3 of 5 sources". An outlet
    of an article outside the summary (whose copy of a paragraph was left out) is not one."""
    if outlets is None:
        return None
    keys = sorted({o for m in members for o in m.outlets} & outlets)
    return SourceCount(supporting=len(keys), total=len(outlets),
                       outlets=tuple(outlet_name(k) for k in keys))
