"""Fit the offline checker's weights and cuts on dev rows only, and write them beside the checker.

    python evals/fit_support.py [DATA_DIR]          # fit on every dev row, write support_fit.json
    python evals/fit_support.py --cv [DATA_DIR]     # cross-validate on dev rows only, write nothing
    python evals/fit_support.py --print [DATA_DIR]  # fit and print, write nothing

Reads the dev rows of every labelled set (FRANK cnndm and bbc, SummEdits news, the four SummaC
validation cuts), measures every summary sentence with `Sources.measure`, fits a sign-constrained
logistic regression with numpy (each set and each class within it weighing the same), chooses two
cuts on the pooled dev scores and writes summarizer/checking/support_fit.json. Test rows are never
read here.
"""

from __future__ import annotations

import datetime
import json
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from summarizer.checking import offline  # noqa: E402
from summarizer.evaluation.metaeval import (  # noqa: E402
    balanced_accuracy,
    choose_threshold,
    load_rows,
    roc_auc,
)
from summarizer.text import split_sentences  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "faithfulness"
OUTPUT = ROOT / "summarizer" / "checking" / "support_fit.json"
# (name, file, origin): the dev rows of each, every one of them a set of its own in the fit.
SETS = (
    ("frank-cnndm", "frank.jsonl", "cnndm"),
    ("frank-bbc", "frank.jsonl", "bbc"),
    ("summedits-news", "summedits_news.jsonl", None),
    ("summac-factcc", "summac_factcc.jsonl", None),
    ("summac-polytope", "summac_polytope.jsonl", None),
    ("summac-summeval", "summac_summeval.jsonl", None),
    ("summac-xsumfaith", "summac_xsumfaith.jsonl", None),
)
# "role" (the relation checks) is measured too; --features=...,role weighs it (see evals/README.md)
FEATURES = ("uni_sent", "bi_sent", "replaced", "errors")
# Overlap features may only raise the score, error detectors only lower it.
RAISES = {"uni_sent", "bi_sent"}
SET_WEIGHT: dict[str, float] = {}
L2 = 1.0
STEPS, RATE = 4000, 0.5
# The default cut lets at most this share of consistent dev summaries fall below it (false alarms);
# the supported cut lets at most this share of inconsistent ones reach it (false passes).
FALSE_ALARMS = 0.15
FALSE_PASSES = 0.10
# Left out of the supported cut's count: SummaC-Polytope labels a summary inconsistent for
# omissions and style as well as for errors, and 62% of its inconsistent summaries are copies of
# source sentences that reach the highest score; counted, no cut below it keeps false passes
# under FALSE_PASSES and "supported" would never be given.
NOT_PRECISION_SETS = frozenset({"summac-polytope"})


def measure_dev(data: Path, features: tuple[str, ...]) -> dict[str, list]:
    """Per-row matrices of sentence features, with labels, sets and documents, for dev rows."""
    out: dict[str, list] = {"matrices": [], "labels": [], "sets": [], "documents": []}
    for name, file, origin in SETS:
        sources: dict[str, offline.Sources] = {}
        for row in load_rows(data / file, origin=origin, split="dev"):
            source = sources.setdefault(row.document, offline.Sources([row.document]))
            checks = [source.measure(row.summary[a:b]) for a, b in split_sentences(row.summary)]
            rows = [[c.features[f] for f in features] for c in checks if c is not None]
            out["matrices"].append(np.array(rows or [[0.0] * len(features)]))
            out["labels"].append(row.label)
            out["sets"].append(name)
            out["documents"].append(row.document)
    out["labels"] = np.array(out["labels"])
    return out


def worst(matrix: np.ndarray, features: tuple[str, ...]) -> np.ndarray:
    """A summary's features as its worst sentence would have them, feature by feature."""
    low, high = matrix.min(axis=0), matrix.max(axis=0)
    return np.array([low[i] if f in RAISES else high[i] for i, f in enumerate(features)])


def row_weights(labels: np.ndarray, sets: list[str]) -> np.ndarray:
    """Each class within a set weighs the same, and each set SET_WEIGHT (1 when not listed)."""
    weights = np.zeros(len(labels))
    for name in set(sets):
        for cls in (0, 1):
            chosen = [i for i, s in enumerate(sets) if s == name and labels[i] == cls]
            if chosen:
                weights[chosen] = SET_WEIGHT.get(name, 1.0) / len(chosen)
    return weights / weights.sum()


def fit(x: np.ndarray, y: np.ndarray, weights: np.ndarray,
        features: tuple[str, ...]) -> tuple[np.ndarray, float]:
    """Weighted, L2-penalised logistic regression by projected gradient descent."""
    w, b = np.zeros(x.shape[1]), 0.0
    sign = np.array([1.0 if f in RAISES else -1.0 for f in features])
    for _ in range(STEPS):
        p = 1.0 / (1.0 + np.exp(-(x @ w + b)))
        error = weights * (p - y)
        w -= RATE * (x.T @ error + L2 * w / len(y))
        b -= RATE * error.sum()
        w = np.where(w * sign < 0, 0.0, w)  # keep each weight on its side of zero
    return w, b


def claim_scores(matrices: list[np.ndarray], w: np.ndarray, b: float) -> np.ndarray:
    """The claim's score is its weakest sentence's score, as in Sources.check."""
    return np.array([float((1.0 / (1.0 + np.exp(-(m @ w + b)))).min()) for m in matrices])


def weighted_share(scores: np.ndarray, mask: np.ndarray, sets: list[str],
                   cut: float, below: bool) -> float:
    """Share of the masked rows scoring below (or at/above) `cut`, each set weighing the same."""
    shares = []
    for name in dict.fromkeys(sets):
        chosen = mask & np.array([s == name for s in sets])
        if chosen.any():
            hit = scores[chosen] < cut if below else scores[chosen] >= cut
            shares.append(float(hit.mean()))
    return sum(shares) / len(shares)


def choose_cuts(scores: np.ndarray, labels: np.ndarray, sets: list[str]) -> tuple[float, float]:
    """The highest cut leaving at most FALSE_ALARMS of consistent summaries below it, and the
    lowest cut above it letting at most FALSE_PASSES of inconsistent ones reach it."""
    distinct = np.unique(scores)
    candidates = [float(distinct[0])] + [float(a + b) / 2 for a, b in zip(distinct, distinct[1:],
                                                                         strict=False)]
    consistent = labels == 1
    inconsistent = (labels == 0) & np.array([s not in NOT_PRECISION_SETS for s in sets])
    low = max(c for c in candidates
              if weighted_share(scores, consistent, sets, c, below=True) <= FALSE_ALARMS)
    high = min(c for c in [*candidates, float(distinct[-1]) + 1e-6]
               if c >= low
               and weighted_share(scores, inconsistent, sets, c, below=False) <= FALSE_PASSES)
    # rounded outwards, so that the written cuts keep the shares within their bounds
    return math.floor(low * 1000) / 1000, math.ceil(high * 1000) / 1000


def folds_by_document(sets: list[str], documents: list[str], folds: int = 4) -> np.ndarray:
    """Each set's documents dealt into `folds` folds: a document's rows never straddle two."""
    fold = np.zeros(len(sets), dtype=int)
    for name in dict.fromkeys(sets):
        rows = [i for i, s in enumerate(sets) if s == name]
        order = {d: k for k, d in enumerate(dict.fromkeys(documents[i] for i in rows))}
        for i in rows:
            fold[i] = order[documents[i]] % folds
    return fold


def cross_validate(dev: dict[str, list], features: tuple[str, ...],
                   folds: int = 4) -> dict[str, dict[str, float]]:
    """Held-out AUC and BA per set (BA at the cut chosen on the training folds of that set)."""
    labels, sets = dev["labels"], dev["sets"]
    fold = folds_by_document(sets, dev["documents"], folds)
    held, decided = np.zeros(len(labels)), np.zeros(len(labels), dtype=int)
    for k in range(folds):
        train = [i for i in range(len(labels)) if fold[i] != k]
        test = [i for i in range(len(labels)) if fold[i] == k]
        x = np.array([worst(dev["matrices"][i], features) for i in train])
        w, b = fit(x, labels[train], row_weights(labels[train], [sets[i] for i in train]),
                   features)
        train_scores = claim_scores([dev["matrices"][i] for i in train], w, b)
        test_scores = claim_scores([dev["matrices"][i] for i in test], w, b)
        for name in dict.fromkeys(sets):
            chosen = [j for j, i in enumerate(train) if sets[i] == name]
            cut = choose_threshold([int(labels[train[j]]) for j in chosen],
                                   [float(train_scores[j]) for j in chosen])
            for i, s in zip(test, test_scores, strict=True):
                if sets[i] == name:
                    held[i], decided[i] = s, int(s >= cut)
    figures = {}
    for name in dict.fromkeys(sets):
        rows = [i for i, s in enumerate(sets) if s == name]
        y = [int(labels[i]) for i in rows]
        figures[name] = {"rows": len(rows),
                         "auc": round(100 * roc_auc(y, [held[i] for i in rows]), 1),
                         "ba": round(100 * balanced_accuracy(y, [decided[i] for i in rows]), 1)}
    return figures


def dev_figures(scores: np.ndarray, labels: np.ndarray, sets: list[str],
                cuts: tuple[float, float]) -> dict[str, dict[str, float]]:
    """In-sample figures per set: AUC, and the share of each class on the wrong side of a cut."""
    figures = {}
    for name in dict.fromkeys(sets):
        chosen = np.array([s == name for s in sets])
        y, s = labels[chosen], scores[chosen]
        figures[name] = {
            "rows": int(chosen.sum()),
            "auc": round(100 * roc_auc(y.tolist(), s.tolist()), 1),
            "consistent_below_default": round(100 * float((s[y == 1] < cuts[0]).mean()), 1),
            "inconsistent_at_default": round(100 * float((s[y == 0] >= cuts[0]).mean()), 1),
            "inconsistent_at_supported": round(100 * float((s[y == 0] >= cuts[1]).mean()), 1),
        }
    return figures


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    data = Path(args[0]) if args else DATA
    features = FEATURES
    for a in sys.argv[1:]:
        if a.startswith("--features="):  # to compare feature sets in cross-validation
            features = tuple(a.split("=", 1)[1].split(","))
        if a.startswith("--set-weights="):  # 'frank-cnndm:2,summedits-news:2'
            SET_WEIGHT.update((k, float(v)) for k, v in
                              (p.split(":") for p in a.split("=", 1)[1].split(",")))
    dev = measure_dev(data, features)
    if "--cv" in sys.argv:
        for name, f in cross_validate(dev, features).items():
            sys.stdout.write(f"{name:17s} dev rows {f['rows']:4d}  held-out AUC {f['auc']:.1f}  "
                             f"BA {f['ba']:.1f}\n")
        return
    labels, sets = dev["labels"], dev["sets"]
    x = np.array([worst(m, features) for m in dev["matrices"]])
    w, b = fit(x, labels, row_weights(labels, sets), features)
    w, b = np.round(w, 3), round(float(b), 3)  # as written, so that the cuts fit the checker
    scores = claim_scores(dev["matrices"], w, b)
    cuts = choose_cuts(scores, labels, sets)
    result = {
        "made_by": "evals/fit_support.py",
        "fitted_on": "dev rows of " + ", ".join(name for name, _, _ in SETS)
                     + " (each set and each class within it weighing the same)",
        "date": datetime.date.today().isoformat(),
        "features": list(features),
        "weights": [round(float(v), 3) for v in w],
        "bias": round(float(b), 3),
        "cuts": {"unsupported": cuts[0], "supported": cuts[1]},
        "cut_rules": {
            "unsupported": f"highest cut with at most {FALSE_ALARMS:.0%} of consistent dev "
                           "summaries below it (sets weighing the same)",
            "supported": f"lowest cut with at most {FALSE_PASSES:.0%} of inconsistent dev "
                         "summaries at or above it (sets weighing the same, "
                         + ", ".join(sorted(NOT_PRECISION_SETS)) + " left out)",
        },
        "dev": {
            "consistent_below_default": round(100 * weighted_share(
                scores, labels == 1, sets, cuts[0], below=True), 1),
            "inconsistent_at_supported": round(100 * weighted_share(
                scores, (labels == 0) & np.array([s not in NOT_PRECISION_SETS for s in sets]),
                sets, cuts[1], below=False), 1),
            "per_set": dev_figures(scores, labels, sets, cuts),
            "cross_validated": cross_validate(dev, features),
        },
    }
    text = json.dumps(result, indent=2) + "\n"
    if "--print" in sys.argv:
        sys.stdout.write(text)
        return
    OUTPUT.write_text(text, encoding="utf-8")
    sys.stdout.write(f"wrote {OUTPUT.relative_to(ROOT)}: weights {result['weights']}, "
                     f"bias {result['bias']}, cuts {result['cuts']}\n")


if __name__ == "__main__":
    main()
