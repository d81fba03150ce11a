"""Boilerplate removal: the seeds' widgets go, every line of reporting stays."""

from __future__ import annotations

from pathlib import Path

import pytest

from summarizer.clean import clean_document, clean_text
from summarizer.models import Article, Document, Skip


def _clean_seed(seeds: Path, name: str) -> Article:
    doc = Document(origin=name, text=(seeds / name).read_text(encoding="utf-8"))
    article = clean_document(doc)
    assert isinstance(article, Article)
    return article


def _removed(article: Article) -> list[str]:
    return [r.text for r in article.removed]


def test_headline_list_at_top_of_seed_002_is_removed(seeds: Path):
    article = _clean_seed(seeds, "002_b9510e42b56d44e5.txt")
    raw = (seeds / "002_b9510e42b56d44e5.txt").read_text(encoding="utf-8").splitlines()
    # The list sits before the article's own headline: ten dated entries and "-" separators.
    removed = _removed(article)
    dated = [r for r in article.removed if r.reason == "navigation list of headlines with dates"]
    assert len(dated) >= 10
    assert "-" in removed
    for line in raw[:5]:
        if line.strip():
            assert line.strip() in removed


@pytest.mark.parametrize("line", [
    "Advertisement", "Comments About This Article", "Please fill the fields below.",
    "Copyright AP - Associated Press", "Contact Us", "Fun Stuff", "Join the Conversation",
    "The Next Read", "Real Time Analytics",
])
def test_required_boilerplate_lines_are_removed_from_the_seeds(seeds: Path, line: str):
    removed = [text for path in sorted(seeds.glob("*.txt"))
               for text in _removed(_clean_seed(seeds, path.name))]
    assert line in removed


def test_both_advertisement_lines_are_removed(seeds: Path):
    removed = [text for path in sorted(seeds.glob("*.txt"))
               for text in _removed(_clean_seed(seeds, path.name))]
    raw = [line.strip() for path in sorted(seeds.glob("*.txt"))
           for line in path.read_text(encoding="utf-8").splitlines()]
    assert raw.count("Advertisement") == 2
    assert removed.count("Advertisement") == 2


def test_every_sentence_of_reporting_and_every_title_is_kept(seeds: Path):
    for path in sorted(seeds.glob("*.txt")):
        article = _clean_seed(seeds, path.name)
        for removal in article.removed:
            words = removal.text.split()
            # A removed line that reads like a sentence of reporting would be a loss.
            is_sentence = len(words) >= 12 and removal.text.rstrip().endswith((".", '"', "”"))
            assert not is_sentence or removal.reason.startswith("navigation list"), (
                path.name, removal)
        assert article.title is None or article.title in article.text
        assert not any(r.text.lower().startswith("by ") for r in article.removed)


def test_every_removal_carries_a_reason():
    cleaned = clean_text("Storm hits coast\nShare this article\nThe storm hit the coast on "
                         "Monday, officials said.\nAdvertisement\nSubscribe to our newsletter")
    assert [(r.text, r.reason) for r in cleaned.removed] == [
        ("Share this article", "share widget"),
        ("Advertisement", "advertisement"),
        ("Subscribe to our newsletter", "newsletter widget"),
    ]
    assert cleaned.lines == ["Storm hits coast",
                             "The storm hit the coast on Monday, officials said."]


def test_generic_widgets_from_other_sites_are_removed():
    text = "\n".join([
        "Council approves new budget",
        "By Jane Doe",
        "The council approved a budget of 4 million euros on Tuesday.",
        "We use cookies to improve your experience. By continuing you accept our cookie policy.",
        "Related Articles",
        "Mayor opens new library",
        "School year starts early",
        "Leave a comment",
        "© 2024 Example Media Group",
    ])
    cleaned = clean_text(text)
    assert cleaned.lines == [
        "Council approves new budget",
        "By Jane Doe",
        "The council approved a budget of 4 million euros on Tuesday.",
    ]
    reasons = {r.text: r.reason for r in cleaned.removed}
    assert reasons["Leave a comment"] == "comment widget"
    assert reasons["© 2024 Example Media Group"] == "footer"


def test_a_sentence_that_mentions_a_widget_word_is_kept():
    text = ("Readers can share their views at the town hall, the mayor said.\n"
            "The company said it would advertise the jobs in the newspaper next week.")
    assert clean_text(text).removed == []


def test_an_article_left_empty_after_cleaning_is_skipped_with_a_reason():
    result = clean_document(Document(origin="ads.txt", text="Advertisement\nShare\nContact Us"))
    assert isinstance(result, Skip)
    assert "nothing left after cleaning" in result.reason


def test_article_id_is_stable_and_depends_on_the_cleaned_text():
    a = clean_document(Document(origin="a.txt", text="Advertisement\nThe bridge reopened today."))
    b = clean_document(Document(origin="b.txt", text="The bridge reopened today.\nShare"))
    assert isinstance(a, Article) and isinstance(b, Article)
    assert a.id == b.id and len(a.id) == 16
