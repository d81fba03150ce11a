"""Results as the JSON contract or as Markdown with numbered source notes."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from string import Template
from typing import Any

from .models import Article, Dispute, Result, Sentence, StorySummary

TITLE_WORDS = 10


def to_json(result: Result) -> dict[str, Any]:
    """The output contract of DESIGN.md, plus `skipped`, `prompts` and strict mode's counts."""
    return {
        "articles": [
            {
                "id": a.article.id,
                "title": a.article.title,
                "source": a.article.source,
                "url": a.article.url,
                "published": a.article.published,
                "origin": a.article.origin,
                "sources": list(a.article.sources),
                "summary": [_sentence(s) for s in a.summary],
                "dropped": a.dropped,
                "removed": [r.model_dump() for r in a.article.removed],
            }
            for a in result.articles
        ],
        "overview": [_sentence(s) for s in result.overview],
        "overview_dropped": result.overview_dropped,
        "disputes": [_dispute(d) for d in result.disputes],
        "stories": [_story(story) for story in result.stories],
        "duplicates": [d.model_dump() for d in result.duplicates],
        "skipped": [s.model_dump() for s in result.skipped],
        "usage": result.usage.model_dump(),
        "faithfulness": result.faithfulness.model_dump(),
        "writing": result.writing.model_dump() if result.writing is not None else None,
        "prompts": result.prompts,
    }


def _story(story: StorySummary) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": story.id,
        "title": story.title,
        "article_ids": list(story.article_ids),
        "summary": [_sentence(s) for s in story.summary],
        "disputes": [_dispute(d) for d in story.disputes],
        "dropped": story.dropped,
    }
    if story.update_of is not None:
        out["update_of"] = story.update_of.model_dump()
    return out


def _sentence(sentence: Sentence) -> dict[str, Any]:
    out: dict[str, Any] = {
        "text": sentence.text,
        "support": sentence.support,
        "citations": [c.model_dump() for c in sentence.citations],
    }
    if sentence.reason is not None:
        out["reason"] = sentence.reason
    if sentence.sources is not None:
        out["sources"] = {**sentence.sources.model_dump(),
                          "outlets": list(sentence.sources.outlets)}
    if sentence.written is not None:
        out["written"] = sentence.written
    return out


def _dispute(dispute: Dispute) -> dict[str, Any]:
    return {
        "text": dispute.text,
        "sides": [{"outlets": list(side.outlets), "value": side.value,
                   "citation": side.citation.model_dump()} for side in dispute.sides],
    }


@dataclass(frozen=True)
class _Section:
    level: int  # 2 for top-level parts, 3 for items inside them
    heading: str
    byline: str | None = None
    sentences: tuple[Sentence, ...] | None = None  # None: a heading only
    empty: str = "No summary: the model returned nothing."


def _sections(result: Result) -> list[_Section]:
    """The document's parts in reading order: stories first in a digest, then the articles."""
    numbers = {a.article.id: n for n, a in enumerate(result.articles, 1)}
    by_id = {a.article.id: a.article for a in result.articles}
    count = len(result.articles)
    parts: list[_Section] = []
    if result.stories:
        parts.append(_Section(2, f"{len(result.stories)} "
                                 f"stor{'ies' if len(result.stories) != 1 else 'y'}"))
        for story in result.stories:
            outlets = sorted({o for i in story.article_ids for o in _outlets_of(by_id[i])})
            notes = [f"from articles {', '.join(str(numbers[i]) for i in story.article_ids)}",
                     ", ".join(outlets)]
            if story.update_of is not None:
                earlier = story.update_of.title or story.update_of.id
                notes.insert(0, f"Update of “{earlier}” ({story.update_of.day})")
            parts.append(_Section(3, story.title or "Untitled story",
                                  " · ".join(n for n in notes if n), story.summary,
                                  empty="No sentence of these articles' summaries is supported "
                                        "by their text; see the articles below."))
        parts.append(_Section(2, f"{count} article{'s' if count != 1 else ''}"))
    level = 3 if result.stories else 2
    for n, item in enumerate(result.articles, 1):
        parts.append(_Section(level, f"{n}. {_title(item.article)}", _byline(item.article),
                              item.summary))
    if result.overview:
        parts.append(_Section(2, f"Across the {count} articles", None, result.overview))
    return parts


def to_markdown(result: Result, title: str | None = None) -> str:
    notes: dict[tuple[str, str], int] = {}
    count = len(result.articles)
    out = [f"# {title or f'Summary of {count} article' + ('s' if count != 1 else '')}", ""]
    for part in _sections(result):
        out += [f"{'#' * part.level} {part.heading}", ""]
        if part.byline:
            out += [f"*{part.byline}*", ""]
        if part.sentences is not None:
            out += [_paragraph(part.sentences, notes) or f"_{part.empty}_", ""]
    if notes:
        out += ["## Sources", ""]
        for number, (article_id, passage, quote) in enumerate(_notes(result, notes), 1):
            out.append(f"{number}. {_note_label(result, article_id, passage)}: “{quote}”")
        out.append("")
    out += _footer(result)
    return "\n".join(out).rstrip() + "\n"


def to_html(result: Result, title: str | None = None) -> str:
    """A self-contained page: citations show their quoted passage on hover, focus or tap."""
    notes: dict[tuple[str, str], int] = {}
    count = len(result.articles)
    heading = title or f"Summary of {count} article{'s' if count != 1 else ''}"
    body = [f"<h1>{escape(heading)}</h1>"]
    for part in _sections(result):
        body.append(f"<h{part.level}>{escape(part.heading)}</h{part.level}>")
        if part.byline:
            body.append(f'<p class="byline">{escape(part.byline)}</p>')
        if part.sentences is not None:
            body.append(f"<p>{_html_paragraph(part.sentences, notes)}</p>"
                        if part.sentences else f'<p class="empty">{escape(part.empty)}</p>')
    if notes:
        body.append('<h2>Sources</h2><ol class="sources">')
        for number, (article_id, passage, quote) in enumerate(_notes(result, notes), 1):
            body.append(f'<li id="note-{number}"><span class="label">'
                        f"{escape(_note_label(result, article_id, passage))}</span> "
                        f"<q>{escape(quote)}</q></li>")
        body.append("</ol>")
    body.append('<footer>' + "".join(f"<p>{escape(line.strip('*'))}</p>"
                                     for line in _footer(result)[1:]) + "</footer>")
    return PAGE.substitute(title=escape(heading), body="\n".join(body))


def _html_paragraph(sentences: tuple[Sentence, ...],
                    notes: dict[tuple[str, str], int]) -> str:
    parts = []
    for sentence in sentences:
        marks = []
        for c in sentence.citations:
            number = notes.setdefault((c.article_id, c.passage), len(notes) + 1)
            marks.append(f'<a class="cite" href="#note-{number}" data-quote="{escape(c.quote)}" '
                         f'aria-label="source {number}: {escape(c.quote)}">[{number}]'
                         f'<span class="quote" role="tooltip">{escape(c.quote)}</span></a>')
        extra = ""
        if sentence.sources is not None and sentence.support == "supported":
            extra = (f' <span class="agree">{sentence.sources.supporting} of '
                     f"{sentence.sources.total} sources</span>")
        if sentence.support == "unsupported":
            reason = sentence.reason or "no passage supports it"
            extra += f' <mark class="unsupported">unsupported: {escape(reason)}</mark>'
        parts.append(f'<span class="sentence {sentence.support}">{escape(sentence.text)}'
                     f"{''.join(marks)}{extra}</span>")
    return " ".join(parts)


def _notes(result: Result, notes: dict[tuple[str, str], int]) -> list[tuple[str, str, str]]:
    ordered = sorted(notes.items(), key=lambda item: item[1])
    return [(a, p, _quote_of(result, a, p)) for (a, p), _ in ordered]


def _note_label(result: Result, article_id: str, passage: str) -> str:
    numbers = {a.article.id: n for n, a in enumerate(result.articles, 1)}
    article = next(a.article for a in result.articles if a.article.id == article_id)
    return f"Article {numbers[article_id]}, {_title(article)}{_outlet(article)}, passage {passage}"


def _outlets_of(article: Article) -> tuple[str, ...]:
    return article.sources or ((article.source,) if article.source else ())


def _paragraph(sentences: tuple[Sentence, ...], notes: dict[tuple[str, str], int]) -> str:
    parts = []
    for sentence in sentences:
        marks = ""
        for citation in sentence.citations:
            key = (citation.article_id, citation.passage)
            number = notes.setdefault(key, len(notes) + 1)
            marks += f"[{number}]"
        if sentence.sources is not None and sentence.support == "supported":
            total = sentence.sources.total
            marks += f" ({sentence.sources.supporting} of {total} source{'s' * (total != 1)})"
        if sentence.support == "unsupported":
            marks += f" **[unsupported: {sentence.reason or 'no passage supports it'}]**"
        parts.append(f"{sentence.text} {marks.strip()}".rstrip())
    return " ".join(parts)


def _quote_of(result: Result, article_id: str, passage: str) -> str:
    sentences = [s for a in result.articles for s in a.summary] + list(result.overview) + \
        [s for story in result.stories for s in story.summary]
    for sentence in sentences:
        for citation in sentence.citations:
            if citation.article_id == article_id and citation.passage == passage:
                return citation.quote
    return ""


def _title(article: Article) -> str:
    """The headline, else the article's opening words: a file name tells a reader little."""
    if article.title:
        return article.title
    words = article.text.split()
    return " ".join(words[:TITLE_WORDS]) + ("…" if len(words) > TITLE_WORDS else "")


def _outlet(article: Article) -> str:
    return f" ({', '.join(article.sources)})" if article.sources else ""


def _byline(article: Article) -> str:
    parts = [", ".join(article.sources) if article.sources else None, article.published,
             article.url or article.origin]
    return " · ".join(p for p in parts if p)


def _footer(result: Result) -> list[str]:
    removed = sum(len(a.article.removed) for a in result.articles)
    paragraphs = sum(1 for d in result.duplicates if d.kind == "paragraph")
    copies = sum(1 for d in result.duplicates if d.kind == "article")
    u = result.usage
    lines = [
        "---",
        f"*{removed} boilerplate lines removed, {paragraphs} duplicate paragraphs and "
        f"{copies} duplicate articles left out. {u.llm_calls} model calls ({u.backend}, "
        f"{u.model}), {u.prompt_tokens} prompt and {u.completion_tokens} completion tokens, "
        f"{u.cache_hits} from cache, {u.seconds:.1f} s.*",
    ]
    f = result.faithfulness
    if f.supported + f.unsupported:
        dropped = f", {f.dropped} left out by strict mode" if f.dropped else ""
        lines.append(f"*{f.supported} of {f.supported + f.unsupported} sentences supported by "
                     f"the passages they cite{dropped}.*")
    for skip in result.skipped:
        lines.append(f"*Skipped {skip.origin}: {skip.reason}.*")
    return lines


PAGE = Template("""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<style>
  body { font: 17px/1.6 Georgia, "Times New Roman", serif; color: #1d1d1f; background: #fbfaf7;
         max-width: 46rem; margin: 2rem auto; padding: 0 1.25rem; }
  h1 { font-size: 1.9rem; line-height: 1.2; margin-bottom: 1.5rem; }
  h2 { font: 600 0.85rem/1.4 system-ui, sans-serif; text-transform: uppercase;
       letter-spacing: .08em; color: #6b6b70; border-top: 1px solid #deddd8;
       padding-top: 1rem; margin-top: 2.5rem; }
  h3 { font-size: 1.25rem; margin: 1.75rem 0 .25rem; }
  .byline { font: .85rem/1.4 system-ui, sans-serif; color: #6b6b70; margin: 0 0 .5rem; }
  a.cite { position: relative; font: 600 .7rem system-ui, sans-serif; vertical-align: super;
           color: #1a5fb4; text-decoration: none; margin-left: 1px; }
  a.cite .quote { display: none; position: absolute; left: 50%; bottom: 1.6em; z-index: 10;
                  transform: translateX(-50%); width: 22rem; max-width: 80vw; padding: .6rem .75rem;
                  font: .85rem/1.45 Georgia, serif; color: #1d1d1f; background: #fff;
                  border: 1px solid #c9c8c2; border-radius: 6px;
                  box-shadow: 0 4px 14px rgba(0,0,0,.12); }
  a.cite:hover .quote, a.cite:focus .quote { display: block; }
  .agree { font: .75rem system-ui, sans-serif; color: #2b7a3d; background: #e9f5ec;
           white-space: nowrap;
           border-radius: 3px; padding: 0 .3rem; margin-left: .2rem; }
  mark.unsupported { font: .75rem system-ui, sans-serif; color: #8a1c1c; background: #fbe9e7;
                     border-radius: 3px; padding: 0 .3rem; }
  .sentence.unsupported { color: #6b6b70; }
  ol.sources { font-size: .9rem; padding-left: 1.5rem; }
  ol.sources li { margin-bottom: .5rem; }
  ol.sources li:target { background: #fff6d6; }
  ol.sources .label { font: .8rem system-ui, sans-serif; color: #6b6b70; display: block; }
  footer { font: .8rem/1.4 system-ui, sans-serif; color: #6b6b70; margin-top: 2.5rem;
           border-top: 1px solid #deddd8; }
</style>
</head>
<body>
$body
</body>
</html>
""")
