"""Duplicate paragraphs and articles are summarised once, and every removal is recorded."""

from __future__ import annotations

from pathlib import Path

from summarizer.clean import clean_document
from summarizer.dedup import dedup, normalise
from summarizer.models import Article, Document


def _article(text: str, origin: str = "a.txt", source: str | None = None) -> Article:
    article = clean_document(Document(origin=origin, text=text, source=source))
    assert isinstance(article, Article)
    return article


def _kept_paragraphs(result, article: Article) -> list[str]:
    return [article.text[s.start : s.end] for s in result.paragraphs[article.id]]


REPORT = ("The river rose two metres overnight and flooded the lower town, the mayor said on "
          "Sunday.")


def test_normalise_ignores_case_quotes_and_whitespace():
    assert normalise("He said “Stop”  now.") == normalise('he said "stop" now.')


def test_a_paragraph_repeated_inside_an_article_is_kept_once_and_recorded():
    article = _article(f"Flood in the lower town\n{REPORT}\nSchools closed.\n{REPORT}")
    result = dedup([article])
    assert _kept_paragraphs(result, article) == ["Flood in the lower town", REPORT,
                                                 "Schools closed."]
    assert [(d.kind, d.article_id, d.text, d.duplicate_of) for d in result.duplicates] == [
        ("paragraph", article.id, REPORT, article.id)]


def test_a_paragraph_shared_by_two_articles_is_kept_in_the_first_only():
    first = _article(f"Flood news\n{REPORT}", "first.txt")
    second = _article(f"Water everywhere\n{REPORT.upper()}\nRoads were closed too.", "second.txt")
    result = dedup([first, second])
    assert REPORT in _kept_paragraphs(result, first)
    assert _kept_paragraphs(result, second) == ["Water everywhere", "Roads were closed too."]
    assert result.duplicates[0].duplicate_of == first.id


def test_a_near_duplicate_paragraph_is_removed():
    long_report = (f"{REPORT} Rescue teams moved forty families from houses near the old "
                   "bridge before midnight, and the weather service warned that more rain "
                   "would fall on the hills above the valley on Wednesday.")
    edited = long_report.replace("forty families", "40 families")
    first = _article(f"One\n{long_report}", "one.txt")
    second = _article(f"Two\n{edited}", "two.txt")
    result = dedup([first, second])
    assert _kept_paragraphs(result, second) == ["Two"]
    assert result.duplicates[0].text == edited


def test_a_different_paragraph_on_the_same_topic_is_kept():
    other = ("The river fell back below its banks on Tuesday, and the mayor said the lower town "
             "would reopen.")
    first = _article(f"One\n{REPORT}", "one.txt")
    second = _article(f"Two\n{other}", "two.txt")
    result = dedup([first, second])
    assert result.duplicates == []


def test_wire_copies_collapse_into_one_article_with_every_outlet():
    body = "\n".join([
        REPORT,
        "Rescue teams moved forty families from houses near the bridge before midnight.",
        "The weather service expects more rain on Wednesday and warned of further flooding.",
        "Farmers upstream said their fields had been under water for three days.",
    ])
    first = _article(f"Flood hits lower town\n{body}", "a.txt", source="Daily A")
    copy = _article(f"Flood hits lower town\n{body}\nAdditional reporting by staff.", "b.txt",
                    source="Evening B")
    result = dedup([first, copy])
    assert [a.id for a in result.articles] == [first.id]
    assert result.articles[0].sources == ("Daily A", "Evening B")
    assert [(d.kind, d.article_id, d.duplicate_of) for d in result.duplicates] == [
        ("article", copy.id, first.id)]


def test_the_paragraphs_seed_000_repeats_appear_once(seeds: Path):
    articles = [_article(p.read_text(encoding="utf-8"), p.name)
                for p in sorted(seeds.glob("*.txt"))]
    result = dedup(articles)
    seed = articles[0]
    kept = _kept_paragraphs(result, seed)
    assert len(kept) == len({normalise(p) for p in kept})
    lines = [line for line in seed.text.split("\n") if line.strip()]
    repeated = {normalise(line) for line in lines if lines.count(line) > 1}
    assert repeated, "seed 000 repeats paragraphs verbatim"
    recorded = {normalise(d.text) for d in result.duplicates if d.article_id == seed.id}
    assert repeated <= recorded
