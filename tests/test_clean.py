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
    assert reasons["© 2024 Example Media Group"] == "copyright notice"


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


REPORT = "The harbour reopened on Monday after the storm, the port authority said."


def _reasons(text: str) -> dict[str, str]:
    return {r.text: r.reason for r in clean_text(text).removed}


def _article(text: str, **metadata: str) -> Article:
    article = clean_document(Document(origin="/data/scrape/harbour.txt", text=text, **metadata))
    assert isinstance(article, Article)
    return article


@pytest.mark.parametrize("button", [
    "Facebook", "Twitter", "X", "Email", "WhatsApp", "LinkedIn", "Pinterest", "Reddit", "Print",
])
def test_a_share_button_alone_on_a_line_is_removed(button: str):
    cleaned = clean_text(f"Harbour reopens\n{button}\n{REPORT}")
    assert [(r.text, r.reason) for r in cleaned.removed] == [(button, "share widget")]
    assert cleaned.lines == ["Harbour reopens", REPORT]


def test_share_buttons_in_a_row_or_on_one_line_are_removed():
    text = (f"{REPORT}\nFacebook\nTwitter\nEmail\nFacebook Twitter Email\n"
            "WhatsApp | LinkedIn | Print")
    cleaned = clean_text(text)
    assert cleaned.lines == [REPORT]
    assert {r.reason for r in cleaned.removed} == {"share widget"}


@pytest.mark.parametrize("sentence", [
    "Facebook said on Monday it would remove the posts about the harbour.",
    "Twitter and Facebook both declined to comment.",
    "Email records show the harbour master knew of the cracks in 2024.",
    "Police said the suspect followed the victim on Facebook for months.",
    "Print sales of the harbour guide fell 12 percent last year.",
])
def test_a_sentence_naming_a_social_network_is_kept(sentence: str):
    assert clean_text(f"{REPORT}\n{sentence}").lines == [REPORT, sentence]


@pytest.mark.parametrize("line, reason", [
    ("Get the top stories from The Harbour Gazette in your inbox", "newsletter widget"),
    ("Sign up for our daily briefing", "newsletter widget"),
    ("Daily newsletter", "newsletter widget"),
    ("News | Sport | Weather | Opinion", "navigation bar"),
    ("Home › World › Europe", "navigation bar"),
    ("Read more: Council approves new harbour budget", "read-more link"),
    ("READ MORE: Ferry timetable changes for winter", "read-more link"),
    ("Follow us on Twitter", "social media prompt"),
    ("Follow The Harbour Gazette on Facebook and Instagram", "social media prompt"),
    ("Copyright 2026 The Associated Press. All rights reserved.", "copyright notice"),
    ("© 2026 Reuters", "copyright notice"),
    ("(c) AFP 2026", "copyright notice"),
    ("Copyright AP - Associated Press", "copyright notice"),
    ("This material may not be published, broadcast, rewritten or redistributed.",
     "copyright notice"),
])
def test_page_furniture_lines_are_removed_with_their_reason(line: str, reason: str):
    cleaned = clean_text(f"Harbour reopens\n{REPORT}\n{line}\nThe ferries will sail again on "
                         "Tuesday, the operator said.")
    assert [(r.text, r.reason) for r in cleaned.removed] == [(line, reason)]


@pytest.mark.parametrize("sentence", [
    "Sign up numbers at the harbour school rose 20 percent in March, the head teacher said.",
    "Follow-up inspections of the harbour wall are planned for April, the engineer said.",
    "Read more about the plan in the council's report, the mayor told residents.",
    "Copyright lawyers said the ruling would change the music industry.",
    "The vote was 5 | 4 | 2 in favour of the new harbour wall.",
    "Subscribers to the harbour newsletter will see a rise in fees next year.",
])
def test_a_sentence_that_starts_like_a_widget_is_kept(sentence: str):
    assert clean_text(f"{REPORT}\n{sentence}").removed == []


def test_a_read_more_line_does_not_take_the_subheading_after_it():
    cleaned = clean_text(f"{REPORT}\nRead more: Ferry timetable changes\nSchools reopen too\n"
                         "Schools near the harbour reopened on Tuesday, the council said.")
    assert "Schools reopen too" in cleaned.lines


def test_the_outlets_masthead_is_removed_and_never_the_title():
    article = _article("The Harbour Gazette\nHarbour reopens after storm\n"
                       f"By Jane Doe, The Harbour Gazette\n{REPORT}")
    assert [(r.text, r.reason) for r in article.removed] == [("The Harbour Gazette", "masthead")]
    assert article.title == "Harbour reopens after storm"
    assert article.source == "The Harbour Gazette"


def test_a_masthead_is_recognised_from_the_copyright_line_or_the_given_source():
    by_copyright = _article(f"Harbour Gazette\nHarbour reopens after storm\n{REPORT}\n"
                            "Copyright 2026 Harbour Gazette Media")
    assert by_copyright.title == "Harbour reopens after storm"
    by_source = _article(f"HARBOUR GAZETTE\nHarbour reopens after storm\n{REPORT}",
                         source="The Harbour Gazette")
    assert ("HARBOUR GAZETTE", "masthead") in [(r.text, r.reason) for r in by_source.removed]
    assert by_source.title == "Harbour reopens after storm"


def test_a_headline_that_names_the_outlet_is_not_a_masthead():
    article = _article(f"Harbour Gazette wins press award\nBy Jane Doe, The Harbour Gazette\n"
                       f"{REPORT}")
    assert article.title == "Harbour Gazette wins press award"
    assert article.removed == ()


def test_the_title_skips_mastheads_bylines_date_lines_and_widgets():
    article = _article("The Harbour Gazette\nFacebook\nMarch 14, 2026\n"
                       f"Harbour reopens after storm\nBy Jane Doe, The Harbour Gazette\n{REPORT}")
    assert article.title == "Harbour reopens after storm"
    byline_first = _article(f"By Jane Doe, The Harbour Gazette\nHarbour reopens\n{REPORT}")
    assert byline_first.title == "Harbour reopens"


def test_a_subheading_below_the_first_paragraph_is_not_the_title():
    article = _article(f"{REPORT}\nWhat happens next\nThe ferries sail again on Tuesday.")
    assert article.title is None


@pytest.mark.parametrize("text, outlet", [
    (f"Harbour reopens\nBy Jane Doe, The Courier\n{REPORT}", "The Courier"),
    (f"Harbour reopens\nBy Jane Doe and Tom Roe, Aldermoor Evening Post\n{REPORT}",
     "Aldermoor Evening Post"),
    (f"Harbour reopens\nBy Jane Doe, Staff Reporter, The Courier\n{REPORT}", "The Courier"),
    (f"Harbour reopens\n{REPORT}\nCopyright 2026 Velle Valley Ledger Media", "Velle Valley Ledger"),
    (f"Harbour reopens\n{REPORT}\nCopyright AP - Associated Press", "Associated Press"),
    (f"Harbour reopens\n{REPORT}\nCopyright 2026 The Associated Press. All rights reserved.",
     "The Associated Press"),
    (f"Harbour reopens\n{REPORT}\n(c) AFP 2026", "AFP"),
    (f"Harbour reopens\nLONDON (Reuters) - {REPORT}", "Reuters"),
])
def test_the_outlet_is_read_from_byline_copyright_or_dateline(text: str, outlet: str):
    article = _article(text)
    assert article.source == outlet
    assert article.sources == (outlet,)


def test_the_articles_own_outlet_wins_over_a_wire_in_its_dateline():
    text = (f"Harbour reopens\nBy Jane Doe - March 14, 2026\nGALLOW (Corvane Wire) - {REPORT}\n"
            "Copyright 2026 Harbour Gazette Media")
    assert _article(text).source == "Harbour Gazette"
    with_byline = f"Harbour reopens\nBy Jane Doe, The Courier\nGALLOW (Corvane Wire) - {REPORT}"
    assert _article(with_byline).source == "The Courier"


def test_no_outlet_is_made_up_when_the_text_names_none():
    for text in (f"Harbour reopens\nBy Jane Doe, Staff Reporter\n{REPORT}",
                 f"Harbour reopens\nBy Jane Doe, New York\n{REPORT}",
                 f"Harbour reopens\n{REPORT} Reuters reported the closure first."):
        article = _article(text)
        assert article.source is None and article.sources == ()


@pytest.mark.parametrize("line, day", [
    ("By Jane Doe - 16 Feb '16 12:41PM", "2016-02-16"),
    ("By Jane Doe - 3 Jan '99", "1999-01-03"),
    ("March 14, 2026", "2026-03-14"),
    ("Mar. 14, 2026", "2026-03-14"),
    ("14 March 2026", "2026-03-14"),
    ("2026-03-14", "2026-03-14"),
    ("Updated: Saturday, March 14, 2026 12:41 p.m. GMT", "2026-03-14"),
    ("By Annika Trowe - March 14, 2026", "2026-03-14"),
])
def test_a_date_near_the_top_fills_published(line: str, day: str):
    assert _article(f"Harbour reopens\n{line}\n{REPORT}").published == day


def test_dates_in_the_reporting_or_in_other_stories_headlines_are_not_the_publication_date():
    in_reporting = _article(f"Harbour reopens\nThe harbour closed on March 14, 2026.\n{REPORT}")
    assert in_reporting.published is None
    in_link_list = _article("Ferry fares rise - March 2, 2026\n-\nNew pier opens - March 9, 2026\n"
                            f"Harbour reopens\nBy Jane Doe\n{REPORT}")
    assert in_link_list.published is None
    impossible = _article(f"Harbour reopens\nBy Jane Doe - 31 Feb 2026\n{REPORT}")
    assert impossible.published is None


def test_the_documents_own_metadata_wins_over_what_the_text_says():
    article = _article(f"The Courier\nHarbour reopens\nBy Jane Doe, The Courier - March 14, 2026\n"
                       f"{REPORT}", title="Port back in business", source="Harbour Gazette",
                       published="2026-03-15T08:00:00Z")
    assert (article.title, article.source, article.published) == (
        "Port back in business", "Harbour Gazette", "2026-03-15T08:00:00Z")
    assert article.sources == ("Harbour Gazette",)


def test_metadata_is_read_from_the_seeds(seeds: Path):
    with_copyright = _clean_seed(seeds, "001_a5f86b1fed751c6c.txt")
    assert with_copyright.source == "Associated Press"
    assert with_copyright.sources == ("Associated Press",)
    with_byline = _clean_seed(seeds, "003_5fb2f7793c40ad83.txt")
    assert with_byline.published == "2016-02-16"
    assert with_byline.title is not None and not with_byline.title.startswith("By ")
    for path in sorted(seeds.glob("*.txt")):
        article = _clean_seed(seeds, path.name)
        # Passing mentions of a wire ("told AFP", "reported by Reuters") are not the outlet.
        assert article.source in (None, "Associated Press"), path.name


# The boilerplate lines examples/README.md lists for each file; every other line is reporting.
EXAMPLE_BOILERPLATE = {
    "01_brackwater_courier.json": {
        "Ten tips for a greener garden - March 2, 2026", "-",
        "Brackwater library extends weekend hours - March 9, 2026",
        "High school chess team wins county title - March 11, 2026",
        "New bakery opens on Tanner Lane - March 12, 2026",
        "Council approves spring road resurfacing plan - March 13, 2026",
        "Advertisement", "Share this article", "Related",
        "Five spring hikes within an hour of Brackwater",
        "Youth orchestra announces summer concert series",
        "Farmers market returns to Mill Street in April",
        "Copyright 2026 Brackwater Courier Media", "All rights reserved.",
    },
    "02_aldermoor_evening_post.json": {
        "Advertisement", "Sign up for our morning newsletter", "Comments About This Article",
        "Please fill the fields below.", "Join the Conversation", "Leave a comment", "Contact Us",
        "Privacy Policy",
    },
    "03_velle_valley_ledger.txt": {
        "We use cookies to improve your experience. Accept", "Share this article", "The Next Read",
        "Velle Valley cider makers expect record apple harvest",
        "Retired teacher publishes history of the Brackwater tannery",
        "Copyright 2026 Velle Valley Ledger Media", "Contact Us", "Privacy Policy",
        "All rights reserved.",
    },
    "04_northfold_daily_record.html": set(),  # the page's furniture never leaves the HTML
}


def _clean_examples() -> dict[str, tuple[Document, Article]]:
    from summarizer.ingest import read_inputs

    docs, skips = read_inputs([str(Path(__file__).resolve().parent.parent / "examples")])
    assert skips == [] and len(docs) == len(EXAMPLE_BOILERPLATE)
    cleaned = {}
    for doc in docs:
        article = clean_document(doc)
        assert isinstance(article, Article)
        cleaned[Path(doc.origin).name] = (doc, article)
    return cleaned


def test_every_reporting_line_of_the_examples_is_kept_and_only_boilerplate_removed():
    for name, (doc, article) in _clean_examples().items():
        boilerplate = EXAMPLE_BOILERPLATE[name]
        written = [line.strip() for line in doc.text.splitlines() if line.strip()]
        assert article.text.split("\n") == [line for line in written if line not in boilerplate]
        assert {r.text for r in article.removed} == boilerplate, name


def test_metadata_is_read_from_the_plain_text_example():
    _, article = _clean_examples()["03_velle_valley_ledger.txt"]
    assert article.title == "Brackwater bridge had been flagged for pier repairs before collapse"
    # The Ledger's own copyright line, not the wire in the first paragraph's dateline.
    assert article.source == "Velle Valley Ledger"
    assert article.sources == ("Velle Valley Ledger",)
    assert article.published == "2026-03-14"
