"""Writing by trust in the model: quoted sentences, fused ones kept only when verified."""

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
from summarizer.pipeline import Options, summarize
from summarizer.render import to_json
from summarizer.writing import resolve_mode

SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "summarizer" /
                     "output.schema.json").read_text())
INVENTED = "The UN Security Council sent 450 engineers to Brackwater on Monday."
FUSED = Options(writing="fused")


def _run(docs, backend, options: Options = FUSED, **kwargs) -> Result:
    return asyncio.run(summarize(docs, backend=backend, options=options, **kwargs))


def _examples() -> list[Document]:
    docs, _ = read_inputs([str(EXAMPLES)])
    return docs


def _sentences(result: Result):
    return [s for a in result.articles for s in a.summary] + list(result.overview)


def _without_attribution(request: CompletionRequest) -> str:
    """A restatement a capable model might write: each group's first sentence, its closing
    attribution ("..., the county said.") left off."""
    if request.reply != "lines":
        return lead_sentences(request)
    lines = []
    for item in request.items:
        first = item.text.split(" | ")[0]
        lines.append(f"[{item.id}] " + re.sub(r",[^,]*\b(?:said|according to)\b[^,]*\.$", ".",
                                               first))
    return "\n".join(lines)


def test_fused_sentences_that_their_sources_support_are_kept_and_cite_every_member():
    backend = ScriptedBackend(default=_without_attribution)
    result = _run(_examples(), backend)
    fused = [s for s in _sentences(result) if s.written == "fused"]
    assert fused and all(s.support == "supported" for s in fused)
    assert result.writing.mode == "fused"
    assert result.writing.fused_kept == len(fused) <= result.writing.fused_attempted
    texts = {a.article.id: a.article.text for a in result.articles}
    for s in result.overview:
        assert s.sources is not None and s.sources.supporting == len(
            {c.article_id for c in s.citations}) or s.sources.supporting >= 1
        for c in s.citations:
            assert texts[c.article_id][c.start:c.end] == c.quote
    assert any(len(s.citations) >= 2 for s in result.overview)
    # Each article in one call that chooses and restates; the overview chooses, then restates.
    asked = [r.prompt_id for r in backend.requests]
    assert asked.count("choose_and_fuse") == len(result.articles)
    assert set(asked) == {"choose_and_fuse", "choose", "fuse"}


def test_an_invented_restatement_is_asked_again_with_the_reason_then_quoted():
    def invent(request: CompletionRequest) -> str:
        if request.reply != "lines":
            return lead_sentences(request)
        return "\n".join(f"[{item.id}] {INVENTED}" for item in request.items)

    backend = ScriptedBackend(default=invent)
    result = _run(_examples(), backend)
    assert INVENTED not in [s.text for s in _sentences(result)]
    assert all(s.written == "quoted" and s.support == "supported" for s in _sentences(result))
    assert result.writing.fused_attempted > 0 and result.writing.fused_kept == 0
    fuses = [r for r in backend.requests if r.prompt_id == "fuse"]
    retries = [r for r in fuses if len(r.messages) > 2]
    assert retries and len(retries) * 2 == len(fuses)  # one re-ask per batch, no more
    feedback = retries[0].messages[-1].content
    assert "'security'" in feedback and "'engineers'" in feedback  # what it made up
    assert retries[0].messages[-2].role == "assistant"


def test_a_restatement_that_brings_its_own_attribution_is_refused():
    def misattribute(request: CompletionRequest) -> str:
        if request.reply != "lines":
            return lead_sentences(request)
        return "\n".join(f"[{item.id}] {item.text.split(' | ')[0].rstrip('.')}, according to "
                          "the county's published capital plan." for item in request.items)

    result = _run(_examples(), ScriptedBackend(default=misattribute))
    assert result.writing.fused_kept == 0
    assert not any("capital plan." in s.text and s.written == "fused"
                   for s in _sentences(result))


def test_a_restatement_fixed_on_the_re_ask_is_kept():
    def second_time_right(request: CompletionRequest) -> str:
        if request.reply != "lines":
            return lead_sentences(request)
        if len(request.messages) > 2:
            return _without_attribution(request)
        return "\n".join(f"[{item.id}] {INVENTED}" for item in request.items)

    result = _run(_examples(), ScriptedBackend(default=second_time_right))
    assert result.writing.fused_kept == result.writing.fused_attempted > 0
    assert INVENTED not in [s.text for s in _sentences(result)]


@pytest.mark.parametrize("window", [1024, 1500])
def test_in_a_small_window_every_restating_call_and_re_ask_fits(window: int):
    """Batches leave room for the re-ask where the window allows one; a re-ask that would not
    fit is not made, and its lines are quoted."""
    long_invention = " ".join([INVENTED] * 3)

    def invent_at_length(request: CompletionRequest) -> str:
        if request.reply != "lines":
            return lead_sentences(request)
        return "\n".join(f"[{item.id}] {long_invention}" for item in request.items)

    backend = ScriptedBackend(default=invent_at_length, context_window=window)
    result = _run(_examples(), backend)
    assert result.writing.fused_attempted > 0 and result.writing.fused_kept == 0
    for request in backend.requests:
        used = sum(backend.count_tokens(m.content) for m in request.messages)
        assert used + request.max_tokens <= window
    assert all(s.written == "quoted" for s in _sentences(result))
    # 1,024 tokens cannot hold a re-ask beside the fuse prompt and its answer; 1,500 can.
    assert any(len(r.messages) > 2 for r in backend.requests) == (window == 1500)


def test_quoted_writing_makes_no_restating_call_and_shows_only_source_sentences():
    backend = ScriptedBackend()
    result = _run(_examples(), backend, Options(writing="quoted"))
    assert {r.prompt_id for r in backend.requests} == {"choose"}
    texts = {a.article.id: a.article.text for a in result.articles}
    for s in _sentences(result):
        assert s.written == "quoted" and s.support == "supported"
        assert s.text == s.citations[0].quote
        assert s.text in texts[s.citations[0].article_id]


def test_auto_quotes_for_small_models_and_fuses_for_capable_ones():
    assert resolve_mode("auto", small_model=True) == "quoted"
    assert resolve_mode("auto", small_model=False) == "fused"
    assert resolve_mode("fused", small_model=True) == "fused"
    backend = ScriptedBackend(default=_without_attribution)  # the stand-in counts as small
    assert _run(_examples(), backend, Options()).writing.mode == "quoted"
    declared = Options(small_model=False)
    assert _run(_examples(), ScriptedBackend(default=_without_attribution),
                declared).writing.mode == "fused"


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


def test_a_fact_three_of_four_outlets_report_says_so_and_leads_the_overview():
    result = _run(_outlet_docs(), ScriptedBackend(), Options())
    first = result.overview[0]
    assert first.text == FACT
    assert first.sources is not None
    assert (first.sources.supporting, first.sources.total) == (3, 4)
    assert first.sources.outlets == ("Outlet 1", "Outlet 2", "Outlet 3")
    # The copies in articles 2 and 3 were left out as duplicates: counted, cited once.
    assert [c.passage for c in first.citations] == ["1.1"]
    assert {d.article_id for d in result.duplicates} == {
        a.article.id for a in result.articles[1:3]}


def test_strict_keeps_the_overview_and_says_nothing_was_left_out(capsys):
    assert main(["summarize", str(EXAMPLES), "--backend", "scripted", "--format", "json",
                 "--no-cache", "--strict"]) == 0
    strict = json.loads(capsys.readouterr().out)
    assert len(strict["overview"]) >= 4
    assert strict["faithfulness"]["dropped"] == 0 and strict["overview_dropped"] == 0
    assert all(a["summary"] for a in strict["articles"])


def test_the_cli_writing_option_reaches_the_run(capsys):
    assert main(["summarize", str(EXAMPLES), "--backend", "scripted", "--format", "json",
                 "--no-cache", "--writing", "fused"]) == 0
    fused = json.loads(capsys.readouterr().out)
    assert fused["writing"]["mode"] == "fused" and fused["writing"]["fused_attempted"] > 0


def test_output_validates_against_the_shipped_schema(seeds: Path):
    docs, skips = read_inputs([str(seeds)])
    result = asyncio.run(summarize(docs, skips, backend=ScriptedBackend()))
    data = to_json(result)
    jsonschema.validate(data, SCHEMA)
    assert "disputes" in data and len(data["overview"]) >= 4
    assert any(s["sources"]["supporting"] >= 2 for s in data["overview"])
    broken = json.loads(json.dumps(data))
    broken["articles"][0]["summary"][0]["support"] = "maybe"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SCHEMA)


WORDS = st.sampled_from("the bridge river county fell said on Saturday Brackwater 2026 three "
                        "vehicles repairs piers Velle UN 450 engineers not".split())
MARKER = st.from_regex(r"\[[1-4]\.[0-9]{1,2}\]", fullmatch=True)
LINE = st.lists(st.one_of(WORDS, MARKER), min_size=1, max_size=25).map(" ".join)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(replies=st.lists(st.lists(LINE, min_size=1, max_size=6).map("\n".join), min_size=12,
                        max_size=12))
def test_whatever_the_model_answers_every_sentence_is_supported_and_quotes_verbatim(
        replies: list[str]):
    docs = _examples()[:3]
    result = _run(docs, ScriptedBackend(replies))
    texts = {a.article.id: a.article.text for a in result.articles}
    assert result.overview
    for sentence in _sentences(result):
        assert sentence.support == "supported" and sentence.citations
        for c in sentence.citations:
            assert texts[c.article_id][c.start:c.end] == c.quote and c.quote


def test_lines_without_full_stops_still_give_summaries_and_an_overview():
    docs = [Document(origin="a.txt", source="A", text="Bridge shut\nThe county closed the old "
                     "bridge on Monday after the storm\nEngineers will inspect the piers soon"),
            Document(origin="b.txt", source="B", text="Storm damage\nThe storm flooded the "
                     "lower town on Monday night\nSchools in the valley stayed closed")]
    result = _run(docs, ScriptedBackend(), Options())
    assert all(a.summary for a in result.articles) and result.overview


def test_an_outlet_outside_the_summary_is_not_counted_for_it():
    from summarizer.facts import FactGroup, SourceSentence
    from summarizer.salience import Candidate
    from summarizer.writing import quoted

    def sentence(sid: str, outlets: tuple[str, ...]) -> SourceSentence:
        return SourceSentence(id=sid, article_id=sid, article_no=1, start=0, end=len(FACT),
                              text=FACT, position=0.0, outlets=outlets)

    # The second outlet's copy of the paragraph sits in an article of another story.
    shown = sentence("1.1", ("Courier", "Elsewhere Times"))
    other = sentence("2.1", ("Post",))
    candidate = Candidate(shown=shown, group=FactGroup(members=[shown, other],
                                                       agreeing=[shown, other]), score=1.0)
    count = quoted(candidate, frozenset({"Courier", "Post", "Ledger"})).sources
    assert (count.supporting, count.total) == (2, 3)
    assert count.outlets == ("Courier", "Post")
