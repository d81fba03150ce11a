"""The Atom feed of digests: one entry per day, its content the digest's email rendering, so
that readers can follow the digests in any feed reader."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from xml.etree import ElementTree

from .. import __version__

ATOM = "http://www.w3.org/2005/Atom"
MEDIA_TYPE = "application/atom+xml"


@dataclass(frozen=True)
class Entry:
    """One digest as an entry: its day, when it was built, where it is read, and its HTML."""

    day: str
    updated: str  # ISO 8601
    link: str
    html: str


def feed(entries: Sequence[Entry], *, self_url: str, title: str = "News digests") -> bytes:
    """An Atom 1.0 document (RFC 4287) of the entries, newest first as given."""
    ElementTree.register_namespace("", ATOM)
    root = ElementTree.Element(f"{{{ATOM}}}feed")
    _text(root, "id", self_url)
    _text(root, "title", title)
    _text(root, "updated", max((e.updated for e in entries), default="1970-01-01T00:00:00Z"))
    generator = _text(root, "generator", "summarizer")
    generator.set("version", __version__)
    ElementTree.SubElement(root, f"{{{ATOM}}}link", rel="self", href=self_url,
                           type=MEDIA_TYPE)
    author = ElementTree.SubElement(root, f"{{{ATOM}}}author")
    _text(author, "name", "summarizer")
    for entry in entries:
        item = ElementTree.SubElement(root, f"{{{ATOM}}}entry")
        # Stable per day: a digest built again replaces the day's entry in readers.
        _text(item, "id", f"{self_url}#{entry.day}")
        _text(item, "title", f"News digest for {entry.day}")
        _text(item, "updated", entry.updated)
        ElementTree.SubElement(item, f"{{{ATOM}}}link", rel="alternate", href=entry.link,
                               type="text/html")
        content = _text(item, "content", entry.html)
        content.set("type", "html")
    document: bytes = ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
    return document


def _text(parent: ElementTree.Element, name: str, text: str) -> ElementTree.Element:
    child = ElementTree.SubElement(parent, f"{{{ATOM}}}{name}")
    child.text = text
    return child
