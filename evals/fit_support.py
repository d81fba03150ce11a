"""Fit the support checker's weights and DEFAULT_THRESHOLD on dev rows only.

    python evals/fit_support.py [DATA_DIR]          # fit on all dev rows, print the constants
    python evals/fit_support.py --cv [DATA_DIR]     # cross-validate on dev rows only

Reads frank.jsonl and summedits_news.jsonl (dev rows only), measures every summary sentence with
`Sources.measure`, fits a sign-constrained logistic regression with numpy, and prints the
constants to paste into summarizer/support.py. Test rows are never read here.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from summarizer import support  # noqa: E402
from summarizer.evaluation.metaeval import choose_threshold, load_rows  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "faithfulness"
FILES = ("frank.jsonl", "summedits_news.jsonl")
# XSum (FRANK bbc) summaries are almost all unfaithful rewrites, unlike what the pipeline checks;
# they count for less so that CNN/DM and SummEdits shape the weights.
GROUP_WEIGHT = {"cnndm": 1.0, "bbc": 0.3, "news": 1.0}
# Overlap features may only raise the score, error detectors only lower it.
RAISES = {"uni_sent", "bi_sent"}
L2 = 1.0
STEPS, RATE = 4000, 0.5


def measure_dev(data: Path) -> tuple[list[np.ndarray], np.ndarray, list[str], list[str]]:
    """Per-row matrices of sentence features, labels, groups and documents, for the dev rows."""
    matrices, labels, groups, documents = [], [], [], []
    for name in FILES:
        sources: dict[str, support.Sources] = {}
        for row in load_rows(data / name, split="dev"):
            source = sources.setdefault(row.document, support.Sources([row.document]))
            checks = [source.measure(row.summary[a:b])
                      for a, b in support.split_sentences(row.summary)]
            rows = [[c.features[f] for f in support.FEATURES] for c in checks if c is not None]
            matrices.append(np.array(rows or [[0.0] * len(support.FEATURES)]))
            labels.append(row.label)
            groups.append(row.origin)
            documents.append(row.document)
    return matrices, np.array(labels), groups, documents


def worst(matrix: np.ndarray) -> np.ndarray:
    """A summary's features as its worst sentence would have them, feature by feature."""
    low = matrix.min(axis=0)
    high = matrix.max(axis=0)
    return np.array([low[i] if f in RAISES else high[i] for i, f in enumerate(support.FEATURES)])


def row_weights(labels: np.ndarray, groups: list[str]) -> np.ndarray:
    """Each group and each class within it weighs the same, scaled by GROUP_WEIGHT."""
    weights = np.zeros(len(labels))
    for group in set(groups):
        for cls in (0, 1):
            chosen = [i for i, g in enumerate(groups) if g == group and labels[i] == cls]
            if chosen:
                weights[chosen] = GROUP_WEIGHT.get(group, 1.0) / len(chosen)
    return weights / weights.sum()


def fit(x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, float]:
    """Weighted, L2-penalised logistic regression by projected gradient descent."""
    w, b = np.zeros(x.shape[1]), 0.0
    sign = np.array([1.0 if f in RAISES else -1.0 for f in support.FEATURES])
    for _ in range(STEPS):
        p = 1.0 / (1.0 + np.exp(-(x @ w + b)))
        error = weights * (p - y)
        w -= RATE * (x.T @ error + L2 * w / len(y))
        b -= RATE * error.sum()
        w = np.where(w * sign < 0, 0.0, w)  # keep each weight on its side of zero
    return w, b


def claim_scores(matrices: list[np.ndarray], w: np.ndarray, b: float) -> list[float]:
    """The claim's score is its weakest sentence's score, as in Sources.check."""
    return [float((1.0 / (1.0 + np.exp(-(m @ w + b)))).min()) for m in matrices]


def cross_validate(matrices: list[np.ndarray], labels: np.ndarray, groups: list[str],
                   documents: list[str], folds: int = 4) -> None:
    """Dev rows only, split by document (a document's rows never straddle train and held-out):
    SummEdits' 4 dev documents give leave-one-document-out, FRANK's documents are dealt into
    the same 4 folds. Prints held-out AUC and BA per origin (threshold from the training folds)."""
    from summarizer.evaluation.metaeval import balanced_accuracy, roc_auc

    per_group: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        per_group.setdefault(g, []).append(i)
    fold = np.zeros(len(labels), dtype=int)
    for rows in per_group.values():
        docs = list(dict.fromkeys(documents[i] for i in rows))
        for i in rows:
            fold[i] = docs.index(documents[i]) % folds
    held, decided = np.zeros(len(labels)), np.zeros(len(labels))
    for k in range(folds):
        train = [i for i in range(len(labels)) if fold[i] != k]
        test = [i for i in range(len(labels)) if fold[i] == k]
        x = np.array([worst(matrices[i]) for i in train])
        w, b = fit(x, labels[train], row_weights(labels[train], [groups[i] for i in train]))
        train_scores = claim_scores([matrices[i] for i in train], w, b)
        test_scores = claim_scores([matrices[i] for i in test], w, b)
        for g in per_group:
            chosen = [j for j, i in enumerate(train) if groups[i] == g]
            cut = choose_threshold([int(labels[train[j]]) for j in chosen],
                                   [train_scores[j] for j in chosen])
            for i, s in zip(test, test_scores, strict=True):
                if groups[i] == g:
                    held[i], decided[i] = s, int(s >= cut)
    for g, rows in sorted(per_group.items()):
        y = [int(labels[i]) for i in rows]
        sys.stdout.write(f"{g:6s} dev rows {len(rows):4d}  held-out AUC "
                         f"{100 * roc_auc(y, [held[i] for i in rows]):.1f}  BA "
                         f"{100 * balanced_accuracy(y, [int(decided[i]) for i in rows]):.1f}\n")


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--cv"]
    data = Path(args[0]) if args else DATA
    matrices, labels, groups, documents = measure_dev(data)
    if "--cv" in sys.argv:
        cross_validate(matrices, labels, groups, documents)
        return
    x = np.array([worst(m) for m in matrices])
    w, b = fit(x, labels, row_weights(labels, groups))
    scores = claim_scores(matrices, w, b)
    threshold = choose_threshold(labels.tolist(), scores)
    counts = {g: groups.count(g) for g in sorted(set(groups))}
    sys.stdout.write(f"# fitted on {len(labels)} dev rows: {counts}\n"
                     f"WEIGHTS = ({', '.join(f'{v:.3f}' for v in w)})\n"
                     f"BIAS = {b:.3f}\n"
                     f"DEFAULT_THRESHOLD = {threshold:.3f}\n")


if __name__ == "__main__":
    main()
