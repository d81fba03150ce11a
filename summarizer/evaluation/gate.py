"""The regression gate: floors pinned next to the hash of the data they were measured on."""

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


def check(figures: dict[str, float], baseline: dict[str, Any], data_hash: str,
          backend: str) -> Verdict:
    """Every pinned floor that this run measured must be met, on the same data and backend."""
    verdict = Verdict(passed=True)
    if not baseline.get("floors"):
        verdict.notes.append("no floors pinned yet; run with --update-baseline to pin them")
        return verdict
    if baseline.get("backend") != backend:
        verdict.notes.append(f"floors were pinned on the {baseline.get('backend')} backend, "
                             f"this run used {backend}: not compared")
        return verdict
    if baseline.get("data_hash") != data_hash:
        verdict.passed = False
        verdict.failures.append(
            f"the eval data changed (hash {data_hash[:12]}, floors pinned on "
            f"{str(baseline.get('data_hash'))[:12]}); re-pin with --update-baseline")
        return verdict
    for name, floor in sorted(baseline["floors"].items()):
        value = figures.get(name)
        if value is None:
            verdict.notes.append(f"{name}: not measured in this run (data absent?), not compared")
        elif value < floor - TOLERANCE:
            verdict.passed = False
            verdict.failures.append(f"{name}: {value:.4f} is below its floor {floor:.4f}")
    unpinned = sorted(set(figures) - set(baseline["floors"]))
    if unpinned:
        verdict.notes.append(f"not gated yet (no floor pinned): {', '.join(unpinned)}; "
                             "--update-baseline pins them")
    return verdict


def update(path: Path, figures: dict[str, float], data_hash: str, backend: str,
           allow_lower: bool = False) -> list[str]:
    """Pin this run's figures as the floors; lowering one needs `allow_lower`.

    Changed data is no licence to lower a floor silently: sets are mostly added, and a worse
    figure on the new data is a regression until someone says otherwise. Floors pinned on another
    backend are not compared.
    """
    old = load(path)
    floors = dict(old.get("floors", {})) if old.get("backend") == backend else {}
    lowered = [f"{name}: {floors[name]:.4f} -> {value:.4f}" for name, value in figures.items()
               if name in floors and value < floors[name] - TOLERANCE]
    if lowered and not allow_lower:
        raise GateError("refusing to lower floors without --allow-lower: " + "; ".join(lowered))
    floors.update({name: math.floor(value * 10_000) / 10_000 for name, value in figures.items()})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"backend": backend, "data_hash": data_hash,
                                "floors": dict(sorted(floors.items()))}, indent=2) + "\n",
                    encoding="utf-8")
    return lowered
