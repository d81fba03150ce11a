"""Read articles from files, folders and stdin; unreadable inputs become `Skip`s."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .errors import InputError
from .models import Document, Skip

log = logging.getLogger(__name__)

SUFFIXES = (".txt", ".md", ".html", ".htm", ".json", ".jsonl")
NOT_ARTICLES = {"README", "LICENSE", "CHANGELOG"}
RECORD_FIELDS = ("title", "source", "url", "published")


def read_inputs(paths: Iterable[str]) -> tuple[list[Document], list[Skip]]:
    """Read every path ('-' is stdin); folders are walked in name order."""
    docs: list[Document] = []
    skips: list[Skip] = []
    for item in _expand(paths, skips):
        if isinstance(item, Skip):
            skips.append(item)
        else:
            docs.append(item)
    return docs, skips


def _expand(paths: Iterable[str], skips: list[Skip]) -> Iterator[Document | Skip]:
    for raw in paths:
        if raw == "-":
            yield from _read_bytes("stdin", sys.stdin.buffer.read(), suffix=None)
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
                yield from _read_file(file)
        elif path.is_file():
            if path.suffix.lower() not in SUFFIXES:
                yield Skip(origin=raw, reason=_unsupported(path))
                continue
            yield from _read_file(path)
        else:
            yield Skip(origin=raw, reason="no such file or folder")


def _unsupported(path: Path) -> str:
    return f"unsupported file type '{path.suffix or path.name}'; use one of {', '.join(SUFFIXES)}"


def _read_file(path: Path) -> Iterator[Document | Skip]:
    try:
        data = path.read_bytes()
    except OSError as e:
        yield Skip(origin=str(path), reason=f"cannot read file: {e.strerror or e}")
        return
    yield from _read_bytes(str(path), data, suffix=path.suffix.lower())


def _read_bytes(origin: str, data: bytes, suffix: str | None) -> Iterator[Document | Skip]:
    if not data.strip():
        yield Skip(origin=origin, reason="empty file")
        return
    if b"\x00" in data[:8192]:
        yield Skip(origin=origin, reason="binary file (contains NUL bytes), not an article")
        return
    text = decode(origin, data)
    if suffix is None:
        suffix = _sniff(text)
    if suffix == ".json":
        yield from _read_json(origin, text)
    elif suffix == ".jsonl":
        yield from _read_jsonl(origin, text)
    elif suffix in (".html", ".htm"):
        yield read_record(origin, {"html": text})
    elif suffix == ".md":
        yield read_record(origin, _markdown_record(text))
    else:
        yield read_record(origin, {"text": text})


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


def _read_json(origin: str, text: str) -> Iterator[Document | Skip]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        yield Skip(origin=origin, reason=f"invalid JSON at line {e.lineno}: {e.msg}")
        return
    if isinstance(data, dict) and isinstance(data.get("articles"), list):
        data = data["articles"]
    records = data if isinstance(data, list) else [data]
    for n, record in enumerate(records, 1):
        where = origin if len(records) == 1 else f"{origin}[{n}]"
        yield read_record(where, record)


def _read_jsonl(origin: str, text: str) -> Iterator[Document | Skip]:
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{origin}:{n}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            yield Skip(origin=where, reason=f"invalid JSON: {e.msg}")
            continue
        yield read_record(where, record)


def _markdown_record(text: str) -> dict[str, Any]:
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("# "):
            body = "\n".join(lines[:i] + lines[i + 1 :])
            return {"title": line[2:].strip(), "text": body}
        if line.strip():
            break
    return {"text": text}


def read_record(origin: str, record: Any) -> Document | Skip:
    """One article record ('text' or 'html', and metadata) as a Document, or why not."""
    if not isinstance(record, dict):
        return Skip(origin=origin, reason="a record must be a JSON object with 'text' or 'html'")
    fields = {k: str(record[k]) for k in RECORD_FIELDS if record.get(k) not in (None, "")}
    text = record.get("text")
    html = record.get("html")
    if isinstance(html, str) and html.strip() and not (isinstance(text, str) and text.strip()):
        extracted = html_to_record(html)
        if extracted is None:
            return Skip(origin=origin, reason="no article text found in the HTML")
        text = extracted.pop("text")
        fields = {**extracted, **fields}
    if not isinstance(text, str) or not text.strip():
        return Skip(origin=origin, reason="record has no 'text' or 'html' with content")
    return Document(origin=origin, text=text, **fields)


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
