"""Citation markers in model output: parsed, resolved to verbatim quotes, or dropped."""

from __future__ import annotations

import re
from collections.abc import Mapping

from .models import Article, Citation, Passage, Sentence
from .text import split_sentences

MARKER_GROUP = re.compile(r"\[\s*(\d+\.\d+(?:\s*[,;]\s*\d+\.\d+)*)\s*\]")
MARKER_ID = re.compile(r"\d+\.\d+")
LEADING_MARKERS = re.compile(r"^(?:\s*\[\s*\d+\.\d+(?:\s*[,;]\s*\d+\.\d+)*\s*\])+")
# "The passage below is a summary of ...", "This text provides ...": small models narrate.
ABOUT_THE_TEXT = re.compile(
    r"^(?:here is|here's|below is|the following|in summary|to summari[sz]e)\b|"
    r"^(?:the|this|these)\s+(?:passages?|texts?|summary|summaries|lines?)\b"
    r"(?:\s+(?:below|above))?\s+(?:is|are|provides?|gives?|describes?|summari[sz]es?|"
    r"highlights?|focus(?:es)?|details?|discuss(?:es)?|presents?)\b",
    re.IGNORECASE)
LIST_PREFIX = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
WORD = re.compile(r"\w+")
STOP = frozenset(
    "a an the of in on at to for and or but is are was were be been by with from as that this "
    "it its their his her they he she said says which who will would has have had not".split()
)


def parse_output(text: str) -> list[tuple[str, list[str]]]:
    """Sentences of model output with the passage ids each one cites, markers removed."""
    sentences: list[tuple[str, list[str]]] = []
    for raw_line in text.replace("**", "").splitlines():
        line = LIST_PREFIX.sub("", raw_line).strip()
        if not line:
            continue
        line_sentences: list[tuple[str, list[str]]] = []
        for start, end in split_sentences(line):
            segment = line[start:end]
            lead = LEADING_MARKERS.match(segment)
            if lead and line_sentences and not line_sentences[-1][1]:
                # "... said. [1.2] Next sentence": the marker closes the sentence before it.
                line_sentences[-1][1].extend(MARKER_ID.findall(lead.group(0)))
                segment = segment[lead.end():]
            ids = [i for group in MARKER_GROUP.findall(segment) for i in MARKER_ID.findall(group)]
            words = _strip_markers(segment)
            if not WORD.search(words):
                if line_sentences:
                    line_sentences[-1][1].extend(ids)
                continue
            line_sentences.append((words, ids))
        sentences.extend(s for s in line_sentences if not _is_preamble(s))
    return [(text, list(dict.fromkeys(ids))) for text, ids in sentences]


def _strip_markers(segment: str) -> str:
    text = MARKER_GROUP.sub("", segment)
    text = re.sub(r"\s+([.,;:!?])", r"\1", text)
    return " ".join(text.split())


def _is_preamble(sentence: tuple[str, list[str]]) -> bool:
    """'Here is a summary:', headings, and talk about the passages themselves carry no claim."""
    text, ids = sentence
    return not ids and (text.endswith(":") or bool(ABOUT_THE_TEXT.search(text)))


def resolve(text: str, ids: list[str], passages: Mapping[str, Passage],
            articles: Mapping[str, Article]) -> Sentence:
    """A Sentence whose citations point at real passages; unknown ids are dropped."""
    citations = []
    for pid in ids:
        passage = passages.get(pid)
        if passage is None:
            continue
        article = articles[passage.article_id]
        start, end = best_quote(text, passage)
        citations.append(Citation(article_id=passage.article_id, passage=pid, start=start,
                                  end=end, quote=article.text[start:end]))
    return Sentence(text=text, support="supported" if citations else "unsupported",
                    citations=tuple(citations))


def best_quote(claim: str, passage: Passage) -> tuple[int, int]:
    """Article offsets of the passage sentence that shares the most content words with the claim."""
    spans = split_sentences(passage.text) or [(0, len(passage.text))]
    claim_words = _content_words(claim)
    best = max(
        spans,
        key=lambda s: len(claim_words & _content_words(passage.text[s[0] : s[1]])),
    )
    return passage.start + best[0], passage.start + best[1]


def _content_words(text: str) -> set[str]:
    return {w for w in WORD.findall(text.lower()) if w not in STOP}


def render_line(sentence: Sentence, fallback_id: str | None = None) -> str:
    """A sentence as a prompt line, '[a.p] text [a.q]', so a later call can cite through it."""
    ids = [c.passage for c in sentence.citations]
    if not ids:
        return f"[{fallback_id}] {sentence.text}" if fallback_id else f"- {sentence.text}"
    extra = "".join(f"[{i}]" for i in ids[1:])
    return f"[{ids[0]}] {sentence.text}" + (f" {extra}" if extra else "")
