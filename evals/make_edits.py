"""Make the multi-document edit set: pipeline sentences, and copies broken by controlled edits.

    .venv/bin/python evals/make_edits.py [--sets-out PATH] [--edits-out PATH] [--seed N]

For each article set (the bundled examples/ and evals/sets/*), the pipeline runs with the scripted
backend (no model): its supported summary sentences, with the passages they cite, are the
consistent rows (label 1, edit "none"). Each is copied with one controlled edit that makes it
inconsistent with its sources (label 0): a person or organisation swapped (`entity`), a number
changed (`number`), a weekday, month, day or year changed (`date`), a place swapped (`place`), the
main verb negated or a negation removed (`negation`), or the citation pointed at a passage of
another article that does not state it (`wrong_citation`). Every edit is recorded as replacements
on the original, so a reader (and tests/test_evalsets.py) can see exactly what changed. Seeded:
the same sets and seed give byte-identical files.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from summarizer.ingest import read_inputs  # noqa: E402
from summarizer.llm.scripted import ScriptedBackend  # noqa: E402
from summarizer.pipeline import summarize  # noqa: E402
from summarizer.text import (  # noqa: E402
    MONTH_NAMES,
    NUMBER_WORDS,
    WEEKDAY_NAMES,
    is_content,
    parse_number,
    tokenize,
)

SETS_OUT = ROOT / "evals" / "data" / "multidoc_sets.json"
EDITS_OUT = ROOT / "evals" / "data" / "multidoc_edits.jsonl"
SEED = 20261124
EDIT_TYPES = ("entity", "number", "date", "place", "negation", "wrong_citation")

# Names a swap may take out and put in, by kind. Wire agencies are left out: a dateline carries
# no claim about the event. Invented fallbacks serve when the set has no other name of the kind.
Lexicon = dict[str, dict[str, tuple[str, ...]]]
SETS: dict[str, tuple[Path, Lexicon]] = {
    "brackwater": (ROOT / "examples", {
        "entity": {
            "person": ("Tomas Reyle", "Marisol Quenby", "Delphine Arkwright", "Priya Venholt",
                       "Osric Pell", "Gideon Marsh", "Ilse Varga", "Fenwick Adebayo",
                       "Beatrix Holm"),
            "org": ("Aldermoor County Fire Service", "Aldermoor County Highways Department",
                    "Aldermoor County emergency management office", "Regional Transport Authority",
                    "Brackwater School District", "Brackwater Community Foundation",
                    "St. Orrin Regional Hospital"),
        },
        "place": {
            "town": ("Brackwater",),
            "county": ("Aldermoor County",),
            "river": ("Velle River",),
            "bridge": ("Kessing Street Bridge", "Harrow Road Bridge", "Foundry Footbridge"),
            "street": ("Weir Lane", "Mill Street", "Tanner Lane"),
        },
    }),
    "rail_strike": (ROOT / "evals" / "sets" / "rail_strike", {
        "entity": {
            "person": ("Ysolde Fernhall", "Barnaby Quill", "Hestia Marrable", "Doran Ashby",
                       "Maud Vantreece", "Ilsa Brennock"),
            "org": ("Tarrowmere Valley Railways", "Guild of Rail Operating Staff",
                    "Regional Conciliation Service", "Lisk Chamber of Commerce",
                    "Tarrowmere Regional Assembly"),
        },
        "place": {
            "town": ("Lisk", "Pellham", "Carrow Junction", "Oster Bay"),
            "region": ("Tarrowmere",),
            "street": ("Quayside Street",),
        },
    }),
    "port_storm": (ROOT / "evals" / "sets" / "port_storm", {
        "entity": {
            "person": ("Caspar Darrow", "Lucan Pryde", "Rowan Tillinghast", "Isadora Kettlewell"),
            "org": ("Gallowmouth Harbour Authority", "Greyhaven Ferries",
                    "Westreach Weather Office", "Westreach Coast Guard", "Westreach Power"),
            "vessel": ("Corran Star",),
            "storm": ("Storm Wrenna",),
        },
        "place": {
            "town": ("Gallowmouth", "Skerrow", "Fennick"),
            "country": ("Westreach", "Norvania"),
            "bay": ("Kestrel Bay",),
            "cape": ("Cape Talbot",),
            "island": ("Hallin Island",),
            "quay": ("Eastquay",),
        },
    }),
}
INVENTED: Lexicon = {
    "entity": {
        "person": ("Alda Penrose", "Corwin Masterly"),
        "org": ("Northern Safety Board", "Coastal Transport Union"),
        "vessel": ("Maren Light",),
        "storm": ("Storm Aldis",),
    },
    "place": {
        "town": ("Dunmere", "Harlow Cross"),
        "county": ("Fallow County",),
        "river": ("Morrow River",),
        "bridge": ("Quarry Lane Bridge",),
        "street": ("Canal Street",),
        "region": ("Wendle Vale",),
        "country": ("Caldoria",),
        "bay": ("Merrow Bay",),
        "cape": ("Cape Harlan",),
        "island": ("Tollan Island",),
        "quay": ("Westquay",),
    },
}

WEEKDAYS = tuple(day.capitalize() for day in WEEKDAY_NAMES)
MONTHS = tuple(month.capitalize() for month in MONTH_NAMES)
SMALL = tuple(w for w, n in NUMBER_WORDS.items() if n < 20 and w != "dozen")  # by value
TENS = ("", "", *(w for w, n in NUMBER_WORDS.items() if 20 <= n < 100))  # by value / 10
NUMBER_WORD = re.compile(
    r"\b(?:(?:" + "|".join(TENS[2:]) + r")(?:-(?:" + "|".join(SMALL[1:10]) + r"))?|"
    + "|".join(SMALL[2:]) + r")\b", re.I)  # "one" is left out: mostly a pronoun
NUMERAL = re.compile(r"(?<![\w.,:])(?:\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?![\w:]|[.,]\d)")
YEAR = re.compile(r"(?<![\w.,])(?:19|20)\d\d(?!\w|[.,]\d)")
DAY_OF_MONTH = re.compile(r"\b(?:" + "|".join(MONTHS) + r") (\d{1,2})\b")
CLOCK = re.compile(r"^\s*(?:a\.m\.|p\.m\.)")

# Main verbs a negation edit may negate: past tense -> "did not" + base, present -> "does not".
PAST = {
    "said": "say", "collapsed": "collapse", "fell": "fall", "pulled": "pull", "died": "die",
    "recommended": "recommend", "scheduled": "schedule", "took": "take", "declared": "declare",
    "ordered": "order", "called": "call", "voted": "vote", "began": "begin", "returned": "return",
    "left": "leave", "ran": "run", "estimated": "estimate", "dragged": "drag", "reopened": "reopen",
    "cancelled": "cancel", "issued": "issue", "closed": "close", "held": "hold", "told": "tell",
    "met": "meet", "restarted": "restart", "stopped": "stop",
}
PRESENT = {"allows": "allow", "gives": "give", "represents": "represent", "expects": "expect",
           "handles": "handle"}
AUXILIARIES = frozenset("is are was were will would has have had can could".split())
CLAUSE_OPENERS = frozenset("who which that when where".split())
NEGATORS = frozenset(["not", "never"])


@dataclass(frozen=True)
class Original:
    set: str
    index: int
    sentence: str
    citations: tuple[dict, ...]  # {"article", "passage", "passage_text"}


Replacement = dict  # {"at": offset in the original, "from": str, "to": str}
Edited = list[Replacement] | None  # None: the sentence offers nothing this edit can change
Edit = Callable[[Original, random.Random, Lexicon], Edited]


# ---------------------------------------------------------------------------------------------
# Running the pipeline


def run_set(name: str, folder: Path) -> tuple[list[dict], list[Original]]:
    """The set's cleaned articles, and the supported sentences the pipeline wrote about them."""
    docs, skips = read_inputs([str(folder)])
    backend = ScriptedBackend()
    result = asyncio.run(summarize(docs, skips, backend=backend))
    articles = [
        {"id": a.article.id, "origin": Path(a.article.origin).relative_to(ROOT).as_posix(),
         "title": a.article.title, "source": a.article.source, "url": a.article.url,
         "published": a.article.published, "text": a.article.text}
        for a in result.articles
    ]
    texts = {a["id"]: a["text"] for a in articles}
    sentences = result.sentences()
    originals: list[Original] = []
    seen: set[tuple] = set()
    for sentence in sentences:
        if sentence.support != "supported":
            continue
        cited = tuple({"article": c.article_id, "passage": c.passage,
                       "passage_text": c.quote} for c in sentence.citations)
        key = (sentence.text, tuple(c["passage"] for c in cited))
        if key in seen:
            continue
        seen.add(key)
        for c in cited:
            if c["passage_text"] not in texts[c["article"]]:
                raise RuntimeError(f"{name}: passage {c['passage']} is not in its article")
        originals.append(Original(name, len(originals), sentence.text, cited))
    return articles, originals


# ---------------------------------------------------------------------------------------------
# Edits


def find_names(sentence: str, lexicon: Lexicon) -> list[tuple[int, str, str, str]]:
    """(offset, name, kind, subkind) of lexicon names in the sentence, longest match first."""
    names = sorted(((name, kind, sub) for kind, subs in lexicon.items()
                    for sub, group in subs.items() for name in group),
                   key=lambda item: -len(item[0]))
    taken: list[tuple[int, int]] = []
    found = []
    for name, kind, sub in names:
        for match in re.finditer(rf"(?<![\w-]){re.escape(name)}(?![\w-])", sentence):
            start, end = match.span()
            if any(start < e and s < end for s, e in taken):
                continue
            taken.append((start, end))
            found.append((start, name, kind, sub))
    return sorted(found)


def swap_name(kind: str) -> Edit:
    """Replace every occurrence of one name of `kind` with another of its subkind."""

    def edit(original: Original, rng: random.Random, lexicon: Lexicon) -> Edited:
        found = [f for f in find_names(original.sentence, lexicon) if f[2] == kind]
        if not found:
            return None
        names = sorted({(name, sub) for _, name, _, sub in found})
        name, sub = rng.choice(names)
        others = [n for n in lexicon[kind].get(sub, ()) if n != name
                  and n not in original.sentence]
        new = rng.choice(others or list(INVENTED[kind][sub]))
        return [{"at": at, "from": name, "to": new} for at, n, _, _ in found if n == name]

    return edit


def number_edit(original: Original, rng: random.Random, _lexicon: Lexicon) -> Edited:
    """Change one count or amount; years, days of the month and clock times are left alone."""
    text = original.sentence
    dates = {m.start() for m in YEAR.finditer(text)} \
        | {m.start(1) for m in DAY_OF_MONTH.finditer(text)}
    spots = [(m.start(), m.group(0)) for m in NUMERAL.finditer(text)
             if m.start() not in dates and not CLOCK.match(text[m.end():])]
    spots += [(m.start(), m.group(0)) for m in NUMBER_WORD.finditer(text)]
    if not spots:
        return None
    at, old = rng.choice(sorted(spots))
    while True:  # a number the sentence does not already use: "two boats and four divers"
        new = other_number(old, rng)
        percent = text[at + len(old):].startswith(" percent")
        if not mentions(text, new) and not (percent and float(new.replace(",", "")) > 100):
            return [{"at": at, "from": old, "to": new}]


def mentions(text: str, word: str) -> bool:
    return re.search(rf"(?<![\w.,]){re.escape(word)}(?![\w]|[.,]\d)", text, re.I) is not None


def other_number(old: str, rng: random.Random) -> str:
    """A clearly different number written the way `old` is: digits, commas, decimals or words."""
    if old[0].isalpha():
        words = number_words(_other_value(word_value(old), rng))
        return words.capitalize() if old[0].isupper() else words
    if "." in old:
        decimals = len(old.split(".")[1])
        value = float(old)
        while True:
            new_value = round(value * rng.choice((0.5, 0.6, 1.5, 2.0)), decimals)
            if new_value != value:
                return f"{new_value:.{decimals}f}"
    new = _other_value(int(old.replace(",", "")), rng)
    return f"{new:,}" if "," in old else str(new)


def _other_value(value: int, rng: random.Random) -> int:
    if value < 13:
        return rng.choice([n for n in range(2, 13) if n != value])
    zeros = len(str(value)) - len(str(value).rstrip("0"))
    step = 10 ** min(zeros, len(str(value)) - 1)
    while True:
        new = int(round(value * rng.choice((0.5, 0.6, 1.5, 2.0, 3.0)) / step)) * step
        if abs(new - value) > 0.15 * value:  # not "about the same", which a source could round to
            return new


def word_value(word: str) -> int:
    """'two' -> 2, 'Twenty-three' -> 23."""
    value = parse_number(word)
    assert value is not None, word
    return int(value)


def number_words(value: int) -> str:
    """2 -> 'two', 23 -> 'twenty-three' (below 100)."""
    if value < 20:
        return SMALL[value]
    tens, units = divmod(value, 10)
    return TENS[tens] + (f"-{SMALL[units]}" if units else "")


def date_edit(original: Original, rng: random.Random, _lexicon: Lexicon) -> Edited:
    """Change one weekday, month, day of the month or year."""
    text = original.sentence
    spots: list[tuple[int, str, str]] = []
    for match in re.finditer(r"\b(?:" + "|".join(WEEKDAYS) + r")\b", text):
        spots.append((match.start(), match.group(0), "weekday"))
    for match in re.finditer(r"\b(?:" + "|".join(MONTHS) + r")\b", text):
        spots.append((match.start(), match.group(0), "month"))
    for match in DAY_OF_MONTH.finditer(text):
        spots.append((match.start(1), match.group(1), "day"))
    for match in YEAR.finditer(text):
        spots.append((match.start(), match.group(0), "year"))
    if not spots:
        return None
    at, old, kind = rng.choice(sorted(spots))
    if kind == "weekday":
        choices = [d for d in WEEKDAYS if d != old]
    elif kind == "month":
        choices = [m for m in MONTHS if m not in (old, "May")]  # "May" reads as a verb
    elif kind == "day":
        choices = [str(d) for d in range(1, 29) if abs(d - int(old)) >= 2]
    else:
        choices = [str(int(old) + d) for d in (-3, -2, -1, 1, 2, 3)]
    # Not a value the sentence already has: "Tuesday and Wednesday" must not become "Tuesday
    # and Tuesday", which drops a fact rather than changing one.
    new = rng.choice([c for c in choices if not mentions(text, c)])
    return [{"at": at, "from": old, "to": new}]


def negation_edit(original: Original, _rng: random.Random, _lexicon: Lexicon) -> Edited:
    """Remove the sentence's negation if it has one, else negate its main verb."""
    text = original.sentence
    words = list(re.finditer(r"[A-Za-z]+(?:'[a-z]+)?", text))
    for i, word in enumerate(words):
        if word.group(0) in NEGATORS and i > 0:
            before = words[i - 1]
            return [{"at": before.start(), "from": text[before.start():word.end()],
                     "to": before.group(0)}]
    for i, word in enumerate(words):
        token = word.group(0)
        if i and words[i - 1].group(0).lower() in CLAUSE_OPENERS:
            continue  # "the people who died were": the verb of a relative clause
        if token in AUXILIARIES:
            return [{"at": word.start(), "from": token, "to": f"{token} not"}]
        if token in PAST or token in PRESENT:
            helper, base = ("did", PAST[token]) if token in PAST else ("does", PRESENT[token])
            start = word.start()
            adverb = words[i - 1] if i else None
            if adverb is not None and adverb.group(0).endswith("ly") \
                    and text[adverb.end():start] == " ":
                start = adverb.start()  # "partially collapsed" -> "did not partially collapse"
                base = f"{adverb.group(0)} {base}"
            return [{"at": start, "from": text[start:word.end()], "to": f"{helper} not {base}"}]
    return None


EDITS: dict[str, Edit] = {
    "entity": swap_name("entity"),
    "number": number_edit,
    "date": date_edit,
    "place": swap_name("place"),
    "negation": negation_edit,
}


def apply(sentence: str, replacements: list[Replacement]) -> str:
    """The sentence with each replacement made at its offset."""
    for r in sorted(replacements, key=lambda r: -r["at"]):
        assert sentence[r["at"]:r["at"] + len(r["from"])] == r["from"], r
        sentence = sentence[:r["at"]] + r["to"] + sentence[r["at"] + len(r["from"]):]
    return sentence


def content_stems(text: str) -> set[str]:
    return {t.stem for t in tokenize(text) if is_content(t)}


# A passage sharing this share of the sentence's content words may well restate it.
MAX_SHARED = 0.4


def wrong_citation(original: Original, rng: random.Random,
                   passages: dict[str, dict]) -> dict | None:
    """A passage of another article that does not state the sentence, yet is on its topic:
    among those sharing under MAX_SHARED of its content words, one of the three sharing most."""
    own = {c["article"] for c in original.citations}
    words = content_stems(original.sentence)
    scored = []
    for pid, passage in passages.items():
        if passage["article"] in own:
            continue
        shared = len(words & content_stems(passage["passage_text"])) / max(1, len(words))
        if shared < MAX_SHARED:
            scored.append((-shared, pid))
    if not scored:
        return None
    _, pid = rng.choice(sorted(scored)[:3])
    return passages[pid]


# ---------------------------------------------------------------------------------------------
# The rows


def make_rows(name: str, originals: list[Original], lexicon: Lexicon, seed: int) -> list[dict]:
    """The original rows and their edited copies, each edit drawn from its own seeded stream."""
    passages = {c["passage"]: c for o in originals for c in o.citations}
    rows = []
    for original in originals:
        base = f"{name}-{original.index:03d}"
        citations = [dict(c) for c in original.citations]
        rows.append(_row(base, name, "none", 1, original.sentence, citations, []))
        for edit_type in EDIT_TYPES:
            rng = random.Random(f"{seed}:{base}:{edit_type}")
            if edit_type == "wrong_citation":
                wrong = wrong_citation(original, rng, passages)
                if wrong is not None:
                    rows.append(_row(base, name, edit_type, 0, original.sentence,
                                     [dict(wrong)], []))
                continue
            replacements = EDITS[edit_type](original, rng, lexicon)
            if replacements:
                rows.append(_row(base, name, edit_type, 0, apply(original.sentence, replacements),
                                 citations, replacements))
    return rows


def _row(base: str, name: str, edit_type: str, label: int, sentence: str, citations: list[dict],
         replacements: list[Replacement]) -> dict:
    return {"id": f"{base}-{edit_type}", "original": f"{base}-none", "set": name,
            "edit_type": edit_type, "label": label, "sentence": sentence,
            "edits": replacements, "citations": citations}


def build(seed: int = SEED) -> tuple[dict, list[dict]]:
    """Every set's articles, and every row, in a fixed order."""
    sets: dict[str, dict] = {}
    rows: list[dict] = []
    for name, (folder, lexicon) in SETS.items():
        articles, originals = run_set(name, folder)
        sets[name] = {"folder": folder.relative_to(ROOT).as_posix(), "articles": articles}
        rows += make_rows(name, originals, lexicon, seed)
    return sets, rows


def write(sets: dict, rows: list[dict], sets_out: Path, edits_out: Path) -> None:
    sets_out.parent.mkdir(parents=True, exist_ok=True)
    edits_out.parent.mkdir(parents=True, exist_ok=True)
    sets_out.write_text(json.dumps(sets, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    edits_out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                         encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets-out", type=Path, default=SETS_OUT)
    parser.add_argument("--edits-out", type=Path, default=EDITS_OUT)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    sets, rows = build(args.seed)
    write(sets, rows, args.sets_out, args.edits_out)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["edit_type"]] = counts.get(row["edit_type"], 0) + 1
    print(f"{len(rows)} rows -> {args.edits_out}: {counts}")  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
