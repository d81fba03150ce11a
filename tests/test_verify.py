"""Every sentence checked against its sources: unsupported marked, misattributed fixed, strict."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import jsonschema
import pytest
from conftest import EXAMPLES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from summarizer.cli import main
from summarizer.ingest import read_inputs
from summarizer.llm.base import CompletionRequest
from summarizer.llm.scripted import ScriptedBackend, lead_sentences
from summarizer.models import Document, Result
from summarizer.pipeline import summarize
from summarizer.render import to_json

LEDGER = EXAMPLES / "03_velle_valley_ledger.txt"
SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "summarizer" /
                     "output.schema.json").read_text())
INVENTED = "The UN Security Council sent 450 engineers to Brackwater on Monday."


def _run(docs, backend, **kwargs) -> Result:
    return asyncio.run(summarize(docs, backend=backend, **kwargs))


def _ledger() -> list[Document]:
    return [Document(origin="ledger.txt", text=LEDGER.read_text(encoding="utf-8"))]


def _passage_id(request: CompletionRequest, starts: str) -> str:
    found = re.search(rf"^\[(\d+\.\d+)\] {re.escape(starts)}", request.messages[-1].content,
                      re.MULTILINE)
    assert found, starts
    return found.group(1)


def _planted(request: CompletionRequest) -> str:
    """A faithful first line, then an invention that cites a real passage."""
    inspection = _passage_id(request, "A 2023 inspection report")
    return ("A 2023 inspection report by the Aldermoor County Highways Department recommended "
            f"4.8 million dollars in repairs to the piers of the Kessing Street Bridge. "
            f"[{inspection}]\n{INVENTED} [{inspection}]")


def test_an_invented_sentence_is_marked_unsupported_with_its_reason():
    result = _run(_ledger(), ScriptedBackend(default=_planted))
    first, invented = result.articles[0].summary
    assert first.support == "supported" and first.citations
    assert invented.text == INVENTED
    assert invented.support == "unsupported" and invented.citations == ()
    assert "UN Security Council" in invented.reason and "450" in invented.reason
    assert result.faithfulness.supported == 1 and result.faithfulness.unsupported == 1


def test_strict_leaves_the_invention_out(capsys: pytest.CaptureFixture,
                                         monkeypatch: pytest.MonkeyPatch):
    import summarizer.llm as llm

    monkeypatch.setattr(llm, "make_backend",
                        lambda *a, **k: ScriptedBackend(default=_planted))
    monkeypatch.setattr("summarizer.cli.make_backend", llm.make_backend)
    assert main(["summarize", str(LEDGER), "--format", "json", "--no-cache"]) == 0
    kept = json.loads(capsys.readouterr().out)
    assert INVENTED in [s["text"] for s in kept["articles"][0]["summary"]]
    assert main(["summarize", str(LEDGER), "--format", "json", "--no-cache", "--strict"]) == 0
    strict = json.loads(capsys.readouterr().out)
    texts = [s["text"] for s in strict["articles"][0]["summary"]]
    assert INVENTED not in texts and len(texts) == 1
    assert strict["faithfulness"]["dropped"] == 1
    assert main(["summarize", str(LEDGER), "--no-cache"]) == 0
    marked = capsys.readouterr().out
    assert f"{INVENTED} *(unverified)*" in marked  # the reason is in the JSON, not the reading
    assert "names 'UN Security Council'" not in marked


def test_a_sentence_citing_the_wrong_passage_is_reattributed():
    def wrong(request: CompletionRequest) -> str:
        built = _passage_id(request, "The Kessing Street Bridge was built in 1962")
        return ("The Kessing Street Bridge was built in 1962 and is 140 meters long. "
                f"[{_passage_id(request, 'Aldermoor County scheduled')}]\n"
                f"It has four spans. [{built}]")

    result = _run(_ledger(), ScriptedBackend(default=wrong))
    moved = result.articles[0].summary[0]
    assert moved.support == "supported"
    assert moved.citations[0].quote.startswith("The Kessing Street Bridge was built in 1962")
    article = result.articles[0].article
    c = moved.citations[0]
    assert article.text[c.start : c.end] == c.quote


FACT = "The county closed the Orlen Road ferry on Tuesday because of high water."


def _outlet_docs() -> list[Document]:
    other = ("The regional library in Tamsby extended its weekend opening hours for the spring "
             "term, the librarian said.")
    bodies = [
        f"Ferry closed\n{FACT}\nCommuters were told to use the northern bridge instead.",
        f"River news\n{FACT}\nShops along the quay stayed open all day.",
        f"Water rises\n{FACT}\nThe water board expects the level to fall by Friday.",
        f"Library hours\n{other}\nThe change starts in April.",
    ]
    return [Document(origin=f"{n}.txt", text=body, source=f"Outlet {n}")
            for n, body in enumerate(bodies, 1)]


def test_an_overview_sentence_backed_by_three_of_four_outlets_says_so():
    def reply(request: CompletionRequest) -> str:
        if request.prompt_id == "reduce":
            ids = re.findall(r"^\[(\d+\.\d+)\] The county closed", request.messages[-1].content,
                             re.MULTILINE)
            return f"{FACT} [{ids[0]}]"
        return lead_sentences(request)

    result = _run(_outlet_docs(), ScriptedBackend(default=reply))
    (sentence,) = result.overview
    assert sentence.support == "supported"
    assert sentence.sources is not None
    assert (sentence.sources.supporting, sentence.sources.total) == (3, 4)
    assert sentence.sources.outlets == ("Outlet 1", "Outlet 2", "Outlet 3")


def test_output_validates_against_the_shipped_schema(seeds: Path):
    docs, skips = read_inputs([str(seeds)])
    result = asyncio.run(summarize(docs, skips, backend=ScriptedBackend(default=_mixed)))
    data = to_json(result)
    jsonschema.validate(data, SCHEMA)
    assert any(s["support"] == "unsupported" for a in data["articles"] for s in a["summary"])
    broken = json.loads(json.dumps(data))
    broken["articles"][0]["summary"][0]["support"] = "maybe"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SCHEMA)


def _mixed(request: CompletionRequest) -> str:
    return "Mars declared war on Venus in 1850. [1.3]\n" + lead_sentences(request)


WORDS = st.sampled_from("the bridge river county fell said on Saturday Brackwater 2026 three "
                        "vehicles repairs piers Velle UN 450 engineers not".split())
MARKER = st.from_regex(r"\[[1-2]\.[0-9]{1,2}\]", fullmatch=True)
LINE = st.lists(st.one_of(WORDS, MARKER), min_size=1, max_size=25).map(" ".join)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(replies=st.lists(st.lists(LINE, min_size=1, max_size=6).map("\n".join), min_size=3,
                        max_size=3))
def test_every_citation_of_any_output_is_a_verbatim_quote(replies: list[str]):
    docs = [Document(origin="ledger.txt", text=LEDGER.read_text(encoding="utf-8")),
            Document(origin="courier.json",
                     text=json.loads((EXAMPLES / "01_brackwater_courier.json").read_text())
                     ["text"])]
    result = _run(docs, ScriptedBackend(replies))
    texts = {a.article.id: a.article.text for a in result.articles}
    for sentence in [s for a in result.articles for s in a.summary] + list(result.overview):
        assert (sentence.support == "supported") == bool(sentence.citations)
        for c in sentence.citations:
            assert texts[c.article_id][c.start : c.end] == c.quote and c.quote
