"""Verifying the model's restatements: offline, by the LLM judge, or by the judge where the
checker cannot decide (`--verify offline|llm|auto`); a judge model of its own on loopback."""

from __future__ import annotations

import asyncio
import json
import re
import zlib
from collections.abc import Callable
from pathlib import Path

import httpx
import jsonschema
import pytest
from conftest import EXAMPLES
from test_openai_backend import Stub, ok

from summarizer import writing
from summarizer.checking.offline import Verdict
from summarizer.cli import main
from summarizer.errors import BackendUnavailable
from summarizer.ingest import read_inputs
from summarizer.llm import make_judge_backend
from summarizer.llm.base import Completion, CompletionRequest
from summarizer.llm.cache import Cache
from summarizer.llm.scripted import ScriptedBackend, lead_sentences
from summarizer.models import (
    Article,
    ArticleSummary,
    Citation,
    Faithfulness,
    Result,
    Sentence,
    Usage,
    Writing,
)
from summarizer.pipeline import Options, run_options, summarize
from summarizer.render import to_html, to_json, to_markdown
from summarizer.server.app import create_app
from summarizer.settings import Settings, get_settings
from summarizer.untrusted import material
from summarizer.writing import resolve_verify

SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "summarizer" /
                     "output.schema.json").read_text())
CAPABLE = Options(small_model=False)  # the scripted stand-in declared a capable model
INVENTED = "The UN Security Council sent 450 engineers to Brackwater on Monday."
LABELS = ("supported", "uncertain", "flagged", "unsupported")


def _examples():
    docs, _ = read_inputs([str(EXAMPLES)])
    return docs


def _run(backend, options: Options = CAPABLE, **kwargs) -> Result:
    return asyncio.run(summarize(_examples(), backend=backend, options=options, **kwargs))


def _claim(request: CompletionRequest) -> str:
    """The claim a judge request asks about (its first user message; a re-ask adds more)."""
    return request.messages[1].content.split("<claim>\n", 1)[1].split("\n</claim>", 1)[0]


def _judged(backend: ScriptedBackend, prompt: str = "judge") -> list[str]:
    """The claims put to the judge: restatements, or with "backs" the sentences shown for a
    fact across articles that another outlet's sentence was to back."""
    return [_claim(r) for r in backend.requests if r.prompt_id == prompt]


def model(verdicts: Callable[[str], str] = lambda _: "supported"):
    """A capable model: it chooses the first ids, restates each group by its first sentence,
    and judges a claim (a restatement, or a sentence another outlet's is to back) as `verdicts`
    says."""

    def reply(request: CompletionRequest) -> str:
        if request.prompt_id == "judge":
            return json.dumps({"verdict": verdicts(_claim(request)), "evidence": ""})
        if request.prompt_id == "backs":  # every passage, or none
            numbers = re.findall(r"^\[(\d+)\]", request.messages[1].content, re.MULTILINE)
            backing = [int(n) for n in numbers] if verdicts(_claim(request)) == "supported" \
                else []
            return json.dumps({"backing": backing})
        return lead_sentences(request)

    return reply


def label_of(claim: str) -> str:
    """A stand-in checker's label, fixed by the claim's text so each run sees the same."""
    return LABELS[zlib.crc32(claim.encode()) % len(LABELS)]


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The offline checker replaced by one that labels by `label_of` (supported, uncertain,
    supported with the relation flag "number", unsupported), so that the policy is tested
    apart from the checker's fitted cuts. Returns each restatement checked, with its label."""
    seen: dict[str, str] = {}

    class Labelled:
        def __init__(self, passages: list[str]) -> None:
            self.passages = passages

        def check(self, claim: str, threshold: float | None = None) -> Verdict:
            label = label_of(claim)
            seen[claim] = label
            if label == "flagged":
                return Verdict(supported=True, score=0.9, evidence=None, reason=None,
                               label="supported", flags=("number",))
            supported = label == "supported"
            return Verdict(supported=supported, score=0.9 if supported else 0.4,
                           evidence=None, reason=None if supported else f"{label} claim",
                           label="supported" if supported else label)  # type: ignore[arg-type]

    monkeypatch.setattr(writing, "Sources", Labelled)
    return seen


def _fused(result: Result) -> dict[str, Sentence]:
    return {s.text: s for s in result.sentences() if s.written == "fused"}


def test_auto_asks_the_judge_only_about_uncertain_and_flagged_restatements(checked):
    backend = ScriptedBackend(default=model())
    result = _run(backend)
    assert result.writing.verify == "auto"
    assert {label for label in checked.values()} == set(LABELS)  # every case was met
    doubtful = {c for c, label in checked.items() if label in ("uncertain", "flagged")}
    judged = _judged(backend)
    assert set(judged) == {material(c) for c in doubtful}  # those, and no other
    assert len(judged) == result.writing.judged  # one call each
    fused = _fused(result)
    for claim, label in checked.items():
        if label == "unsupported":  # refused, asked again, then quoted: never judged
            assert claim not in fused
        else:
            assert fused[claim].verified_by == ("offline" if label == "supported" else "llm")
            assert fused[claim].support == "supported"
    assert result.writing.judged == result.writing.judge_kept == len(judged)
    # ... and its calls about other outlets' sentences, one per sentence shown across articles
    backs = _judged(backend, "backs")
    assert 0 < len(backs) <= len(result.overview) <= result.writing.backers_judged
    assert result.usage.judge_calls == len(judged) + len(backs)
    assert result.usage.llm_calls == len(backend.requests)  # the judge's calls are counted
    assert result.usage.judge_backend is None  # the run's own model judged


def test_llm_asks_the_judge_about_every_restatement_past_the_hard_gates(checked):
    backend = ScriptedBackend(default=model())
    result = _run(backend, Options(small_model=False, verify="llm"))
    assert result.writing.verify == "llm"
    assert set(_judged(backend)) == {material(c) for c in checked}
    assert len(_judged(backend)) == result.writing.judged
    # The checker's "unsupported" does not decide in llm mode: the judge kept them all.
    assert set(_fused(result)) == set(checked)
    assert all(s.verified_by == "llm" for s in _fused(result).values())
    assert result.writing.fused_kept == result.writing.fused_attempted == len(_judged(backend))


def test_a_restatement_that_fails_a_hard_gate_never_reaches_the_judge():
    def invent(request: CompletionRequest) -> str:
        if request.reply != "lines":
            return lead_sentences(request)
        return "\n".join(f"[{item.id}] {INVENTED}" for item in request.items)

    backend = ScriptedBackend(default=invent)
    result = _run(backend, Options(small_model=False, verify="llm"))
    assert _judged(backend) == [] and result.writing.judged == 0
    assert all(s.written == "quoted" and s.verified_by == "quote" for s in result.sentences())


def test_offline_never_calls_the_judge_and_keeps_only_what_the_checker_supports(checked):
    """Supported with a relation check fired is doubt enough where no judge decides: those
    are refused like the rest, then quoted."""
    backend = ScriptedBackend(default=model())
    result = _run(backend, Options(small_model=False, verify="offline"))
    assert _judged(backend) == [] and result.usage.judge_calls == 0
    assert result.writing.verify == "offline" and result.writing.judged == 0
    assert "flagged" in checked.values()
    kept = {c for c, label in checked.items() if label == "supported"}
    assert set(_fused(result)) == kept
    assert all(s.verified_by == "offline" for s in _fused(result).values())
    assert {r.prompt_id for r in backend.requests} == {"choose_and_fuse", "choose", "fuse"}


def test_a_restatement_the_judge_finds_unsupported_is_quoted_instead(checked):
    refused: set[str] = set()

    def verdicts(claim: str) -> str:
        if len(refused) < 3 and claim not in refused:
            refused.add(claim)
        return "contradicted" if claim in refused else "supported"

    backend = ScriptedBackend(default=model(verdicts))
    result = _run(backend, Options(small_model=False, verify="llm"))
    assert len(refused) == 3
    fused = {material(text) for text in _fused(result)}
    assert not fused & refused
    refusals = sum(1 for claim in _judged(backend) if claim in refused)
    assert result.writing.judge_kept == result.writing.judged - refusals
    assert result.writing.fused_kept == result.writing.fused_attempted - refusals
    quoted = [s for s in result.sentences() if s.written == "quoted"]
    assert len(quoted) >= refusals >= 3
    assert all(s.verified_by == "quote" and s.text == s.citations[0].quote for s in quoted)
    # One call each: a refusal is not re-asked, so the calls stay bounded.
    assert len(_judged(backend)) == result.writing.judged


def test_an_unreadable_or_failing_judge_keeps_nothing_and_the_run_stands(checked):
    class Failing(ScriptedBackend):
        async def complete(self, request: CompletionRequest) -> Completion:
            if request.prompt_id == "judge" and label_of(_claim(request)) == "flagged":
                self.requests.append(request)
                raise BackendUnavailable("judge down", backend=self.name)
            return await super().complete(request)

    def reply(request: CompletionRequest) -> str:
        if request.prompt_id == "judge":
            return "I think so."  # no JSON, twice: unreadable, so unsupported
        return lead_sentences(request)

    backend = Failing(default=reply)
    result = _run(backend)
    assert result.writing.judged > 0 and result.writing.judge_kept == 0
    assert not any(s.verified_by == "llm" for s in result.sentences())
    assert all(a.summary for a in result.articles) and result.overview
    unreadable = [r for r in backend.requests
                  if r.prompt_id == "judge" and label_of(_claim(r)) == "uncertain"]
    assert unreadable and any(len(r.messages) > 2 for r in unreadable)  # asked once more


def test_the_embedded_model_and_declared_small_models_stay_judge_free():
    assert resolve_verify("auto", small_judge=True) == "offline"
    assert resolve_verify("auto", small_judge=False) == "auto"
    assert resolve_verify("llm", small_judge=True) == "llm"  # asked for by name
    embedded = ScriptedBackend(default=model())
    embedded.name = "local"  # stands in for the embedded model
    for options in (Options(), Options(writing="fused"),
                    Options(writing="fused", small_model=True)):
        backend = ScriptedBackend(default=model()) if options.small_model else embedded
        result = _run(backend, options)
        assert result.writing.verify == "offline" and result.usage.judge_calls == 0
        assert "judge" not in {r.prompt_id for r in backend.requests}
    default = run_options(get_settings())
    assert (default.verify, default.threshold) == ("auto", None)


def test_judge_calls_are_cached_like_any_other(checked, tmp_path: Path):
    cache = Cache(tmp_path / "calls.sqlite3")
    first = _run(ScriptedBackend(default=model()), cache=cache)
    again = ScriptedBackend(default=model())
    second = _run(again, cache=cache)
    assert first.usage.judge_calls > 0 and second.usage.judge_calls == 0
    assert again.requests == []
    assert second.usage.cache_hits == first.usage.llm_calls + first.usage.cache_hits
    assert [s.text for s in second.sentences()] == [s.text for s in first.sentences()]


# -- a judge model of its own ---------------------------------------------------------------


def _judge_calls(stub: Stub) -> list[dict]:
    """The stub's requests that judge a restatement (the others ask which outlets back a fact)."""
    return [r for r in stub.requests if "a claim is backed" in r["json"]["messages"][0]["content"]]


def _judge_at(stub: Stub, monkeypatch: pytest.MonkeyPatch, verdict: str = "supported") -> None:
    """SUMMARIZER_JUDGE_* pointed at the stub, which answers every call with `verdict`."""
    stub.script(*[ok(json.dumps({"verdict": verdict, "evidence": ""}), model="judge-stub")
                  for _ in range(200)])
    monkeypatch.setenv("SUMMARIZER_JUDGE_BASE_URL", stub.url)
    monkeypatch.setenv("SUMMARIZER_JUDGE_MODEL", "judge-stub")
    get_settings.cache_clear()


def test_a_judge_model_of_its_own_gets_the_judge_calls_and_nothing_else(
        stub, monkeypatch, no_network):
    _judge_at(stub, monkeypatch)
    monkeypatch.setenv("OPENAI_API_KEY", "main-secret")  # never sent to the judge's server
    get_settings.cache_clear()
    judge = make_judge_backend(get_settings())
    assert judge is not None and (judge.name, judge.model) == ("openai", "judge-stub")
    backend = ScriptedBackend(default=model())  # the run's model: small, yet the judge is not
    result = _run(backend, Options(writing="fused", verify="llm"), judge=judge)
    assert result.writing.verify == "llm"
    assert "judge" not in {r.prompt_id for r in backend.requests}
    assert stub.requests
    assert len(_judge_calls(stub)) == result.writing.judged
    for seen in stub.requests:
        assert seen["json"]["model"] == "judge-stub"
        assert "<claim>" in seen["json"]["messages"][1]["content"]
        assert "main-secret" not in seen["headers"].get("authorization", "")
    usage = result.usage
    assert (usage.judge_backend, usage.judge_model) == ("openai", "judge-stub")
    assert usage.judge_calls == len(stub.requests)
    assert usage.llm_calls == len(backend.requests) + len(stub.requests)
    assert all(s.verified_by == "llm" for s in _fused(result).values()) and _fused(result)


def test_auto_with_a_capable_judge_of_its_own_judges_even_for_a_small_run_model(
        stub, monkeypatch, checked):
    _judge_at(stub, monkeypatch)
    judge = make_judge_backend(get_settings())
    result = _run(ScriptedBackend(default=model()), Options(writing="fused"), judge=judge)
    assert result.writing.verify == "auto"
    doubtful = {c for c, label in checked.items() if label in ("uncertain", "flagged")}
    restatements = _judge_calls(stub)
    claims = {r["json"]["messages"][-1]["content"].split("<claim>\n", 1)[1]
              .split("\n</claim>", 1)[0] for r in restatements}
    assert claims == {material(c) for c in doubtful} and doubtful
    assert len(restatements) == result.writing.judged
    assert len(stub.requests) == result.usage.judge_calls


def test_cli_verify_with_a_judge_model_gives_verified_by_in_valid_json(
        stub, monkeypatch, capsys, no_network):
    _judge_at(stub, monkeypatch, verdict="unsupported")
    code = main(["summarize", str(EXAMPLES), "--backend", "scripted", "--writing", "fused",
                 "--verify", "llm", "--format", "json", "--no-cache"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    jsonschema.validate(data, SCHEMA)
    assert data["writing"]["verify"] == "llm"
    assert data["writing"]["judged"] == len(_judge_calls(stub)) > 0
    # The stub's verdicts are no answer to which outlets back a fact: none is counted.
    assert data["writing"]["backers_refused"] == data["writing"]["backers_judged"] > 0
    assert all(s["sources"]["supporting"] == len({c["article_id"] for c in s["citations"]})
               for s in data["overview"])
    assert data["writing"]["judge_kept"] == 0 and data["writing"]["fused_kept"] == 0
    sentences = [s for a in data["articles"] for s in a["summary"]] + data["overview"]
    assert {s["verified_by"] for s in sentences} == {"quote"}  # the judge refused them all
    assert data["usage"]["judge_calls"] == len(stub.requests)
    assert data["usage"]["judge_model"] == "judge-stub"


def test_cli_verify_offline_makes_no_judge_call(stub, monkeypatch, capsys):
    _judge_at(stub, monkeypatch)
    assert main(["summarize", str(EXAMPLES), "--backend", "scripted", "--writing", "fused",
                 "--verify", "offline", "--format", "json", "--no-cache"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert stub.requests == [] and data["usage"]["judge_calls"] == 0
    assert data["writing"]["verify"] == "offline"


def test_a_judge_base_url_beyond_loopback_is_refused_without_network(monkeypatch):
    monkeypatch.setenv("SUMMARIZER_JUDGE_BASE_URL", "https://judge.example/v1")
    get_settings.cache_clear()
    assert main(["summarize", str(EXAMPLES), "--backend", "scripted"]) == 1


def test_without_judge_settings_the_run_model_judges():
    assert make_judge_backend(Settings()) is None


# -- the API ----------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("sync", [5, 0])  # answered at once, or by a job
async def test_api_options_verify_chooses_the_mode(tmp_path: Path, sync: int):
    backend = ScriptedBackend(default=model())
    app = create_app(Settings(db_path=tmp_path / "api.sqlite3", sync_summary_articles=sync),
                     backend=backend)
    articles = [{"text": (EXAMPLES / "03_velle_valley_ledger.txt").read_text(encoding="utf-8")}]
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://summarizer.test", timeout=60) as client:
            answer = await client.post("/v1/summaries", json={
                "articles": articles, "options": {"writing": "fused", "verify": "llm"}})
            if sync == 0:
                assert answer.status_code == 202, answer.text
                job = answer.json()["job_id"]
                for _ in range(400):
                    if (await client.get(f"/v1/jobs/{job}")).json()["status"] == "done":
                        break
                    await asyncio.sleep(0.05)
                answer = await client.get(f"/v1/jobs/{job}/result")
            refused = await client.post("/v1/summaries", json={
                "articles": articles, "options": {"verify": "maybe"}})
    assert answer.status_code == 200, answer.text
    data = answer.json()
    jsonschema.validate(data, SCHEMA)
    assert data["writing"]["verify"] == "llm" and data["usage"]["judge_calls"] > 0
    sentences = [s for a in data["articles"] for s in a["summary"]]
    assert sentences and {s["verified_by"] for s in sentences} == {"llm"}
    assert refused.status_code == 422


@pytest.mark.anyio
async def test_a_digest_follows_the_verify_setting_and_uses_the_judge_of_its_own(
        tmp_path: Path):
    from summarizer.server.service import Service
    from summarizer.server.store import open_store

    main_model = ScriptedBackend(default=model())
    judge = ScriptedBackend(default=model(), model="judge-model")
    store = open_store(tmp_path / "digest.sqlite3")
    service = Service(Settings(writing="fused", verify="llm"), store, lambda: main_model,
                      lambda: judge)
    await service.start()
    try:
        docs = _examples()
        await service.ingest([{"text": d.text, "title": d.title, "source": d.source,
                               "published": "2026-03-14"} for d in docs])
        job, _ = await service.request_digest("2026-03-14")
        for _ in range(600):
            if (await service.job(job.id)).status in ("done", "failed"):
                break
            await asyncio.sleep(0.05)
        data = (await service.latest_digest("2026-03-14")).contract()
    finally:
        await service.stop()
        store.close()
    assert data["writing"]["verify"] == "llm" and data["writing"]["judged"] > 0
    assert "judge" not in {r.prompt_id for r in main_model.requests}
    assert {r.prompt_id for r in judge.requests} == {"judge", "backs"}
    assert data["usage"]["judge_calls"] == len(judge.requests)
    assert data["usage"]["judge_model"] == "judge-model"
    assert any(s["verified_by"] == "llm" for story in data["stories"] for s in story["summary"])


# -- what a reader sees -----------------------------------------------------------------------


ARTICLE = Article(id="a1", origin="a.txt", source="Courier",
                  text="The bridge closed on Monday. It reopened on Friday.")
CITED = Citation(article_id="a1", passage="1.1", start=0, end=28,
                 quote="The bridge closed on Monday.")


def _result(*sentences: Sentence) -> Result:
    return Result(articles=(ArticleSummary(article=ARTICLE, summary=sentences),),
                  overview=(), duplicates=(), skipped=(),
                  usage=Usage(backend="scripted", model="test", llm_calls=5, judge_calls=2),
                  faithfulness=Faithfulness(supported=1, unsupported=1, score=0.5),
                  writing=Writing(mode="fused", fused_attempted=2, fused_kept=1, verify="auto",
                                  judged=2, judge_kept=1))


def test_uncertain_sentences_are_marked_and_verified_by_is_in_the_json():
    judged = Sentence(text="The bridge was closed on Monday.", support="supported",
                      citations=(CITED,), written="fused", verified_by="llm")
    unsure = Sentence(text="The bridge shut on Monday.", support="uncertain",
                      citations=(CITED,), written="fused", verified_by="offline",
                      reason="weakly aligned with the sources")
    result = _result(judged, unsure)
    data = to_json(result)
    jsonschema.validate(data, SCHEMA)
    assert [s["verified_by"] for s in data["articles"][0]["summary"]] == ["llm", "offline"]
    assert data["writing"]["verify"] == "auto" and data["usage"]["judge_calls"] == 2
    md = to_markdown(result)
    assert "The bridge shut on Monday. [1] *(uncertain)*" in md
    assert "The bridge was closed on Monday. [1] The bridge shut" in md  # no mark
    assert "The LLM judge decided 2 of them and kept 1." in md
    assert "2 of the calls by the LLM judge" in md
    page = to_html(result)
    assert '<mark class="uncertain">uncertain</mark>' in page
    assert 'data-verified-by="llm"' in page
    assert "Why 1 sentence is marked uncertain" in page


def test_results_stored_before_verification_was_recorded_still_render():
    old = Sentence(text=CITED.quote, support="supported", citations=(CITED,), written="quoted")
    result = _result(old).model_copy(update={"writing": Writing(mode="quoted")})
    data = to_json(result)
    jsonschema.validate(data, SCHEMA)
    assert "verified_by" not in data["articles"][0]["summary"][0]
    assert data["writing"] == {"mode": "quoted", "fused_attempted": 0, "fused_kept": 0}


# -- outlets counted for a fact across articles ---------------------------------------------------

def _forest_fire() -> list:
    """Three French outlets; the third tells of an inquiry into the fire the other two report,
    in words near enough to theirs that fact groups count both of them for it."""
    docs, _ = read_inputs([str(Path(EXAMPLES).parent / "evals" / "sets" / "fr_forest_fire")])
    return docs


def _inquiry(result: Result) -> Sentence:
    return next(s for s in result.overview if "enquête" in s.text)


def test_the_judge_decides_which_other_outlets_back_a_fact_and_those_it_refuses_are_not_counted():
    def verdicts(claim: str) -> str:
        return "unsupported" if "enquête" in claim else "supported"

    backend = ScriptedBackend(default=model(verdicts))
    result = asyncio.run(summarize(_forest_fire(), backend=backend,
                                   options=Options(small_model=False, writing="fused")))
    inquiry = _inquiry(result)
    assert inquiry.sources is not None and inquiry.sources.supporting == 1
    assert len({c.article_id for c in inquiry.citations}) == 1
    assert result.writing.backers_judged >= 1 and result.writing.backers_refused >= 1
    assert any("enquête" in claim for claim in _judged(backend, "backs"))
    # What the judge finds backed stays counted.
    assert any(s.sources is not None and s.sources.supporting >= 2 for s in result.overview)
    jsonschema.validate(to_json(result), SCHEMA)
    assert f"{result.writing.backers_refused} it did not find backing it" in to_markdown(result)


def test_without_a_judge_no_call_is_made_about_outlets():
    backend = ScriptedBackend(default=model())
    result = asyncio.run(summarize(_forest_fire(), backend=backend,
                                   options=Options(small_model=False, writing="fused",
                                                   verify="offline")))
    assert _judged(backend) == _judged(backend, "backs") == []
    assert result.writing.backers_judged == 0


def test_an_outlet_the_judge_could_not_judge_is_not_counted():
    class Failing(ScriptedBackend):
        async def complete(self, request: CompletionRequest) -> Completion:
            if request.prompt_id == "backs":
                raise BackendUnavailable("timed out", backend="stub")
            return await super().complete(request)

    result = asyncio.run(summarize(_forest_fire(), backend=Failing(default=model()),
                                   options=Options(small_model=False, writing="fused")))
    inquiry = _inquiry(result)
    assert inquiry.sources is not None and inquiry.sources.supporting == 1
    assert result.failed == ()


def test_the_outlet_checks_start_with_the_map_step_not_after_it():
    """The overview's pool does not depend on the articles' summaries: its outlets are checked
    from the start, so the overview waits for no judge call of its own."""
    backend = ScriptedBackend(default=model())
    result = asyncio.run(summarize(_forest_fire(), backend=backend,
                                   options=Options(small_model=False, writing="fused",
                                                   concurrency=1)))
    asked = [r.prompt_id for r in backend.requests]
    assert asked[0] == "backs" and asked.count("backs") == len(_judged(backend, "backs"))
    assert result.writing.backers_judged > 0
