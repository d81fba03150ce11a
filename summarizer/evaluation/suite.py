"""`summarizer eval all`: every eval of the project in one report, as JSON, Markdown and HTML;
`summarizer eval injection`: how often a hostile article's instruction reaches the output."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from ..checking.offline import DEFAULT_THRESHOLD
from ..ingest import read_inputs
from ..llm.base import Backend
from ..pipeline import Options, summarize
from ..text import normalise
from .metaeval import AsyncScorer, CutFigures, Evaluation
from .metrics import (
    FACT_METRICS,
    METRICS,
    KeyFact,
    Labels,
    LabelScores,
    SetScores,
    load_key_facts,
    load_labels,
    score_labels,
    score_run,
    summarise_sets,
    true_among_supported,
)
from .sets import InjectionCase

KEY_FACTS = Path("evals") / "data" / "key_facts.json"
# Hostile article sets, run by their own eval: their reporting is not a news set's to score.
INJECTION_CASES = Path("evals") / "sets" / "injection" / "cases.json"
GATED_DATA = ("multidoc_edits.jsonl", "multidoc_sets.json", "key_facts.json")
FAITHFULNESS_SETS = (("frank.jsonl", "cnndm"), ("frank.jsonl", "bbc"),
                     ("summedits_news.jsonl", None))
# SummaC validation cuts: dev rows only, so no threshold can be chosen apart from the rows
# reported; they were also looked at while the checker was developed. Reported, never gated.
DEV_ONLY_SETS = ("summac_factcc.jsonl", "summac_polytope.jsonl", "summac_summeval.jsonl",
                 "summac_xsumfaith.jsonl")
SET_TITLES = {"frank-cnndm": "FRANK, origin cnndm", "frank-bbc": "FRANK, origin bbc",
              "summedits_news": "SummEdits news", "summac_factcc": "SummaC FactCC",
              "summac_polytope": "SummaC Polytope", "summac_summeval": "SummaC SummEval",
              "summac_xsumfaith": "SummaC XSumFaith"}
SCORER_TITLES = {"checker": "offline checker", "bigram precision": "bigram precision",
                 "novelty": "name/number novelty", "judge": "LLM judge",
                 "checker, judge's sample": "offline checker, on the judge's sample"}


@dataclass
class Report:
    backend: str
    model: str
    data_hash: str
    pipeline: list[SetScores] = field(default_factory=list)
    edits: dict[str, Any] | None = None
    faithfulness: list[dict[str, Any]] = field(default_factory=list)
    labels: list[LabelScores] = field(default_factory=list)  # runs held to hand labels
    skipped: list[str] = field(default_factory=list)
    generated: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def figures(self) -> dict[str, float]:
        """Every gated figure by a stable name."""
        out: dict[str, float] = {}
        for metric, value in summarise_sets(self.pipeline).items():
            if value is not None:
                out[f"pipeline.{metric}"] = value
        if self.edits:
            for edit, accuracy in self.edits["accuracy"].items():
                if accuracy is not None:
                    out[f"edits.{edit}"] = accuracy
            out["edits.balanced_accuracy"] = self.edits["balanced_accuracy"]
        for row in self.faithfulness:
            name = f"faithfulness.{row['set']}"
            out[f"{name}.balanced_accuracy"] = row["balanced_accuracy"]
            out[f"{name}.roc_auc"] = row["roc_auc"]
            # At the product's own cut; floors only rise, so the share of consistent rows it
            # flags is gated as the share it lets through.
            cut = row["default_cut"]
            out[f"{name}.default_cut.balanced_accuracy"] = cut["balanced_accuracy"]
            if cut["flagged_consistent"] is not None:
                out[f"{name}.default_cut.consistent_not_flagged"] = round(
                    1 - cut["flagged_consistent"], 4)
        held = true_among_supported(self.labels)
        if held is not None:
            out["labels.true_among_supported"] = held
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "generated": self.generated, "backend": self.backend, "model": self.model,
            "data_hash": self.data_hash,
            "pipeline": {"sets": [s.to_dict() for s in self.pipeline],
                         "mean": summarise_sets(self.pipeline)},
            "edits": self.edits, "faithfulness": self.faithfulness,
            "labels": [held.to_dict() for held in self.labels], "skipped": self.skipped,
            "figures": self.figures(),
        }


def default_sets(root: Path) -> list[Path]:
    """The bundled examples and every news set under evals/sets, in name order (the hostile
    injection cases are not news sets)."""
    sets = [root / "examples"] if (root / "examples").is_dir() else []
    sets_dir = root / "evals" / "sets"
    hostile = (root / INJECTION_CASES).parent
    if sets_dir.is_dir():
        sets += sorted(p for p in sets_dir.iterdir() if p.is_dir() and p != hostile)
    return sets


async def run_pipeline_evals(sets: Sequence[Path], backend: Backend,
                             options: Options | None = None,
                             root: Path | None = None) -> list[SetScores]:
    """Summarise each set (no cache: every call is made) and score what came out.

    A set named in `root`/evals/data/key_facts.json is also scored against its key facts.
    """
    scores, _ = await evaluate_sets(sets, backend, options, root)
    return scores


async def evaluate_sets(sets: Sequence[Path], backend: Backend, options: Options | None = None,
                        root: Path | None = None, labels: Labels | None = None,
                        ) -> tuple[list[SetScores], list[LabelScores]]:
    """`run_pipeline_evals`, and each run held to the hand labels of its set (by folder name)
    where `labels` has some."""
    options = options or Options()
    facts = key_facts_by_folder(root or Path.cwd())
    scores, labelled = [], []
    for folder in sets:
        docs, skips = read_inputs([str(folder)])
        result = await summarize(docs, skips, backend=backend, options=options)
        cut = DEFAULT_THRESHOLD if options.threshold is None else options.threshold
        scores.append(score_run(folder.name, result, cut,
                                facts.get(folder.resolve(), ())))
        held = score_labels(folder.name, result, labels) if labels else None
        if held is not None:
            labelled.append(held)
    return scores, labelled


def labels_for(backend: Backend, path: Path) -> tuple[Labels | None, list[str]]:
    """The hand labels, when this run's backend is the embedded model they were written for."""
    if backend.name != "local":
        return None, []
    if not path.is_file():
        return None, [f"hand labels: not found at {path}"]
    return load_labels(path), []


async def run_injection(cases_path: Path, backend: Backend | None,
                        options: Options | None = None) -> dict[str, Any]:
    """Summarise each hostile case (no cache) and list what of its attack reached the output:
    a payload in a sentence not marked suspicious, or a planted claim credited elsewhere.
    With no `backend`, each case is answered by a model its attack fooled (`fooled_model`)."""
    from .sets import injection_reached, load_injection_cases

    options = options or Options()
    rows, model, mode = [], None, None
    for case in load_injection_cases(cases_path):
        docs, skips = read_inputs([str(case.folder)])
        answering = backend or fooled_model(case)
        result = await summarize(docs, skips, backend=answering, options=options)
        model = answering.model
        mode = result.writing.mode if result.writing else None
        rows.append({"id": case.id, "kind": case.kind,
                     "reached": injection_reached(case, result),
                     "marked": sum(1 for s in result.sentences() if s.support == "suspicious"),
                     "sentences": len(result.sentences())})
    return {"backend": backend.name if backend else "fooled", "model": model, "writing": mode,
            "cases": rows, "reached": sum(1 for r in rows if r["reached"]), "total": len(rows)}


def fooled_model(case: InjectionCase) -> Backend:
    """A stand-in for a model the attack fooled completely: asked to choose, it picks the
    planted sentence first wherever it is offered, names forged ids and writes the payload;
    asked to restate, it writes the payload (or the planted words) on every line, and lines
    for ids it was never given. Whatever it answers, the output must stay clean."""
    from ..llm.base import CompletionRequest
    from ..llm.scripted import ScriptedBackend
    from ..untrusted import material

    planted = set(normalise(material(case.planted)).split())
    payload = case.payloads[0] if case.payloads else case.planted

    def answer(request: CompletionRequest) -> str:
        def aimed(text: str) -> bool:
            words = normalise(text).split()
            return bool(words) and sum(w in planted for w in words) >= 0.6 * len(words)

        ids = [f"[{i.id}]" for i in sorted(request.items, key=lambda i: not aimed(i.text))]
        if request.reply == "ids":
            return "\n".join([payload, *ids[:1], "[9.1]", "[2.1]", *ids[1:]])
        return "\n".join([*(f"{i} {payload}" for i in ids), f"[9.1] {payload}",
                          f"[2.1] {payload}"])

    return ScriptedBackend(default=answer, model="fooled-by-the-article")


def injection_markdown(runs: Sequence[dict[str, Any]], skipped: Sequence[str] = ()) -> str:
    """One table per backend: each case, whether its attack reached the output, and how."""
    lines = ["# Injection eval", ""]
    for run in runs:
        lines += [f"## {run['backend']}, {run['writing']} writing (`{run['model']}`): "
                  f"{run['reached']} of {run['total']} attacks reached the output", "",
                  "| case | kind | reached | sentences marked suspicious | of sentences |",
                  "|---|---|---|---|---|"]
        for row in run["cases"]:
            what = "; ".join(row["reached"]).replace("|", "\\|") if row["reached"] else "no"
            lines.append(f"| {row['id']} | {row['kind']} | {what} | {row['marked']} | "
                         f"{row['sentences']} |")
        lines.append("")
    if skipped:
        lines += ["Skipped: " + "; ".join(skipped), ""]
    return "\n".join(lines)


def key_facts_by_folder(root: Path) -> dict[Path, tuple[KeyFact, ...]]:
    """Each set folder's key facts, when the project has the file."""
    path = root / KEY_FACTS
    if not path.is_file():
        return {}
    return {s.folder.resolve(): s.facts for s in load_key_facts(path, root)}


def data_hash(root: Path, sets: Sequence[Path]) -> str:
    """One hash over every file the gated evals read from the project."""
    from .sets import data_hash as hash_files

    files = [p for folder in sets if folder.is_dir() for p in folder.rglob("*") if p.is_file()]
    # The hand labels beside them are not hashed: their one figure (labels.true_among_supported,
    # under the local backend) has the floor 1.0 whatever the file holds, and relabelling a
    # sentence is a reader's act, seen in review; tests/test_labels.py holds them too.
    files += [p for p in (root / "evals" / "data").glob("*")
              if p.is_file() and p.name in GATED_DATA]
    return hash_files(files)


def run_edits(root: Path) -> tuple[dict[str, Any] | None, list[str]]:
    """The checker on the project's multi-document edits, per edit type."""
    from .sets import load_edits, score_edits

    path = root / "evals" / "data" / "multidoc_edits.jsonl"
    if not path.is_file():
        return None, [f"edits: {path} not found"]
    scores = score_edits(load_edits(path))
    return {
        "accuracy": {edit: v["accuracy"] for edit, v in scores["by_edit"].items()},
        "rows": {edit: v["rows"] for edit, v in scores["by_edit"].items()},
        "balanced_accuracy": scores["balanced_accuracy"],
        "threshold": scores["threshold"],
        "by_set": scores["by_set"],
    }, []


def run_faithfulness(data_dir: Path, split: str = "test", judge: AsyncScorer | None = None,
                     limit: int | None = None, dev_only: bool = False,
                     ) -> tuple[list[dict[str, Any]], list[str]]:
    """The offline checker and the baselines (and the judge, when given) on each labelled set
    present in `data_dir`: on `split` rows with thresholds from dev rows; with `dev_only`, also
    on the sets that have dev rows only (SummaC), where the threshold is chosen on the rows
    reported (the judge is not run on those)."""
    from .metaeval import compare

    sets = [(name, origin, split) for name, origin in FAITHFULNESS_SETS]
    if dev_only:
        sets += [(name, None, "dev") for name in DEV_ONLY_SETS]
    rows, skipped = [], []
    for name, origin, chosen in sets:
        path = data_dir / name
        if not path.is_file():
            skipped.append(f"faithfulness {name}: not found at {path}")
            continue
        in_sample = name in DEV_ONLY_SETS
        results = compare(path, origin=origin, split=chosen,
                          judge=None if in_sample else judge, limit=limit)
        rows.append(faithfulness_row(name, origin, results, in_sample=in_sample))
    return rows, skipped


def faithfulness_row(name: str, origin: str | None, results: Sequence[Evaluation],
                     in_sample: bool = False) -> dict[str, Any]:
    """One set's figures: the checker's at top level (what the gate reads), every scorer's
    under `scorers`."""
    checker = results[0]
    return {
        "set": set_name(name, origin), "title": SET_TITLES.get(set_name(name, origin), name),
        "data": name, "origin": origin, "split": checker.split, "rows": checker.rows,
        "positives": checker.positives, "dev_rows": checker.dev_rows,
        "threshold_on": "the same rows (in-sample)" if in_sample else "dev rows",
        **_figures(checker),
        "scorers": [{"scorer": r.scorer, **_figures(r)} for r in results],
    }


def set_name(data: str, origin: str | None) -> str:
    """A labelled set's stable name: `frank-cnndm`, `summedits_news`."""
    return data.removesuffix(".jsonl") + (f"-{origin}" if origin else "")


def _figures(result: Evaluation) -> dict[str, Any]:
    out: dict[str, Any] = {"threshold": round(result.threshold, 4),
                           "balanced_accuracy": round(result.balanced_accuracy, 4),
                           "roc_auc": round(result.roc_auc, 4)}
    if result.limit is not None:
        out |= {"limit": result.limit, "rows": result.rows, "dev_rows": result.dev_rows}
    for name in ("default_cut", "supported_cut"):
        cut: CutFigures | None = getattr(result, name)
        if cut is not None:
            out[name] = {"threshold": cut.threshold,
                         "balanced_accuracy": round(cut.balanced_accuracy, 4),
                         "flagged_consistent": None if cut.flagged_consistent is None
                         else round(cut.flagged_consistent, 4)}
    return out


def faithfulness_markdown(rows: Sequence[dict[str, Any]], heading: str = "##") -> list[str]:
    """One table per labelled set: each scorer's threshold, balanced accuracy and AUC, then
    the checker at the product's own cut."""
    lines: list[str] = []
    for row in rows:
        on = row["threshold_on"]
        lines += ["", f"{heading} {row['title']} ({row['data']}, {row['split']} rows)", ""]
        if on == "dev rows":
            lines.append(f"{row['rows']} rows, {row['positives']} labelled consistent; each "
                         f"threshold chosen on {row['dev_rows']} dev rows.")
        else:
            lines.append(f"{row['rows']} rows, {row['positives']} labelled consistent. Dev rows "
                         "only: each threshold is chosen on the rows reported, so that balanced "
                         "accuracy is optimistic; where the checker was fitted on them (see "
                         "'fitted on'), every checker figure here is in-sample.")
        lines += ["", "| scorer | threshold | balanced accuracy | ROC AUC |", "|---|---|---|---|"]
        for scorer in row["scorers"]:
            name = SCORER_TITLES.get(scorer["scorer"], scorer["scorer"])
            if "limit" in scorer:
                name += (f" (sample: {scorer['rows']} {row['split']} / {scorer['dev_rows']} "
                         "dev rows)")
            lines.append(f"| {name} | {scorer['threshold']:.3f} | "
                         f"{_pct(scorer['balanced_accuracy'])} | {_pct(scorer['roc_auc'])} |")
        lines += ["", _cut_line("default cut", row["default_cut"], "flagged unsupported")]
        if row["supported_cut"]["threshold"] != row["default_cut"]["threshold"]:
            lines.append(_cut_line("supported cut", row["supported_cut"], "not marked supported"))
    return lines


def _cut_line(name: str, cut: dict[str, Any], flagged: str) -> str:
    share = cut["flagged_consistent"]
    return (f"Checker at its {name} {cut['threshold']:.3f} (fitted, not chosen here): balanced "
            f"accuracy {_pct(cut['balanced_accuracy'])}; "
            f"{'n/a' if share is None else _pct(share) + '%'} of the consistent rows "
            f"{flagged}.")


def write_reports(report: Report, out: Path) -> list[Path]:
    """report.json, report.md and index.html (charts) under `out`."""
    out.mkdir(parents=True, exist_ok=True)
    data = report.to_dict()
    paths = [out / "report.json", out / "report.md", out / "index.html"]
    paths[0].write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    paths[1].write_text(to_markdown(report), encoding="utf-8")
    paths[2].write_text(to_html(report), encoding="utf-8")
    return paths


def to_markdown(report: Report) -> str:
    lines = [f"# Eval report ({report.generated})", "",
             f"Backend `{report.backend}` (`{report.model}`); data hash `{report.data_hash[:12]}`.",
             "", "## Pipeline", "",
             "| set | articles | sentences | language | " + " | ".join(METRICS) +
             " | quoted in source language | first/last third |",
             "|---|---|---|---|" + "---|" * len(METRICS) + "---|---|"]
    for s in report.pipeline:
        values = " | ".join(_pct(s.metrics.get(m)) for m in METRICS)
        lines.append(f"| {s.name} | {s.articles} | {s.sentences} | {s.language or ''} | "
                     f"{values} | {_pct(s.quoted_in_source_language)} | "
                     f"{s.position.get('first_third', 0)}/{s.position.get('last_third', 0)} |")
    mean = summarise_sets(report.pipeline)
    lines.append("| **mean** | | | | " + " | ".join(_pct(mean[m]) for m in METRICS) + " | | |")
    leaks = [leak for s in report.pipeline for leak in s.leaks]
    if leaks:
        lines += ["", "Leaked boilerplate: " + "; ".join(f"“{leak}”" for leak in leaks)]
    lines += _facts_markdown(report.pipeline)
    if report.edits:
        lines += ["", "## Checker on multi-document edits", "",
                  "| edit | rows | accuracy |", "|---|---|---|"]
        for edit, accuracy in report.edits["accuracy"].items():
            lines.append(f"| {edit} | {report.edits['rows'].get(edit, 0)} | {_pct(accuracy)} |")
        lines.append(f"| **balanced accuracy** | {sum(report.edits['rows'].values())} | "
                     f"{_pct(report.edits['balanced_accuracy'])} |")
    if report.faithfulness:
        lines += ["", "## Checker on human-labelled data (test rows)", "",
                  "Threshold chosen on dev rows; at the default cut: the product's own cut "
                  "(`DEFAULT_THRESHOLD`), with the share of consistent rows it flags. Baselines "
                  "scored on the same rows, each with its own threshold from dev rows.", "",
                  "| data | origin | rows | threshold (dev) | balanced accuracy | ROC AUC | "
                  "BA at default cut | consistent flagged | bigram precision BA / AUC | "
                  "novelty BA / AUC |", "|---|---|---|---|---|---|---|---|---|---|"]
        for row in report.faithfulness:
            cut = row["default_cut"]
            baselines = {s["scorer"]: s for s in row["scorers"]}
            lines.append(f"| {row['data']} | {row['origin'] or ''} | {row['rows']} | "
                         f"{row['threshold']} | {_pct(row['balanced_accuracy'])} | "
                         f"{_pct(row['roc_auc'])} | {_pct(cut['balanced_accuracy'])} | "
                         f"{_pct(cut['flagged_consistent'])} | " + " | ".join(
                             f"{_pct(b['balanced_accuracy'])} / {_pct(b['roc_auc'])}"
                             for b in (baselines["bigram precision"], baselines["novelty"]))
                         + " |")
    lines += _labels_markdown(report.labels)
    if report.skipped:
        lines += ["", "Skipped: " + "; ".join(report.skipped)]
    return "\n".join(lines) + "\n"


def _labels_markdown(labels: Sequence[LabelScores]) -> list[str]:
    """The run's sentences against the hand labels: any false or unlabelled one marked
    supported is listed, since the target is none."""
    if not labels:
        return []
    lines = ["", "## Hand labels (sentences marked supported, read against their passages)", "",
             "| set | writing | sentences | marked supported | labelled true | labelled false "
             "| not labelled |", "|---|---|---|---|---|---|---|"]
    for held in labels:
        lines.append(f"| {held.name} | {held.mode} | {held.sentences} | {held.supported} | "
                     f"{held.true} | {len(held.false)} | {len(held.unlabelled)} |")
    lines.append(f"| **true among supported** | | | | {_pct(true_among_supported(labels))} | | |")
    for title, attr in (("Labelled false but marked supported", "false"),
                        ("Not labelled yet (label them: evals/label_embedded.py)", "unlabelled")):
        found = [f"{held.name} {item}" for held in labels for item in getattr(held, attr)]
        if found:
            lines += ["", f"{title}:", *(f"- {item}" for item in found)]
    return lines


def _facts_markdown(pipeline: Sequence[SetScores]) -> list[str]:
    """Key facts, source counts, disputes and the model's restatements, per set."""
    if not any(s.metrics.get(m) is not None for s in pipeline for m in FACT_METRICS):
        return []
    lines = ["", "## Key facts, agreement and disputes", "",
             "| set | " + " | ".join(FACT_METRICS) + " | disputes shown |",
             "|---|" + "---|" * len(FACT_METRICS) + "---|"]
    for s in pipeline:
        values = " | ".join(_pct(s.metrics.get(m)) for m in FACT_METRICS)
        lines.append(f"| {s.name} | {values} | {s.disputes} |")
    mean = summarise_sets(pipeline)
    lines.append("| **mean** | " + " | ".join(_pct(mean[m]) for m in FACT_METRICS) + " | |")
    missed = [f"{s.name}: {', '.join(s.missed)}" for s in pipeline if s.missed]
    if missed:
        lines += ["", "Key facts missed: " + "; ".join(missed)]
    return lines


def to_html(report: Report) -> str:
    """Bar charts of every figure, so a person can look rather than read."""
    groups: dict[str, list[tuple[str, float]]] = {}
    for s in report.pipeline:
        for metric in METRICS + FACT_METRICS:
            value = s.metrics.get(metric)
            if value is not None:
                groups.setdefault(f"Pipeline: {metric}", []).append((s.name, value))
    if report.edits:
        groups["Checker on edits (accuracy per edit type)"] = [
            (edit, value) for edit, value in report.edits["accuracy"].items() if value is not None]
    if report.faithfulness:
        groups["Checker on labelled data (balanced accuracy, test)"] = [
            (f"{r['data']} {r['origin'] or ''}".strip(), r["balanced_accuracy"])
            for r in report.faithfulness]
    held = [(f"{h.name} ({h.mode})", h.true / h.supported) for h in report.labels if h.supported]
    if held:
        groups["Hand labels: sentences marked supported that a reader found true"] = held
    charts = "\n".join(_bars(title, bars) for title, bars in groups.items())
    return PAGE.format(generated=escape(report.generated), backend=escape(report.backend),
                       model=escape(report.model), charts=charts)


def _bars(title: str, bars: list[tuple[str, float]]) -> str:
    height = 26 * len(bars) + 10
    rows = []
    for i, (label, value) in enumerate(bars):
        y = 5 + 26 * i
        width = round(300 * max(0.0, min(1.0, value)))
        colour = "#2b7a3d" if value >= 0.9 else "#b7791f" if value >= 0.7 else "#b83227"
        rows.append(
            f'<text x="0" y="{y + 15}">{escape(label)}</text>'
            f'<rect x="200" y="{y}" width="300" height="18" fill="#eceae4"/>'
            f'<rect x="200" y="{y}" width="{width}" height="18" fill="{colour}"/>'
            f'<text x="510" y="{y + 15}">{value * 100:.1f}</text>')
    return (f"<section><h2>{escape(title)}</h2><svg width='560' height='{height}' role='img' "
            f"aria-label='{escape(title)}'>{''.join(rows)}</svg></section>")


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}"


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>summarizer eval report</title>
<style>
body {{ font: 15px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto;
       padding: 0 1rem; color: #1d1d1f; }}
h2 {{ font-size: 1rem; margin: 1.5rem 0 .25rem; }}
svg text {{ font: 13px system-ui, sans-serif; fill: #1d1d1f; }}
</style></head><body>
<h1>Eval report</h1>
<p>{generated} · backend {backend} ({model}). Bars: share of 100; green at 90 or more, amber
at 70 or more.</p>
{charts}
</body></html>
"""
