"""The `summarizer summarize` command end to end, on the seeds and the bundled examples."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import EXAMPLES

from summarizer.cli import main
from summarizer.errors import (
    BackendRejected,
    BackendUnavailable,
    ConfigError,
    GateError,
    InputError,
    NotFound,
    PromptError,
    RateLimited,
    StoreUnavailable,
    UnreadableReply,
)

SEED_REMOVALS = [
    "Advertisement", "Comments About This Article", "Please fill the fields below.",
    "Copyright AP - Associated Press", "Contact Us", "Fun Stuff", "Join the Conversation",
    "The Next Read", "Real Time Analytics",
]
SENTENCE_KEYS = {"text", "support", "citations"}
CITATION_KEYS = {"article_id", "passage", "start", "end", "quote"}


def _run_json(capsys: pytest.CaptureFixture, *args: str) -> dict:
    code = main(["summarize", *args, "--format", "json", "--backend", "scripted"])
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)


def _sentences(data: dict) -> list[dict]:
    return [s for a in data["articles"] for s in a["summary"]] + data["overview"]


def test_seeds_give_the_json_contract(seeds: Path, capsys: pytest.CaptureFixture, no_network):
    data = _run_json(capsys, *sorted(str(p) for p in seeds.glob("*.txt")))
    assert {"articles", "overview", "stories", "duplicates", "usage",
            "faithfulness"} <= set(data)
    assert len(data["articles"]) == 5
    for article in data["articles"]:
        assert {"id", "title", "source", "url", "published", "summary", "removed"} <= set(article)
        assert article["summary"], article["id"]
        for removal in article["removed"]:
            assert set(removal) == {"text", "reason"} and removal["reason"]
    sentences = _sentences(data)
    assert data["overview"]
    for sentence in sentences:
        assert SENTENCE_KEYS <= set(sentence) <= SENTENCE_KEYS | {"reason", "sources", "written",
                                                                  "verified_by", "language"}
        assert sentence["language"] == "en"  # quoted from English articles
        assert sentence["support"] in ("supported", "unsupported")
        for citation in sentence["citations"]:
            assert set(citation) == CITATION_KEYS
    assert set(data["usage"]) == {"backend", "model", "llm_calls", "prompt_tokens",
                                  "completion_tokens", "cache_hits", "seconds", "cost_usd",
                                  "judge_calls", "judge_backend", "judge_model",
                                  "cost_limit_usd", "cost_limit_reached"}
    assert data["usage"]["backend"] == "scripted" and data["usage"]["llm_calls"] == 6
    assert data["usage"]["judge_calls"] == 0  # the stand-in for a small model: no judge
    faith = data["faithfulness"]
    assert faith["supported"] + faith["unsupported"] == len(sentences)


def test_seed_boilerplate_and_repeats_are_recorded(seeds: Path, capsys: pytest.CaptureFixture):
    data = _run_json(capsys, str(seeds))
    removed = [r["text"] for a in data["articles"] for r in a["removed"]]
    for line in SEED_REMOVALS:
        assert line in removed
    assert removed.count("Advertisement") == 2
    headline_list = [r for a in data["articles"] for r in a["removed"]
                     if r["reason"].startswith("navigation list")]
    assert len([r for r in headline_list if r["text"] != "-"]) == 10
    first = next(a for a in data["articles"] if a["origin"].endswith("000_09417d7203987600.txt"))
    repeats = [d for d in data["duplicates"] if d["article_id"] == first["id"]]
    assert repeats and all(d["kind"] == "paragraph" for d in repeats)


def test_every_citation_quote_occurs_verbatim_in_its_article(seeds: Path,
                                                              capsys: pytest.CaptureFixture):
    data = _run_json(capsys, str(seeds))
    from summarizer.clean import clean_document
    from summarizer.ingest import read_inputs

    docs, _ = read_inputs([str(seeds)])
    texts = {a.id: a.text for a in map(clean_document, docs)}
    cited = 0
    for sentence in _sentences(data):
        for c in sentence["citations"]:
            assert texts[c["article_id"]][c["start"]:c["end"]] == c["quote"]
            cited += 1
        assert (sentence["support"] == "supported") == bool(sentence["citations"])
    assert cited >= 10


def test_markdown_has_numbered_notes_and_a_source_list(capsys: pytest.CaptureFixture):
    code = main(["summarize", str(EXAMPLES), "--backend", "scripted"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("# Summary of 4 articles")
    assert "## Across the 4 articles" in out
    notes = sorted({int(n) for n in re.findall(r"\[(\d+)\]", out.split("## Sources")[0])})
    listed = [int(n) for n in re.findall(r"^(\d+)\. Article \d", out, re.MULTILINE)]
    assert notes == listed == list(range(1, len(listed) + 1))


def test_out_writes_the_file(tmp_path: Path, capsys: pytest.CaptureFixture):
    target = tmp_path / "out" / "summary.json"
    code = main(["summarize", str(EXAMPLES), "--backend", "scripted", "--format", "json",
                 "--out", str(target)])
    assert code == 0 and capsys.readouterr().out == ""
    assert len(json.loads(target.read_text())["articles"]) == 4


def test_no_readable_article_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture):
    (tmp_path / "empty.txt").write_text("")
    code = main(["summarize", str(tmp_path / "empty.txt"), "--backend", "scripted"])
    err = capsys.readouterr().err
    assert code == 2
    assert "no readable article" in err and "empty file" in err


def test_bad_usage_is_exit_2(capsys: pytest.CaptureFixture):
    with pytest.raises(SystemExit) as exit_info:
        main(["summarize", str(EXAMPLES), "--concurrency", "0"])
    assert exit_info.value.code == 2
    assert "at least 1" in capsys.readouterr().err


def test_an_unreachable_endpoint_is_exit_1_with_a_fix(monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture):
    from summarizer.settings import get_settings

    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("SUMMARIZER_RETRY_ATTEMPTS", "1")
    get_settings.cache_clear()
    code = main(["summarize", str(EXAMPLES), "--no-cache"])
    err = capsys.readouterr().err
    assert code == 1
    assert "cannot connect to http://127.0.0.1:9/v1" in err and "OPENAI_BASE_URL" in err


def test_a_remote_endpoint_is_refused_when_network_is_off(monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture):
    from summarizer.settings import get_settings

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    get_settings.cache_clear()
    code = main(["summarize", str(EXAMPLES)])
    assert code == 1
    assert "network calls are disabled" in capsys.readouterr().err


def test_the_console_script_runs_from_stdin(tmp_path: Path):
    text = (EXAMPLES / "03_velle_valley_ledger.txt").read_text(encoding="utf-8")
    env = {"SUMMARIZER_BACKEND": "scripted", "SUMMARIZER_CACHE_PATH": str(tmp_path / "c.db"),
           "PATH": ""}
    done = subprocess.run([sys.executable, "-m", "summarizer", "summarize", "-"], input=text,
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("# Summary of 1 article")
    assert "[1]" in done.stdout


class _Refusing(BaseHTTPRequestHandler):
    """Answers every request with the status and headers the server was made with."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        status, headers = self.server.answer  # type: ignore[attr-defined]
        body = json.dumps({"error": {"message": "no", "type": "error", "code": None}}).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class _RefusingServer(ThreadingHTTPServer):
    def handle_error(self, *args: object) -> None:
        pass  # a client that gave up on its other requests once one failed


@pytest.mark.parametrize(("status", "headers", "says"), [
    (401, {}, ["refused the key (401)", "check OPENAI_API_KEY"]),
    (429, {"Retry-After": "0"}, ["rate-limiting (429)", "try again later",
                                 "lower --concurrency (SUMMARIZER_CONCURRENCY)"]),
], ids=["rejected-key", "rate-limited"])
def test_a_refusing_endpoint_is_exit_1_saying_what_to_do(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture,
                                                         status, headers, says):
    from summarizer.settings import get_settings

    server = _RefusingServer(("127.0.0.1", 0), _Refusing)
    server.answer = (status, headers)  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{server.server_address[1]}/v1")
        monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong")
        monkeypatch.setenv("SUMMARIZER_RETRY_ATTEMPTS", "2")
        get_settings.cache_clear()
        code = main(["summarize", str(EXAMPLES), "--no-cache"])
    finally:
        server.shutdown()
        server.server_close()
    err = capsys.readouterr().err
    assert code == 1, err
    (line,) = err.strip().splitlines()
    assert line.startswith("summarizer: error: ")
    for words in says:
        assert words in line


@pytest.mark.parametrize(("error", "code", "hint"), [
    (InputError("no readable article"), 2, ""),
    (NotFound("no such file: x.txt"), 2, ""),
    (GateError("refusing to lower floors without --allow-lower"), 2, ""),
    (ConfigError("set OPENAI_API_KEY"), 1, ""),
    (PromptError("prompt 'fuse' needs a value for $lines"), 1, ""),
    (BackendRejected("refused", backend="openai", status_code=403), 1, ""),
    (BackendUnavailable("cannot connect", backend="openai"), 1, ""),
    (UnreadableReply("malformed reply", backend="openai"), 1, ""),
    (RateLimited("429", backend="openai", retry_after=3.0), 1, "--concurrency"),
    (StoreUnavailable("database down"), 1, ""),
])
def test_each_kind_of_error_has_its_exit_code(error, code, hint):
    from summarizer.cli import exit_for

    got, said = exit_for(error)
    assert got == code and hint in said and bool(said) == bool(hint)


def test_summarize_loads_no_evaluation_code():
    """The eval command's modules (and the LLM judge) load only when that command runs."""
    program = ("import sys; from summarizer.cli import main; "
               "code = main(['summarize', sys.argv[1], '--backend', 'scripted', '--no-cache', "
               "'--out', sys.argv[2]]); "
               "print(code, sorted(m for m in sys.modules if m.startswith("
               "('summarizer.evaluation', 'summarizer.checking.judge'))))")
    done = subprocess.run([sys.executable, "-c", program, str(EXAMPLES), "out.md"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0 []"


def test_the_cli_imports_the_pipeline_and_the_model_client_only_for_a_command_that_needs_them():
    """Importing the CLI (all that `--version`, `--help` or a mistyped option need) loads
    neither the pipeline, the OpenAI client, the language model nor numpy."""
    program = ("import sys, summarizer.cli; print(sorted({'summarizer.pipeline', 'openai', "
               "'py3langid', 'numpy'} & set(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("command", [["summarize", str(EXAMPLES)], ["serve"], ["worker"]])
def test_a_setting_that_cannot_be_used_is_named_without_a_traceback(
        command: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture):
    monkeypatch.setenv("SUMMARIZER_TIMEZONE", "Mars/Olympus")
    monkeypatch.setenv("SUMMARIZER_WEBHOOK_URL", "ftp://hooks.example/digest")
    code = main(command)
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert "SUMMARIZER_TIMEZONE: unknown time zone 'Mars/Olympus'" in err
    assert "SUMMARIZER_WEBHOOK_URL: not a webhook URL" in err
