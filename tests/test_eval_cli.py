"""`summarizer eval faithfulness` on a small labelled fixture."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT

from summarizer.checking import offline
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
    assert "at the default cut" in out and "baseline bigram precision" in out
    assert main(["eval", "faithfulness", "--data", str(data), "--split", "dev",
                 "--format", "json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["rows"] == 5 and figures["balanced_accuracy"] == 1.0
    assert figures["default_cut"]["threshold"] == offline.DEFAULT_THRESHOLD
    assert set(figures["default_cut"]) == {"threshold", "balanced_accuracy", "flagged_consistent"}
    assert [b["scorer"] for b in figures["baselines"]] == ["bigram precision", "novelty"]


def _write_sets(folder: Path) -> Path:
    """The shared folder's layout in small: FRANK with two origins, SummEdits, one SummaC cut."""
    folder.mkdir()
    rows = []
    for split in ("dev", "test"):
        rows += [(split, s, 1) for s in COPIES] + [(split, s, 0) for s in INVENTIONS]
    def write(name: str, origins: list[str], splits: tuple[str, ...] = ("dev", "test")) -> None:
        with (folder / name).open("w", encoding="utf-8") as f:
            for origin in origins:
                for n, (split, summary, label) in enumerate(rows):
                    if split in splits:
                        f.write(json.dumps({"id": f"{origin}{n}", "origin": origin,
                                            "split": split, "document": DOCUMENT,
                                            "summary": summary, "label": label}) + "\n")
    write("frank.jsonl", ["cnndm", "bbc"])
    write("summedits_news.jsonl", ["news"])
    write("summac_summeval.jsonl", ["summeval"], ("dev",))
    return folder


def test_a_folder_gives_one_table_per_set_checker_against_baselines(
        tmp_path: Path, capsys: pytest.CaptureFixture):
    data = _write_sets(tmp_path / "faithfulness")
    assert main(["eval", "faithfulness", "--data", str(data)]) == 0
    out = capsys.readouterr().out
    for title in ("FRANK, origin cnndm (frank.jsonl, test rows)", "FRANK, origin bbc",
                  "SummEdits news (summedits_news.jsonl, test rows)",
                  "SummaC SummEval (summac_summeval.jsonl, dev rows)"):
        assert f"## {title}" in out
    assert out.count("| offline checker |") == 4 and out.count("| name/number novelty |") == 4
    assert out.count(f"default cut {offline.DEFAULT_THRESHOLD:.3f}") == 5  # 4 sets + header
    assert "Dev rows only: each threshold is chosen on the rows reported" in out
    assert "Skipped: faithfulness summac_factcc.jsonl: not found" in out
    assert "LLM judge" not in out


def test_a_folder_in_json_lists_each_set_with_its_scorers(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture):
    data = _write_sets(tmp_path / "faithfulness")
    assert main(["eval", "faithfulness", "--data", str(data), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["default_threshold"] == offline.DEFAULT_THRESHOLD
    sets = {s["set"]: s for s in report["sets"]}
    assert list(sets) == ["frank-cnndm", "frank-bbc", "summedits_news", "summac_summeval"]
    cnndm = sets["frank-cnndm"]
    assert (cnndm["split"], cnndm["rows"], cnndm["dev_rows"]) == ("test", 5, 5)
    assert [s["scorer"] for s in cnndm["scorers"]] == ["checker", "bigram precision", "novelty"]
    assert set(cnndm["default_cut"]) == {"threshold", "balanced_accuracy", "flagged_consistent"}
    # the invented rows name people and places the document does not: novelty separates all
    novelty = cnndm["scorers"][2]
    assert novelty["balanced_accuracy"] == 1.0
    assert sets["summac_summeval"]["split"] == "dev"
    assert sets["summac_summeval"]["threshold_on"] == "the same rows (in-sample)"


def test_a_folder_with_a_backend_adds_the_judge_on_its_sample(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture):
    data = _write_sets(tmp_path / "faithfulness")
    assert main(["eval", "faithfulness", "--data", str(data), "--backend", "scripted",
                 "--limit", "2", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    for entry in report["sets"]:
        names = [s["scorer"] for s in entry["scorers"]]
        if entry["split"] == "dev":  # dev-only sets: the judge's calls go to held-out rows
            assert "judge" not in names
            continue
        assert names[3:] == ["judge", "checker, judge's sample"]
        assert entry["scorers"][3]["rows"] == 2 and entry["scorers"][3]["limit"] == 2
    assert report["judge"]["backend"] == "scripted"


def test_origin_with_a_folder_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture):
    data = _write_sets(tmp_path / "faithfulness")
    assert main(["eval", "faithfulness", "--data", str(data), "--origin", "cnndm"]) == 2
    assert "--origin selects rows of one file" in capsys.readouterr().err


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


def test_the_supported_cut_gets_its_own_line_only_where_it_differs(
        tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch):
    data = tmp_path / "labelled.jsonl"
    _write_fixture(data)
    monkeypatch.setattr(offline, "DEFAULT_THRESHOLD", 0.4)
    monkeypatch.setattr(offline, "SUPPORTED_CUT", 0.7)
    assert main(["eval", "faithfulness", "--data", str(data)]) == 0
    out = capsys.readouterr().out
    assert "at the default cut 0.400" in out and "at the supported cut 0.700" in out
    monkeypatch.setattr(offline, "SUPPORTED_CUT", 0.4)
    assert main(["eval", "faithfulness", "--data", str(data)]) == 0
    assert "supported cut" not in capsys.readouterr().out
