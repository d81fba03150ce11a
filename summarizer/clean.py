"""Line-level boilerplate removal for scraped text; every removed line keeps its reason."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from . import byline
from .models import Article, Document, Removal, Skip
from .text import MONTH, SENTENCE_END

DATE = rf"(?:{MONTH}\s+\d{{1,2}},?\s+\d{{4}}|\d{{1,2}}\s+{MONTH}\s+\d{{4}}|\d{{4}}-\d{{2}}-\d{{2}})"
# "Some headline - November 6, 2020": an entry of a list of links to other stories.
HEADLINE_WITH_DATE = re.compile(rf"^(?!by\s).{{3,200}}\s[-–—|]\s*{DATE}\s*$", re.IGNORECASE)
SEPARATOR = re.compile(r"^[\W_]+$")
# A line of reporting ends as a sentence does, or in a closing quote with no stop before it
# ('the mayor called it “a disgrace”').
LINE_END = re.compile(rf"{SENTENCE_END.pattern}|[\"”’]$")

# Buttons of a share bar, alone or several on one line: "Facebook", "Twitter Email", "X".
SHARE_BUTTON = (r"(?:facebook|twitter|x|e-?mail|whatsapp|linkedin|pinterest|reddit|print|tweet|"
                r"telegram|messenger|flipboard|copy link|share)")
SOCIAL = r"(?:facebook|twitter|x|instagram|tiktok|youtube|linkedin|threads|bluesky|social media)"
# Whole-line widgets, matched against the line with surrounding punctuation stripped.
WIDGETS: tuple[tuple[str, str], ...] = (
    ("advertisement", r"advertisements?|ad|sponsored(?: content)?|paid content|"
     r"story continues below(?: advertisement)?|continue reading below"),
    ("comment widget", r"comments? about this article|join the conversation|"
     r"leave a (?:comment|reply)|post a comment|add (?:a|your) comment|\d+ comments?|"
     r"(?:show|view|read) comments|comments?|be the first to comment|"
     r"please fill (?:in )?the fields below"),
    ("share widget", r"share(?: this)?(?: article| story| post| page)?(?: on \w+)?|"
     rf"share via \w+|(?:share (?:on|via) )?{SHARE_BUTTON}(?:[\s,|/·•]+{SHARE_BUTTON})*"),
    ("newsletter widget", r"(?:sign up|subscribe)\b.{0,80}|"
     r"(?:get|receive|have)\b.{0,80}\b(?:in|to|into) your inbox\b.{0,40}|"
     r"(?:(?:our|the|free|daily|weekly|morning|evening) )*newsletters?"),
    ("read-more link", r"(?:read more|read also|also read|see also|more on this(?: story)?)"
     r"\s*[:»>–—-].{0,200}|read more (?:about|on|from) .{1,120}"),
    ("related links", r"related(?: (?:articles|stories|content|links|coverage|news))?|"
     r"read more|read next|the next read|more from .{1,40}|you (?:may|might) also like|"
     r"recommended(?: for you)?|most (?:popular|read)|trending(?: now)?|more stories|"
     r"top stories|editor'?s picks"),
    ("social media prompt", rf"follow (?:us|me)\b.{{0,80}}|"
     rf"follow .{{1,60}} on {SOCIAL}(?:(?:,|\s)+(?:and |or )?{SOCIAL})*"),
    ("footer", r"contact us|about us|privacy(?: policy)?|cookie policy|site ?map|"
     r"terms (?:of use|of service|and conditions)|advertise with us"),
    ("copyright notice", r"this (?:material|article|content) may not be (?:published|reproduced)"
     r".{0,120}"),
    ("page control", r"close|menu|search|home|skip to (?:main )?content|log ?in|sign in|"
     r"register|back to top|loading|toggle navigation"),
)
WIDGET_PATTERNS = tuple(
    (reason, re.compile(rf"^(?:{pattern})$", re.IGNORECASE)) for reason, pattern in WIDGETS
)
# Widgets whose pattern ends in free text could swallow a sentence; reporting names its source.
OPEN_ENDED = {"newsletter widget", "read-more link", "social media prompt", "copyright notice"}
REPORTING_VERB = re.compile(r"\b(?:said|says|told|according to|reported|announced)\b",
                            re.IGNORECASE)
COOKIE = re.compile(r"\bcookies?\b.*\b(?:accept|consent|we use|agree)\b|\b(?:we use|accept)\b.*"
                    r"\bcookies?\b", re.IGNORECASE)
# "News | Sport | Weather | Opinion", "Home › World › Europe": links to the site's sections.
NAV_SEPARATOR = re.compile(r"\s*\|\s*|\s+[•·›»>]\s+")
NAV_MIN_ITEMS = 3
NAV_ITEM_MAX_WORDS = 4
LABEL_MAX_WORDS = 5
HEADLINE_MAX_WORDS = 16


@dataclass(frozen=True)
class Cleaned:
    """Every line of the input in order, with the reason it was removed (None: kept)."""

    marked: tuple[tuple[str, str | None], ...]

    @property
    def lines(self) -> list[str]:
        return [line for line, reason in self.marked if reason is None]

    @property
    def removed(self) -> list[Removal]:
        return [Removal(text=line, reason=reason) for line, reason in self.marked
                if reason is not None]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass(frozen=True)
class Metadata:
    """What an article's own lines say about it, for plain text that came without metadata."""

    title: str | None
    outlet: str | None
    published: str | None


def clean_text(text: str, outlet: str | None = None) -> Cleaned:
    """Drop boilerplate lines from scraped text, keeping every line of reporting as it was.

    `outlet` is the publisher's name when known, so that its masthead line is recognised."""
    lines = [line.strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    lines = [line for line in lines if line]
    reasons: list[str | None] = [widget_reason(line) for line in lines]
    _mark_headline_lists(lines, reasons)
    _mark_related_blocks(lines, reasons)
    _mark_trailing_labels(lines, reasons)
    names = [outlet] if outlet else []
    _mark_mastheads(lines, reasons, names + _outlet_names(lines, reasons))
    return Cleaned(marked=tuple(zip(lines, reasons, strict=True)))


def widget_reason(line: str) -> str | None:
    """Why a single line is boilerplate on its own, or None."""
    if SEPARATOR.match(line):
        return "separator line"
    bare = line.strip(" \t.:;!|·•*-–—>»").strip()
    words = len(bare.split())
    if words <= 40 and byline.is_copyright_notice(bare) and not REPORTING_VERB.search(bare):
        return "copyright notice"
    for reason, pattern in WIDGET_PATTERNS:
        if words <= 16 and pattern.match(bare):
            if reason in OPEN_ENDED and REPORTING_VERB.search(bare):
                continue
            return reason
    if words <= 40 and COOKIE.search(line):
        return "cookie notice"
    if _is_navigation_bar(line):
        return "navigation bar"
    return None


def _is_navigation_bar(line: str) -> bool:
    """Three or more short unpunctuated items between separators."""
    items = [item.strip() for item in NAV_SEPARATOR.split(line.strip(" |"))]
    return len(items) >= NAV_MIN_ITEMS and all(
        0 < len(item.split()) <= NAV_ITEM_MAX_WORDS and not LINE_END.search(item)
        for item in items
    )


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
        (i for i, line in enumerate(lines) if reasons[i] is None and is_reporting(line)),
        default=None,
    )
    if last_reporting is None:
        return
    for i in range(last_reporting + 1, len(lines)):
        if reasons[i] is None and _is_label(lines[i]):
            reasons[i] = "trailing navigation label"


def is_reporting(line: str) -> bool:
    """A line that reads like reporting: it ends like a sentence, or is too long for a label."""
    return bool(LINE_END.search(line)) or len(line.split()) > HEADLINE_MAX_WORDS


def _is_label(line: str) -> bool:
    return len(line.split()) <= LABEL_MAX_WORDS and not LINE_END.search(line)


def _is_headline_like(line: str) -> bool:
    return len(line.split()) <= HEADLINE_MAX_WORDS and not LINE_END.search(line)


def _first_reporting(lines: list[str], reasons: list[str | None]) -> int | None:
    return next((i for i, line in enumerate(lines) if reasons[i] is None and is_reporting(line)),
                None)


def _header(lines: list[str], reasons: list[str | None]) -> list[int]:
    """Lines above the first line of reporting, other stories' headlines left out."""
    end = _first_reporting(lines, reasons)
    return [i for i in range(len(lines) if end is None else end)
            if reasons[i] not in ("navigation list of headlines with dates", "related links")]


def _outlet_names(lines: list[str], reasons: list[str | None]) -> list[str]:
    """Every outlet the byline, a copyright notice or the first dateline names."""
    names = [byline.byline_outlet(lines[i]) for i in _header(lines, reasons)]
    names += [byline.copyright_outlet(line) for line in lines]
    first = _first_reporting(lines, reasons)
    if first is not None:
        names.append(byline.dateline_outlet(lines[first]))
    return [name for name in names if name]


def _mark_mastheads(lines: list[str], reasons: list[str | None], names: list[str]) -> None:
    """The outlet's own name alone on a line above the story is its masthead, not a headline."""
    keys = {byline.outlet_key(name) for name in names} - {""}
    for i in _header(lines, reasons):
        if (reasons[i] is None and len(lines[i].split()) <= LABEL_MAX_WORDS + 3
                and byline.outlet_key(lines[i]) in keys):
            reasons[i] = "masthead"


def read_metadata(cleaned: Cleaned) -> Metadata:
    """The title, outlet and date that the article's own lines state."""
    lines = [line for line, _ in cleaned.marked]
    reasons = [reason for _, reason in cleaned.marked]
    header = _header(lines, reasons)
    return Metadata(title=guess_title([lines[i] for i in header if reasons[i] is None]),
                    outlet=find_outlet(lines, reasons),
                    published=find_published([lines[i] for i in header]))


def guess_title(header: list[str]) -> str | None:
    """The first kept line above the story that reads like a headline (not a byline or date)."""
    for line in header:
        if _is_headline_like(line) and not byline.is_byline(line) and not byline.is_date_line(line):
            return line
    return None


def find_outlet(lines: list[str], reasons: list[str | None]) -> str | None:
    """The article's own outlet (byline, copyright notice) before a wire named in a dateline."""
    for i in _header(lines, reasons):
        name = byline.byline_outlet(lines[i])
        if name:
            return name
    # The last notice is the page's own footer; one higher up may belong to a quoted item.
    for line, reason in reversed(list(zip(lines, reasons, strict=True))):
        name = byline.copyright_outlet(line) if reason == "copyright notice" else None
        if name:
            return name
    first = _first_reporting(lines, reasons)
    return byline.dateline_outlet(lines[first]) if first is not None else None


def find_published(header: list[str]) -> str | None:
    """The date a byline or a date line above the story gives, as "YYYY-MM-DD"."""
    for line in header:
        if byline.is_byline(line) or byline.is_date_line(line):
            found = byline.find_date(line)
            if found:
                return found
    return None


def clean_document(doc: Document) -> Article | Skip:
    """A cleaned `Article`, or a `Skip` when nothing of the document is left."""
    cleaned = clean_text(doc.text, outlet=doc.source)
    if not cleaned.lines:
        removed = len(cleaned.removed)
        return Skip(origin=doc.origin,
                    reason=f"nothing left after cleaning ({removed} boilerplate lines removed)")
    text = cleaned.text
    found = read_metadata(cleaned)
    source = doc.source or found.outlet  # what the input's own metadata says always wins
    return Article(
        id=article_id(text),
        origin=doc.origin,
        text=text,
        title=doc.title or found.title,
        source=source,
        url=doc.url,
        published=doc.published or found.published,
        sources=(source,) if source else (),
        removed=tuple(cleaned.removed),
    )  # its language is detected where a run prepares it (the service stores none)


def article_id(text: str) -> str:
    """Stable id of an article: a hash of its cleaned text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
