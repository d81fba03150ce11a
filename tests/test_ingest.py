"""Reading inputs: every supported format, and clear skips for what cannot be read."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
from pathlib import Path

import pytest

from summarizer.clean import clean_document
from summarizer.dedup import dedup
from summarizer.ingest import read_inputs
from summarizer.models import Article

STORY = "The harbour reopened on Monday after the storm, the port authority said."


def test_text_markdown_html_json_and_jsonl_are_read(tmp_path: Path):
    (tmp_path / "a.txt").write_text(STORY)
    (tmp_path / "b.md").write_text(f"# Harbour reopens\n\n{STORY}\n")
    (tmp_path / "c.html").write_text(
        "<html><head><title>Harbour reopens</title></head><body><article>"
        f"<h1>Harbour reopens</h1><p>{STORY} Ships queued outside the breakwater all morning "
        "and the first ferry left at noon with two hundred passengers on board.</p>"
        "</article></body></html>")
    (tmp_path / "d.json").write_text(json.dumps(
        {"text": STORY, "title": "Harbour", "source": "Port Gazette", "url": "https://x.test/1",
         "published": "2026-03-02"}))
    (tmp_path / "e.jsonl").write_text(
        json.dumps({"text": STORY, "source": "One"}) + "\n" +
        json.dumps({"text": STORY + " Again.", "source": "Two"}) + "\n")
    docs, skips = read_inputs([str(tmp_path)])
    assert skips == []
    by_origin = {d.origin.rsplit("/", 1)[-1]: d for d in docs}
    assert set(by_origin) == {"a.txt", "b.md", "c.html", "d.json", "e.jsonl:1", "e.jsonl:2"}
    assert by_origin["b.md"].title == "Harbour reopens"
    assert STORY in by_origin["c.html"].text
    assert by_origin["d.json"].source == "Port Gazette"
    assert by_origin["d.json"].published == "2026-03-02"
    assert by_origin["e.jsonl:2"].source == "Two"


def test_bad_files_are_skipped_with_reasons_and_the_rest_is_read(tmp_path: Path):
    (tmp_path / "good.txt").write_text(STORY)
    (tmp_path / "empty.txt").write_text("  \n")
    (tmp_path / "binary.txt").write_bytes(b"\x89PNG\x00\x00\x01\x02")
    (tmp_path / "broken.json").write_text('{"text": ')
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8")
    (tmp_path / "lines.jsonl").write_text(
        json.dumps({"text": STORY}) + "\nnot json\n" + json.dumps({"title": "no text"}) + "\n")
    docs, skips = read_inputs([str(tmp_path), str(tmp_path / "missing.txt")])
    assert sorted(d.origin.rsplit("/", 1)[-1] for d in docs) == ["good.txt", "lines.jsonl:1"]
    reasons = {s.origin.rsplit("/", 1)[-1]: s.reason for s in skips}
    assert reasons["empty.txt"] == "empty file"
    assert reasons["binary.txt"].startswith("binary file")
    assert reasons["broken.json"].startswith("invalid JSON")
    assert "unsupported file type '.jpg'" in reasons["photo.jpg"]
    assert reasons["lines.jsonl:2"].startswith("invalid JSON")
    assert "'text' or 'html'" in reasons["lines.jsonl:3"]
    assert reasons["missing.txt"] == "no such file or folder"


def test_undecodable_bytes_are_replaced_with_a_warning(tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture):
    (tmp_path / "latin.txt").write_bytes("Caf\xe9 owners said the harbour reopened.".encode(
        "latin-1"))
    with caplog.at_level(logging.WARNING):
        docs, skips = read_inputs([str(tmp_path / "latin.txt")])
    assert skips == []
    assert docs[0].text == "Caf\ufffd owners said the harbour reopened."
    assert "1 undecodable bytes replaced" in caplog.text


def test_stdin_is_read_and_its_format_sniffed(monkeypatch: pytest.MonkeyPatch):
    records = json.dumps({"text": STORY, "source": "A"}) + "\n" + json.dumps({"text": STORY})
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(records.encode())))
    docs, skips = read_inputs(["-"])
    assert skips == []
    assert [d.origin for d in docs] == ["stdin:1", "stdin:2"]
    assert docs[0].source == "A"


def test_readme_and_hidden_files_in_a_folder_are_not_articles(tmp_path: Path):
    (tmp_path / "README.md").write_text("# About these files")
    (tmp_path / ".notes.txt").write_text("private")
    (tmp_path / "story.txt").write_text(STORY)
    docs, skips = read_inputs([str(tmp_path)])
    assert [d.origin.rsplit("/", 1)[-1] for d in docs] == ["story.txt"]
    assert skips == []


WIRE_FIXTURE = Path(__file__).resolve().parent / "fixtures" / "wire_copy"
SHARE_WORDS = re.compile(r"\b(?:facebook|twitter|e-?mail|whatsapp|linkedin|pinterest|reddit)\b",
                         re.IGNORECASE)


def test_a_wire_copy_read_from_files_is_one_article_with_both_outlets():
    docs, skips = read_inputs([str(WIRE_FIXTURE)])
    assert skips == []
    articles = [clean_document(doc) for doc in docs]
    assert all(isinstance(a, Article) for a in articles)
    found = {Path(a.origin).name: (a.title, a.source, a.published) for a in articles}
    assert found == {
        "01_pellmoor_sentinel.txt": ("Fire destroys Ostry Mill grain warehouse on Pellmoor quay",
                                     "The Pellmoor Sentinel", "2026-04-07"),
        "02_carrow_press_wire.txt": ("Grain warehouse burns for five hours in Pellmoor",
                                     "Carrow Press", "2026-04-07"),
        "03_dunmarsh_evening_star.json": (
            "Barley prices jump in Dunmarsh after Pellmoor warehouse fire",
            "Dunmarsh Evening Star", "2026-04-08T07:15:00+00:00"),
    }
    sentinel, wire, star = articles
    assert ("The Pellmoor Sentinel", "masthead") in [(r.text, r.reason) for r in sentinel.removed]

    result = dedup(articles)
    assert [a.id for a in result.articles] == [sentinel.id, star.id]
    assert result.articles[0].sources == ("The Pellmoor Sentinel", "Carrow Press")
    assert result.articles[1].sources == ("Dunmarsh Evening Star",)
    assert [(d.kind, d.article_id, d.duplicate_of) for d in result.duplicates
            if d.kind == "article"] == [("article", wire.id, sentinel.id)]
    # The wire paragraph the Star also ran is summarised once, in the Sentinel's copy.
    assert [d.article_id for d in result.duplicates if d.kind == "paragraph"] == [star.id]
    for article in result.articles:
        for line in article.text.split("\n"):
            assert not SHARE_WORDS.search(line), line
            assert "|" not in line and "inbox" not in line and "Read more" not in line
