"""Pipeline eval metrics: each one catches the fault it names."""

from __future__ import annotations

import asyncio
import json
import re

from conftest import EXAMPLES

from summarizer.evaluation import position_bias, score_run
from summarizer.ingest import read_inputs
from summarizer.llm.base import CompletionRequest
from summarizer.llm.scripted import ScriptedBackend, lead_sentences
from summarizer.models import Document
from summarizer.pipeline import summarize

LEDGER = (EXAMPLES / "03_velle_valley_ledger.txt").read_text(encoding="utf-8")


def _run(docs, reply=None):
    backend = ScriptedBackend(default=reply) if reply else ScriptedBackend()
    return asyncio.run(summarize(docs, backend=backend))


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


def _first_id(request: CompletionRequest, starts: str) -> str:
    found = re.search(rf"^\[(\d+\.\d+)\] {re.escape(starts)}", request.messages[-1].content,
                      re.MULTILINE)
    assert found
    return found.group(1)


def test_boilerplate_that_reaches_a_summary_is_caught():
    def leaky(request: CompletionRequest) -> str:
        pid = _first_id(request, "A 2023 inspection")
        return f"We use cookies to improve your experience. [{pid}]\n" + lead_sentences(request)

    scores = score_run("leaky", _run([Document(origin="l.txt", text=LEDGER)], leaky))
    assert scores.leaks == ["We use cookies to improve your experience. Accept"]
    assert scores.metrics["leakage_free"] < 1.0


def test_a_citation_that_is_not_needed_lowers_precision():
    def padded(request: CompletionRequest) -> str:
        inspection = _first_id(request, "A 2023 inspection")
        built = _first_id(request, "The Kessing Street Bridge was built")
        return ("A 2023 inspection report by the Aldermoor County Highways Department "
                "recommended 4.8 million dollars in repairs to the piers of the Kessing Street "
                f"Bridge. [{inspection}][{built}]")

    scores = score_run("padded", _run([Document(origin="l.txt", text=LEDGER)], padded))
    assert scores.citations == 2
    assert scores.metrics["citation_recall"] == 1.0
    assert scores.metrics["citation_precision"] == 0.5


def test_an_uncited_sentence_lowers_recall():
    def uncited(request: CompletionRequest) -> str:
        return "The bridge was painted green in 1990.\n" + lead_sentences(request)

    scores = score_run("uncited", _run([Document(origin="l.txt", text=LEDGER)], uncited))
    assert scores.metrics["citation_recall"] < 1.0
    assert scores.metrics["faithfulness"] < 1.0


def test_position_bias_counts_citations_to_the_first_and_last_articles():
    docs, skips = read_inputs([str(EXAMPLES)])
    result = asyncio.run(summarize(docs, skips, backend=ScriptedBackend()))
    bias = position_bias(result)
    cited = [c.article_id for s in result.overview for c in s.citations]
    first, last = result.articles[0].article.id, result.articles[-1].article.id
    assert bias == {"first_third": cited.count(first), "last_third": cited.count(last)}
    assert json.dumps(bias)
