"""Meta-evaluation: metrics on hand-computed cases, threshold choice, labelled JSONL files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from summarizer.checking import offline
from summarizer.evaluation.metaeval import (
    at_cut,
    balanced_accuracy,
    bigram_precision,
    choose_threshold,
    compare,
    evaluate,
    load_rows,
    novelty,
    roc_auc,
    support_scorer,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "faithfulness"


def test_balanced_accuracy_by_hand():
    # positives: 2 of 3 right; negatives: 1 of 1 right -> (2/3 + 1) / 2
    assert balanced_accuracy([1, 1, 1, 0], [1, 1, 0, 0]) == pytest.approx(5 / 6)
    assert balanced_accuracy([1, 0], [1, 0]) == 1.0
    assert balanced_accuracy([1, 0], [0, 1]) == 0.0
    assert balanced_accuracy([1, 1], [1, 0]) == 0.5  # one class only: its recall


def test_roc_auc_by_hand_with_ties():
    assert roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert roc_auc([1, 1, 0, 0], [0.1, 0.2, 0.3, 0.4]) == 0.0
    # pairs (pos, neg): (0.5, 0.5) tie = 1/2, (0.5, 0.1) = 1, (0.9, 0.5) = 1, (0.9, 0.1) = 1
    assert roc_auc([1, 0, 1, 0], [0.5, 0.5, 0.9, 0.1]) == pytest.approx(3.5 / 4)
    assert roc_auc([1, 0, 1, 0], [0.3, 0.3, 0.3, 0.3]) == 0.5


def test_metrics_reject_bad_input():
    with pytest.raises(ValueError):
        roc_auc([1, 1], [0.1, 0.2])
    with pytest.raises(ValueError):
        balanced_accuracy([1, 0], [1])


def test_choose_threshold_picks_the_best_cut():
    labels = [0, 0, 0, 1, 0, 1, 1]
    scores = [0.1, 0.2, 0.3, 0.4, 0.45, 0.6, 0.9]
    cut = choose_threshold(labels, scores)
    # at 0.35: positives 3/3, negatives 3/4 -> 0.875; every other cut does worse
    assert cut == pytest.approx(0.35)
    assert balanced_accuracy(labels, [int(s >= cut) for s in scores]) == pytest.approx(0.875)


def test_choose_threshold_separable_and_inverted():
    assert choose_threshold([0, 1], [0.2, 0.8]) == pytest.approx(0.5)
    # Inverted scores: no cut beats predicting one class for all rows (0.5).
    cut = choose_threshold([1, 0], [0.2, 0.8])
    assert balanced_accuracy([1, 0], [int(s >= cut) for s in (0.2, 0.8)]) == 0.5


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def fixture_rows() -> list[dict]:
    base = {"benchmark": "toy", "origin": "news", "document": "doc"}
    dev = [(0.1, 0), (0.2, 0), (0.7, 1), (0.8, 1)]
    test = [(0.05, 0), (0.6, 0), (0.65, 1), (0.9, 1), (0.3, 1)]
    rows = []
    for split, items in (("dev", dev), ("test", test)):
        for n, (score, label) in enumerate(items):
            rows.append({**base, "id": f"{split}{n}", "split": split, "summary": str(score),
                         "label": label})
    rows.append({**base, "origin": "other", "id": "x", "split": "test", "summary": "0.9",
                 "label": 0})
    return rows


def test_load_rows_filters_by_origin_and_split(tmp_path):
    path = write_rows(tmp_path / "toy.jsonl", fixture_rows())
    assert len(load_rows(path)) == 10
    assert len(load_rows(path, origin="news")) == 9
    assert len(load_rows(path, origin="news", split="test")) == 5
    assert load_rows(path, split="dev")[0].label == 0


def test_evaluate_on_a_labelled_fixture(tmp_path):
    path = write_rows(tmp_path / "toy.jsonl", fixture_rows())
    result = evaluate(path, origin="news", split="test", scorer=lambda _doc, s: float(s))
    assert result.rows == 5
    assert result.dev_rows == 4
    assert result.threshold == pytest.approx(0.45)  # midway between dev 0.2 and 0.7
    # test predictions at 0.45: [0, 1, 1, 1, 0] vs labels [0, 0, 1, 1, 1]
    # recall on positives 2/3, on negatives 1/2
    assert result.balanced_accuracy == pytest.approx((2 / 3 + 1 / 2) / 2)
    # AUC pairs: positives {0.65, 0.9, 0.3} vs negatives {0.05, 0.6}: 5 of 6 ordered
    assert result.roc_auc == pytest.approx(5 / 6)


def test_evaluate_reports_a_missing_file_clearly(tmp_path):
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(FileNotFoundError, match="nope.jsonl"):
        evaluate(missing)


def test_evaluate_without_dev_rows_says_so(tmp_path):
    rows = [r for r in fixture_rows() if r["split"] == "test"]
    path = write_rows(tmp_path / "toy.jsonl", rows)
    with pytest.raises(ValueError, match="no dev rows"):
        evaluate(path, scorer=lambda _doc, s: float(s))


def test_malformed_row_names_its_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"split": "dev", "document": "d", "summary": "s", "label": 1}\n{oops\n')
    with pytest.raises(ValueError, match="bad.jsonl:2"):
        load_rows(path)


def test_support_scorer_on_shared_summedits_dev_sample():
    """A fast check on real data: the checker separates SummEdits dev rows better than chance."""
    path = DATA / "summedits_news.jsonl"
    if not path.is_file():
        pytest.skip(f"shared faithfulness data not found at {path}")
    rows = load_rows(path, split="dev")
    scorer = support_scorer()
    scores = [scorer(r.document, r.summary) for r in rows]
    assert all(0.0 <= s <= 1.0 and not math.isnan(s) for s in scores)
    assert roc_auc([r.label for r in rows], scores) > 0.6


DOCUMENT = ("Fire Chief Tomas Reyle said 46 firefighters worked through the night in Brackwater. "
            "The Kessing Street Bridge, built in 1962, had four spans.")


def test_bigram_precision_counts_the_summary_bigrams_found_in_the_document():
    assert bigram_precision(DOCUMENT, "46 firefighters worked through the night.") == 1.0
    # "firefighters worked", "worked through" found; "through the" found; "the day" not:
    # 3 of 4 bigrams, case ignored
    assert bigram_precision(DOCUMENT, "Firefighters worked through the day") == 0.75
    assert bigram_precision(DOCUMENT, "Bridge") == 1.0  # one word: found or not
    assert bigram_precision(DOCUMENT, "Zurich") == 0.0
    assert bigram_precision(DOCUMENT, "") == 1.0


def test_novelty_is_lower_for_a_name_or_number_the_document_does_not_give():
    faithful = "Tomas Reyle said 46 firefighters worked in Brackwater."
    assert novelty(DOCUMENT, faithful) == 1.0
    # names Tomas Reyle, Brackwater and one new name (Olga Pemberton); numbers 46: 1 of 4 novel
    assert novelty(DOCUMENT, faithful + " Mayor Olga Pemberton thanked them.") == 0.75
    # a number not in the document: 46 found, 64 not, of 2 names + 2 numbers
    assert novelty(DOCUMENT, "Tomas Reyle said 46 firefighters and 64 police came to "
                             "Brackwater.") == 0.75
    assert novelty(DOCUMENT, "The bridge had four spans.") == 1.0  # "four" is given
    assert novelty(DOCUMENT, "the bridge had five spans") == 0.0  # its only figure is new
    assert novelty(DOCUMENT, "firefighters worked all night") == 1.0  # nothing to be new


def test_the_checker_is_measured_at_its_fitted_default_cut(tmp_path):
    path = write_rows(tmp_path / "toy.jsonl", fixture_rows())
    cut = offline.DEFAULT_THRESHOLD
    result = evaluate(path, origin="news", split="test", scorer=lambda _doc, s: float(s))
    assert result.default_cut is None  # a scorer of its own: the checker's cut means nothing
    figures = at_cut([0, 0, 1, 1, 1], [0.05, 0.6, 0.65, 0.9, 0.3], 0.5)
    # predictions [0, 1, 1, 1, 0]: positives 2/3, negatives 1/2; one consistent row of 3 flagged
    assert figures.balanced_accuracy == pytest.approx((2 / 3 + 1 / 2) / 2)
    assert figures.flagged_consistent == pytest.approx(1 / 3)
    assert at_cut([0, 0], [0.1, 0.9], 0.5).flagged_consistent is None
    checker = evaluate(path, origin="news", split="test")  # the offline checker
    assert checker.scorer == "checker"
    assert checker.default_cut is not None and checker.default_cut.threshold == cut
    assert checker.supported_cut is not None
    assert checker.supported_cut.threshold == offline.SUPPORTED_CUT


def test_the_cuts_are_read_from_the_checker_when_measured(tmp_path, monkeypatch):
    """Someone refits the cuts: the report follows the module, it does not keep a copy."""
    monkeypatch.setattr(offline, "DEFAULT_THRESHOLD", 0.123)
    path = write_rows(tmp_path / "toy.jsonl", fixture_rows())
    result = evaluate(path, origin="news", split="test")
    assert result.default_cut is not None and result.default_cut.threshold == 0.123


def _toy_news() -> list[dict]:
    document = DOCUMENT
    good = ["Tomas Reyle said 46 firefighters worked through the night in Brackwater.",
            "The Kessing Street Bridge was built in 1962.",
            "The Kessing Street Bridge had four spans."]
    bad = ["Olga Pemberton said 300 firefighters worked in Zurich.",
           "The Kessing Street Bridge was built in 1899 by Acme Steel."]
    return [{"id": f"{split}{n}{label}", "origin": "news", "split": split, "document": document,
             "summary": text, "label": label}
            for split in ("dev", "test")
            for label, texts in ((1, good), (0, bad)) for n, text in enumerate(texts)]


def test_compare_scores_checker_and_baselines_on_the_same_rows(tmp_path):
    path = write_rows(tmp_path / "news.jsonl", _toy_news())
    results = compare(path, split="test")
    assert [r.scorer for r in results] == ["checker", "bigram precision", "novelty"]
    assert {(r.rows, r.positives, r.dev_rows) for r in results} == {(5, 3, 5)}
    novelty_result = results[2]
    assert novelty_result.balanced_accuracy == 1.0  # every invented row has a new name/number
    assert results[0].default_cut is not None
    assert results[1].default_cut is None and results[2].default_cut is None


def test_compare_runs_the_judge_on_a_sample_beside_the_checker_on_that_sample(tmp_path):
    path = write_rows(tmp_path / "news.jsonl", _toy_news())
    seen = []

    async def judge(document: str, summary: str) -> float:
        seen.append(summary)
        return novelty(document, summary)

    results = compare(path, split="test", judge=judge, limit=2)
    names = [r.scorer for r in results]
    assert names == ["checker", "bigram precision", "novelty", "judge",
                     "checker, judge's sample"]
    judged, checker_on_sample = results[3], results[4]
    assert judged.rows == checker_on_sample.rows == 2 and judged.limit == 2
    assert len(seen) == 4  # 2 dev + 2 test rows, no more
    assert results[0].rows == 5  # the others still see every row
