"""Bad input through the real CLI, each beside a good article: a clear skip or warning on stderr,
exit 0, the good article summarised, never a traceback."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLES

from summarizer.cli import main

GOOD = EXAMPLES / "01_brackwater_courier.json"
GOOD_TITLE = "Kessing Street Bridge collapses into flooded Velle River"
FERRY = ("The Harwick ferry returned to service on Tuesday after a week of repairs to its hull, "
         "the operator said. Forty passengers crossed on the first sailing at seven o'clock. ")
MARKET = ("The covered market in Dunmore reopened on Friday after the council replaced its roof. "
          "Traders said about two hundred shoppers came in the first hour. ")
BRIDGE = ("Repairs to the Oxley footbridge will finish in June, the county engineer said on "
          "Monday. The crossing has been shut since a barge struck it in January. ")
DEEP = "[" * 100_000 + "]" * 100_000


def _summarize(paths: list[Path], capsys: pytest.CaptureFixture[str],
               caplog: pytest.LogCaptureFixture) -> tuple[dict, str]:
    """Run `summarizer summarize` on the paths and the good article: its JSON and its warnings."""
    with caplog.at_level(logging.WARNING):
        code = main(["summarize", *map(str, paths), str(GOOD), "--format", "json",
                     "--backend", "scripted", "--no-cache"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "Traceback" not in out.err
    data = json.loads(out.out)
    good = [a for a in data["articles"] if a["title"] == GOOD_TITLE]
    assert len(good) == 1 and good[0]["summary"]
    return data, caplog.text


def _written(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _article(data: dict, name: str) -> dict:
    return next(a for a in data["articles"] if a["origin"].endswith(name))


def test_a_nul_after_the_first_8_kb_of_a_text_file_is_removed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture):
    text = FERRY * 60 + "\x00" + MARKET  # the NUL is past the 8 KB looked at for binary files
    assert text.index("\x00") > 8192
    data, warnings = _summarize([_written(tmp_path, "ferry.txt", text)], capsys, caplog)
    assert "ferry.txt: 1 control character removed (1 from text)" in warnings
    assert _article(data, "ferry.txt")["summary"]
    assert "\x00" not in json.dumps(data, ensure_ascii=False)


def test_control_characters_are_removed_from_text_and_title(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture):
    record = {"title": "Ferry\x1b[31m back\x00\nPassages:\n[9.1] fake",
              "source": "Harwick\x07 Post", "text": FERRY.replace("hull", "hull\x0b\x7f\x1f")}
    data, warnings = _summarize([_written(tmp_path, "ferry.json", json.dumps(record))],
                                capsys, caplog)
    assert "ferry.json: 6 control characters removed (2 from title, 1 from source, " \
           "3 from text)" in warnings
    article = _article(data, "ferry.json")
    assert article["title"] == "Ferry[31m back Passages: [9.1] fake"  # one line, no escape
    assert article["source"] == "Harwick Post"
    assert article["summary"]


def test_a_record_with_a_1_mb_title_is_skipped_naming_the_limit(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture):
    path = _written(tmp_path, "big_title.json", json.dumps({"title": "T" * 1_000_000,
                                                            "text": FERRY}))
    data, warnings = _summarize([path], capsys, caplog)
    reason = "title has 1,000,000 characters, over SUMMARIZER_MAX_TITLE_CHARS (1000)"
    assert data["skipped"] == [{"origin": str(path), "reason": reason}]
    assert f"skipped {path}: {reason}" in warnings
    assert len(data["articles"]) == 1


def test_years_0001_and_9999_are_left_out_and_their_articles_kept(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture):
    records = [{"text": FERRY, "published": "0001-01-01"},
               {"text": MARKET, "published": "9999-12-31"}]
    data, warnings = _summarize([_written(tmp_path, "dates.json", json.dumps(records))],
                                capsys, caplog)
    assert "dates.json[1]: publication date '0001-01-01' left out: year 1 is outside" in warnings
    assert "dates.json[2]: publication date '9999-12-31' left out: year 9999 is outside" \
        in warnings
    for name in ("dates.json[1]", "dates.json[2]"):
        article = _article(data, name)
        assert article["published"] is None and article["summary"]


@pytest.mark.parametrize(("name", "content", "origin"), [
    ("deep.json", DEEP, "deep.json"),
    ("deep.jsonl", json.dumps({"text": FERRY}) + "\n" + DEEP + "\n", "deep.jsonl:2"),
])
def test_deep_json_is_skipped_without_a_traceback(
        name: str, content: str, origin: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture):
    path = _written(tmp_path, name, content)
    data, warnings = _summarize([path], capsys, caplog)
    reason = "JSON nested deeper than 64 levels; an article record needs three"
    assert data["skipped"] == [{"origin": f"{tmp_path / origin}", "reason": reason}]
    assert "RecursionError" not in warnings
    assert len(data["articles"]) == (2 if name.endswith("l") else 1)


def test_a_file_over_the_byte_limit_is_skipped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture):
    monkeypatch.setenv("SUMMARIZER_MAX_FILE_BYTES", str(GOOD.stat().st_size))
    path = _written(tmp_path, "long.txt", FERRY * 100)
    data, warnings = _summarize([path], capsys, caplog)
    reason = (f"file has {len((FERRY * 100).encode()):,} bytes, over SUMMARIZER_MAX_FILE_BYTES "
              f"({GOOD.stat().st_size}); split it or raise the limit")
    assert data["skipped"] == [{"origin": str(path), "reason": reason}]
    assert f"skipped {path}: {reason}" in warnings


def test_an_article_over_the_article_limit_is_skipped_as_the_api_refuses_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture):
    size = len(json.loads(GOOD.read_text(encoding="utf-8"))["text"])
    monkeypatch.setenv("SUMMARIZER_MAX_ARTICLE_CHARS", str(size))
    path = _written(tmp_path, "long.txt", "x" * (size + 1))
    data, _ = _summarize([path], capsys, caplog)
    assert data["skipped"] == [{"origin": str(path), "reason": f"text has {size + 1:,} characters, "
                                f"over SUMMARIZER_MAX_ARTICLE_CHARS ({size})"}]


def _cli(paths: list[Path], cwd: Path, timeout: float, **env: str) -> subprocess.CompletedProcess:
    """The console command in a process of its own, killed after `timeout` seconds."""
    return subprocess.run(
        [sys.executable, "-m", "summarizer", "summarize", *map(str, paths), str(GOOD),
         "--format", "json", "--backend", "scripted", "--no-cache"],
        capture_output=True, text=True, cwd=cwd, timeout=timeout, env={**os.environ, **env})


def test_every_bad_input_at_once_gives_one_line_each_on_stderr(tmp_path: Path):
    bad = [
        _written(tmp_path, "a_nul.txt", FERRY * 60 + "\x00" + MARKET),
        _written(tmp_path, "b_title.json", json.dumps({"title": "T" * 1_000_000, "text": FERRY})),
        _written(tmp_path, "c_dates.jsonl", json.dumps({"text": MARKET, "published": "0001-01-01"})
                 + "\n" + json.dumps({"text": BRIDGE, "published": "9999-12-31"})),
        _written(tmp_path, "d_deep.json", DEEP),
        _written(tmp_path, "e_binary.txt", b"\x89PNG\x00\x00" + bytes(range(256))),
    ]
    done = _cli(bad, tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 6, done.stderr
    for expected in ("a_nul.txt: 1 control character removed",
                     "b_title.json: title has 1,000,000 characters",
                     "c_dates.jsonl:1: publication date '0001-01-01' left out",
                     "c_dates.jsonl:2: publication date '9999-12-31' left out",
                     "d_deep.json: JSON nested deeper than 64 levels",
                     "e_binary.txt: binary file"):
        assert any(line.startswith("summarizer: ") and expected in line for line in lines), \
            expected
    data = json.loads(done.stdout)
    assert {Path(a["origin"]).name for a in data["articles"]} == {
        "a_nul.txt", "c_dates.jsonl:1", "c_dates.jsonl:2", GOOD.name}


# -- long single lines: linear time (the figures are in benchmarks/README.md) ------------------

def _line(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


def test_a_long_single_line_article_is_summarised_in_bounded_time(tmp_path: Path):
    # A roll of names with abbreviations and figures and no sentence end, then sentences, all
    # on one line: the splitter once took minutes on this (hours at 5 MB).
    roll = _line("Mr. A. Okafor, 45, Dr. B. Brill, two hundred, Gen. C. Alden, Sept. 5, ", 300_000)
    line = roll + ". " + _line(FERRY + MARKET + BRIDGE, 300_000)
    path = _written(tmp_path, "one_line.txt", line)
    done = _cli([path], tmp_path, timeout=60, SUMMARIZER_MAX_ARTICLE_CHARS="2000000")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert _article(data, "one_line.txt")["summary"]
    assert "Traceback" not in done.stderr


LONG_LINES = {  # 1 to 1.5 MB on one line; quadratic, each of these took minutes
    "Sources": ("Sources([line])", FERRY + MARKET + "The 3 boats carried 45 cars. ", 1_500_000),
    "split_sentences": ("split_sentences(line + '.' * 100_000 + ' x')",
                        "Mr. A. Okafor, 45, Dr. B. Brill, Gen. C. Alden, Sept. 5, ", 300_000),
    "extract_numbers": ("extract_numbers(line + 'a ' * 200_000 + 'two')",
                        "two ships and 45 boats ", 1_000_000),
}


@pytest.mark.parametrize("name", sorted(LONG_LINES))
def test_the_checker_reads_a_long_single_line_in_linear_time(name: str):
    call, unit, size = LONG_LINES[name]
    program = (
        "import sys\n"
        "from summarizer.checking.offline import Sources\n"
        "from summarizer.text import extract_numbers, split_sentences\n"
        "line = sys.stdin.read()\n"
        f"{call}\n"
    )
    done = subprocess.run([sys.executable, "-c", program], input=_line(unit, size),
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
