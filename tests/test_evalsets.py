"""The multi-document edit set: committed data, the edits it claims, the generator, the scoring."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

from summarizer.evaluation.sets import data_hash, load_edits, score_edits

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "evals" / "data"
EDITS = DATA / "multidoc_edits.jsonl"
SETS = DATA / "multidoc_sets.json"


def _load_generator():
    spec = importlib.util.spec_from_file_location("make_edits", ROOT / "evals" / "make_edits.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


make_edits = _load_generator()


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return load_edits(EDITS)


@pytest.fixture(scope="module")
def sets() -> dict:
    return json.loads(SETS.read_text(encoding="utf-8"))


def test_committed_edits_load_with_every_edit_type_and_label(rows):
    assert 150 <= len(rows) <= 400
    assert len({r["id"] for r in rows}) == len(rows)
    assert {r["set"] for r in rows} == {"brackwater", "rail_strike", "port_storm"}
    for edit_type in ("none", *make_edits.EDIT_TYPES):
        assert sum(r["edit_type"] == edit_type for r in rows) >= 15, edit_type
    for row in rows:
        assert row["label"] == (1 if row["edit_type"] == "none" else 0), row["id"]


def test_every_cited_passage_occurs_verbatim_in_its_article(rows, sets):
    for row in rows:
        texts = {a["id"]: a["text"] for a in sets[row["set"]]["articles"]}
        for citation in row["citations"]:
            assert citation["passage_text"] in texts[citation["article"]], row["id"]


def test_label_1_sentences_are_what_the_pipeline_cited(rows, sets):
    """Original sentences are summary sentences of the scripted (extractive) run: each one
    occurs in the passage it cites, which occurs in its article."""
    for row in (r for r in rows if r["label"] == 1):
        texts = {a["id"]: a["text"] for a in sets[row["set"]]["articles"]}
        assert any(row["sentence"] in c["passage_text"] and c["passage_text"] in texts[c["article"]]
                   for c in row["citations"]), row["id"]


def _lexicon(row: dict, kind: str) -> set[str]:
    own = make_edits.SETS[row["set"]][1][kind]
    return {name for lexicon in (own, make_edits.INVENTED[kind])
            for names in lexicon.values() for name in names}


NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?|" + make_edits.NUMBER_WORD.pattern, re.I)


def _is_number(text: str) -> bool:
    return bool(NUMBER.fullmatch(text)) and not re.fullmatch(r"(?:19|20)\d\d", text)


def _date_kind(text: str) -> str | None:
    if text in make_edits.WEEKDAYS:
        return "weekday"
    if text in make_edits.MONTHS:
        return "month"
    if re.fullmatch(r"(?:19|20)\d\d", text):
        return "year"
    if re.fullmatch(r"\d{1,2}", text) and 1 <= int(text) <= 31:
        return "day"
    return None


NEGATION_HELPERS = {"not", "did", "does"}


def _is_negation(old: str, new: str) -> bool:
    """'said' <-> 'did not say', 'were' <-> 'were not', 'have not' <-> 'have'."""
    a, b = old.split(), new.split()
    if ("not" in a) == ("not" in b):
        return False
    plain, negated = (a, b) if "not" in b else (b, a)
    rest = [w for w in negated if w not in NEGATION_HELPERS]
    if rest == plain:  # an auxiliary: "were" / "were not"
        return True
    verbs = {**make_edits.PAST, **make_edits.PRESENT}
    return rest[:-1] == plain[:-1] and verbs.get(plain[-1]) == rest[-1]


def test_every_edit_changes_only_what_its_type_says(rows):
    originals = {r["id"]: r for r in rows if r["edit_type"] == "none"}
    for row in rows:
        original = originals[row["original"]]
        edits = row["edits"]
        if row["edit_type"] in ("none", "wrong_citation"):
            assert edits == [] and row["sentence"] == original["sentence"], row["id"]
            if row["edit_type"] == "wrong_citation":
                own = {c["article"] for c in original["citations"]}
                assert all(c["article"] not in own for c in row["citations"]), row["id"]
                assert all(row["sentence"] not in c["passage_text"] for c in row["citations"])
            continue
        # The sentence is the original with the recorded replacements and nothing else.
        assert make_edits.apply(original["sentence"], edits) == row["sentence"], row["id"]
        assert row["sentence"] != original["sentence"], row["id"]
        assert row["citations"] == original["citations"], row["id"]
        olds, news = {e["from"] for e in edits}, {e["to"] for e in edits}
        if row["edit_type"] in ("entity", "place"):
            (old,), (new,) = olds, news
            names = _lexicon(row, row["edit_type"])
            assert old in names and new in names and old != new, row["id"]
            assert new not in original["sentence"], row["id"]
            # Every mention is swapped; what is left is part of a longer name ("the Gallowmouth
            # Harbour Authority" is no mention of the town).
            rest = row["sentence"]
            for longer in (n for n in _lexicon(row, "entity") | _lexicon(row, "place")
                           if old in n and n != old):
                rest = rest.replace(longer, "")
            assert old not in rest, row["id"]
            continue
        assert len(edits) == 1, row["id"]
        old, new = edits[0]["from"], edits[0]["to"]
        if row["edit_type"] == "number":
            assert _is_number(old) and _is_number(new) and old.lower() != new.lower(), row["id"]
        elif row["edit_type"] == "date":
            assert _date_kind(old) is not None and _date_kind(old) == _date_kind(new), row["id"]
            assert old != new, row["id"]
        else:
            assert row["edit_type"] == "negation"
            assert _is_negation(old, new), row["id"]


def test_generator_is_deterministic_and_the_committed_files_are_current(tmp_path):
    outputs = []
    for run in ("a", "b"):
        sets_out, edits_out = tmp_path / run / "sets.json", tmp_path / run / "edits.jsonl"
        assert make_edits.main(["--sets-out", str(sets_out), "--edits-out", str(edits_out)]) == 0
        outputs.append((sets_out.read_bytes(), edits_out.read_bytes()))
    assert outputs[0] == outputs[1]
    assert outputs[0] == (SETS.read_bytes(), EDITS.read_bytes()), \
        "evals/data is stale: run .venv/bin/python evals/make_edits.py (and re-pin its hash)"


PASSAGE = ("The Kessing Street Bridge collapsed into the Velle River on Saturday, March 14, 2026, "
           "killing two people.")
OTHER = "Mayor Delphine Arkwright opened a relief fund at the Brackwater Community Hall."


def _row(edit_type: str, label: int, sentence: str, passage: str = PASSAGE) -> dict:
    return {"id": f"t-{edit_type}-{len(sentence)}", "set": "tiny", "edit_type": edit_type,
            "label": label, "sentence": sentence,
            "citations": [{"article": "a1", "passage": "1.1", "passage_text": passage}]}


TINY = [
    _row("none", 1, PASSAGE),
    _row("number", 0, PASSAGE.replace("two people", "nine people")),
    _row("date", 0, PASSAGE.replace("Saturday", "Tuesday")),
    # Stated by a passage the row does not cite: only the cited passage may count.
    _row("wrong_citation", 0, PASSAGE, passage=OTHER),
]


def test_score_edits_checks_each_sentence_against_its_cited_passages_only():
    report = score_edits(TINY)
    assert {k: v["accuracy"] for k, v in report["by_edit"].items()} == {
        "none": 1.0, "number": 1.0, "date": 1.0, "wrong_citation": 1.0}
    assert report["balanced_accuracy"] == 1.0
    assert report["label_1"] == {"rows": 1, "accepted": 1, "accuracy": 1.0}
    assert report["label_0"] == {"rows": 3, "caught": 3, "accuracy": 1.0}
    json.dumps(report)  # JSON-able


def test_score_edits_counts_accepted_and_caught_per_edit_type():
    # At threshold 0 everything is accepted: every original right, every edit missed.
    lenient = score_edits(TINY, threshold=0.0)
    assert {k: v["accuracy"] for k, v in lenient["by_edit"].items()} == {
        "none": 1.0, "number": 0.0, "date": 0.0, "wrong_citation": 0.0}
    assert lenient["balanced_accuracy"] == 0.5
    # Above 1 nothing is: the reverse.
    strict = score_edits(TINY + [_row("none", 1, "Two people died.")], threshold=1.01)
    assert strict["by_edit"]["none"] == {"rows": 2, "correct": 0, "accuracy": 0.0}
    assert strict["label_0"]["accuracy"] == 1.0
    assert strict["balanced_accuracy"] == 0.5
    assert strict["by_set"]["tiny"]["balanced_accuracy"] == 0.5


def test_data_hash_follows_bytes_not_argument_order(tmp_path):
    first, second = tmp_path / "a.jsonl", tmp_path / "b.json"
    first.write_bytes(b"one\n")
    second.write_bytes(b"two\n")
    pinned = data_hash([first, second])
    assert data_hash([second, first]) == pinned
    assert re.fullmatch(r"[0-9a-f]{64}", pinned)
    second.write_bytes(b"two!\n")
    assert data_hash([first, second]) != pinned
