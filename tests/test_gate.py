"""The regression gate: floors next to a data hash, never lowered silently; CI runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from summarizer.evaluation import gate
from summarizer.evaluation.metrics import LabelScores, SetScores
from summarizer.evaluation.suite import Report

FIGURES = {"pipeline.citation_recall": 0.9, "edits.number": 0.75}


def test_equal_or_better_figures_pass(tmp_path: Path):
    path = tmp_path / "baseline.json"
    gate.update(path, FIGURES, "hash-a", "scripted")
    better = {**FIGURES, "edits.number": 0.8}
    assert gate.check(better, gate.load(path), "hash-a", "scripted").passed


def test_a_regression_fails_and_names_the_figure(tmp_path: Path):
    path = tmp_path / "baseline.json"
    gate.update(path, FIGURES, "hash-a", "scripted")
    verdict = gate.check({**FIGURES, "pipeline.citation_recall": 0.85}, gate.load(path),
                         "hash-a", "scripted")
    assert not verdict.passed
    assert verdict.failures == ["pipeline.citation_recall: 0.8500 is below its floor 0.9000"]


def test_changed_data_fails_until_floors_are_pinned_again(tmp_path: Path):
    path = tmp_path / "baseline.json"
    gate.update(path, FIGURES, "hash-a", "scripted")
    verdict = gate.check(FIGURES, gate.load(path), "hash-b", "scripted")
    assert not verdict.passed and "re-pin with --update-baseline" in verdict.failures[0]


def test_lowering_a_floor_needs_the_explicit_flag(tmp_path: Path):
    path = tmp_path / "baseline.json"
    gate.update(path, FIGURES, "hash-a", "scripted")
    worse = {**FIGURES, "edits.number": 0.5}
    with pytest.raises(gate.GateError, match="edits.number: 0.7500 -> 0.5000"):
        gate.update(path, worse, "hash-a", "scripted")
    assert json.loads(path.read_text())["floors"]["edits.number"] == 0.75
    gate.update(path, worse, "hash-a", "scripted", allow_lower=True)
    assert json.loads(path.read_text())["floors"]["edits.number"] == 0.5


def test_changed_data_does_not_let_a_floor_be_lowered_silently(tmp_path: Path):
    path = tmp_path / "baseline.json"
    gate.update(path, FIGURES, "hash-a", "scripted")
    worse = {**FIGURES, "pipeline.citation_recall": 0.8}
    with pytest.raises(gate.GateError, match="pipeline.citation_recall: 0.9000 -> 0.8000"):
        gate.update(path, worse, "hash-b", "scripted")
    assert json.loads(path.read_text())["data_hash"] == "hash-a"
    gate.update(path, {**FIGURES, "pipeline.key_fact_coverage": 0.5}, "hash-b", "scripted")
    pinned = json.loads(path.read_text())
    assert pinned["data_hash"] == "hash-b" and pinned["floors"]["pipeline.key_fact_coverage"] == 0.5


def test_a_figure_with_no_floor_yet_or_no_value_does_not_fail_the_gate(tmp_path: Path):
    path = tmp_path / "baseline.json"
    gate.update(path, FIGURES, "hash-a", "scripted")
    report = Report(backend="scripted", model="scripted-lead", data_hash="hash-a", pipeline=[
        SetScores(name="s", articles=3, sentences=9, citations=9, metrics={
            "citation_recall": 0.9, "key_fact_coverage": 0.1, "fused_acceptance": None})])
    figures = {**report.figures(), "edits.number": 0.75}
    assert "pipeline.fused_acceptance" not in figures
    assert figures["pipeline.key_fact_coverage"] == 0.1
    verdict = gate.check(figures, gate.load(path), "hash-a", "scripted")
    assert verdict.passed
    assert verdict.notes == ["not gated yet (no floor pinned): pipeline.key_fact_coverage; "
                             "--update-baseline pins them"]


def test_floors_never_round_above_the_measured_figure(tmp_path: Path):
    path = tmp_path / "baseline.json"
    gate.update(path, {"x": 2 / 3}, "h", "scripted")
    assert gate.check({"x": 2 / 3}, gate.load(path), "h", "scripted").passed


def test_floors_are_pinned_per_backend_and_each_run_meets_its_own(tmp_path: Path):
    path = tmp_path / "baseline.json"
    gate.update(path, FIGURES, "hash-a", "scripted")
    gate.update(path, {"labels.true_among_supported": 1.0}, "hash-a", "local")
    pinned = json.loads(path.read_text())
    assert pinned["backend"] == "scripted" and pinned["floors"] == FIGURES  # kept as they were
    assert pinned["backends"]["local"]["floors"] == {"labels.true_among_supported": 1.0}
    baseline = gate.load(path)
    assert gate.check(FIGURES, baseline, "hash-a", "scripted").passed
    assert gate.check({"labels.true_among_supported": 1.0}, baseline, "hash-a", "local").passed
    verdict = gate.check({"labels.true_among_supported": 0.96}, baseline, "hash-a", "local")
    assert not verdict.passed
    assert verdict.failures == ["labels.true_among_supported: 0.9600 is below its floor 1.0000"]
    assert "not compared" in gate.check(FIGURES, baseline, "hash-a", "openai").notes[0]
    gate.update(path, {**FIGURES, "edits.number": 0.8}, "hash-a", "scripted")  # raise one
    again = json.loads(path.read_text())
    assert again["floors"]["edits.number"] == 0.8 and again["backends"] == pinned["backends"]
    with pytest.raises(gate.GateError, match="labels.true_among_supported"):
        gate.update(path, {"labels.true_among_supported": 0.5}, "hash-a", "local")


def _labelled_report(false: list[str], unlabelled: list[str] = ()) -> Report:
    return Report(backend="local", model="smollm2", data_hash="hash-a", labels=[
        LabelScores(name="examples", mode="quoted", sentences=25, supported=24,
                    true=24 - len(false) - len(unlabelled), false=false,
                    unlabelled=list(unlabelled)),
        LabelScores(name="seeds", mode="quoted", sentences=30, supported=30, true=30)])


def test_a_false_sentence_marked_supported_fails_the_gate(tmp_path: Path):
    path = tmp_path / "baseline.json"
    clean = _labelled_report([])
    assert clean.figures()["labels.true_among_supported"] == 1.0
    gate.update(path, clean.figures(), "hash-a", "local")
    assert gate.check(clean.figures(), gate.load(path), "hash-a", "local").passed
    for report in (_labelled_report(["article 2: The bridge was built in 1926."]),
                   _labelled_report([], ["overview: A sentence nobody has read yet."])):
        figures = report.figures()
        assert figures["labels.true_among_supported"] == round(53 / 54, 4)
        verdict = gate.check(figures, gate.load(path), "hash-a", "local")
        assert not verdict.passed
        assert verdict.failures[0].startswith("labels.true_among_supported: 0.9815 is below")
    assert "labels.true_among_supported" not in Report("scripted", "m", "h").figures()


def test_the_report_lists_the_false_sentences_marked_supported():
    from summarizer.evaluation.suite import to_html, to_markdown

    report = _labelled_report(["article 2: The bridge was built in 1926."], ["overview: Unread."])
    text = to_markdown(report)
    assert "examples (quoted)" in to_html(report)
    assert "## Hand labels" in text
    assert "| examples | quoted | 25 | 24 | 22 | 1 | 1 |" in text
    assert "- examples article 2: The bridge was built in 1926." in text
    assert "- examples overview: Unread." in text


def test_the_offline_evals_meet_the_pinned_floors(tmp_path: Path):
    """What CI gates on: the scripted pipeline, the checker on edits and on labelled data."""
    baseline = ROOT / "evals" / "baseline.json"
    if not baseline.is_file():
        pytest.skip("no floors pinned in evals/baseline.json")
    done = subprocess.run(
        [sys.executable, "-m", "summarizer", "eval", "all", "--gate",
         "--out", str(tmp_path / "reports"), "--baseline", str(baseline),
         "--data", str(ROOT.parent / "shared" / "data" / "faithfulness")],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={"PATH": "", "SUMMARIZER_CACHE_PATH": str(tmp_path / "cache.sqlite3"),
             "SUMMARIZER_ALLOW_NETWORK": "0"})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "gate: passed" in done.stdout
    report = json.loads((tmp_path / "reports" / "report.json").read_text())
    assert report["figures"]["pipeline.citation_validity"] == 1.0
    assert (tmp_path / "reports" / "index.html").read_text().count("<svg") >= 3
