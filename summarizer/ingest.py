"""Read articles from files, folders, stdin and URLs; unreadable inputs become `Skip`s.

Every record, from a file or posted to the service, passes through `read_record`, the one place
for what an article may hold: control characters removed, titles, sources and urls on one line,
each field within its limit in the settings, and a publication date that cannot be used dropped.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from .errors import InputError
from .models import Document, Skip, date_problem
from .settings import Settings, get_settings

if TYPE_CHECKING:
    from .llm.caller import Progress

log = logging.getLogger(__name__)

SUFFIXES = (".txt", ".md", ".html", ".htm", ".json", ".jsonl")
NOT_ARTICLES = {"README", "LICENSE", "CHANGELOG"}
RECORD_FIELDS = ("title", "source", "url", "published")
ONE_LINE_FIELDS = ("title", "source", "url")  # a newline there could pass for prompt structure
# The setting that limits each field, in characters; the API answers 413 for the same ones.
FIELD_LIMITS = {"text": "max_article_chars", "html": "max_article_chars",
                "title": "max_title_chars", "source": "max_source_chars", "url": "max_url_chars"}
# C0 controls but tab, newline and carriage return; DEL; lone surrogates (JSON can write them,
# UTF-8 cannot hold them). NUL in particular cannot be stored in PostgreSQL.
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
BINARY_PROBE_BYTES = 8192  # a NUL among the first bytes: a binary file, not text with a stray NUL
MAX_JSON_DEPTH = 64  # an article record is two or three levels deep
URL_SCHEMES = ("http://", "https://")


@dataclass(frozen=True)
class ToFetch:
    """An input that names a URL to fetch: a command-line argument, or a record with `url`
    and no text or html. `fields`: the record's own title, source, published (they win)."""

    origin: str
    url: str
    fields: dict[str, str] = field(default_factory=dict)


def is_url(text: str) -> bool:
    """Whether an input names a web page rather than a file."""
    return text[:8].lower().startswith(URL_SCHEMES)


def read_inputs(paths: Iterable[str], *, settings: Settings | None = None,
                progress: Progress | None = None) -> tuple[list[Document], list[Skip]]:
    """Read every path ('-' is stdin, http(s) URLs are fetched); folders are walked in name
    order. `progress` hears of the pages to fetch and of each one fetched."""
    settings = settings or get_settings()
    docs: list[Document] = []
    skips: list[Skip] = []
    for item in fetch_pending(list(_expand(paths, skips, settings)), settings, progress):
        if isinstance(item, Skip):
            skips.append(item)
        else:
            docs.append(item)
    return docs, skips


def read_records(records: Iterable[tuple[str, Any]], *, settings: Settings | None = None,
                 ) -> list[Document | Skip]:
    """Each (origin, record) read as `read_record` does; records with only a `url` are
    fetched (several at a time), in the order given."""
    settings = settings or get_settings()
    return fetch_pending([read_or_fetch(origin, record, settings=settings)
                          for origin, record in records], settings)


def read_or_fetch(origin: str, record: Any, *, settings: Settings | None = None,
                  ) -> Document | Skip | ToFetch:
    """A record as `read_record` reads it, or, when it holds a `url` and no text or html,
    the page to fetch for it."""
    settings = settings or get_settings()
    if not isinstance(record, dict) or _has_content(record) \
            or not isinstance(record.get("url"), str) or not record["url"].strip():
        return read_record(origin, record, settings=settings)
    url = " ".join(strip_controls(record["url"])[0].split())
    origin = " ".join(strip_controls(origin)[0].splitlines())
    if (problem := too_long("url", len(url), settings)) is not None:
        return Skip(origin=origin, reason=problem)
    fields = {k: str(record[k]) for k in ("title", "source", "published")
              if record.get(k) not in (None, "")}
    return ToFetch(origin=origin, url=url, fields=fields)


def fetch_pending(items: Sequence[Document | Skip | ToFetch], settings: Settings,
                  progress: Progress | None = None) -> list[Document | Skip]:
    """The items with each page to fetch replaced by its article (or the Skip saying why not).
    """
    pending = [item for item in items if isinstance(item, ToFetch)]
    if not pending:
        return [item for item in items if not isinstance(item, ToFetch)]
    from .fetch import fetch_articles  # fetch reads pages through this module's records

    if progress is not None:
        progress.add(len(pending))
    fetched = iter(fetch_articles(
        [(item.origin, item.url, item.fields) for item in pending], settings,
        on_done=None if progress is None else lambda _: progress.advance()))
    return [next(fetched) if isinstance(item, ToFetch) else item for item in items]


def _has_content(record: dict[str, Any]) -> bool:
    return any(isinstance(record.get(k), str) and record[k].strip() for k in ("text", "html"))


def _expand(paths: Iterable[str], skips: list[Skip],
            settings: Settings) -> Iterator[Document | Skip | ToFetch]:
    for raw in paths:
        if is_url(raw):
            yield ToFetch(origin=raw, url=raw)
            continue
        if raw == "-":
            data = _read_at_most(sys.stdin.buffer, settings.max_file_bytes)
            if data is None:
                yield Skip(origin="stdin", reason=_too_large("stdin", None, settings))
                continue
            yield from _read_bytes("stdin", data, None, settings)
            continue
        path = Path(raw)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file())
            for file in files:
                if file.stem.upper() in NOT_ARTICLES or file.name.startswith("."):
                    continue
                if file.suffix.lower() not in SUFFIXES:
                    skips.append(Skip(origin=str(file), reason=_unsupported(file)))
                    continue
                yield from _read_file(file, settings)
        elif path.is_file():
            if path.suffix.lower() not in SUFFIXES:
                yield Skip(origin=raw, reason=_unsupported(path))
                continue
            yield from _read_file(path, settings)
        else:
            yield Skip(origin=raw, reason="no such file or folder")


def _unsupported(path: Path) -> str:
    return f"unsupported file type '{path.suffix or path.name}'; use one of {', '.join(SUFFIXES)}"


def _read_file(path: Path, settings: Settings) -> Iterator[Document | Skip | ToFetch]:
    limit = settings.max_file_bytes
    try:
        size = path.stat().st_size
        if size > limit:  # told before a byte is read
            yield Skip(origin=str(path), reason=_too_large("file", size, settings))
            return
        with path.open("rb") as file:
            data = _read_at_most(file, limit)  # it may have grown since
    except OSError as e:
        yield Skip(origin=str(path), reason=f"cannot read file: {e.strerror or e}")
        return
    if data is None:
        yield Skip(origin=str(path), reason=_too_large("file", None, settings))
        return
    yield from _read_bytes(str(path), data, path.suffix.lower(), settings)


def _read_at_most(stream: BinaryIO, limit: int) -> bytes | None:
    """All of a stream, or None when it holds more than `limit` bytes."""
    data = stream.read(limit + 1)
    return None if len(data) > limit else data


def _too_large(what: str, size: int | None, settings: Settings) -> str:
    """The reason for a file (or stdin) over the limit; `size` None: more than the limit."""
    limit = settings.max_file_bytes
    has = f"{size:,} bytes" if size is not None else f"more than {limit:,} bytes"
    return (f"{what} has {has}, over SUMMARIZER_MAX_FILE_BYTES ({limit}); "
            "split it or raise the limit")


def _read_bytes(origin: str, data: bytes, suffix: str | None,
                settings: Settings) -> Iterator[Document | Skip | ToFetch]:
    if not data.strip():
        yield Skip(origin=origin, reason="empty file")
        return
    if b"\x00" in data[:BINARY_PROBE_BYTES]:
        yield Skip(origin=origin, reason="binary file (contains NUL bytes), not an article")
        return
    text = decode(origin, data)
    if suffix is None:
        suffix = _sniff(text)
    if suffix == ".json":
        yield from _read_json(origin, text, settings)
    elif suffix == ".jsonl":
        yield from _read_jsonl(origin, text, settings)
    elif suffix in (".html", ".htm"):
        yield read_record(origin, {"html": text}, settings=settings)
    elif suffix == ".md":
        yield read_record(origin, _markdown_record(text), settings=settings)
    else:
        yield read_record(origin, {"text": text}, settings=settings)


def decode(origin: str, data: bytes) -> str:
    """UTF-8 (with or without BOM); undecodable bytes are replaced, with a warning."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("utf-8-sig", errors="replace")
        log.warning("%s: %d undecodable bytes replaced with U+FFFD", origin, text.count("\ufffd"))
        return text


def _sniff(text: str) -> str:
    head = text.lstrip()[:1]
    if head in "{[":
        lines = [line for line in text.splitlines() if line.strip()]
        if len(lines) > 1 and all(line.lstrip().startswith("{") for line in lines):
            return ".jsonl"
        return ".json"
    if head == "<":
        return ".html"
    return ".txt"


def _read_json(origin: str, text: str,
               settings: Settings) -> Iterator[Document | Skip | ToFetch]:
    try:
        data = parse_json(text)
    except InputError as e:
        yield Skip(origin=origin, reason=str(e))
        return
    if isinstance(data, dict) and isinstance(data.get("articles"), list):
        data = data["articles"]
    records = data if isinstance(data, list) else [data]
    for n, record in enumerate(records, 1):
        where = origin if len(records) == 1 else f"{origin}[{n}]"
        yield read_or_fetch(where, record, settings=settings)


def _read_jsonl(origin: str, text: str,
                settings: Settings) -> Iterator[Document | Skip | ToFetch]:
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{origin}:{n}"
        try:
            record = parse_json(line, numbered=False)
        except InputError as e:
            yield Skip(origin=where, reason=str(e))
            continue
        yield read_or_fetch(where, record, settings=settings)


def parse_json(text: str, *, numbered: bool = True) -> Any:
    """A JSON document as Python data; InputError says why it cannot be read (broken, or nested
    deeper than MAX_JSON_DEPTH levels). `numbered`: name the line of a syntax error."""
    try:
        data = json.loads(text)
    except RecursionError as e:  # the parser's own limit, far beyond ours
        raise InputError(_TOO_DEEP) from e
    except json.JSONDecodeError as e:
        where = f" at line {e.lineno}" if numbered else ""
        raise InputError(f"invalid JSON{where}: {e.msg}") from e
    except ValueError as e:  # an integer of more digits than Python converts
        raise InputError("invalid JSON: a number with too many digits to read") from e
    if _nested_too_deep(data):
        raise InputError(_TOO_DEEP)
    return data


_TOO_DEEP = f"JSON nested deeper than {MAX_JSON_DEPTH} levels; an article record needs three"


def _nested_too_deep(data: Any) -> bool:
    """Whether arrays and objects nest deeper than MAX_JSON_DEPTH, walked without recursion."""
    stack = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > MAX_JSON_DEPTH:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _markdown_record(text: str) -> dict[str, Any]:
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("# "):
            body = "\n".join(lines[:i] + lines[i + 1 :])
            return {"title": line[2:].strip(), "text": body}
        if line.strip():
            break
    return {"text": text}


def read_record(origin: str, record: Any, *, settings: Settings | None = None,
                ) -> Document | Skip:
    """One article record ('text' or 'html', and metadata) as a Document, or why not.

    A field over its limit makes a Skip that names the field, its size and the setting. Control
    characters are removed, title, source and url put on one line, and a publication date that
    cannot be used is left out, each with a warning; the article is kept.
    """
    origin = " ".join(strip_controls(origin)[0].splitlines())
    if not isinstance(record, dict):
        return Skip(origin=origin, reason="a record must be a JSON object with 'text' or 'html'")
    settings = settings or get_settings()
    fields = {k: str(record[k]) for k in RECORD_FIELDS if record.get(k) not in (None, "")}
    text, html = record.get("text"), record.get("html")
    if isinstance(text, str) and text.strip():
        fields["text"] = text
    elif isinstance(html, str) and html.strip():
        fields["html"] = html
    if (problem := _over_limit(fields, settings)) is not None:
        return Skip(origin=origin, reason=problem)
    fields = _scrubbed(origin, fields)
    if "html" in fields:
        extracted = html_to_record(fields.pop("html"))
        if extracted is None:
            return Skip(origin=origin, reason="no article text found in the HTML")
        found = {k: v for k, v in extracted.items() if k not in fields}  # the record's own win
        if (problem := _over_limit(found, settings)) is not None:
            return Skip(origin=origin, reason=f"{problem} (as found in the HTML)")
        fields = {**_scrubbed(origin, found), **fields}
    body = fields.pop("text", "")
    if not body.strip():
        return Skip(origin=origin, reason="record has no 'text' or 'html' with content, "
                                          "nor a 'url' to fetch")
    return Document(origin=origin, text=body, **fields)


def strip_controls(text: str) -> tuple[str, int]:
    """The text without control characters (tab, newline and carriage return are kept), and how
    many were removed."""
    return CONTROL_CHARACTERS.subn("", text)


def too_long(field: str, size: int, settings: Settings) -> str | None:
    """Why a field ('text', 'html', 'title', 'source', 'url') of `size` characters is refused,
    naming the setting that limits it; None when it is within its limit."""
    setting = FIELD_LIMITS[field]
    limit: int = getattr(settings, setting)
    if size <= limit:
        return None
    return f"{field} has {size:,} characters, over SUMMARIZER_{setting.upper()} ({limit})"


def _over_limit(fields: dict[str, str], settings: Settings) -> str | None:
    """The first field over its limit, as `too_long` says it."""
    return next((problem for key, value in fields.items() if key in FIELD_LIMITS
                 and (problem := too_long(key, len(value), settings)) is not None), None)


def _scrubbed(origin: str, fields: dict[str, str]) -> dict[str, str]:
    """Fields without control characters, one-line fields on one line, and a publication date
    that cannot be used left out; what was changed is logged. Blank metadata is dropped."""
    kept: dict[str, str] = {}
    removed: dict[str, int] = {}
    for key, value in fields.items():
        value, count = strip_controls(value)
        if count:
            removed[key] = count
        if key in ONE_LINE_FIELDS or key == "published":
            value = " ".join(value.split())
            if not value:
                continue
        if key == "published" and (problem := date_problem(value)) is not None:
            shown = value if len(value) <= 40 else value[:40] + "..."
            log.warning("%s: publication date %r left out: %s", origin, shown, problem)
            continue
        kept[key] = value
    if removed:
        total = sum(removed.values())
        log.warning("%s: %d control character%s removed (%s)", origin, total, "s" * (total > 1),
                    ", ".join(f"{n} from {key}" for key, n in removed.items()))
    return kept


def no_readable_article(skips: Iterable[Skip]) -> InputError:
    """The error for a run left with nothing to summarise, naming why each input was skipped."""
    reasons = "; ".join(f"{s.origin}: {s.reason}" for s in skips) or "no input given"
    return InputError(f"no readable article ({reasons})")


def html_to_record(html: str) -> dict[str, str] | None:
    """Main text and metadata of an HTML page, through trafilatura."""
    import trafilatura

    doc = trafilatura.bare_extraction(html, with_metadata=True, include_comments=False)
    if doc is None:
        return None
    # trafilatura answers with its Document (or a dict, when asked for one)
    names = {"text": "text", "title": "title", "source": "sitename", "url": "url",
             "published": "date"}
    found = {key: doc.get(name) if isinstance(doc, dict) else getattr(doc, name, None)
             for key, name in names.items()}
    if not (found["text"] or "").strip():
        return None
    return {k: v for k, v in found.items() if v}
