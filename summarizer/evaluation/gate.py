"""The regression gate: floors pinned next to the hash of the data they were measured on.

Floors are pinned per backend: the file's own `backend`, `data_hash` and `floors` (the backend
CI runs), and under `backends` those of any other (the embedded model's, say), each with the
hash of the data it was measured on. A run is compared with its own backend's floors only.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import GateError

TOLERANCE = 1e-6  # the gated evals are deterministic; only float noise is forgiven


@dataclass
class Verdict:
    passed: bool
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def load(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {"floors": {}}
    baseline: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return baseline


def pinned(baseline: dict[str, Any], backend: str) -> dict[str, Any] | None:
    """The data hash and floors pinned for this backend, if any."""
    if baseline.get("backend") == backend:
        return {"data_hash": baseline.get("data_hash"), "floors": baseline.get("floors", {})}
    other: dict[str, Any] | None = baseline.get("backends", {}).get(backend)
    return other


def check(figures: dict[str, float], baseline: dict[str, Any], data_hash: str,
          backend: str) -> Verdict:
    """Every pinned floor that this run measured must be met, on the same data and backend."""
    verdict = Verdict(passed=True)
    if not baseline.get("floors"):
        verdict.notes.append("no floors pinned yet; run with --update-baseline to pin them")
        return verdict
    mine = pinned(baseline, backend)
    if mine is None:
        others = [baseline.get("backend"), *baseline.get("backends", {})]
        verdict.notes.append(f"floors were pinned on the {' and '.join(map(str, others))} "
                             f"backend, this run used {backend}: not compared")
        return verdict
    if mine.get("data_hash") != data_hash:
        verdict.passed = False
        verdict.failures.append(
            f"the eval data changed (hash {data_hash[:12]}, floors pinned on "
            f"{str(mine.get('data_hash'))[:12]}); re-pin with --update-baseline")
        return verdict
    for name, floor in sorted(mine["floors"].items()):
        value = figures.get(name)
        if value is None:
            verdict.notes.append(f"{name}: not measured in this run (data absent?), not compared")
        elif value < floor - TOLERANCE:
            verdict.passed = False
            verdict.failures.append(f"{name}: {value:.4f} is below its floor {floor:.4f}")
    unpinned = sorted(set(figures) - set(mine["floors"]))
    if unpinned:
        verdict.notes.append(f"not gated yet (no floor pinned): {', '.join(unpinned)}; "
                             "--update-baseline pins them")
    return verdict


def update(path: Path, figures: dict[str, float], data_hash: str, backend: str,
           allow_lower: bool = False) -> list[str]:
    """Pin this run's figures as this backend's floors; lowering one needs `allow_lower`.

    Changed data is no licence to lower a floor silently: sets are mostly added, and a worse
    figure on the new data is a regression until someone says otherwise. Floors pinned on other
    backends are kept as they are.
    """
    old = load(path)
    floors = dict((pinned(old, backend) or {}).get("floors", {}))
    lowered = [f"{name}: {floors[name]:.4f} -> {value:.4f}" for name, value in figures.items()
               if name in floors and value < floors[name] - TOLERANCE]
    if lowered and not allow_lower:
        raise GateError("refusing to lower floors without --allow-lower: " + "; ".join(lowered))
    floors.update({name: math.floor(value * 10_000) / 10_000 for name, value in figures.items()})
    mine = {"data_hash": data_hash, "floors": dict(sorted(floors.items()))}
    others = dict(old.get("backends", {}))
    if not old.get("floors") or old.get("backend") == backend:
        new = {"backend": backend, **mine}
    else:  # the file's own backend stays first; this one joins the others
        new = {key: old[key] for key in ("backend", "data_hash", "floors")}
        others[backend] = mine
    if others:
        new["backends"] = dict(sorted(others.items()))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(new, indent=2) + "\n", encoding="utf-8")
    return lowered
