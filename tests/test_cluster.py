"""Articles on one event form one story; other events, and reports days apart, stay apart."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest

from summarizer.clean import clean_document
from summarizer.cluster import CLUSTER_THRESHOLD, Story, cluster, continues, same_event, story_id
from summarizer.ingest import read_inputs
from summarizer.models import Article, Document

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SEEDS = Path(__file__).resolve().parents[2] / "shared" / "data" / "seeds"
OCTOBER = {"000": "2015-10-02", "001": "2015-10-02", "002": "2015-10-03", "004": "2015-10-03"}


def _article(text: str, title: str, published: str | None = None,
             source: str | None = None) -> Article:
    article = clean_document(Document(origin=f"{title}.txt", text=text, title=title,
                                      published=published, source=source))
    assert isinstance(article, Article)
    return article


LIBRARY = _article(
    "The Harwick Public Library will open on Sundays from 10 a.m. to 4 p.m. starting in April, "
    "head librarian Maud Ellery said on Tuesday.\n"
    "Weekday opening hours stay the same. Ellery said volunteers from the Friends of Harwick "
    "Library will staff the reading room and the children's corner on Sunday afternoons.\n"
    "The longer weekend hours are paid for by a two-year grant from the Penwyn Trust.",
    "Harwick library to open on Sundays from April", "2026-03-14")
FOOTBALL = _article(
    "Castlemere Rovers came from behind to beat Dunley Athletic 3-1 at Ferris Park on Saturday.\n"
    "Striker Jonas Pirrie scored twice in the second half after Dunley took an early lead "
    "from the penalty spot.\n"
    "Rovers manager Edda Strand said the win keeps the club in the race for promotion with six "
    "league games left.",
    "Castlemere Rovers beat Dunley Athletic 3-1", "2026-03-14")
COUNCIL = _article(
    "Orlen town council voted 7 to 4 on Monday night to approve next year's budget, which raises "
    "parking fees in the town centre by 20 cents an hour.\n"
    "Councillor Bram Tollis, who voted against the budget, said the higher fees would hurt shops "
    "on Market Street.\n"
    "The budget also pays for two new street cleaners and repairs to the Orlen swimming pool.",
    "Orlen council approves budget with higher parking fees", "2026-03-15")
FOLLOW_UP = _article(
    "Divers on Sunday lifted the white delivery van that fell from the Kessing Street Bridge "
    "out of the Velle River in Brackwater, a day after the bridge's central span collapsed.\n"
    "Aldermoor County Fire Chief Tomas Reyle said the river had dropped half a meter overnight, "
    "which let a crane on Weir Lane reach the van.\n"
    "The Kessing Street Bridge stays closed, and the Brackwater Courier will report on the "
    "inspection of its remaining spans, which begins on Monday.",
    "Divers recover van from Velle River after Kessing Street Bridge collapse", "2026-03-15",
    "The Brackwater Courier")
INSPECTION = _article(
    "Engineers from the Regional Transport Authority began inspecting the three remaining spans "
    "of the Kessing Street Bridge in Brackwater on Monday, two days after its central span fell "
    "into the Velle River.\n"
    "Inspector Gideon Marsh said the team would examine the piers of the Kessing Street Bridge "
    "with divers and sonar while the Velle River is still high.\n"
    "Aldermoor County engineer Priya Venholt said the bridge would stay closed until the "
    "inspection report is published.",
    "Inspectors begin work on Kessing Street Bridge", "2026-03-16", "The Brackwater Courier")
BRIDGE_SUMMARY = (
    "Kessing Street Bridge collapses into flooded Velle River",
    "The central span of the Kessing Street Bridge in Brackwater collapsed into the flooded Velle "
    "River on Saturday, March 14, 2026, sending three vehicles into the river.",
    "Two people died and seven were injured, the Aldermoor County Fire Service said.",
    "Brackwater Mayor Delphine Arkwright declared a local state of emergency.",
)
LIBRARY_SUMMARY = (
    "Harwick library to open on Sundays from April",
    "The Harwick Public Library will open on Sundays from April, paid for by a Penwyn Trust grant.",
)


def _bridge() -> list[Article]:
    docs, skips = read_inputs([str(EXAMPLES)])
    assert not skips and len(docs) == 4
    articles = [clean_document(doc) for doc in docs]
    assert all(isinstance(a, Article) for a in articles)
    return articles


def _seeds() -> dict[str, Article]:
    if not SEEDS.is_dir():
        pytest.skip(f"shared seed articles not found at {SEEDS}")
    articles = {}
    for path in sorted(SEEDS.glob("*.txt")):
        article = clean_document(Document(origin=str(path), text=path.read_text(encoding="utf-8")))
        assert isinstance(article, Article)
        articles[path.name[:3]] = article
    return articles


def _groups(stories: list[Story], names: dict[str, Article]) -> list[set[str]]:
    """Each story as the set of test names of its articles."""
    by_id = {article.id: name for name, article in names.items()}
    return [{by_id[i] for i in story.article_ids} for story in stories]


def test_dated_october_reports_form_one_story_and_the_february_follow_up_stays_apart():
    seeds = _seeds()
    dated = {name: a.model_copy(update={"published": OCTOBER.get(name, "2016-02-15")})
             for name, a in seeds.items()}
    groups = _groups(cluster(list(dated.values())), dated)
    assert {"000", "001", "002", "004"} in groups
    assert {"003"} in groups


def test_undated_october_reports_form_one_story_by_their_text_alone():
    seeds = _seeds()
    groups = _groups(cluster(list(seeds.values())), seeds)
    october = next(g for g in groups if "000" in g)
    assert {"000", "001", "002", "004"} <= october
    # 003 (Turkey asks for ground troops, months later) shares the topic, not the event; its
    # average score against the October reports sits just below the threshold (0.235), so it is
    # not asserted either way here: with dates (the test above) it is kept apart for certain.


def test_four_outlets_on_the_bridge_collapse_form_one_story_and_unrelated_news_stays_alone():
    bridge = _bridge()
    names = {f"bridge{n}": a for n, a in enumerate(bridge)}
    names |= {"library": LIBRARY, "football": FOOTBALL, "council": COUNCIL}
    stories = cluster(list(names.values()))
    groups = _groups(stories, names)
    assert set(f"bridge{n}" for n in range(4)) in groups
    for name in ("library", "football", "council"):
        assert {name} in groups
    story = next(s for s in stories if len(s.article_ids) == 4)
    assert story.title == "Kessing Street Bridge collapses into flooded Velle River"  # earliest
    assert story.article_ids == tuple(a.id for a in bridge)  # in the order given


def test_a_next_day_follow_up_joins_its_story_and_a_report_five_days_later_does_not():
    bridge = _bridge()
    late = FOLLOW_UP.model_copy(update={"published": "2026-03-19", "id": "late"})
    stories = cluster([*bridge, FOLLOW_UP, late], max_days=3)
    groups = [set(s.article_ids) for s in stories]
    assert {a.id for a in bridge} | {FOLLOW_UP.id} in groups
    assert {"late"} in groups
    # The same five days are no obstacle when the limit is wider.
    wide = cluster([*bridge, FOLLOW_UP, late], max_days=7)
    assert len(wide) == 1


def test_unknown_dates_do_not_keep_a_report_out_of_its_story():
    bridge = _bridge()
    undated = FOLLOW_UP.model_copy(update={"published": None})
    assert len(cluster([*bridge, undated])) == 1


def test_a_story_continues_the_earlier_story_on_the_same_event_only():
    earlier = [("library-story", LIBRARY_SUMMARY), ("bridge-story", BRIDGE_SUMMARY)]
    assert continues([INSPECTION], earlier) == "bridge-story"
    assert continues([FOOTBALL], earlier) is None
    assert continues([COUNCIL], earlier) is None
    assert continues([INSPECTION], [("library-story", LIBRARY_SUMMARY)]) is None
    assert continues([INSPECTION], []) is None


def test_same_event_scores_reports_of_one_event_above_the_threshold_and_others_below():
    bridge = _bridge()
    corpus = [a.text for a in (*bridge, LIBRARY, FOOTBALL, COUNCIL)]
    assert same_event(bridge[0].text, bridge[1].text, corpus=corpus) >= CLUSTER_THRESHOLD
    assert same_event(bridge[0].text, COUNCIL.text, corpus=corpus) < CLUSTER_THRESHOLD
    assert 0.0 <= same_event("", "") <= 1.0


def test_story_ids_are_stable_and_input_order_does_not_change_the_grouping():
    articles = [*_bridge(), LIBRARY, FOOTBALL, COUNCIL, FOLLOW_UP]
    first = cluster(articles)
    assert cluster(articles) == first
    expected = {s.id: set(s.article_ids) for s in first}
    rng = random.Random(7)
    for _ in range(5):
        shuffled = articles[:]
        rng.shuffle(shuffled)
        again = cluster(shuffled)
        assert {s.id: set(s.article_ids) for s in again} == expected
        assert {s.id: s.title for s in again} == {s.id: s.title for s in first}
    for story in first:
        assert story.id == story_id(reversed(story.article_ids))
        assert len(story.id) == 16 and int(story.id, 16) >= 0
    # The id is a pure function of the article ids, so it is the same in every process.
    assert story_id(["b", "a"]) == hashlib.sha1(b"a\nb").hexdigest()[:16]


def test_no_articles_no_stories_and_one_article_one_story():
    assert cluster([]) == []
    [story] = cluster([LIBRARY])
    assert story.article_ids == (LIBRARY.id,) and story.title == LIBRARY.title


def test_a_later_event_on_the_same_topic_does_not_continue_the_earlier_story():
    seeds = _seeds()
    october = [("october", [seeds[n].title or seeds[n].text.split("\n")[0]
                            for n in ("000", "001", "002", "004")])]
    assert continues([seeds["003"]], october) is None
    assert continues([seeds["001"]], october) == "october"
