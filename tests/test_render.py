"""The JSON contract on hand-built results: disputes, how sentences were written, strict counts."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from summarizer.models import (
    Article,
    ArticleSummary,
    Citation,
    Dispute,
    Faithfulness,
    Result,
    Sentence,
    Side,
    SourceCount,
    StorySummary,
    Usage,
    Writing,
)
from summarizer.render import to_json

SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "summarizer" /
                     "output.schema.json").read_text())
REASON = "words 'instead', 'role' not in the sources"
COURIER = Article(
    id="a1", origin="/home/me/scrape/courier.txt", source="Courier",
    title="Kessing Street Bridge closed",
    text="The Kessing Street Bridge closed on Monday. The bridge is 140 meters long.")
LEDGER = Article(
    id="a2", origin="posted article 2", sources=("Ledger", "Post"),
    text="Crews closed the Kessing Street Bridge on Monday. The bridge is 150 meters long.")
NAMELESS = Article(
    id="a3", origin="/home/me/scrape/000_09417d7203987600.txt",
    text="Officials in Aldermoor County said repairs to the old river crossing could take "
         "most of the year.")


def _cite(article: Article, words: str, no: int) -> Citation:
    start = article.text.index(words)
    return Citation(article_id=article.id, passage=f"{no}.1", start=start,
                    end=start + len(words), quote=words)


CLOSED_1 = _cite(COURIER, "The Kessing Street Bridge closed on Monday.", 1)
CLOSED_2 = _cite(LEDGER, "Crews closed the Kessing Street Bridge on Monday.", 2)
LONG_1 = _cite(COURIER, "The bridge is 140 meters long.", 1)
LONG_2 = _cite(LEDGER, "The bridge is 150 meters long.", 2)
REPAIRS = _cite(NAMELESS, NAMELESS.text, 3)

QUOTED = Sentence(text=CLOSED_1.quote, support="supported", citations=(CLOSED_1,),
                  written="quoted")
DOUBTED = Sentence(text="The mayor instead took on a new role.", support="unsupported",
                   citations=(CLOSED_1,), reason=REASON, written="fused")
FUSED = Sentence(text="The Kessing Street Bridge was closed on Monday.", support="supported",
                 citations=(CLOSED_1, CLOSED_2), written="fused",
                 sources=SourceCount(supporting=3, total=4, outlets=("Courier", "Ledger", "Post")))
LONE = Sentence(text=REPAIRS.quote, support="supported", citations=(REPAIRS,), written="quoted",
                sources=SourceCount(supporting=1, total=4, outlets=()))
LENGTH = Dispute(text="Sources differ: the bridge's length", sides=(
    Side(outlets=("Courier",), value="140 meters", citation=LONG_1),
    Side(outlets=("Ledger", "Post"), value="150 meters", citation=LONG_2),
))
USAGE = Usage(backend="scripted", model="test")


def _one_off(**changes) -> Result:
    """Three articles: one with a doubted sentence and two left out, one with every sentence
    left out, one with no outlet and no title; an overview with a dispute."""
    result = Result(
        articles=(ArticleSummary(article=COURIER, summary=(QUOTED, DOUBTED), dropped=2),
                  ArticleSummary(article=LEDGER, summary=(), dropped=1),
                  ArticleSummary(article=NAMELESS, summary=())),
        overview=(FUSED, LONE),
        disputes=(LENGTH,),
        overview_dropped=1,
        duplicates=(), skipped=(), usage=USAGE,
        faithfulness=Faithfulness(supported=3, unsupported=5, score=0.375, dropped=4),
        writing=Writing(mode="fused", fused_attempted=3, fused_kept=2),
    )
    return result.model_copy(update=changes)


def _digest() -> Result:
    story = StorySummary(id="s1", title="Bridge closed", article_ids=("a1", "a2"),
                         summary=(FUSED,), disputes=(LENGTH,), dropped=1)
    empty = StorySummary(id="s2", title="Repairs", article_ids=("a3",), summary=())
    return _one_off(overview=(), disputes=(), overview_dropped=0, stories=(story, empty))


def test_json_carries_how_sentences_were_written_disputes_and_what_was_left_out():
    data = to_json(_one_off())
    jsonschema.validate(data, SCHEMA)
    courier = data["articles"][0]
    assert [s["written"] for s in courier["summary"]] == ["quoted", "fused"]
    assert courier["summary"][1]["reason"] == REASON  # the reason stays in JSON
    assert [a["dropped"] for a in data["articles"]] == [2, 1, 0]
    assert data["overview_dropped"] == 1
    assert data["disputes"] == [{"text": LENGTH.text, "sides": [
        {"outlets": ["Courier"], "value": "140 meters", "citation": LONG_1.model_dump()},
        {"outlets": ["Ledger", "Post"], "value": "150 meters", "citation": LONG_2.model_dump()},
    ]}]
    assert data["writing"] == {"mode": "fused", "fused_attempted": 3, "fused_kept": 2}
    assert data["overview"][0]["sources"] == {"supporting": 3, "total": 4,
                                              "outlets": ["Courier", "Ledger", "Post"]}
    assert data["articles"][2]["source"] is None and data["articles"][2]["sources"] == []


def test_a_digest_json_validates_with_story_disputes():
    data = to_json(_digest())
    jsonschema.validate(data, SCHEMA)
    story = data["stories"][0]
    assert story["dropped"] == 1 and story["disputes"][0]["sides"][1]["value"] == "150 meters"
    assert data["stories"][1]["disputes"] == [] and data["writing"]["mode"] == "fused"


@pytest.mark.parametrize("broken", [
    lambda d: d["disputes"][0].update(sides=d["disputes"][0]["sides"][:1]),
    lambda d: d["articles"][0]["summary"][0].update(written="paraphrased"),
    lambda d: d["articles"][0].update(dropped=-1),
])
def test_the_schema_refuses_what_the_contract_rules_out(broken):
    data = to_json(_one_off())
    broken(data)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, SCHEMA)


def test_a_run_without_writing_stats_says_null():
    data = to_json(_one_off(writing=None))
    jsonschema.validate(data, SCHEMA)
    assert data["writing"] is None
