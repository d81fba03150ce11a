"""An article's outlet and date as its own lines state them: byline, dateline, copyright."""

from __future__ import annotations

import re
from datetime import date

from .text import MONTH, MONTHS, SENTENCE_END, WEEKDAY

# A two-digit year needs its apostrophe ("16 Feb '16"): a bare "16" is as likely a day or a time.
YEAR = r"(?:(?P<{0}>\d{{4}})|['’](?P<{0}2>\d{{2}}))"
DATES = (
    re.compile(rf"\b(?P<month>{MONTH})\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?,?\s+{YEAR.format('y')}"
               r"(?!\d)", re.IGNORECASE),
    re.compile(rf"\b(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<month>{MONTH}),?\s+{YEAR.format('y')}"
               r"(?!\d)", re.IGNORECASE),
    re.compile(r"\b(?P<y>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})\b"),
)
# What may stand beside a date on a line that only dates the article.
DATE_LINE_WORDS = re.compile(
    r"\b(?:published|posted|updated|last updated|first published|date|on|at)\b|"
    rf"\b{WEEKDAY}\b|"
    r"\b\d{1,2}[:.]\d{2}(?:\s*[ap]\.?m\.?)?|"
    r"\b\d{1,2}\s*[ap]\.?m\.?|\b(?:gmt|utc|bst|cet|cest|[ecmp][sd]?t)\b",
    re.IGNORECASE,
)

BYLINE = re.compile(r"^(?:By|BY|by)\s+[A-Z]")
BYLINE_PARTS = re.compile(r"\s*,\s*|\s+[-–—|]\s+|\s+(?:for|of|to)\s+(?=[A-Z])")
# Words of a job title, not of an outlet's name: "By Jane Doe, Staff Reporter".
ROLES = re.compile(
    r"\b(?:staff|reporter|correspondent|editor|writer|contributor|columnist|journalist|"
    r"photographer|producer|analyst|critic|intern|chief|senior|special|bureau|desk|team)s?\b",
    re.IGNORECASE,
)
# Words that outlets' names are made of; a byline's "New York" is a place, "Evening Post" a paper.
OUTLET_WORDS = re.compile(
    r"\b(?:news|post|times|courier|herald|ledger|record|journal|gazette|tribune|press|wire|"
    r"daily|evening|morning|weekly|observer|chronicle|express|mail|telegraph|guardian|star|"
    r"mirror|review|bulletin|standard|independent|sentinel|dispatch|examiner|inquirer|monitor|"
    r"register|reporter|agency|media|radio|tv|television|broadcasting|network|magazine|"
    r"reuters|bloomberg|afp|ap|upi)\b",
    re.IGNORECASE,
)
COPYRIGHT_MARK = re.compile(r"^\s*(?:copyright\b\s*(?:©|\(c\))?|©|\(c\))\s*", re.IGNORECASE)
RIGHTS_RESERVED = re.compile(r"\ball rights reserved\b.*$", re.IGNORECASE)
YEARS = re.compile(r"\b(?:19|20)\d{2}(?:\s*[-–]\s*(?:19|20)?\d{2,4})?\b")
# The company behind a paper, not the paper: "Velle Valley Ledger Media" -> "Velle Valley Ledger".
CORPORATE = re.compile(
    r"(?:\s+(?:&|and)?\s*(?:media|group|inc|ltd|llc|plc|limited|corp|corporation|co|company|"
    r"holdings|publishing|publications|gmbh|sa|ag)\.?)+$",
    re.IGNORECASE,
)
NOT_AN_OUTLET = re.compile(r"/|\b(?:photo|image|picture|illustration)s?\b", re.IGNORECASE)
# "LONDON (Reuters) - ", "NEW YORK, March 14 (AP) -- ", "BRACKWATER - ": the place of a report.
DATELINE = re.compile(
    r"^(?P<place>[A-Z][A-Z'’.\-]+(?:\s+[A-Z][A-Z'’.\-]+)*"
    r"(?:,\s+[A-Z][\w'’.\-]*(?:\s+[A-Z][\w'’.\-]*)*)?"
    rf"(?:,?\s+(?i:{MONTH})\s+\d{{1,2}})?)"
    r"\s*(?:\((?P<outlet>[^()]{2,40})\))?\s*(?:--|[-–—])\s+"
)


def find_date(text: str) -> str | None:
    """The first calendar date written in `text`, as ISO "YYYY-MM-DD"."""
    found = [(m.start(), m) for pattern in DATES for m in pattern.finditer(text)]
    for _, match in sorted(found, key=lambda item: item[0]):
        iso = _iso_date(match)
        if iso is not None:
            return iso
    return None


def _iso_date(match: re.Match[str]) -> str | None:
    month_text = match.group("month").rstrip(".").lower()
    month = int(month_text) if month_text.isdigit() else MONTHS[month_text[:3]]
    year = match.group("y") if match.group("y") else None
    if year is None:
        short = int(match.group("y2"))
        # POSIX strptime's pivot: '69-'99 are the 1900s, '00-'68 the 2000s.
        year = str(1900 + short if short >= 69 else 2000 + short)
    try:
        return date(int(year), month, int(match.group("day"))).isoformat()
    except ValueError:
        return None


def is_date_line(line: str) -> bool:
    """A line that only dates the article: "March 14, 2026", "Updated: 14 March 2026 12:41"."""
    if find_date(line) is None:
        return False
    rest = line
    for pattern in DATES:
        rest = pattern.sub(" ", rest)
    rest = DATE_LINE_WORDS.sub(" ", rest)
    return not re.search(r"\w", rest)


def is_byline(line: str) -> bool:
    """A line naming the writer: "By Jane Doe, The Courier" (not "By Monday, it had rained.")."""
    return (bool(BYLINE.match(line)) and len(line.split()) <= 20
            and not SENTENCE_END.search(line))


def byline_outlet(line: str) -> str | None:
    """The outlet a byline names after the writer, if any: "By Jane Doe, The Courier"."""
    if not is_byline(line):
        return None
    parts = [p.strip(" .;:") for p in BYLINE_PARTS.split(line[3:].strip())]
    for part in reversed(parts[1:]):
        if _names_an_outlet(part):
            return str(part)
    return None


def _names_an_outlet(part: str) -> bool:
    if not part or not part[0].isupper() or NOT_AN_OUTLET.search(part) or re.search(r"\d", part):
        return False
    if part.startswith("The "):  # "The Courier", "The Hollywood Reporter"
        return True
    return bool(OUTLET_WORDS.search(part)) and not ROLES.search(part)


def is_copyright_notice(line: str) -> bool:
    """"Copyright 2026 The Associated Press. All rights reserved.", "© 2026 Reuters", "(c) AFP"."""
    mark = COPYRIGHT_MARK.match(line)
    if mark is None:
        return bool(re.fullmatch(r"\W*all rights reserved\W*", line, re.IGNORECASE))
    rest = RIGHTS_RESERVED.sub("", line[mark.end():])
    if re.match(r"\s*(?:19|20)\d{2}\b", rest):  # "Copyright 2026 X, a unit of Y"
        return True
    rest = YEARS.sub(" ", rest)
    # A notice names its holder; a sentence about copyright ("Copyright lawyers said ...") has
    # lowercase words that are not the small words of a company's name.
    words = re.findall(r"[A-Za-z][\w'’.&-]*", rest)
    small = {"and", "of", "the", "a", "an", "for", "by", "de", "la", "le", "di"}
    return all(w[0].isupper() or w.lower() in small for w in words)


def copyright_outlet(line: str) -> str | None:
    """The holder a copyright notice names, without its company suffix."""
    if not is_copyright_notice(line) or COPYRIGHT_MARK.match(line) is None:
        return None
    rest = RIGHTS_RESERVED.sub("", COPYRIGHT_MARK.sub("", line, count=1))
    rest = YEARS.sub(" ", rest)
    # "Copyright AP - Associated Press": of the names given, the longest is the full one.
    parts = [p.strip(" .,;:()") for p in re.split(r"\s+[-–—|]\s+|,|;|\.\s+", rest)]
    parts = [" ".join(p.split()) for p in parts if re.search(r"[A-Za-z]", p)]
    if not parts:
        return None
    name = without_company(max(parts, key=lambda p: len(p.split())))
    return None if NOT_AN_OUTLET.search(name) else name


def without_company(name: str) -> str:
    """A name without its company suffix, unless nothing of the name would be left."""
    stripped = CORPORATE.sub("", name).strip()
    return stripped if re.sub(r"(?i)^the\b", "", stripped).strip() else name


def strip_dateline(paragraph: str) -> str:
    """A paragraph without its leading dateline ("LONDON (Reuters) - ")."""
    return paragraph[dateline_end(paragraph):]


def dateline_end(paragraph: str) -> int:
    """Where a paragraph's leading dateline ends; 0 when it has none."""
    match = DATELINE.match(paragraph)
    return match.end() if match else 0


def dateline_outlet(paragraph: str) -> str | None:
    """The outlet a paragraph's dateline credits: "LONDON (Reuters) - ..." -> "Reuters"."""
    match = DATELINE.match(paragraph)
    if match is None or not match.group("outlet"):
        return None
    outlet = match.group("outlet").strip()
    return outlet if outlet[0].isupper() else None


def outlet_key(name: str) -> str:
    """An outlet's name as compared: case, "The", punctuation and company suffix ignored."""
    words = re.findall(r"\w+", without_company(name.strip()).lower())
    if words and words[0] == "the":
        words = words[1:]
    return " ".join(words)
