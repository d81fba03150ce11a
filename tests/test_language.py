"""Languages: each article's detected, summaries written in the asked one (else the articles'),
quoted sentences kept in their source's language and marked, cross-language restatements left
to the judge, and a metric that says how much of the output is in the asked language."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import httpx
import jsonschema
import pytest
from conftest import EXAMPLES, ROOT

from summarizer import writing
from summarizer.checking.offline import across_languages
from summarizer.cli import main
from summarizer.errors import ConfigError, InputError
from summarizer.evaluation.metrics import language_consistency, score_run
from summarizer.facts import FactGroup, SourceSentence
from summarizer.ingest import read_inputs
from summarizer.language import check_code, detect, most_common
from summarizer.llm.base import CompletionRequest
from summarizer.llm.scripted import ScriptedBackend, lead_sentences
from summarizer.models import Article, Document, Result, Sentence
from summarizer.pipeline import Options, digest, prepare, run_options, summarize
from summarizer.render import to_html, to_json, to_markdown
from summarizer.salience import Candidate
from summarizer.server.app import create_app
from summarizer.settings import Settings, get_settings

FRENCH_SET = ROOT / "evals" / "sets" / "fr_forest_fire"
SCHEMA = json.loads((ROOT / "summarizer" / "output.schema.json").read_text())
CAPABLE = Options(small_model=False)  # the scripted stand-in declared a capable model
DEFAULTS = Options()
TEXTS = {
    "en": "The council closed the bridge on Monday after engineers found cracks in two of its "
          "supports, and buses will use the northern crossing until it reopens.",
    "fr": "Le conseil municipal a fermé le pont lundi après que des ingénieurs ont trouvé des "
          "fissures dans deux de ses piliers, et les bus passeront par le nord.",
    "de": "Der Stadtrat hat die Brücke am Montag gesperrt, nachdem Ingenieure Risse in zwei "
          "ihrer Pfeiler gefunden hatten, und die Busse fahren über die nördliche Brücke.",
    "es": "El ayuntamiento cerró el puente el lunes después de que los ingenieros encontraran "
          "grietas en dos de sus pilares, y los autobuses usarán el cruce del norte.",
}
# What a capable model writes when asked for French: its own French words, none of the
# English sources' (so no word-for-word check could keep it).
FRENCH_LINE = "Selon les journaux, la ville a fermé le pont après avoir trouvé des fissures."


def _run(docs, backend, options: Options = DEFAULTS, **kwargs) -> Result:
    return asyncio.run(summarize(docs, backend=backend, options=options, **kwargs))


def _docs(folder: Path) -> list[Document]:
    docs, _ = read_inputs([str(folder)])
    return docs


def _in_french(request: CompletionRequest) -> str:
    """A capable model asked for French: it chooses the first ids and restates every group in
    French; asked to judge, it finds the claim supported."""
    if request.prompt_id == "judge":
        return json.dumps({"verdict": "supported", "evidence": ""})
    if request.reply == "lines":
        return "\n".join(f"[{item.id}] {FRENCH_LINE}" for item in request.items)
    return lead_sentences(request)


@pytest.mark.parametrize("code", sorted(TEXTS))
def test_english_french_german_and_spanish_are_told_apart(code: str):
    assert detect(TEXTS[code]) == code
    # Asked only which of a run's languages a sentence is in, it still answers rightly.
    assert detect(TEXTS[code], among={code, "en" if code != "en" else "fr"}) == code


def test_text_with_no_letters_has_no_language_and_a_tie_goes_to_the_first_met():
    assert detect("2027 - 14:30 / 45 %") is None
    assert most_common(["fr", None, "en", "en", "fr"]) == "fr"
    assert most_common([None]) is None


def test_each_article_carries_its_language_in_the_json_output():
    docs = _docs(FRENCH_SET) + [Document(origin="en.txt", text=TEXTS["en"], source="Ledger")]
    result = _run(docs, ScriptedBackend())
    data = to_json(result)
    jsonschema.validate(data, SCHEMA)
    assert [a["language"] for a in data["articles"]] == ["fr", "fr", "fr", "en"]
    # An article read back from storage (its language not stored) has it detected again.
    stored = result.articles[3].article.model_copy(update={"language": None})
    assert prepare([stored]).articles[0].language == "en"


def test_the_output_language_defaults_to_the_most_common_among_the_articles():
    french = _run(_docs(FRENCH_SET), ScriptedBackend())
    assert french.language is not None and french.language.output == "fr"
    assert french.language.honoured and french.language.articles == ("fr",)
    mixed = _docs(FRENCH_SET)[:2] + [Document(origin="en.txt", text=TEXTS["en"])]
    assert _run(mixed, ScriptedBackend()).language.output == "fr"  # type: ignore[union-attr]
    english = _run(_docs(EXAMPLES), ScriptedBackend())
    assert english.language is not None and english.language.output == "en"


def test_the_asked_language_reaches_the_restating_prompt():
    backend = ScriptedBackend()
    _run(_docs(EXAMPLES), backend, Options(small_model=False, language="es"))
    fuses = [r for r in backend.requests if r.prompt_id == "fuse"]
    assert fuses and all("plain Spanish sentence" in r.messages[0].content for r in fuses)
    default = ScriptedBackend()
    _run(_docs(EXAMPLES), default, CAPABLE)
    assert all("plain English sentence" in r.messages[0].content
               for r in default.requests if r.prompt_id == "fuse")


def test_quoted_sentences_keep_and_declare_their_source_language(
        capsys: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture):
    result = _run(_docs(FRENCH_SET), ScriptedBackend(), Options(language="en"))
    assert result.writing is not None and result.writing.mode == "quoted"
    assert result.sentences() and all(s.language == "fr" and s.written == "quoted"
                                      for s in result.sentences())
    assert result.language is not None and not result.language.honoured
    assert result.language.other == len(result.sentences())
    count = len(result.sentences())
    assert f"{count} of {count} sentences are in French" in (result.language.reason or "")
    markdown, page = to_markdown(result), to_html(result)
    assert markdown.count("*(in French)*") == len(result.sentences())
    assert "Asked for English:" in markdown
    assert 'lang="fr"' in page and '<span class="language">in French</span>' in page
    # Asked for their own language, nothing is marked.
    assert "(in French)" not in to_markdown(_run(_docs(FRENCH_SET), ScriptedBackend()))
    # The CLI says so on stderr and in the JSON.
    assert main(["summarize", str(FRENCH_SET), "--backend", "scripted", "--no-cache",
                 "--format", "json", "--language", "en"]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["language"]["honoured"] is False and data["language"]["output"] == "en"
    assert "could not be all in English" in caplog.text
    assert {s["language"] for s in data["overview"]} == {"fr"}


def _candidate() -> Candidate:
    shown = SourceSentence(id="1.1", article_id="a1", article_no=1, start=0, end=60,
                           text="The council closed the bridge on Monday after finding cracks.",
                           position=0.0, outlets=("ledger",))
    return Candidate(shown=shown, group=FactGroup(members=[shown], agreeing=[shown]), score=1.0)


def test_a_restatement_in_another_language_is_uncertain_offline_never_supported():
    verdict = across_languages("fr", {"en"})
    assert verdict is not None and verdict.label == "uncertain" and not verdict.supported
    assert "French" in (verdict.reason or "") and "English" in (verdict.reason or "")
    assert across_languages("en", {"en"}) is None and across_languages(None, {"en"}) is None
    languages = {"a1": "en"}
    offline = writing.fused(FRENCH_LINE, _candidate(), None, verify="offline",
                            languages=languages, asked="fr")
    assert isinstance(offline, str) and "French" in offline  # refused: no judge to decide
    held = writing.fused(FRENCH_LINE, _candidate(), None, verify="auto",
                         languages=languages, asked="fr")
    assert isinstance(held, writing.Held) and held.verdict.label == "uncertain"
    assert held.sentence.language == "fr" and held.sentence.verified_by == "llm"
    # Asked for French, a restatement the model wrote in English anyway is read as English.
    same = writing.fused("The council closed the bridge on Monday after finding cracks.",
                         _candidate(), None, verify="offline", languages=languages, asked="fr")
    assert isinstance(same, Sentence) and same.language == "en"


@pytest.mark.parametrize("verdict", ["supported", "unsupported"])
def test_the_judge_decides_a_cross_language_restatement(verdict: str):
    def model(request: CompletionRequest) -> str:
        if request.prompt_id == "judge":
            return json.dumps({"verdict": verdict, "evidence": ""})
        return _in_french(request)

    backend = ScriptedBackend(default=model)
    result = _run(_docs(EXAMPLES), backend, Options(small_model=False, language="fr"))
    assert result.writing is not None and result.writing.verify == "auto"
    judged = [r for r in backend.requests if r.prompt_id == "judge"]
    assert judged and result.writing.judged == len(judged)
    fused = [s for s in result.sentences() if s.written == "fused"]
    quoted = [s for s in result.sentences() if s.written == "quoted"]
    if verdict == "supported":
        assert fused and all(s.language == "fr" and s.verified_by == "llm" for s in fused)
        assert result.language is not None and result.language.honoured
    else:
        assert not fused and quoted and all(s.language == "en" for s in quoted)
        assert result.language is not None and not result.language.honoured


def test_with_offline_verification_no_cross_language_restatement_is_asked_for():
    backend = ScriptedBackend(default=_in_french)
    result = _run(_docs(EXAMPLES), backend,
                  Options(small_model=False, language="fr", verify="offline"))
    assert not [r for r in backend.requests if r.prompt_id in ("fuse", "judge")]
    assert all(s.written == "quoted" for s in result.sentences())
    assert result.language is not None and "--verify auto" in (result.language.reason or "")
    # The embedded model's run resolves `auto` to offline: a judge of its own is what helps.
    small = _run(_docs(EXAMPLES), ScriptedBackend(), Options(writing="fused", language="fr"))
    assert small.writing is not None and small.writing.verify == "offline"
    assert "SUMMARIZER_JUDGE_MODEL" in (small.language.reason or "")  # type: ignore[union-attr]


def test_language_consistency_scores_a_wrong_language_output_low():
    asked_fr = _run(_docs(EXAMPLES), ScriptedBackend(default=_in_french),
                    Options(small_model=False, language="fr"))
    assert language_consistency(asked_fr) == (1.0, 0.0)
    # The same sentences, now declared French output of a run asked for German: wrong.
    wrong = asked_fr.model_copy(update={"language": asked_fr.language.model_copy(  # type: ignore[union-attr]
        update={"output": "de"})})
    assert language_consistency(wrong)[0] == 0.0
    scores = score_run("examples", wrong)
    assert scores.metrics["language_consistency"] == 0.0 and scores.language == "de"
    # Quoted in their source's language, as declared: counted apart, neither for nor against.
    quoted = _run(_docs(FRENCH_SET), ScriptedBackend(), Options(language="en"))
    assert language_consistency(quoted) == (None, 1.0)
    # A "quoted" sentence that is not in the language it declares counts against.
    mislabelled = quoted.model_copy(update={"overview": tuple(
        s.model_copy(update={"language": "de"}) for s in quoted.overview)})
    share, apart = language_consistency(mislabelled)
    assert share == 0.0 and apart is not None and apart < 1.0


def test_bad_language_codes_are_refused_with_what_to_use(capsys: pytest.CaptureFixture,
                                                        monkeypatch: pytest.MonkeyPatch):
    assert check_code(" FR ") == "fr"
    with pytest.raises(InputError, match="unknown language code 'xx'.*ISO 639-1"):
        check_code("xx")
    with pytest.raises(SystemExit) as exit_:
        main(["summarize", str(EXAMPLES), "--language", "french"])
    assert exit_.value.code == 2
    assert "unknown language code 'french'" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="SUMMARIZER_LANGUAGE: unknown language code 'zz'"):
        run_options(Settings(language="zz"))
    assert run_options(Settings(language="de")).language == "de"  # digests use it too
    assert run_options(Settings(language="de"), language="es").language == "es"
    monkeypatch.setenv("SUMMARIZER_LANGUAGE", "zz")
    get_settings.cache_clear()
    assert main(["summarize", str(EXAMPLES), "--backend", "scripted", "--no-cache"]) == 1
    assert "SUMMARIZER_LANGUAGE: unknown language code 'zz'" in capsys.readouterr().err


@pytest.mark.anyio
async def test_the_api_takes_a_language_option_and_refuses_a_bad_code():
    articles = [{"text": Path(p).read_text(encoding="utf-8"), "source": f"Outlet {n}"}
                for n, p in enumerate(sorted(EXAMPLES.glob("*.txt")), 1)]
    articles += [json.loads(p.read_text(encoding="utf-8")) for p in
                 sorted(FRENCH_SET.glob("*.json"))]
    app = create_app(Settings(), backend=ScriptedBackend())
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://summarizer.test") as client:
        asked = await client.post("/v1/summaries", json={"articles": articles,
                                                         "options": {"language": "de"}})
        default = await client.post("/v1/summaries", json={"articles": articles})
        bad = await client.post("/v1/summaries", json={"articles": articles,
                                                       "options": {"language": "xx"}})
    assert asked.status_code == 200, asked.text
    data = asked.json()
    jsonschema.validate(data, SCHEMA)
    assert data["language"]["output"] == "de" and data["language"]["honoured"] is False
    assert sorted(a["language"] for a in data["articles"]) == ["en", "fr", "fr"]
    assert default.json()["language"]["output"] == "fr"  # two of the three articles
    assert bad.status_code == 422
    error = bad.json()["error"]
    assert error["field"] == "options.language" and "unknown language code 'xx'" in \
        error["message"]


def test_a_stored_article_without_a_language_is_summarised_in_its_own():
    article = Article(id="a", origin="stored", text=TEXTS["es"] + " " + TEXTS["es"])
    assert prepare([article]).articles[0].language == "es"


def test_a_digest_of_stored_articles_writes_in_the_language_set_for_digests():
    # Articles as the store gives them back: their language is not stored, so it is detected.
    articles = [a.article.model_copy(update={"language": None}) for a in
                _run(_docs(FRENCH_SET), ScriptedBackend()).articles]
    asked = run_options(Settings(language="en"))
    result = asyncio.run(digest(articles, backend=ScriptedBackend(), options=asked))
    assert result.stories and result.language is not None
    assert result.language.output == "en" and result.language.articles == ("fr",)
    story = [s for st in result.stories for s in st.summary]
    assert story and all(s.language == "fr" for s in story)
    assert "*(in French)*" in to_markdown(result)


def test_a_model_preloaded_in_the_background_is_loaded_once_and_detects_as_usual():
    """`preload` starts loading the model at once; a `detect` that comes while it loads waits
    for it instead of loading a second copy."""
    program = (
        "import summarizer.language as lang\n"
        "lang.preload()\n"
        "print(lang.detect('Le conseil municipal a voté hier soir le budget de la ville.'))\n"
        "print(lang._identifier.cache_info().misses)\n")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == ["fr", "1"]
