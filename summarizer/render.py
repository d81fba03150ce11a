"""Results as the JSON contract or as Markdown with numbered source notes."""

from __future__ import annotations

from typing import Any

from .models import Article, Result, Sentence


def to_json(result: Result) -> dict[str, Any]:
    """The output contract of DESIGN.md (plus `skipped` and `prompts`)."""
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
                "removed": [r.model_dump() for r in a.article.removed],
            }
            for a in result.articles
        ],
        "overview": [_sentence(s) for s in result.overview],
        "stories": [],
        "duplicates": [d.model_dump() for d in result.duplicates],
        "skipped": [s.model_dump() for s in result.skipped],
        "usage": result.usage.model_dump(),
        "faithfulness": result.faithfulness.model_dump(),
        "prompts": result.prompts,
    }


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
    return out


def to_markdown(result: Result) -> str:
    notes: dict[tuple[str, str], int] = {}
    numbers = {a.article.id: n for n, a in enumerate(result.articles, 1)}
    by_id = {a.article.id: a.article for a in result.articles}
    count = len(result.articles)
    out = [f"# Summary of {count} article{'s' if count != 1 else ''}", ""]
    for n, item in enumerate(result.articles, 1):
        article = item.article
        out += [f"## {n}. {_title(article)}", ""]
        if byline := _byline(article):
            out += [f"*{byline}*", ""]
        out += [_paragraph(item.summary, notes) or "_No summary: the model returned nothing._", ""]
    if result.overview:
        out += [f"## Across the {count} articles", "", _paragraph(result.overview, notes), ""]
    if notes:
        out += ["## Sources", ""]
        for (article_id, passage), number in notes.items():
            quote = _quote_of(result, article_id, passage)
            article = by_id[article_id]
            out.append(f"{number}. Article {numbers[article_id]}, {_title(article)}"
                       f"{_outlet(article)}, passage {passage}: “{quote}”")
        out.append("")
    out += _footer(result)
    return "\n".join(out).rstrip() + "\n"


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
    sentences = [s for a in result.articles for s in a.summary] + list(result.overview)
    for sentence in sentences:
        for citation in sentence.citations:
            if citation.article_id == article_id and citation.passage == passage:
                return citation.quote
    return ""


def _title(article: Article) -> str:
    return article.title or article.origin.rsplit("/", 1)[-1]


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
