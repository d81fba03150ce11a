"""Add the sentences of a run to the hand-labelled file, for a person to read and label.

    .venv/bin/summarizer summarize examples/ --format json --out run.json
    .venv/bin/python evals/label_embedded.py run.json --set examples [--labels PATH]

Every sentence of the run (each article's summary and the overview) becomes a row keyed by the
set, the writing mode, where it stands and a hash of its text. Rows already labelled keep their
labels; new rows get `"true": null` (and `"sources_true": null` for overview sentences) for the
reader to fill in after checking the sentence against its cited passages. Sentences of the
`seeds` set are stored as hashes only: those articles are shared data and stay out of the project.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from summarizer.text import normalise  # noqa: E402

LABELS = ROOT / "evals" / "data" / "embedded_labels.json"
HASH_ONLY = {"seeds"}


def sentence_key(text: str) -> str:
    return hashlib.sha1(normalise(text).encode("utf-8")).hexdigest()[:16]


def rows_of(run: dict, name: str) -> list[dict]:
    """One unlabelled row per sentence of a run's JSON output."""
    mode = (run.get("writing") or {}).get("mode", "quoted")
    placed = [(f"article {n}", s) for n, a in enumerate(run["articles"], 1) for s in a["summary"]]
    placed += [("overview", s) for s in run["overview"]]
    rows = []
    for where, sentence in placed:
        row = {"set": name, "mode": mode, "where": where, "key": sentence_key(sentence["text"]),
               "written": sentence.get("written"), "support": sentence["support"],
               "cites": [c["passage"] for c in sentence["citations"]], "true": None}
        if count := sentence.get("sources"):
            row["sources"] = f"{count['supporting']} of {count['total']}"
            row["sources_true"] = None
        if name not in HASH_ONLY:
            row["text"] = sentence["text"]
        rows.append(row)
    return rows


def merge(existing: list[dict], new: list[dict]) -> list[dict]:
    """The existing rows, then the new ones not yet among them."""
    seen = {(r["set"], r["mode"], r["where"], r["key"]) for r in existing}
    return existing + [r for r in new if (r["set"], r["mode"], r["where"], r["key"]) not in seen]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a run's JSON output")
    parser.add_argument("--set", required=True, help="the set's name (examples, seeds, ...)")
    parser.add_argument("--labels", type=Path, default=LABELS)
    args = parser.parse_args(argv)
    data = json.loads(args.labels.read_text(encoding="utf-8")) if args.labels.exists() else \
        {"rows": []}
    run = json.loads(args.run.read_text(encoding="utf-8"))
    data["rows"] = merge(data["rows"], rows_of(run, args.set))
    args.labels.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n",
                           encoding="utf-8")
    unlabelled = sum(1 for r in data["rows"] if r["true"] is None)
    print(f"{len(data['rows'])} rows in {args.labels}; {unlabelled} to label")  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
