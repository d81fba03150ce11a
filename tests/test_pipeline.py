"""The map-reduce pipeline on the scripted backend: calls, budgets, cache and skips."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from conftest import EXAMPLES

from summarizer.ingest import read_inputs
from summarizer.llm.cache import Cache
from summarizer.llm.scripted import ScriptedBackend
from summarizer.models import Document, Result
from summarizer.pipeline import summarize


def _run(docs, skips=(), **kwargs) -> Result:
    return asyncio.run(summarize(docs, skips, **kwargs))


def _article_requests(backend: ScriptedBackend):
    """The map step's calls: choosing among one article's sentences (ids "a.s" of one a)."""
    return [r for r in backend.requests
            if r.prompt_id == "choose" and len({i.id.split(".")[0] for i in r.items}) == 1]


def _sentences_sent(backend: ScriptedBackend) -> list[str]:
    return [item.text for r in _article_requests(backend) for item in r.items]


def _check_citations(result: Result) -> None:
    texts = {a.article.id: a.article.text for a in result.articles}
    for sentence in [s for a in result.articles for s in a.summary] + list(result.overview):
        for c in sentence.citations:
            assert texts[c.article_id][c.start : c.end] == c.quote


def test_one_choosing_call_per_unique_article_and_nothing_sent_twice():
    docs, skips = read_inputs([str(EXAMPLES)])
    backend = ScriptedBackend()
    result = _run(docs, skips, backend=backend)
    assert len(result.articles) == len(docs) == 4
    assert len(_article_requests(backend)) == 4
    sent = _sentences_sent(backend)
    assert len(sent) == len(set(sent)), "a sentence reached the model twice"
    assert {d.kind for d in result.duplicates} == {"paragraph"}
    assert len(backend.requests) == 5  # one per article and one for the overview
    assert result.usage.llm_calls == 5
    for request in backend.requests:  # the request says what its answer holds
        assert request.reply == "ids" and request.limit and len(request.items) > request.limit
        assert all(f"[{i.id}] {i.text}" in request.messages[-1].content for i in request.items)
    assert all(a.summary for a in result.articles) and len(result.overview) >= 4
    _check_citations(result)


def test_a_duplicate_article_costs_no_call():
    text = (EXAMPLES / "03_velle_valley_ledger.txt").read_text(encoding="utf-8")
    docs = [Document(origin="one.txt", text=text, source="Ledger"),
            Document(origin="two.txt", text=text, source="Copy")]
    backend = ScriptedBackend()
    result = _run(docs, backend=backend)
    assert len(backend.requests) == 1
    assert [d.kind for d in result.duplicates if d.kind == "article"] == ["article"]
    assert result.articles[0].article.sources == ("Ledger", "Copy")


def test_a_tiny_window_offers_fewer_sentences_and_still_summarises():
    docs, skips = read_inputs([str(EXAMPLES)])
    backend = ScriptedBackend(context_window=700)
    result = _run(docs, skips, backend=backend)
    roomy = ScriptedBackend()
    _run(docs, skips, backend=roomy)
    offered = sum(len(r.items) for r in backend.requests)
    assert offered < sum(len(r.items) for r in roomy.requests)
    assert all(a.summary for a in result.articles) and len(result.overview) >= 4
    for request in backend.requests:
        used = sum(backend.count_tokens(m.content) for m in request.messages)
        assert used + request.max_tokens <= 700
    _check_citations(result)


def _long_article(words: int, seed: int = 7) -> str:
    rng = random.Random(seed)
    vocabulary = [f"{a}{b}" for a in ("mar", "tel", "kon", "vis", "dra", "pel", "sur", "qua")
                  for b in ("ona", "ik", "esh", "ura", "ol", "ant", "ire", "ux", "eb", "ay")]
    paragraphs, count = [], 0
    while count < words:
        sentences = []
        for _ in range(4):
            sentence = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(9, 16)))
            sentences.append(sentence.capitalize() + ".")
        paragraph = " ".join(sentences)
        paragraphs.append(paragraph)
        count += len(paragraph.split())
    return "Long report\n" + "\n".join(paragraphs)


def test_a_2048_token_window_summarises_a_30000_word_input():
    text = _long_article(30_000)
    assert len(text.split()) >= 30_000
    backend = ScriptedBackend(context_window=2048)
    result = _run([Document(origin="long.txt", text=text)], backend=backend)
    summary = result.articles[0].summary
    assert 1 <= len(summary) <= 5
    assert all(s.citations for s in summary)
    for request in backend.requests:
        used = sum(backend.count_tokens(m.content) for m in request.messages)
        assert used + request.max_tokens <= 2048
    _check_citations(result)


def test_a_second_run_of_the_same_input_makes_no_calls(tmp_path: Path):
    docs, skips = read_inputs([str(EXAMPLES)])
    cache = Cache(tmp_path / "calls.sqlite3")
    first_backend = ScriptedBackend()
    first = _run(docs, skips, backend=first_backend, cache=cache)
    cache.close()
    again = Cache(tmp_path / "calls.sqlite3")  # a new process would open the file afresh
    second_backend = ScriptedBackend()
    second = _run(docs, skips, backend=second_backend, cache=again)
    assert first.usage.llm_calls == 5 and first.usage.cache_hits == 0
    assert second_backend.requests == []
    assert second.usage.llm_calls == 0 and second.usage.cache_hits == 5
    assert second.overview == first.overview


def test_a_bad_file_among_good_ones_is_skipped_with_its_reason(tmp_path: Path):
    for name in ("01_brackwater_courier.json", "03_velle_valley_ledger.txt"):
        (tmp_path / name).write_bytes((EXAMPLES / name).read_bytes())
    (tmp_path / "corrupt.json").write_text('{"text": "unfinished')
    (tmp_path / "only-ads.txt").write_text("Advertisement\nShare this article\n")
    docs, skips = read_inputs([str(tmp_path)])
    result = _run(docs, skips, backend=ScriptedBackend())
    assert len(result.articles) == 2
    reasons = {s.origin.rsplit("/", 1)[-1]: s.reason for s in result.skipped}
    assert reasons["corrupt.json"].startswith("invalid JSON")
    assert reasons["only-ads.txt"].startswith("nothing left after cleaning")


def test_a_reply_with_words_and_unknown_ids_shows_only_source_sentences():
    doc = Document(origin="a.txt", text=(EXAMPLES / "03_velle_valley_ledger.txt").read_text())
    backend = ScriptedBackend([
        "Aldermoor County scheduled the pier repairs for 2027. [9.9]\n"
        "Nobody knows who owns the bridge. [1.99]"])
    result = _run([doc], backend=backend)
    (request,) = backend.requests
    summary = result.articles[0].summary
    assert 2 <= len(summary) <= 5
    article = result.articles[0].article.text
    for sentence in summary:  # the model's own words never reach the summary when quoting
        assert sentence.written == "quoted" and sentence.text in article
        assert sentence.text != "Nobody knows who owns the bridge."
        assert [c.passage for c in sentence.citations] != ["9.9"]
    # The ids it could not name were filled in salience order from what it was offered.
    assert {c.passage for s in summary for c in s.citations} <= {i.id for i in request.items}
    assert result.faithfulness.unsupported == 0


def test_a_digest_groups_stories_and_marks_a_continuation_as_an_update():
    from summarizer.clean import clean_document
    from summarizer.pipeline import Earlier, digest

    docs, _ = read_inputs([str(EXAMPLES)])
    articles = [clean_document(d) for d in docs]
    first_day, next_day = articles[:3], articles[3:]
    unrelated = clean_document(Document(
        origin="library.txt", published="2026-03-14",
        text="Tamsby library extends weekend hours\nThe public library in Tamsby will open on "
             "Sundays from April, the librarian Ada Merrow said on Friday."))
    day_one = _run_digest(digest, [*first_day, unrelated])
    assert sorted(len(s.article_ids) for s in day_one.stories) == [1, 3]
    bridge = next(s for s in day_one.stories if len(s.article_ids) == 3)
    assert all(s.sources is not None and s.sources.total == 3 for s in bridge.summary)
    assert any(s.sources.supporting >= 2 for s in bridge.summary)
    earlier = [Earlier(id=s.id, day="2026-03-14", title=s.title,
                       texts=tuple(x.text for x in s.summary)) for s in day_one.stories]
    day_two = _run_digest(digest, next_day, earlier=earlier)
    (story,) = day_two.stories
    assert story.update_of is not None and story.update_of.id == bridge.id
    # It leads with what the earlier story did not say.
    from summarizer.checking.offline import Sources

    told = Sources(list(earlier[[e.id for e in earlier].index(bridge.id)].texts))
    assert not told.check(story.summary[0].text).supported


def _run_digest(digest, articles, **kwargs):
    return asyncio.run(digest(articles, backend=ScriptedBackend(), **kwargs))
