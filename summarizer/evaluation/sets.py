"""Sets made by the project: labelled edits (loading, scoring the support checker, hashing the
data) and hostile injection cases (loading, finding what of an attack reached the output).

A row is one summary sentence with the passages it cites (`evals/make_edits.py` writes them):
the pipeline's own sentence (label 1, edit "none") or a copy broken by one controlled edit
(label 0, edit "entity", "number", "date", "place", "negation" or "wrong_citation").
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..checking.offline import DEFAULT_THRESHOLD, Sources
from ..models import Result
from ..text import normalise
from .metrics import share

EDIT_TYPES = ("none", "entity", "number", "date", "place", "negation", "wrong_citation")


def load_edits(path: str | Path) -> list[dict[str, Any]]:
    """The rows of an edits JSONL file; a row missing a field is an error naming its line."""
    rows = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        missing = [k for k in ("id", "edit_type", "label", "sentence", "citations") if k not in row]
        if missing or not row["citations"]:
            raise ValueError(f"{path}:{number}: row lacks {', '.join(missing) or 'citations'}")
        rows.append(row)
    return rows


def score_edits(rows: Sequence[dict[str, Any]],
                threshold: float = DEFAULT_THRESHOLD) -> dict[str, Any]:
    """How often the offline checker gets each kind of row right, as a JSON-able dict.

    Each sentence is checked against the passages it cites and nothing else, as the pipeline
    first does (for `wrong_citation` rows that is the wrong passage). A label-0 row is right when
    caught as unsupported, a label-1 row when accepted as supported. `balanced_accuracy` is the
    mean of the two labels' accuracies; `by_set` gives it per article set.
    """
    sources: dict[tuple[str, ...], Sources] = {}
    outcomes: list[tuple[dict[str, Any], bool]] = []
    for row in rows:
        passages = tuple(c["passage_text"] for c in row["citations"])
        if passages not in sources:
            sources[passages] = Sources(list(passages))
        supported = sources[passages].check(row["sentence"], threshold).supported
        outcomes.append((row, supported == bool(row["label"])))
    by_edit = {}
    for edit_type in _ordered({row["edit_type"] for row in rows}):
        mine = [right for row, right in outcomes if row["edit_type"] == edit_type]
        by_edit[edit_type] = {"rows": len(mine), "correct": sum(mine),
                              "accuracy": share(sum(mine), len(mine))}
    by_set = {}
    for name in sorted({row.get("set", "") for row in rows}):
        by_set[name] = _balanced([o for o in outcomes if o[0].get("set", "") == name])
    return {
        "threshold": threshold,
        "rows": len(rows),
        "by_edit": by_edit,
        **_balanced(outcomes),
        "by_set": by_set,
    }


def _balanced(outcomes: Sequence[tuple[dict[str, Any], bool]]) -> dict[str, Any]:
    labelled = {label: [right for row, right in outcomes if int(row["label"]) == label]
                for label in (1, 0)}
    accuracies = [share(sum(v), len(v)) for v in labelled.values()]
    return {
        "label_1": {"rows": len(labelled[1]), "accepted": sum(labelled[1]),
                    "accuracy": accuracies[0]},
        "label_0": {"rows": len(labelled[0]), "caught": sum(labelled[0]),
                    "accuracy": accuracies[1]},
        "balanced_accuracy": None if None in accuracies
        else round((accuracies[0] + accuracies[1]) / 2, 4),  # type: ignore[operator]
    }


def _ordered(types: Iterable[str]) -> list[str]:
    """Known edit types in their usual order, then any others alphabetically."""
    found = set(types)
    return [t for t in EDIT_TYPES if t in found] + sorted(found - set(EDIT_TYPES))


def data_hash(paths: Iterable[str | Path]) -> str:
    """sha256 over the files' bytes, read in sorted path order: pins the data a floor was set on."""
    digest = hashlib.sha256()
    for path in sorted(str(p) for p in paths):
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# Injection cases: hostile articles and what of their attack may never reach a reader


@dataclass(frozen=True)
class InjectionCase:
    """One hostile article set (a folder of articles) and the marks of its attack: `payloads`,
    words the planted instruction asks for, and `claims`, planted words with the one article
    file they may be credited to."""

    id: str
    kind: str
    folder: Path
    planted: str
    payloads: tuple[str, ...]
    claims: tuple[tuple[str, str], ...] = ()


def load_injection_cases(path: str | Path) -> list[InjectionCase]:
    """The cases of a `cases.json`, each folder beside it; a case missing a field or a folder
    is an error naming it."""
    path = Path(path)
    cases = []
    for entry in json.loads(path.read_text(encoding="utf-8"))["cases"]:
        missing = [k for k in ("id", "kind", "planted", "payloads") if k not in entry]
        folder = path.parent / str(entry.get("id", ""))
        if missing or not folder.is_dir():
            raise ValueError(f"{path}: case {entry.get('id')!r} lacks "
                             f"{', '.join(missing) or f'its folder {folder}'}")
        cases.append(InjectionCase(
            id=entry["id"], kind=entry["kind"], folder=folder, planted=entry["planted"],
            payloads=tuple(entry["payloads"]),
            claims=tuple((c["text"], c["only"]) for c in entry.get("claims", ()))))
    return cases


def injection_reached(case: InjectionCase, result: Result) -> list[str]:
    """What of the case's attack reached the reader, one line each: a payload in a sentence
    not marked suspicious, or a planted claim credited to another article or outlet."""
    origin = {a.article.id: Path(a.article.origin).name for a in result.articles}
    reached = []
    for sentence in result.sentences():
        text = normalise(sentence.text)
        if sentence.support != "suspicious":
            reached += [f"payload {p!r} in “{sentence.text}”" for p in case.payloads
                        if normalise(p) in text]
        for claim, only in case.claims:
            if normalise(claim) not in text:
                continue
            others = sorted({origin.get(c.article_id, c.article_id) for c in sentence.citations}
                            - {only})
            if others or (sentence.sources is not None and sentence.sources.supporting > 1):
                reached.append(f"claim {claim!r} credited to {', '.join(others) or 'more outlets'}"
                               f" in “{sentence.text}”")
    return reached
