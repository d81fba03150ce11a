"""Text as every stage reads it: one sentence splitter, with character offsets."""

from __future__ import annotations

import re

# Abbreviations that end in a period without ending the sentence.
ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof sr jr st mt ft gen col capt lt sgt sen rep gov rev no vs etc inc ltd co
    corp dept est approx jan feb mar apr jun jul aug sep sept oct nov dec fig""".split()
)
SENTENCE_BREAK = re.compile(
    r"[.!?]+['\"’”)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])"  # "end. Next"
    r"|(?<=[a-z)][.!?])(?=[A-Z][a-z])"  # "end.Next", glued by careless scraping
    r"|(?<=\s[.!?])\s+"  # "end . next": tokenised, lower-cased text (CNN/DM-style)
    r"|\n\s*\n?"  # line breaks end a sentence: headlines, bullet lists
)


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of a text, surrounding whitespace left out."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in SENTENCE_BREAK.finditer(text):
        cut = match.start() + len(match.group(0).rstrip())
        if match.group(0).strip() and _ends_in_abbreviation(text, start, match.start()):
            continue
        _add_span(text, start, cut, spans)
        start = match.end()
    _add_span(text, start, len(text), spans)
    return spans


def _ends_in_abbreviation(text: str, start: int, stop: int) -> bool:
    """'Mr. Smith', 'U.S. troops', 'Jan. 5': a period that does not end the sentence."""
    if text[stop] != ".":
        return False
    word = re.search(r"([A-Za-z.]+)$", text[start:stop])
    if not word:
        return False
    last = word.group(1)
    if last.lower().strip(".") in ABBREVIATIONS:
        return True
    return bool(re.fullmatch(r"(?:[A-Za-z]\.)*[A-Za-z]", last))  # initials: U.S, J


def _add_span(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    chunk = text[start:end]
    lead = len(chunk) - len(chunk.lstrip())
    stripped = chunk.strip()
    if any(ch.isalnum() for ch in stripped):
        spans.append((start + lead, start + lead + len(stripped)))
