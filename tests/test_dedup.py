"""Duplicate paragraphs and articles are summarised once, and every removal is recorded."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from summarizer.clean import clean_document
from summarizer.dedup import ArticleIndex, dedup
from summarizer.ingest import read_inputs
from summarizer.models import Article, Document
from summarizer.text import normalise

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _article(text: str, origin: str = "a.txt", source: str | None = None) -> Article:
    article = clean_document(Document(origin=origin, text=text, source=source))
    assert isinstance(article, Article)
    return article


def _kept_paragraphs(result, article: Article) -> list[str]:
    return [article.text[s.start : s.end] for s in result.paragraphs[article.id]]


REPORT = ("The river rose two metres overnight and flooded the lower town, the mayor said on "
          "Sunday.")


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


LONG_REPORT = (f"{REPORT} Rescue teams moved forty families from houses near the old bridge "
               "before midnight, and the weather service warned that more rain would fall on "
               "the hills above the valley on Wednesday.")


def test_a_near_duplicate_paragraph_is_removed():
    edited = LONG_REPORT.replace("forty families", "40 families")
    result = dedup([_article(f"One\n{LONG_REPORT}", "one.txt"),
                    second := _article(f"Two\n{edited}", "two.txt")])
    assert _kept_paragraphs(result, second) == ["Two"]
    assert result.duplicates[0].text == edited


@pytest.mark.parametrize("change", [
    ("forty", "fifty"), ("forty", "seventy"), ("millions", "billions"),
    ("Wednesday", "Thursday"), ("Sept.", "Oct."), ("will", "will not"), ("will", "cannot"),
])
def test_a_near_copy_with_another_number_day_month_or_denial_is_kept_so_the_dispute_shows(change):
    report = f"{LONG_REPORT} The county will reopen the bridge on Wednesday, Sept. 3, at a cost " \
        "of millions."
    edited = report.replace(*change)
    result = dedup([_article(f"One\n{report}", "one.txt"),
                    second := _article(f"Two\n{edited}", "two.txt")])
    assert _kept_paragraphs(result, second) == ["Two", edited]
    assert result.duplicates == []


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


WIRE_BODY = [
    "A fire destroyed the grain warehouse on the Tolvey quayside on Tuesday, the fire brigade "
    "said.",
    "Fire Chief Ansel Kray said 28 firefighters and five engines fought the fire for four hours "
    "before it was under control at about 2:40 p.m.",
    "No one was hurt, but 35 workers were moved out of two neighbouring buildings on the quayside "
    "as a precaution, Ansel Kray said.",
    "The warehouse held about 1,900 tonnes of barley that belonged to the Orrel Growers "
    "Cooperative, cooperative manager Ruth Danby said.",
    "Ruth Danby said the barley was insured and that the cooperative would buy grain from farmers "
    "in the valley to meet its spring orders.",
    "The quayside road will stay closed until Thursday while engineers check the quay wall, the "
    "Tolvey town council said.",
]


def _outlet_copy() -> Article:
    body = "\n".join([f"TOLVEY - {WIRE_BODY[0]}", *WIRE_BODY[1:]])
    return _article(f"Fire destroys Tolvey grain warehouse\nBy Ada Morrow, The Tolvey Sentinel\n"
                    f"{body}\nCopyright 2026 Tolvey Sentinel Media", "sentinel.txt")


def _wire_copy(body: list[str] | None = None) -> Article:
    body = body or WIRE_BODY
    text = "\n".join([f"TOLVEY (Carrow Press) - {body[0]}", *body[1:]])
    return _article(f"Warehouse blaze on Tolvey quay burns for four hours\n7 April 2026\n{text}\n"
                    "Reporting by Ivo Pell; editing by Nora Fenn.\n(c) Carrow Press 2026",
                    "wire.txt")


def test_a_wire_copy_with_its_own_headline_dateline_and_footer_merges_into_the_original():
    original, copy = _outlet_copy(), _wire_copy()
    assert (original.source, copy.source) == ("The Tolvey Sentinel", "Carrow Press")
    result = dedup([original, copy])
    assert [a.id for a in result.articles] == [original.id]
    assert result.articles[0].sources == ("The Tolvey Sentinel", "Carrow Press")
    assert [(d.kind, d.article_id, d.duplicate_of) for d in result.duplicates] == [
        ("article", copy.id, original.id)]
    # Summarised once: the original keeps every paragraph, nothing is counted twice.
    assert len(_kept_paragraphs(result, original)) == len(original.text.split("\n"))


def test_a_wire_copy_with_a_reworded_paragraph_still_merges():
    edited = [*WIRE_BODY]
    edited[2] = edited[2].replace("neighbouring", "nearby")
    result = dedup([_outlet_copy(), _wire_copy(edited)])
    assert len(result.articles) == 1
    assert result.articles[0].sources == ("The Tolvey Sentinel", "Carrow Press")


def test_the_article_index_finds_a_wire_copy_for_the_service():
    index = ArticleIndex()
    original = _outlet_copy()
    index.add(original)
    assert index.find(_wire_copy()) == original.id
    assert index.find(_article(f"Harbour news\n{REPORT}", "other.txt")) is None


def test_articles_that_share_one_wire_paragraph_stay_apart():
    own = [
        "Barley prices at the valley grain exchange rose 6 percent on Wednesday, exchange "
        "director Piet Halloran said.",
        "Traders expect prices to settle within two weeks because the spring harvest was large.",
        "Farmer Agnes Rook said she had already been asked to sell 300 tonnes of barley.",
        "The fire brigade said its investigators had not yet found the cause of the fire.",
    ]
    other = _article("\n".join(["Barley prices jump after fire", "By Mirela Quast, Valley Star",
                                f"TOLVEY (Carrow Press) - {WIRE_BODY[0]}", *own]), "star.txt")
    original = _outlet_copy()
    result = dedup([original, other])
    assert [a.id for a in result.articles] == [original.id, other.id]
    assert result.articles[1].sources == ("Valley Star",)
    # The shared paragraph itself is still summarised once.
    assert [d.kind for d in result.duplicates] == ["paragraph"]


def test_an_article_that_adds_much_of_its_own_reporting_to_wire_paragraphs_stays_apart():
    own = [f"Resident {name} said the smoke could be seen from the hills above Tolvey for most of "
           "the afternoon, and that the quayside cafes had closed early." for name in
           ("Lio Marsh", "Enid Carr", "Tam Voss")]
    longer = _article("\n".join(["Tolvey fire seen for miles", *WIRE_BODY[:3], *own]), "long.txt")
    result = dedup([_outlet_copy(), longer])
    assert len(result.articles) == 2
    assert [d.kind for d in result.duplicates] == ["paragraph"] * 3


def test_a_copy_must_come_from_one_article_not_be_pieced_together_from_two():
    first = _article("\n".join(["First", *WIRE_BODY[:3]]), "first.txt")
    second = _article("\n".join(["Second", *WIRE_BODY[3:]]), "second.txt")
    both = _article("\n".join(["Both", *WIRE_BODY]), "both.txt")
    result = dedup([first, second, both])
    assert len(result.articles) == 3
    assert not [d for d in result.duplicates if d.kind == "article"]


def test_the_examples_that_share_one_wire_paragraph_are_not_merged():
    docs, _ = read_inputs([str(EXAMPLES)])
    articles = [a for a in (clean_document(d) for d in docs) if isinstance(a, Article)]
    result = dedup(articles)
    assert len(result.articles) == 4
    assert [d.kind for d in result.duplicates].count("article") == 0
    assert all(len(a.sources) == 1 for a in result.articles)


def test_copies_of_articles_that_name_no_outlet_each_stay_one_outlet():
    body = "\n".join(f"The county closed road number {k} in Tolvey on Monday because of the "
                     "flood, the council said today." for k in range(5))
    unnamed = _article(f"Headline\n{body}", "a.txt")
    copy = _article(f"Copy\n{body}", "b.txt").model_copy(update={"sources": ("Reuters",)})
    (merged,) = dedup([unnamed, copy]).articles
    assert merged.sources == ("unknown outlet", "Reuters")


def test_a_copy_of_an_article_known_by_its_source_alone_keeps_that_outlet():
    body = "\n".join(f"The county closed road number {k} in Tolvey on Monday because of the "
                     "flood, the council said today." for k in range(5))
    first = _article(f"Headline\n{body}", "a.txt").model_copy(update={"source": "Courier",
                                                                       "sources": ()})
    copy = _article(f"Copy\n{body}", "b.txt", source="Reuters")
    (merged,) = dedup([first, copy]).articles
    assert merged.sources == ("Courier", "Reuters")


# Made-up words, so that texts share vocabulary without sharing sentences, as one story's
# coverage does; no number, day, month or denial among them.
VOCABULARY = [a + b for a in ("ka", "lo", "mi", "ren", "to", "sa", "vel", "dor", "pe", "bri")
              for b in ("ga", "nu", "ris", "tol", "me", "da", "fen", "sko")]


def _story(seed: int, sentences: int = 24) -> list[str]:
    """Sentences of 12 to 20 words drawn from the shared vocabulary."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(12, 20))).capitalize()
            + "." for _ in range(sentences)]


def _edited(sentences: list[str], every: int) -> list[str]:
    """The sentences with one word in `every` substituted, deleted or given a word before it."""
    words = " ".join(sentences).split(" ")
    out = []
    for i, word in enumerate(words):
        kind = (i // every) % 3
        if i % every != every // 2:
            out.append(word)
        elif kind == 0:
            out.append("zorbel" + word[-1] if word.endswith(".") else "zorbel")
        elif kind == 1:
            out.extend(["zorbel", word])
        elif word.endswith("."):
            out[-1] += "."
    return " ".join(out).replace(". ", ".\n").split("\n")


def _two_paragraphs(sentences: list[str], title: str) -> str:
    # Two long paragraphs: too few for a body copy, so the whole text must give it away.
    half = len(sentences) // 2
    return "\n".join([title, " ".join(sentences[:half]), " ".join(sentences[half:])])


def test_a_copy_with_two_percent_of_its_words_edited_is_merged_into_the_original():
    story = _story(1)
    original = _article(_two_paragraphs(story, "Quayside plans"), "a.txt", source="Daily A")
    copy = _article(_two_paragraphs(_edited(story, 50), "Quayside plans"), "b.txt",
                    source="Evening B")
    assert copy.text != original.text
    result = dedup([original, copy])
    assert [a.id for a in result.articles] == [original.id]
    assert result.articles[0].sources == ("Daily A", "Evening B")
    index = ArticleIndex()
    index.add(original)
    assert index.find(copy) == original.id


def test_a_copy_with_one_word_in_thirty_edited_is_still_merged():
    story = _story(2)
    original = _article(" ".join(story), "a.txt")  # a feed's whole article on one line
    copy = _article(" ".join(_edited(story, 30)), "b.txt")
    assert len(dedup([original, copy]).articles) == 1


def test_an_edited_copy_that_gives_another_number_is_kept_so_the_dispute_shows():
    story = _story(3)
    story[5] = story[5][:-1] + " at a cost of 40 crowns."
    edited = _edited(story, 50)
    edited[5] = edited[5].replace("40 crowns", "45 crowns")
    assert "45 crowns" in edited[5]
    result = dedup([_article(_two_paragraphs(story, "Costs"), "a.txt"),
                    _article(_two_paragraphs(edited, "Costs"), "b.txt")])
    assert len(result.articles) == 2


def test_different_articles_that_share_one_vocabulary_stay_apart():
    articles = [_article(_two_paragraphs(_story(seed), f"Report {seed}"), f"{seed}.txt")
                for seed in range(10, 30)]
    result = dedup(articles)
    assert len(result.articles) == 20
    assert not [d for d in result.duplicates if d.kind == "article"]


def test_an_update_that_adds_a_third_more_reporting_stays_apart():
    story = _story(4)
    update = story + _story(5, sentences=len(story) // 3)
    result = dedup([_article(_two_paragraphs(story, "Quay"), "a.txt"),
                    _article(_two_paragraphs(update, "Quay"), "b.txt")])
    assert len(result.articles) == 2
