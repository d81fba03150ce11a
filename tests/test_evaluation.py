"""Pipeline eval metrics: each one catches the fault it names."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
from conftest import EXAMPLES, ROOT

from summarizer.evaluation.metrics import (
    KeyFact,
    covering,
    load_key_facts,
    load_labels,
    mentions,
    position_bias,
    score_labels,
    score_run,
    sentence_key,
    true_among_supported,
)
from summarizer.evaluation.suite import KEY_FACTS, run_pipeline_evals
from summarizer.ingest import read_inputs
from summarizer.llm.scripted import ScriptedBackend
from summarizer.models import (
    Article,
    ArticleSummary,
    Citation,
    Dispute,
    Document,
    Faithfulness,
    Removal,
    Result,
    Sentence,
    Side,
    SourceCount,
    Usage,
    Writing,
)
from summarizer.pipeline import summarize

INSPECTION = ("A 2023 inspection report by the Aldermoor County Highways Department recommended "
              "4.8 million dollars in repairs to the piers of the Kessing Street Bridge.")
BUILT = ("The Kessing Street Bridge was built in 1962, is 140 meters long and has four spans, the "
         "Aldermoor County Highways Department said.")
LEDGER = Article(id="ledger", origin="ledger.txt", text=f"{INSPECTION}\n{BUILT}",
                 removed=(Removal(text="We use cookies to improve your experience. Accept",
                                  reason="boilerplate"),
                          Removal(text="Share this article", reason="boilerplate")))


def _cite(article: Article, quote: str) -> Citation:
    start = article.text.index(quote)
    return Citation(article_id=article.id, passage="1.1", start=start, end=start + len(quote),
                    quote=quote)


def _sentence(text: str, *citations: Citation, supporting: int | None = None) -> Sentence:
    sources = None if supporting is None else SourceCount(supporting=supporting, total=3)
    return Sentence(text=text, support="supported", citations=citations, sources=sources,
                    written="quoted")


def _result(summary: tuple[Sentence, ...] = (), overview: tuple[Sentence, ...] = (),
            disputes: tuple[Dispute, ...] = (), writing: Writing | None = None) -> Result:
    return Result(articles=(ArticleSummary(article=LEDGER, summary=summary),), overview=overview,
                  duplicates=(), skipped=(), usage=Usage(backend="scripted", model="test"),
                  faithfulness=Faithfulness(supported=1, unsupported=0, score=1.0),
                  disputes=disputes, writing=writing)


def _side(outlet: str, value: str, quote: str) -> Side:
    article = Article(id=outlet, origin=f"{outlet}.txt", text=quote)
    return Side(outlets=(outlet,), value=value, citation=_cite(article, quote))


def test_the_examples_score_clean_on_the_extractive_stand_in():
    docs, skips = read_inputs([str(EXAMPLES)])
    scores = score_run("examples", asyncio.run(summarize(docs, skips,
                                                         backend=ScriptedBackend())))
    assert scores.articles == 4 and scores.sentences > 10
    for metric in ("leakage_free", "duplicates_once", "citation_validity", "citation_recall",
                   "citation_precision", "faithfulness"):
        assert scores.metrics[metric] == 1.0, metric
    assert 0 < scores.metrics["coverage"] <= 1
    assert scores.leaks == []


def test_a_run_is_held_to_the_hand_labels_of_its_set():
    true, false, unread = (_sentence("Inspectors closed the bridge in 2019."),
                           _sentence("The bridge was built in 1926."),
                           _sentence("Nobody has read this one."))
    flagged = Sentence(text="Three died.", support="unsupported", written="quoted")
    labels = {("examples", "quoted", "article 1", sentence_key(true.text)): True,
              ("examples", "quoted", "article 1", sentence_key(false.text)): False,
              ("examples", "quoted", "overview", sentence_key(flagged.text)): False,
              ("examples", "fused", "article 1", sentence_key(unread.text)): True}
    result = _result(summary=(true, false, unread), overview=(flagged,),
                     writing=Writing(mode="quoted"))
    held = score_labels("examples", result, labels)
    assert held is not None
    # the flagged sentence is false but not marked supported; the unread one is labelled only
    # in fused mode, so in this quoted run it has no label and counts against the figure
    assert (held.sentences, held.supported, held.true) == (4, 3, 1)
    assert held.false == ["article 1: The bridge was built in 1926."]
    assert held.unlabelled == ["article 1: Nobody has read this one."]
    assert true_among_supported([held]) == round(1 / 3, 4)
    assert score_labels("rail_strike", result, labels) is None  # a set nobody labelled
    seeds = score_labels("seeds", result, {("seeds", "quoted", "x", "k"): True})
    assert seeds is not None and seeds.false == []
    assert seeds.unlabelled[0] == f"article 1: sentence {sentence_key(true.text)}"  # no text


def test_the_hand_labels_are_found_again_by_the_labeller_s_key():
    import importlib.util

    spec = importlib.util.spec_from_file_location("label_embedded",
                                                  ROOT / "evals" / "label_embedded.py")
    assert spec is not None and spec.loader is not None
    labeller = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(labeller)
    text = "The “Kessing Street” Bridge  fell."
    assert sentence_key(text) == labeller.sentence_key(text)
    labels = load_labels(ROOT / "evals" / "data" / "embedded_labels.json")
    assert {key[0] for key in labels} == {"examples", "seeds"}
    assert all(value is True for key, value in labels.items() if key[1] == "quoted")


def test_boilerplate_that_reaches_a_summary_is_caught():
    leaky = _sentence("We use cookies to improve your experience.", _cite(LEDGER, INSPECTION))
    scores = score_run("leaky", _result(summary=(leaky, _sentence(INSPECTION))))
    assert scores.leaks == ["We use cookies to improve your experience. Accept"]
    assert scores.metrics["leakage_free"] == 0.5  # "Share this article" did not leak


def test_a_citation_that_is_not_needed_lowers_precision():
    padded = _sentence(INSPECTION, _cite(LEDGER, INSPECTION), _cite(LEDGER, BUILT))
    padded = padded.model_copy(update={"written": "fused"})  # every citation carries it
    scores = score_run("padded", _result(summary=(padded,)))
    assert scores.citations == 2
    assert scores.metrics["citation_recall"] == 1.0
    assert scores.metrics["citation_precision"] == 0.5


def test_a_quoted_sentence_rests_on_its_quote_and_its_other_citations_corroborate():
    quoted = _sentence(INSPECTION, _cite(LEDGER, INSPECTION), _cite(LEDGER, BUILT),
                       _cite(LEDGER, INSPECTION))
    scores = score_run("quoted", _result(summary=(quoted,)))
    assert scores.metrics["citation_precision"] == 1.0  # the quote carries it
    assert scores.metrics["corroboration"] == 0.5  # one further passage states it, one not


def test_an_uncited_sentence_lowers_recall():
    cited = _sentence(INSPECTION, _cite(LEDGER, INSPECTION))
    uncited = _sentence("The bridge was painted green in 1990.")
    scores = score_run("uncited", _result(summary=(cited, uncited)))
    assert scores.metrics["citation_recall"] == 0.5


def test_position_bias_counts_citations_to_the_first_and_last_articles():
    docs, skips = read_inputs([str(EXAMPLES)])
    result = asyncio.run(summarize(docs, skips, backend=ScriptedBackend()))
    bias = position_bias(result)
    cited = [c.article_id for s in result.overview for c in s.citations]
    first, last = result.articles[0].article.id, result.articles[-1].article.id
    assert bias == {"first_third": cited.count(first), "last_third": cited.count(last)}
    assert json.dumps(bias)


# Key facts, agreement, disputes, the model's restatements (hand-built runs).

DEAD = KeyFact(id="two_dead", match=(("two people", "died"), ("killing two",)),
               outlets=("Post", "Ledger", "Record"))
RESCUE = KeyFact(id="46_firefighters", match=(("46 firefighters",),), outlets=("Courier", "Post"))
INJURED = KeyFact(id="seven_injured", match=(("seven", "injured"),))
DIGITS = KeyFact(id="2_dead", match=(("2 dead",),))
STARTED = KeyFact(id="fire_started", match=(("fire started", "a.m."),),
                  disputed=("2 a.m.", "3 a.m."), sides=(("Sentinel", "Star"), ("Courant",)))
DEATHS = KeyFact(id="workers_died", match=(("workers died",),), disputed=("three", "four"))
ROAD = KeyFact(id="road_closed", match=(("closed until",),), disputed=("May 12", "May 13"))


def test_a_key_fact_is_covered_only_when_one_overview_sentence_states_it():
    overview = (_sentence("The span fell at 6:40 a.m., killing two people."),
                _sentence("Seven people were taken to hospital."),
                _sentence("Two others were injured."),
                _sentence("The crash left 12 dead on the road."))
    scores = score_run("facts", _result(overview=overview), facts=(DEAD, RESCUE, INJURED, DIGITS))
    assert scores.metrics["key_fact_coverage"] == 0.25
    assert scores.missed == ["46_firefighters", "seven_injured", "2_dead"]
    said = _result(overview=(_sentence("Rescuers said 46 Firefighters took part."),))
    assert score_run("said", said, facts=(RESCUE,)).metrics["key_fact_coverage"] == 1.0
    assert score_run("none", _result(overview=overview)).metrics["key_fact_coverage"] is None


def test_quotes_and_case_do_not_hide_a_fact_but_part_of_a_number_does():
    assert mentions("Officials said \u201cTwo people died\u201d overnight.", "two people")
    assert not mentions("3:15 a.m.", "15 a.m.")
    assert not mentions("a rise of 6.5 percent", "5 percent")
    assert not mentions("1,850 drivers", "850 drivers")
    assert not mentions("16 percent", "6 percent")
    assert covering(DEAD, [_sentence("Two people died."), _sentence("Killing time.")]) == \
        [_sentence("Two people died.")]


def test_agreement_counts_a_covered_fact_right_only_when_its_sentence_names_its_outlets():
    facts = (DEAD, RESCUE,
             KeyFact(id="9_15", match=(("9:15",),), outlets=("Courier", "Post")),
             KeyFact(id="uncovered", match=(("sonar boat",),), outlets=("Record", "Post")),
             KeyFact(id="single", match=(("4.8 million",),)))
    overview = (_sentence("Two people died in the collapse.", supporting=3),  # right
                _sentence("Fire Chief Tomas Reyle said 46 firefighters took part.",
                          supporting=3),  # one outlet too many
                _sentence("The last person was pulled out at 9:15 a.m."),  # no count shown
                _sentence("Repairs of 4.8 million dollars were recommended.", supporting=1))
    scores = score_run("agreement", _result(overview=overview), facts=facts)
    assert scores.metrics["agreement_correct"] == round(1 / 3, 4)
    nothing = score_run("nothing", _result(overview=overview), facts=(facts[3], facts[4]))
    assert nothing.metrics["agreement_correct"] is None


def test_a_disputed_fact_counts_only_the_outlets_that_report_the_value_said():
    started = "The fire started at about 2 a.m. in the packing hall."
    wrong = score_run("wrong", _result(overview=(_sentence(started, supporting=3),)),
                      facts=(STARTED,))
    right = score_run("right", _result(overview=(_sentence(started, supporting=2),)),
                      facts=(STARTED,))
    assert wrong.metrics["agreement_correct"] == 0.0
    assert right.metrics["agreement_correct"] == 1.0


def test_a_planted_conflict_is_found_only_when_a_dispute_shows_both_values():
    deaths = Dispute(text="Sources differ: the Star reports four workers, the Sentinel three",
                     sides=(_side("Star", "Four workers", "Four workers died in the fire."),
                            _side("Sentinel", "3", "Three workers died in the fire.")))
    one_sided = Dispute(text="Sources differ: the Sentinel reports 2 a.m.",
                        sides=(_side("Sentinel", "2 a.m.", "The fire started at 2 a.m."),
                               _side("Star", "dawn", "The fire started at dawn.")))
    run = _result(disputes=(deaths, one_sided))
    scores = score_run("disputes", run, facts=(DEATHS, STARTED, ROAD, DEAD))
    assert scores.metrics["disputes_found"] == round(1 / 3, 4)
    assert scores.disputes == 2
    both_on_one_side = Dispute(text="Sources differ", sides=(
        _side("Star", "2 a.m.", "The fire started at 2 a.m., not 3 a.m. as first said."),
        _side("Sentinel", "dawn", "The fire started at dawn.")))
    assert score_run("one", _result(disputes=(both_on_one_side,)),
                     facts=(STARTED,)).metrics["disputes_found"] == 0.0
    assert score_run("none planted", run, facts=(DEAD,)).metrics["disputes_found"] is None


def test_fused_acceptance_is_the_share_of_restatements_kept():
    fused = _result(writing=Writing(mode="fused", fused_attempted=4, fused_kept=3))
    assert score_run("fused", fused).metrics["fused_acceptance"] == 0.75
    quoted = _result(writing=Writing(mode="quoted"))
    assert score_run("quoted", quoted).metrics["fused_acceptance"] is None
    assert score_run("unknown", _result()).metrics["fused_acceptance"] is None


def test_the_sets_are_scored_against_their_key_facts(tmp_path: Path):
    sets = [EXAMPLES, ROOT / "evals" / "sets" / "warehouse_fire"]
    scores = asyncio.run(run_pipeline_evals(sets, ScriptedBackend(), root=ROOT))
    for s, facts in zip(scores, (10, 10), strict=True):
        coverage = s.metrics["key_fact_coverage"]
        assert coverage is not None and 0 <= coverage <= 1
        assert len(s.missed) == round(facts * (1 - coverage))
    assert scores[0].metrics["disputes_found"] is None  # nothing planted in the examples
    assert scores[1].metrics["disputes_found"] is not None
    unknown = asyncio.run(run_pipeline_evals([EXAMPLES], ScriptedBackend(), root=tmp_path))
    assert unknown[0].metrics["key_fact_coverage"] is None


# evals/data/key_facts.json: every fact can be met, and its outlets are the set's own.

def _key_sets() -> list[tuple[dict, list[KeyFact], dict[str, list[str]]]]:
    """Each set's entry, facts and, per outlet, its article's paragraphs (read as a run reads)."""
    data = json.loads((ROOT / KEY_FACTS).read_text(encoding="utf-8"))["sets"]
    out = []
    for key_set in load_key_facts(ROOT / KEY_FACTS, ROOT):
        entry = data[key_set.name]
        docs, skips = read_inputs([str(key_set.folder)])
        assert not skips
        paragraphs = {entry["articles"][Path(d.origin).name]:
                      [p for p in d.text.split("\n") if p.strip()] for d in docs}
        out.append((entry, list(key_set.facts), paragraphs))
    return out


def _outlet(doc: Document) -> str:
    """The outlet as the article carries it: its source field, or its copyright line."""
    if doc.source:
        return doc.source
    found = re.search(r"^Copyright \d{4} (.+?)(?: Media)?$", doc.text, re.MULTILINE)
    assert found, f"{doc.origin}: no source field and no copyright line"
    return found.group(1)


def _states(fact: KeyFact, paragraphs: list[str]) -> list[str]:
    return [p for p in paragraphs
            if any(all(mentions(p, s) for s in alternative) for alternative in fact.match)]


def test_key_facts_name_every_set_and_its_outlets_as_the_articles_carry_them():
    data = json.loads((ROOT / KEY_FACTS).read_text(encoding="utf-8"))["sets"]
    assert set(data) == {"brackwater", "rail_strike", "port_storm", "warehouse_fire"}
    for key_set in load_key_facts(ROOT / KEY_FACTS, ROOT):
        assert key_set.folder.is_dir(), key_set.folder
        articles = data[key_set.name]["articles"]
        docs, _ = read_inputs([str(key_set.folder)])
        assert {Path(d.origin).name: _outlet(d) for d in docs} == articles
        assert 6 <= len(key_set.facts) <= 10, key_set.name
        assert len({f.id for f in key_set.facts}) == len(key_set.facts)


@pytest.mark.parametrize("index", range(4))
def test_every_way_a_key_fact_is_worded_occurs_in_its_set(index: int):
    _, facts, paragraphs = _key_sets()[index]
    every = [p for ps in paragraphs.values() for p in ps]
    for fact in facts:
        for alternative in fact.match:
            assert any(all(mentions(p, s) for s in alternative) for p in every), \
                (fact.id, alternative)


@pytest.mark.parametrize("index", range(4))
def test_a_facts_outlets_are_exactly_the_articles_that_state_it(index: int):
    entry, facts, paragraphs = _key_sets()[index]
    for fact in facts:
        stating = {outlet for outlet, ps in paragraphs.items() if _states(fact, ps)}
        if fact.outlets:
            assert set(fact.outlets) <= set(entry["articles"].values()), fact.id
            assert stating == set(fact.outlets), fact.id
        elif not fact.disputed:
            assert len(stating) == 1, fact.id


def test_the_planted_conflicts_are_in_the_articles_as_marked():
    planted = [(f, paragraphs) for _, facts, paragraphs in _key_sets() for f in facts
               if f.disputed]
    assert 2 <= len(planted) <= 3
    for fact, paragraphs in planted:
        assert len(fact.sides) == len(fact.disputed) >= 2, fact.id
        for value, outlets in zip(fact.disputed, fact.sides, strict=True):
            for outlet, ps in paragraphs.items():
                said = [p for p in _states(fact, ps) if mentions(p, value)]
                assert bool(said) == (outlet in outlets), (fact.id, value, outlet)
