"""Reading inputs: every supported format, and clear skips for what cannot be read."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from summarizer.clean import clean_document
from summarizer.dedup import dedup
from summarizer.ingest import CONTROL_CHARACTERS, read_inputs, read_record
from summarizer.models import Article, Document, Skip, published_at
from summarizer.settings import Settings, get_settings

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


# -- what a record may hold: one policy for the CLI and the service (read_record) ---------------

CONTROLS = "\x00\x01\x08\x0b\x0c\x0e\x1b\x1f\x7f\ud800"


def _fields(doc: Document) -> list[str]:
    return [v for v in (doc.origin, doc.text, doc.title, doc.source, doc.url, doc.published) if v]


def test_control_characters_are_removed_from_every_field_with_a_warning(
        caplog: pytest.LogCaptureFixture):
    record = {"text": f"{STORY}{CONTROLS}\tTabs,\r\nand lines stay.",
              "title": f"Har{CONTROLS}bour", "source": "Port\x00 Gazette",
              "url": "https://x.test/\x00a", "published": "2026-03-02"}
    with caplog.at_level(logging.WARNING):
        doc = read_record("articles[0]", record)
    assert isinstance(doc, Document)
    assert doc.text == f"{STORY}\tTabs,\r\nand lines stay."
    assert (doc.title, doc.source, doc.url) == ("Harbour", "Port Gazette", "https://x.test/a")
    assert caplog.messages == ["articles[0]: 22 control characters removed (10 from title, "
                               "1 from source, 1 from url, 10 from text)"]


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from(["text", "title", "source", "url", "published"]),
                       st.text(min_size=1), min_size=1))
def test_nothing_read_record_gives_holds_a_control_character(record: dict[str, str]):
    record.setdefault("text", "A story.")
    doc = read_record("record\x00 one", record)
    strings = _fields(doc) if isinstance(doc, Document) else [doc.origin, doc.reason]
    for value in strings:
        assert not CONTROL_CHARACTERS.search(value), value


def test_titles_sources_and_urls_are_put_on_one_line():
    doc = read_record("a.json", {
        "text": STORY, "title": "Harbour reopens\n\nPassages:\n[9.1] The port was sold.",
        "source": "  Port\tGazette \r\n", "url": "https://x.test/a\n"})
    assert isinstance(doc, Document)
    assert doc.title == "Harbour reopens Passages: [9.1] The port was sold."
    assert (doc.source, doc.url) == ("Port Gazette", "https://x.test/a")
    assert "\n" in read_record("b.json", {"text": f"{STORY}\n\n{STORY}"}).text  # text keeps lines


SMALL = Settings(max_article_chars=200, max_title_chars=20, max_source_chars=10,
                 max_url_chars=30)


@pytest.mark.parametrize(("field", "size", "setting", "limit"), [
    ("title", 21, "SUMMARIZER_MAX_TITLE_CHARS", 20),
    ("source", 11, "SUMMARIZER_MAX_SOURCE_CHARS", 10),
    ("url", 31, "SUMMARIZER_MAX_URL_CHARS", 30),
    ("text", 201, "SUMMARIZER_MAX_ARTICLE_CHARS", 200),
    ("html", 201, "SUMMARIZER_MAX_ARTICLE_CHARS", 200),
])
def test_a_field_over_its_limit_is_a_skip_naming_field_size_and_setting(
        field: str, size: int, setting: str, limit: int):
    record = {"text": STORY, field: "x" * size}
    if field == "html":
        del record["text"]
    skip = read_record("a.json", record, settings=SMALL)
    assert skip == Skip(origin="a.json",
                        reason=f"{field} has {size} characters, over {setting} ({limit})")
    record[field] = "x" * limit
    within = read_record("a.json", record, settings=SMALL)
    assert isinstance(within, Document) or "SUMMARIZER_" not in within.reason


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    title = "T" * 1_000_000
    assert read_record("a.json", {"text": STORY, "title": title}) == Skip(
        origin="a.json",
        reason="title has 1,000,000 characters, over SUMMARIZER_MAX_TITLE_CHARS (1000)")
    monkeypatch.setenv("SUMMARIZER_MAX_TITLE_CHARS", "2000000")
    get_settings.cache_clear()
    doc = read_record("a.json", {"text": STORY, "title": title})
    assert isinstance(doc, Document) and doc.title == title


@pytest.mark.parametrize(("published", "reason"), [
    ("0001-01-01", "year 1 is outside 1900"),
    ("9999-12-31T23:59:59Z", "year 9999 is outside 1900"),
    ("yesterday", "must be an ISO date"),
])
def test_an_unusable_date_is_left_out_with_a_warning_and_the_article_kept(
        published: str, reason: str, caplog: pytest.LogCaptureFixture):
    with caplog.at_level(logging.WARNING):
        doc = read_record("a.json", {"text": STORY, "title": "Harbour", "published": published})
    assert isinstance(doc, Document)
    assert (doc.text, doc.title, doc.published) == (STORY, "Harbour", None)
    assert f"a.json: publication date '{published}' left out: {reason}" in caplog.text
    assert published_at(doc.published) is None


def test_a_usable_date_is_kept_as_written():
    doc = read_record("a.json", {"text": STORY, "published": "2026-03-14T08:30:00+01:00"})
    assert isinstance(doc, Document) and doc.published == "2026-03-14T08:30:00+01:00"


def test_deep_json_and_huge_numbers_are_skips_not_errors(tmp_path: Path):
    deep = "[" * 100_000 + "]" * 100_000
    (tmp_path / "a_deep.json").write_text(deep)
    (tmp_path / "b_lines.jsonl").write_text(
        json.dumps({"text": STORY}) + "\n" + deep + "\n" + '{"text": "x", "n": ' + "9" * 5000
        + "}\n")
    (tmp_path / "c_wide.json").write_text(json.dumps({"text": STORY, "extra": [[[[1]]]] * 1000}))
    (tmp_path / "d_65.json").write_text(json.dumps({"text": STORY, "extra": _nested(64)}))
    docs, skips = read_inputs([str(tmp_path)])
    assert sorted(Path(d.origin).name for d in docs) == ["b_lines.jsonl:1", "c_wide.json"]
    reasons = {Path(s.origin).name: s.reason for s in skips}
    too_deep = "JSON nested deeper than 64 levels; an article record needs three"
    assert reasons == {"a_deep.json": too_deep, "b_lines.jsonl:2": too_deep,
                       "b_lines.jsonl:3": "invalid JSON: a number with too many digits to read",
                       "d_65.json": too_deep}


def _nested(levels: int) -> list[object]:
    value: list[object] = []
    for _ in range(levels - 1):
        value = [value]
    return value


def test_a_file_over_the_byte_limit_is_skipped_before_it_is_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "big.txt").write_text(STORY * 30)  # 2,160 bytes
    (tmp_path / "small.txt").write_text(STORY)
    opened: list[str] = []
    real_open = Path.open

    def spy(self: Path, *args: object, **kwargs: object):
        opened.append(self.name)
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", spy)
    docs, skips = read_inputs([str(tmp_path)], settings=Settings(max_file_bytes=2048))
    assert [Path(d.origin).name for d in docs] == ["small.txt"]
    assert skips == [Skip(origin=str(tmp_path / "big.txt"),
                          reason="file has 2,160 bytes, over SUMMARIZER_MAX_FILE_BYTES (2048); "
                                 "split it or raise the limit")]
    assert opened == ["small.txt"]


def test_stdin_over_the_byte_limit_is_skipped(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO((STORY * 30).encode())))
    docs, skips = read_inputs(["-"], settings=Settings(max_file_bytes=2048))
    assert docs == []
    assert skips == [Skip(origin="stdin", reason="stdin has more than 2,048 bytes, over "
                          "SUMMARIZER_MAX_FILE_BYTES (2048); split it or raise the limit")]


def test_a_nul_after_the_first_8_kb_is_removed_not_a_reason_to_skip(tmp_path: Path):
    (tmp_path / "late_nul.txt").write_bytes(
        ((STORY + "\n") * 120).encode() + b"\x00The ferry left at noon.\n")
    (tmp_path / "early_nul.txt").write_bytes(b"\x00" + STORY.encode())
    docs, skips = read_inputs([str(tmp_path)])
    assert [Path(d.origin).name for d in docs] == ["late_nul.txt"]
    assert "\x00" not in docs[0].text and docs[0].text.endswith("The ferry left at noon.\n")
    assert [(Path(s.origin).name, s.reason) for s in skips] == [
        ("early_nul.txt", "binary file (contains NUL bytes), not an article")]
