"""The LLM judge with a scripted model: verdicts, re-asks, budgets, and its meta-evaluation."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from summarizer.checking.judge import LLMJudge
from summarizer.cli import main
from summarizer.llm.base import CompletionRequest
from summarizer.llm.scripted import ScriptedBackend

PASSAGES = [
    "The Kessing Street Bridge in Brackwater collapsed on Saturday morning. "
    "Three vehicles fell into the Velle River.",
    "Fire Chief Tomas Reyle said 46 firefighters took part in the rescue.",
]


def claim_of(request: CompletionRequest) -> str:
    return request.messages[-1].content.split("<claim>\n", 1)[1].split("\n</claim>", 1)[0]


def summary_of(request: CompletionRequest) -> str:
    return request.messages[1].content.split("<summary>\n", 1)[1].split("\n</summary>", 1)[0]


def sentences_as_claims(request: CompletionRequest) -> str:
    return json.dumps([s.strip() + "." for s in summary_of(request).split(".") if s.strip()])


def judge_by(verdicts: dict[str, tuple[str, str]]):
    """A model that splits summaries at periods and judges claims from a table."""

    def reply(request: CompletionRequest) -> str:
        if request.prompt_id == "claims":
            return sentences_as_claims(request)
        assert request.prompt_id == "judge" and request.temperature == 0
        verdict, quote = verdicts[claim_of(request)]
        return json.dumps({"verdict": verdict, "evidence": quote})

    return reply


def test_a_supported_summary_is_supported_with_verbatim_evidence():
    backend = ScriptedBackend(default=judge_by({
        "The bridge collapsed on Saturday.": (
            "supported", "The Kessing Street Bridge in Brackwater collapsed on Saturday morning."),
        "46 firefighters helped.": ("supported", "46 firefighters took part in the rescue"),
    }))
    verdict = asyncio.run(LLMJudge(backend).check(
        "The bridge collapsed on Saturday. 46 firefighters helped.", PASSAGES))
    assert verdict.supported and verdict.score == 1.0 and verdict.reason is None
    assert verdict.evidence is not None and verdict.evidence.passage == 0
    assert PASSAGES[0][verdict.evidence.start:verdict.evidence.end] == verdict.evidence.text
    judged = [r for r in backend.requests if r.prompt_id == "judge"]
    assert len(judged) == 2 and all("[2] Fire Chief" in r.messages[-1].content for r in judged)


def test_a_contradicted_claim_fails_the_summary_and_is_named():
    backend = ScriptedBackend(default=judge_by({
        "The bridge collapsed on Saturday.": ("supported", "collapsed on Saturday morning"),
        "Four vehicles fell into the river.": (
            "contradicted", "Three vehicles fell into the Velle River."),
    }))
    verdict = asyncio.run(LLMJudge(backend).check(
        "The bridge collapsed on Saturday. Four vehicles fell into the river.", PASSAGES))
    assert not verdict.supported
    assert verdict.score == 0.5  # one claim of two supported; contradicted counts as 0
    assert verdict.reason == ("claim 'Four vehicles fell into the river.' contradicted by the "
                              "sources")
    assert verdict.evidence is not None and verdict.evidence.text.startswith("Three vehicles")


def test_unreadable_judge_output_is_reasked_once_then_counted_unsupported():
    def reply(request: CompletionRequest) -> str:
        if request.prompt_id == "claims":
            return sentences_as_claims(request)
        return "I think it is probably fine."

    backend = ScriptedBackend(default=reply)
    verdict = asyncio.run(LLMJudge(backend).check("The bridge collapsed.", PASSAGES))
    judged = [r for r in backend.requests if r.prompt_id == "judge"]
    assert len(judged) == 2  # the first ask and exactly one re-ask
    reask = judged[1].messages
    assert reask[-2].role == "assistant" and reask[-2].content == "I think it is probably fine."
    assert reask[-1].role == "user" and "no JSON object found" in reask[-1].content
    assert not verdict.supported and verdict.score == 0.0
    assert verdict.reason == "claim 'The bridge collapsed.' unsupported: judge output unreadable"


def test_a_reasked_reply_that_parses_is_used():
    replies = iter(['{"verdict": "maybe"}', '{"verdict": "supported", "evidence": ""}'])

    def reply(request: CompletionRequest) -> str:
        return sentences_as_claims(request) if request.prompt_id == "claims" else next(replies)

    backend = ScriptedBackend(default=reply)
    verdict = asyncio.run(LLMJudge(backend).check("The bridge collapsed.", PASSAGES))
    assert verdict.supported and verdict.evidence is None
    assert '"verdict" must be one of' in backend.requests[-1].messages[-1].content


def test_unreadable_claims_fall_back_to_sentences_after_one_reask():
    def reply(request: CompletionRequest) -> str:
        if request.prompt_id == "claims":
            return "Here are the claims: the bridge, the river"
        return json.dumps({"verdict": "supported", "evidence": ""})

    backend = ScriptedBackend(default=reply)
    asyncio.run(LLMJudge(backend).check(
        "The bridge collapsed on Saturday. Three vehicles fell into the river.", PASSAGES))
    assert [r.prompt_id for r in backend.requests].count("claims") == 2
    judged = sorted(claim_of(r) for r in backend.requests if r.prompt_id == "judge")
    assert judged == ["The bridge collapsed on Saturday.", "Three vehicles fell into the river."]


def test_passages_too_long_for_the_window_are_trimmed_to_the_most_similar():
    filler = [f"Council member {n} spoke about parking fees and bus timetables in the district."
              for n in range(300)]
    passages = [" ".join(filler[:150]), " ".join(filler[150:225]) +
                " Three vehicles fell into the Velle River. " + " ".join(filler[225:])]
    backend = ScriptedBackend(context_window=1200, default=judge_by({
        "Three vehicles fell into the Velle River.": (
            "supported", "Three vehicles fell into the Velle River."),
    }))
    assert sum(backend.count_tokens(p) for p in passages) > 4 * backend.context_window
    verdict = asyncio.run(LLMJudge(backend).check(
        "Three vehicles fell into the Velle River.", passages))
    assert verdict.supported and verdict.evidence is not None and verdict.evidence.passage == 1
    for request in backend.requests:
        used = sum(backend.count_tokens(m.content) for m in request.messages)
        assert used + request.max_tokens <= backend.context_window
    shown = next(r for r in backend.requests if r.prompt_id == "judge").messages[-1].content
    assert "Three vehicles fell into the Velle River." in shown


def test_trimmed_passages_leave_room_for_the_re_ask():
    filler = [f"Council member {n} spoke about parking fees and bus timetables in the district."
              for n in range(300)]
    passages = [" ".join(filler) + " Three vehicles fell into the Velle River."]
    answers = iter(["The passages say so, I believe.",
                    json.dumps({"verdict": "supported",
                                "evidence": "Three vehicles fell into the Velle River."})])

    def reply(request: CompletionRequest) -> str:
        return sentences_as_claims(request) if request.prompt_id == "claims" else next(answers)

    backend = ScriptedBackend(context_window=1200, default=reply)
    verdict = asyncio.run(LLMJudge(backend).check(
        "Three vehicles fell into the Velle River.", passages))
    assert verdict.supported
    first, reask = [r for r in backend.requests if r.prompt_id == "judge"]
    assert reask.messages[:2] == first.messages and len(reask.messages) == 4
    used = sum(backend.count_tokens(m.content) for m in reask.messages)
    assert used + reask.max_tokens <= backend.context_window


def test_a_window_too_small_for_the_prompt_is_a_clear_error():
    from summarizer.errors import ConfigError

    backend = ScriptedBackend(context_window=200, default=judge_by({}))
    with pytest.raises(ConfigError, match="context window"):
        asyncio.run(LLMJudge(backend).check("The bridge collapsed.", PASSAGES))


DOCUMENT = " ".join(PASSAGES)
CONSISTENT = ["Three vehicles fell into the Velle River.",
              "The Kessing Street Bridge in Brackwater collapsed on Saturday morning.",
              "Fire Chief Tomas Reyle said 46 firefighters took part in the rescue."]
INCONSISTENT = ["Nine vehicles fell into the Velle River.",
                "The Kessing Street Bridge in Zurich collapsed on Sunday night.",
                "Mayor Olga Pemberton said 312 firefighters took part in the rescue."]


def verbatim_judge(request: CompletionRequest) -> str:
    """Supported exactly when the claim occurs in the passages, as a perfect judge would say."""
    if request.prompt_id == "claims":
        return json.dumps([summary_of(request)])
    claim = claim_of(request)
    found = claim in request.messages[-1].content.split("<claim>")[0]
    return json.dumps({"verdict": "supported" if found else "contradicted",
                       "evidence": claim if found else ""})


def test_cli_evaluates_the_llm_judge_on_labelled_rows(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture,
                                                      monkeypatch: pytest.MonkeyPatch):
    data = tmp_path / "labelled.jsonl"
    rows = [(split, s, label) for split in ("dev", "test")
            for label, items in ((1, CONSISTENT), (0, INCONSISTENT)) for s in items]
    data.write_text("".join(
        json.dumps({"id": str(n), "benchmark": "fixture", "origin": "news", "split": split,
                    "document": DOCUMENT, "summary": summary, "label": label}) + "\n"
        for n, (split, summary, label) in enumerate(rows)), encoding="utf-8")
    seen: list[ScriptedBackend] = []

    def scripted(_settings: object, requested: str | None, _model: str | None) -> ScriptedBackend:
        assert requested == "scripted"
        seen.append(ScriptedBackend(default=verbatim_judge))
        return seen[-1]

    monkeypatch.setattr("summarizer.cli.make_backend", scripted)
    assert main(["eval", "faithfulness", "--data", str(data), "--judge", "llm",
                 "--backend", "scripted", "--limit", "4"]) == 0
    out = capsys.readouterr().out
    assert "sample: 4 of 6 test rows and 4 of 6 dev rows" in out
    assert "balanced accuracy 100.0" in out and "ROC AUC 100.0" in out
    assert "judge: llm, scripted" in out
    assert {r.prompt_id for r in seen[0].requests} == {"claims", "judge"}
    # The default judge is still the offline checker: no model is built.
    assert main(["eval", "faithfulness", "--data", str(data)]) == 0
    assert "6 rows, 3 labelled consistent" in capsys.readouterr().out and len(seen) == 1


def test_a_sentence_judged_whole_costs_one_call_and_no_split():
    """Inside a run a restatement is one sentence: judged as it stands, with no claims call."""
    backend = ScriptedBackend(default=judge_by({
        "Three vehicles fell into the river.": ("supported", "Three vehicles fell into the "
                                                             "Velle River."),
        "Four vehicles fell into the river.": ("contradicted", "Three vehicles fell into the "
                                                              "Velle River."),
    }))
    judge = LLMJudge(backend)
    held = asyncio.run(judge.check_whole("Three vehicles fell into the river.", PASSAGES))
    assert held.supported and held.label == "supported" and held.reason is None
    assert held.evidence is not None and held.evidence.text == "Three vehicles fell into the " \
                                                               "Velle River."
    wrong = asyncio.run(judge.check_whole("Four vehicles fell into the river.", PASSAGES))
    assert not wrong.supported and wrong.label == "unsupported"
    assert wrong.reason == "claim 'Four vehicles fell into the river.' contradicted by the sources"
    assert [r.prompt_id for r in backend.requests] == ["judge", "judge"]


def test_a_judge_given_a_callers_path_counts_its_calls_there():
    from summarizer.llm.caller import Caller

    backend = ScriptedBackend(default=judge_by({
        "The bridge collapsed on Saturday.": ("supported", "collapsed on Saturday morning"),
    }))
    caller = Caller(backend, concurrency=1)
    judge = LLMJudge(backend, caller=caller)
    asyncio.run(judge.check_whole("The bridge collapsed on Saturday.", PASSAGES))
    asyncio.run(judge.check("The bridge collapsed on Saturday.", PASSAGES))
    assert caller.calls == 3 and caller.calls_for(LLMJudge.PROMPTS) == 3
    assert caller.calls_by_prompt == {"judge": 2, "claims": 1}
    assert caller.prompts == {"judge": "3", "claims": "2"}


def test_a_judge_of_its_own_shares_the_runs_cache_bound_and_progress(tmp_path: Path):
    from summarizer.llm.cache import Cache
    from summarizer.llm.caller import Caller

    run = Caller(ScriptedBackend(), concurrency=2, cache=Cache(tmp_path / "c.sqlite3"))
    judging = run.sibling(ScriptedBackend(model="judge-model"))
    assert judging._limit is run._limit and judging.cache is run.cache
    assert judging.progress is run.progress and judging.backend.model == "judge-model"
    assert judging.calls == 0 and judging is not run
