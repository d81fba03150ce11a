"""Line-level boilerplate removal for scraped text; every removed line keeps its reason."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from .models import Article, Document, Removal, Skip

MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
DATE = rf"(?:{MONTH}\s+\d{{1,2}},?\s+\d{{4}}|\d{{1,2}}\s+{MONTH}\s+\d{{4}}|\d{{4}}-\d{{2}}-\d{{2}})"
# "Some headline - November 6, 2020": an entry of a list of links to other stories.
HEADLINE_WITH_DATE = re.compile(rf"^(?!by\s).{{3,200}}\s[-–—|]\s*{DATE}\s*$", re.IGNORECASE)
SEPARATOR = re.compile(r"^[\W_]+$")
SENTENCE_END = re.compile(r"[.!?…]['\"”’)\]]*$|[\"”’]$")

# Whole-line widgets, matched against the line with surrounding punctuation stripped.
WIDGETS: tuple[tuple[str, str], ...] = (
    ("advertisement", r"advertisements?|ad|sponsored(?: content)?|paid content|"
     r"story continues below(?: advertisement)?|continue reading below"),
    ("comment widget", r"comments? about this article|join the conversation|"
     r"leave a (?:comment|reply)|post a comment|add (?:a|your) comment|\d+ comments?|"
     r"(?:show|view|read) comments|comments?|be the first to comment|"
     r"please fill (?:in )?the fields below"),
    ("share widget", r"share(?: this)?(?: article| story| post)?(?: on \w+)?|"
     r"share via (?:email|facebook|twitter|whatsapp)|tweet|email|print|copy link"),
    ("newsletter widget", r"(?:sign up|subscribe)\b.{0,80}"),
    ("related links", r"related(?: (?:articles|stories|content|links|coverage|news))?|"
     r"read more|read next|the next read|more from .{1,40}|you (?:may|might) also like|"
     r"recommended(?: for you)?|most (?:popular|read)|trending(?: now)?|more stories|"
     r"top stories|editor'?s picks"),
    ("footer", r"copyright\b.{0,120}|©.{0,120}|\(c\) \d{4}.{0,120}|all rights reserved|"
     r"contact us|about us|privacy(?: policy)?|terms (?:of use|of service|and conditions)|"
     r"cookie policy|site ?map|advertise with us"),
    ("page control", r"close|menu|search|home|skip to (?:main )?content|log ?in|sign in|"
     r"register|back to top|loading|toggle navigation"),
)
WIDGET_PATTERNS = tuple(
    (reason, re.compile(rf"^(?:{pattern})$", re.IGNORECASE)) for reason, pattern in WIDGETS
)
COOKIE = re.compile(r"\bcookies?\b.*\b(?:accept|consent|we use|agree)\b|\b(?:we use|accept)\b.*"
                    r"\bcookies?\b", re.IGNORECASE)
LABEL_MAX_WORDS = 5
HEADLINE_MAX_WORDS = 16


@dataclass(frozen=True)
class Cleaned:
    lines: list[str]
    removed: list[Removal]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def clean_text(text: str) -> Cleaned:
    """Drop boilerplate lines from scraped text, keeping every line of reporting as it was."""
    lines = [line.strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    lines = [line for line in lines if line]
    reasons: list[str | None] = [widget_reason(line) for line in lines]
    _mark_headline_lists(lines, reasons)
    _mark_related_blocks(lines, reasons)
    _mark_trailing_labels(lines, reasons)
    kept = [line for line, reason in zip(lines, reasons, strict=True) if reason is None]
    removed = [
        Removal(text=line, reason=reason)
        for line, reason in zip(lines, reasons, strict=True)
        if reason is not None
    ]
    return Cleaned(lines=kept, removed=removed)


def widget_reason(line: str) -> str | None:
    """Why a single line is boilerplate on its own, or None."""
    if SEPARATOR.match(line):
        return "separator line"
    bare = line.strip(" \t.:;!|·•*-–—>»").strip()
    words = len(bare.split())
    for reason, pattern in WIDGET_PATTERNS:
        if words <= 16 and pattern.match(bare):
            return reason
    if words <= 40 and COOKIE.search(line):
        return "cookie notice"
    return None


def _mark_headline_lists(lines: list[str], reasons: list[str | None]) -> None:
    """Two or more dated headlines in a row (separator lines between allowed) are a link list."""
    run: list[int] = []

    def close_run() -> None:
        headlines = [i for i in run if reasons[i] is None]
        if len(headlines) >= 2:
            # the separators before the first and between the entries belong to the list too
            start = headlines[0]
            while start > 0 and reasons[start - 1] == "separator line":
                start -= 1
            for i in range(start, headlines[-1] + 1):
                reasons[i] = "navigation list of headlines with dates"
        run.clear()

    for i, line in enumerate(lines):
        if HEADLINE_WITH_DATE.match(line):
            run.append(i)
        elif reasons[i] == "separator line" and run:
            run.append(i)
        else:
            close_run()
    close_run()


def _mark_related_blocks(lines: list[str], reasons: list[str | None]) -> None:
    """Headline-like lines right after a "Related"/"Read more" heading are links, not reporting."""
    for i, reason in enumerate(reasons):
        if reason != "related links":
            continue
        j = i + 1
        while j < len(lines) and (reasons[j] is None and _is_headline_like(lines[j])):
            reasons[j] = "related links"
            j += 1


def _mark_trailing_labels(lines: list[str], reasons: list[str | None]) -> None:
    """Short unpunctuated lines after the last line of reporting are footer navigation."""
    last_reporting = max(
        (i for i, line in enumerate(lines) if reasons[i] is None and _is_reporting(line)),
        default=None,
    )
    if last_reporting is None:
        return
    for i in range(last_reporting + 1, len(lines)):
        if reasons[i] is None and _is_label(lines[i]):
            reasons[i] = "trailing navigation label"


def _is_reporting(line: str) -> bool:
    return bool(SENTENCE_END.search(line)) or len(line.split()) > HEADLINE_MAX_WORDS


def _is_label(line: str) -> bool:
    return len(line.split()) <= LABEL_MAX_WORDS and not SENTENCE_END.search(line)


def _is_headline_like(line: str) -> bool:
    return len(line.split()) <= HEADLINE_MAX_WORDS and not SENTENCE_END.search(line)


def guess_title(lines: list[str]) -> str | None:
    """The first line, when it reads like a headline (short, no closing full stop)."""
    if lines and _is_headline_like(lines[0]) and not lines[0].lower().startswith("by "):
        return lines[0]
    return None


def clean_document(doc: Document) -> Article | Skip:
    """A cleaned `Article`, or a `Skip` when nothing of the document is left."""
    cleaned = clean_text(doc.text)
    if not cleaned.lines:
        removed = len(cleaned.removed)
        return Skip(origin=doc.origin,
                    reason=f"nothing left after cleaning ({removed} boilerplate lines removed)")
    text = cleaned.text
    return Article(
        id=article_id(text),
        origin=doc.origin,
        text=text,
        title=doc.title or guess_title(cleaned.lines),
        source=doc.source,
        url=doc.url,
        published=doc.published,
        sources=(doc.source,) if doc.source else (),
        removed=tuple(cleaned.removed),
    )


def article_id(text: str) -> str:
    """Stable id of an article: a hash of its cleaned text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
