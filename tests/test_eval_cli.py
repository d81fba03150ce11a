"""`summarizer eval faithfulness` on a small labelled fixture."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT

from summarizer.cli import main

DOCUMENT = (
    "The Kessing Street Bridge in Brackwater collapsed on Saturday morning. "
    "Three vehicles fell into the Velle River. "
    "Fire Chief Tomas Reyle said 46 firefighters took part in the rescue. "
    "The bridge was built in 1962 and had four spans."
)
COPIES = [
    "Three vehicles fell into the Velle River.",
    "Fire Chief Tomas Reyle said 46 firefighters took part in the rescue.",
    "The bridge was built in 1962 and had four spans.",
]
INVENTIONS = [
    "The UN Security Council sent 900 soldiers to Brackwater.",
    "Mayor Olga Pemberton said 312 people were missing in Zurich.",
]


def _write_fixture(path: Path) -> None:
    rows = []
    for split in ("dev", "test"):
        rows += [(split, s, 1) for s in COPIES]
        rows += [(split, s, 0) for s in INVENTIONS]
    # A test row labelled inconsistent that the checker cannot tell from a faithful one.
    rows.append(("test", "The Kessing Street Bridge in Brackwater collapsed on Saturday "
                 "morning.", 0))
    with path.open("w", encoding="utf-8") as f:
        for n, (split, summary, label) in enumerate(rows):
            f.write(json.dumps({"id": str(n), "benchmark": "fixture", "origin": "news",
                                "split": split, "document": DOCUMENT, "summary": summary,
                                "label": label}) + "\n")


def test_it_prints_the_expected_balanced_accuracy(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture):
    data = tmp_path / "labelled.jsonl"
    _write_fixture(data)
    assert main(["eval", "faithfulness", "--data", str(data)]) == 0
    out = capsys.readouterr().out
    # test rows: 3 of 3 consistent accepted, 2 of 3 inconsistent caught -> (1 + 2/3) / 2
    assert "6 rows, 3 labelled consistent" in out
    assert "chosen on 5 dev rows" in out
    assert "balanced accuracy 83.3" in out
    assert main(["eval", "faithfulness", "--data", str(data), "--split", "dev",
                 "--format", "json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["rows"] == 5 and figures["balanced_accuracy"] == 1.0


def test_absent_data_is_skipped_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture):
    assert main(["eval", "faithfulness", "--data", str(tmp_path / "none.jsonl")]) == 0
    assert "skipped: labelled data not found" in capsys.readouterr().err


def test_an_origin_with_no_rows_is_a_clear_error(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture):
    data = tmp_path / "labelled.jsonl"
    _write_fixture(data)
    assert main(["eval", "faithfulness", "--data", str(data), "--origin", "sport"]) == 2
    assert "no dev rows for origin 'sport'" in capsys.readouterr().err


def test_the_shared_summedits_rows_are_scored(capsys: pytest.CaptureFixture):
    data = Path(__file__).resolve().parents[2] / "shared" / "data" / "faithfulness" / \
        "summedits_news.jsonl"
    if not data.is_file():
        pytest.skip(f"shared labelled data not found at {data}")
    assert main(["eval", "faithfulness", "--data", str(data)]) == 0
    out = capsys.readouterr().out
    assert "686 rows" in out and "chosen on 133 dev rows" in out


def test_eval_pipeline_reports_key_facts_and_disputes_per_set(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture):
    monkeypatch.chdir(ROOT)  # key facts are found from the project folder, as the sets are
    out = tmp_path / "reports"
    assert main(["eval", "pipeline", "--sets", "evals/sets/warehouse_fire", "examples",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "## Key facts, agreement and disputes" in printed
    assert "| warehouse_fire |" in printed and "| examples |" in printed
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    fire, examples = report["pipeline"]["sets"]
    assert fire["metrics"]["disputes_found"] is not None
    assert examples["metrics"]["disputes_found"] is None
    assert report["pipeline"]["mean"]["key_fact_coverage"] is not None
    assert "pipeline.key_fact_coverage" in report["figures"]
    assert "pipeline.disputes_found" in report["figures"]
