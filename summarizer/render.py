"""Results as the JSON contract, as Markdown with numbered source notes, or as an HTML page.

Markdown and HTML show what a reader needs: sentences, their source notes, how many outlets back
a sentence, and where sources differ. Why the checker doubts a sentence is in the JSON and, on the
page, folded away under the paragraph; the reading text only marks the sentence "unverified"
(or "uncertain", between the checker's two cuts). A sentence that reads as an instruction to a
model is marked "suspicious", with the reason.

Everything taken from articles (titles, sentences, quotes, outlets, links) is text, never markup:
HTML escapes it, and Markdown escapes what Markdown or raw HTML would read as markup.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from html import escape
from string import Template
from typing import Any

from .language import language_name
from .llm.prices import dollars
from .models import (
    UNKNOWN_OUTLET,
    Article,
    Citation,
    Dispute,
    Result,
    Sentence,
    StorySummary,
    Usage,
    Writing,
)

TITLE_WORDS = 10
UNVERIFIED = "unverified"
UNCERTAIN = "uncertain"
SUSPICIOUS = "suspicious"
NO_PASSAGE = "no passage supports it"
# Markdown: characters that open emphasis, code, links or escapes, an "&" that would start an
# entity, and what opens a block (heading, list, quote) at the start of a line.
MARKDOWN_INLINE = re.compile(r"([\\`*_\[\]])")
ENTITY_START = re.compile(r"&(?=#?\w+;)")
BLOCK_MARK = re.compile(r"^([#+-])")
BLOCK_NUMBER = re.compile(r"^(\d+)([.)])(?=\s|$)")
Escape = Callable[[str], str]  # how a format makes article text safe to place in it


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
                "language": a.article.language,
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
        "failed": [f.model_dump() for f in result.failed],
        "usage": result.usage.model_dump(),
        "faithfulness": result.faithfulness.model_dump(),
        "writing": _writing(result.writing) if result.writing is not None else None,
        "language": _languages(result),
        "prompts": result.prompts,
    }


def _languages(result: Result) -> dict[str, Any] | None:
    if result.language is None:  # a result stored before languages were recorded
        return None
    return {**result.language.model_dump(), "articles": list(result.language.articles)}


def _writing(writing: Writing) -> dict[str, Any]:
    out = writing.model_dump()
    if writing.verify is None:  # a result stored before verification was recorded
        for key in ("verify", "judged", "judge_kept", "backers_judged", "backers_refused"):
            del out[key]
    return out


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
    if sentence.verified_by is not None:
        out["verified_by"] = sentence.verified_by
    if sentence.language is not None:
        out["language"] = sentence.language
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
    empty: str = "No sentence of this article could be shown."
    disputes: tuple[Dispute, ...] = ()
    dropped: int = 0  # sentences strict mode left out here


class _Notes:
    """Source notes, numbered in the order they are first cited: one per quoted span, so that
    every citation's note shows exactly the words it rests on."""

    def __init__(self) -> None:
        self._numbers: dict[tuple[str, int, int], int] = {}
        self._cited: list[Citation] = []

    def number(self, citation: Citation) -> int:
        key = (citation.article_id, citation.start, citation.end)
        if key not in self._numbers:
            self._cited.append(citation)
            self._numbers[key] = len(self._cited)
        return self._numbers[key]

    def __iter__(self) -> Iterator[tuple[int, Citation]]:
        return iter(enumerate(self._cited, 1))

    def __bool__(self) -> bool:
        return bool(self._cited)


def _sections(result: Result, text: Escape) -> list[_Section]:
    """The document's parts in reading order: stories first in a digest, then the articles.
    What comes from articles goes through `text`; what the page says itself does not."""
    numbers = {a.article.id: n for n, a in enumerate(result.articles, 1)}
    by_id = {a.article.id: a.article for a in result.articles}
    count = len(result.articles)
    parts: list[_Section] = []
    if result.stories:
        parts.append(_Section(2, f"{len(result.stories)} "
                                 f"stor{'ies' if len(result.stories) != 1 else 'y'}"))
        for story in result.stories:
            named = {o for i in story.article_ids for o in by_id[i].outlets()}
            outlets = sorted(named - {UNKNOWN_OUTLET})
            if UNKNOWN_OUTLET in named:
                outlets.append(UNKNOWN_OUTLET)  # last, and once however many articles
            notes = [f"from articles {', '.join(str(numbers[i]) for i in story.article_ids)}",
                     text(", ".join(outlets))]
            if story.update_of is not None:
                earlier = story.update_of.title or story.update_of.id
                notes.insert(0, f"Update of “{text(earlier)}” ({text(story.update_of.day)})")
            parts.append(_Section(3, text(story.title) if story.title else "Untitled story",
                                  " · ".join(n for n in notes if n), story.summary,
                                  empty="No sentence across these articles could be shown; "
                                        "see the articles below.",
                                  disputes=story.disputes, dropped=story.dropped))
        parts.append(_Section(2, f"{count} article{'s' if count != 1 else ''}"))
    level = 3 if result.stories else 2
    for n, item in enumerate(result.articles, 1):
        parts.append(_Section(level, f"{n}. {text(_title(item.article))}",
                              text(_byline(item.article)),
                              item.summary, dropped=item.dropped))
    if result.overview or result.overview_dropped or result.disputes or \
            (not result.stories and count > 1):
        parts.append(_Section(2, f"Across the {count} articles", None, result.overview,
                              empty=f"No sentence across the {count} articles could be shown.",
                              disputes=result.disputes, dropped=result.overview_dropped))
    return parts


def to_markdown(result: Result, title: str | None = None) -> str:
    notes = _Notes()
    count = len(result.articles)
    out = [f"# {_md(title) if title else f'Summary of {count} article' + 's' * (count != 1)}",
           ""]
    for part in _sections(result, _md):
        out += [f"{'#' * part.level} {part.heading}", ""]
        if part.byline:
            out += [f"*{part.byline}*", ""]
        if part.sentences is not None:
            out += _markdown_body(part, notes, _output(result))
    if notes:
        out += ["## Sources", ""]
        for number, citation in notes:
            out.append(f"{number}. {_note_label(result, citation, _md)}: “{_md(citation.quote)}”")
        out.append("")
    out += _footer(result, _md)
    return "\n".join(out).rstrip() + "\n"


def _markdown_body(part: _Section, notes: _Notes, output: str | None) -> list[str]:
    """The paragraph, what strict mode left out, and each dispute as a paragraph of its own."""
    lines = []
    sentences = part.sentences or ()
    if sentences:
        paragraph = " ".join(_markdown_sentence(s, notes, output) for s in sentences)
        lines += [_md_line_start(paragraph), ""]
    elif not part.dropped:
        lines += [f"_{part.empty}_", ""]
    if part.dropped:
        lines += [f"_{_left_out(part.dropped)}_", ""]
    for dispute in part.disputes:
        sides = "; ".join(f"{_md(_who(side.outlets))} {_reports(side.outlets)} "
                          f"“{_md(side.value)}” [{notes.number(side.citation)}]"
                          for side in dispute.sides)
        lines += [f"Sources differ: {sides}.", ""]
    return lines


def _markdown_sentence(sentence: Sentence, notes: _Notes, output: str | None = None) -> str:
    marks = "".join(f"[{notes.number(c)}]" for c in sentence.citations)
    agree = _agreement(sentence)
    if agree:
        marks += f" ({agree})"
    other = _other_language(sentence, output)
    if other:
        marks += f" *({other})*"
    if sentence.support == "unsupported":
        marks += f" *({UNVERIFIED})*"
    elif sentence.support == "uncertain":
        marks += f" *({UNCERTAIN})*"
    elif sentence.support == "suspicious":
        why = f": {_md(sentence.reason)}" if sentence.reason else ""
        marks += f" *({SUSPICIOUS}{why})*"
    return f"{_md(sentence.text)} {marks.strip()}".rstrip()


def to_html(result: Result, title: str | None = None) -> str:
    """A self-contained page: citations show their quoted passage on hover, focus or tap."""
    heading, body = _html_document(result, title, PAGE_LOOK)
    return PAGE.substitute(title=escape(heading), body="\n".join(body))


def _html_document(result: Result, title: str | None, look: _Look) -> tuple[str, list[str]]:
    """The heading and the body's lines of an HTML rendering, marked up as `look` says."""
    notes = _Notes()
    count = len(result.articles)
    heading = title or f"Summary of {count} article{'s' if count != 1 else ''}"
    body = [f"<h1{look.style('h1')}>{escape(heading)}</h1>"]
    for part in _sections(result, _plain):
        tag = f"h{part.level}"
        body.append(f"<{tag}{look.style(tag)}>{escape(part.heading)}</{tag}>")
        if part.byline:
            body.append(f"<p{look.cls('byline')}>{escape(part.byline)}</p>")
        if part.sentences is not None:
            body += _html_body(part, notes, _output(result), look)
    if notes:
        body.append(f"<h2{look.style('h2')}>Sources</h2><ol{look.cls('sources')}>")
        for number, citation in notes:
            body.append(f'<li id="note-{number}"{look.style("li")}><span{look.cls("label")}>'
                        f"{escape(_note_label(result, citation, _plain))}</span> "
                        f"<q>{escape(citation.quote)}</q></li>")
        body.append("</ol>")
    body.append(f"<footer{look.style('footer')}>"
                + "".join(f"<p{look.style('p')}>{escape(line.strip('*'))}</p>"
                          for line in _footer(result, _plain)[1:]) + "</footer>")
    return heading, body


@dataclass(frozen=True)
class _Look:
    """How an HTML rendering marks its parts: with classes that the page's <style> dresses, or,
    for email (whose clients drop <style> blocks, scripts and tooltips), with each element's own
    inline style, citations as plain numbers into the sources list, and doubts spelled out."""

    styles: dict[str, str] | None = None  # None: classes

    @property
    def email(self) -> bool:
        return self.styles is not None

    def cls(self, kind: str) -> str:
        """The attribute that marks a part of this kind: its class, or its inline style."""
        if self.styles is None:
            return f' class="{kind}"'
        return self.style(kind)

    def style(self, kind: str) -> str:
        """An inline style for email; nothing on the page (its <style> covers the tag)."""
        found = (self.styles or {}).get(kind)
        return f' style="{found}"' if found else ""


EMAIL_STYLE = {
    "body": "margin:0;padding:0;background:#f4f3ef;",
    "frame": "width:100%;background:#f4f3ef;",
    "sheet": "max-width:640px;margin:0 auto;background:#ffffff;padding:24px 28px;"
             "font:16px/1.55 Georgia,'Times New Roman',serif;color:#1d1d1f;",
    "h1": "font-size:26px;line-height:1.25;margin:0 0 18px;",
    "h2": "font:bold 12px/1.4 Arial,Helvetica,sans-serif;text-transform:uppercase;"
          "letter-spacing:1px;color:#6b6b70;border-top:1px solid #deddd8;padding-top:14px;"
          "margin:28px 0 8px;",
    "h3": "font-size:19px;line-height:1.3;margin:22px 0 4px;",
    "byline": "font:13px/1.4 Arial,Helvetica,sans-serif;color:#6b6b70;margin:0 0 8px;",
    "p": "margin:0 0 12px;",
    "li": "margin:0 0 12px;",
    "cite": "font:bold 11px Arial,Helvetica,sans-serif;color:#1a5fb4;text-decoration:none;",
    "agree": "font:12px Arial,Helvetica,sans-serif;color:#2b7a3d;background:#e9f5ec;"
             "padding:0 4px;",
    **dict.fromkeys(("unsupported", "uncertain", "suspicious"),
                    "font:12px Arial,Helvetica,sans-serif;color:#8a1c1c;background:#fbe9e7;"
                    "padding:0 4px;"),
    "doubted": "color:#6b6b70;",
    "note": "font:13px/1.45 Arial,Helvetica,sans-serif;color:#6b6b70;margin:0 0 12px;",
    "empty": "font:13px/1.45 Arial,Helvetica,sans-serif;color:#6b6b70;margin:0 0 12px;",
    "left-out": "font:13px/1.45 Arial,Helvetica,sans-serif;color:#6b6b70;margin:0 0 12px;",
    "language": "font:12px Arial,Helvetica,sans-serif;color:#6b6b70;",
    "dispute": "border-left:3px solid #d9a441;padding-left:10px;margin:0 0 12px;",
    "sources": "font-size:14px;padding-left:22px;margin:0;",
    "label": "font:12px Arial,Helvetica,sans-serif;color:#6b6b70;display:block;",
    "footer": "font:12px/1.45 Arial,Helvetica,sans-serif;color:#6b6b70;"
              "border-top:1px solid #deddd8;margin-top:28px;padding-top:8px;",
}
MARKS = {"unsupported": UNVERIFIED, "uncertain": UNCERTAIN, "suspicious": SUSPICIOUS}
PAGE_LOOK = _Look()
EMAIL_LOOK = _Look(EMAIL_STYLE)


def to_email_html(result: Result, title: str | None = None) -> str:
    """The digest as an email body: styles inline, no scripts, no requests of its own, and
    nothing that needs hovering (sources are numbered at the end)."""
    heading, body = _html_document(result, title, EMAIL_LOOK)
    return EMAIL_PAGE.substitute(title=escape(heading), body_html="\n".join(body),
                                 body=EMAIL_STYLE["body"], frame=EMAIL_STYLE["frame"],
                                 sheet=EMAIL_STYLE["sheet"])


def _html_body(part: _Section, notes: _Notes, output: str | None, look: _Look) -> list[str]:
    """As `_markdown_body`: on the page the checker's reasons fold away under the paragraph;
    in email they follow it."""
    body = []
    sentences = part.sentences or ()
    if sentences:
        body.append(f"<p{look.style('p')}>"
                    f"{' '.join(_html_sentence(s, notes, output, look) for s in sentences)}</p>")
        body += _doubts(sentences, look)
    elif not part.dropped:
        body.append(f"<p{look.cls('empty')}>{escape(part.empty)}</p>")
    if part.dropped:
        body.append(f"<p{look.cls('left-out')}>{escape(_left_out(part.dropped))}</p>")
    for dispute in part.disputes:
        sides = "; ".join(f"{escape(_who(side.outlets))} {_reports(side.outlets)} "
                          f"“{escape(side.value)}”{_html_cite(side.citation, notes, look)}"
                          for side in dispute.sides)
        body.append(f"<p{look.cls('dispute')}><strong>Sources differ:</strong> {sides}.</p>")
    return body


def _doubts(sentences: Sequence[Sentence], look: _Look) -> list[str]:
    """Why sentences are marked: a folded list per mark on the page, a line each in email."""
    if look.email:
        return [f"<p{look.style('note')}>Marked {MARKS[s.support]}: “{escape(s.text)}” "
                f"{escape(s.reason or NO_PASSAGE)}</p>" for s in sentences if s.support in MARKS]
    body = []
    for support, label in MARKS.items():
        doubted = [s for s in sentences if s.support == support]
        if doubted:
            items = "".join(f"<li><q>{escape(s.text)}</q> {escape(s.reason or NO_PASSAGE)}</li>"
                            for s in doubted)
            body.append(f'<details class="checks"><summary>Why {len(doubted)} '
                        f"{_sentences_word(len(doubted))} "
                        f"{'is' if len(doubted) == 1 else 'are'} marked {label}</summary>"
                        f"<ul>{items}</ul></details>")
    return body


def _html_sentence(sentence: Sentence, notes: _Notes, output: str | None,
                   look: _Look) -> str:
    marks = "".join(_html_cite(c, notes, look) for c in sentence.citations)
    extra = ""
    agree = _agreement(sentence)
    if agree:
        extra = f" <span{look.cls('agree')}>{agree}</span>"
    other = _other_language(sentence, output)
    if other:
        extra += f" <span{look.cls('language')}>{other}</span>"
    if sentence.support in MARKS:
        extra += f" <mark{look.cls(sentence.support)}>{MARKS[sentence.support]}</mark>"
    language = f' lang="{escape(sentence.language)}"' if sentence.language else ""
    if look.email:
        dress = look.style("doubted") if sentence.support in MARKS else ""
        return f"<span{dress}{language}>{escape(sentence.text)}{marks}{extra}</span>"
    written = f" {sentence.written}" if sentence.written else ""
    verified = f' data-verified-by="{sentence.verified_by}"' if sentence.verified_by else ""
    return (f'<span class="sentence {sentence.support}{written}"{verified}{language}>'
            f"{escape(sentence.text)}{marks}{extra}</span>")


def _html_cite(citation: Citation, notes: _Notes, look: _Look) -> str:
    number = notes.number(citation)
    if look.email:
        return f'<sup><a href="#note-{number}"{look.style("cite")}>[{number}]</a></sup>'
    quote = escape(citation.quote)
    return (f'<a class="cite" href="#note-{number}" data-quote="{quote}" '
            f'aria-label="source {number}: {quote}">[{number}]'
            f'<span class="quote" role="tooltip">{quote}</span></a>')


def _agreement(sentence: Sentence) -> str:
    """ "3 of 5 sources" for a supported sentence across articles, else nothing."""
    if sentence.sources is None or sentence.support != "supported":
        return ""
    total = sentence.sources.total
    return f"{sentence.sources.supporting} of {total} source{'s' * (total != 1)}"


def _output(result: Result) -> str | None:
    """The language the run wrote in; None for a result stored before it was recorded."""
    return result.language.output if result.language else None


def _other_language(sentence: Sentence, output: str | None) -> str:
    """ "in French" for a sentence quoted in another language than the run writes, else ""."""
    if output is None or sentence.language in (None, output):
        return ""
    return f"in {language_name(sentence.language or '')}"


def _left_out(dropped: int) -> str:
    return f"{dropped} {_sentences_word(dropped)} left out: unsupported or suspicious."


def _sentences_word(n: int) -> str:
    return "sentence" if n == 1 else "sentences"


def _who(outlets: tuple[str, ...]) -> str:
    if not outlets:
        return UNKNOWN_OUTLET
    if len(outlets) == 1:
        return outlets[0]
    return f"{', '.join(outlets[:-1])} and {outlets[-1]}"


def _reports(outlets: tuple[str, ...]) -> str:
    return "report" if len(outlets) > 1 else "reports"


def _note_label(result: Result, citation: Citation, text: Escape) -> str:
    number, article = next((n, a.article) for n, a in enumerate(result.articles, 1)
                           if a.article.id == citation.article_id)
    outlets = ", ".join(article.outlets())
    return (f"Article {number}, {text(_title(article))} ({text(outlets)}), "
            f"passage {citation.passage}")


def _title(article: Article) -> str:
    """The headline, else the article's opening words: a file name tells a reader little."""
    if article.title:
        return article.title
    words = article.text.split()
    return " ".join(words[:TITLE_WORDS]) + ("…" if len(words) > TITLE_WORDS else "")


def _byline(article: Article) -> str:
    """Outlets, date and link; never the origin, which is a file path or a posting's number."""
    parts = [", ".join(article.outlets()), article.published, article.url]
    return " · ".join(p for p in parts if p)


def _footer(result: Result, text: Escape) -> list[str]:
    removed = sum(len(a.article.removed) for a in result.articles)
    paragraphs = sum(1 for d in result.duplicates if d.kind == "paragraph")
    copies = sum(1 for d in result.duplicates if d.kind == "article")
    u = result.usage
    lines = [
        "---",
        f"*{removed} boilerplate lines removed, {paragraphs} duplicate paragraphs and "
        f"{copies} duplicate articles left out. {u.llm_calls} model calls ({u.backend}, "
        f"{u.model}), {u.prompt_tokens} prompt and {u.completion_tokens} completion tokens, "
        f"{u.cache_hits} from cache, {u.seconds:.1f} s{_cost(u)}.*",
    ]
    if u.judge_calls:
        judge = f" ({u.judge_backend}, {u.judge_model})" if u.judge_model else ""
        lines[-1] = lines[-1][:-1] + f" {u.judge_calls} of the calls by the LLM judge{judge}.*"
    f = result.faithfulness
    if f.supported + f.unsupported:
        dropped = f", {f.dropped} left out by strict mode" if f.dropped else ""
        lines.append(f"*{f.supported} of {f.supported + f.unsupported} sentences supported by "
                     f"the passages they cite{dropped}.*")
    w = result.writing
    if w is not None and w.fused_attempted:
        judged = f" The LLM judge decided {w.judged} of them and kept {w.judge_kept}." \
            if w.judged else ""
        lines.append(f"*{w.fused_kept} of {w.fused_attempted} sentences the model restated held "
                     f"up against their sources; the others are quoted.{judged}*")
    if w is not None and w.backers_judged:
        lines.append(f"*The LLM judge checked {w.backers_judged} sentences of other outlets "
                     f"counted for a fact across articles; {w.backers_refused} it did not find "
                     "backing it, or could not judge: those outlets are not counted.*")
    languages = result.language
    if languages is not None and not languages.honoured and languages.reason:
        lines.append(f"*Asked for {language_name(languages.output)}: {languages.reason}.*")
    for skip in result.skipped:
        lines.append(f"*Skipped {text(skip.origin)}: {text(skip.reason)}.*")
    for failure in result.failed:
        if failure.part != "article":  # a failed article is among the skipped
            which = "the summary across articles" if failure.part == "overview" \
                else f"story {failure.id}"
            lines.append(f"*The model could not write {which}: {text(failure.reason)}.*")
    return lines


def _cost(usage: Usage) -> str:
    """", $0.0042" when the run's cost is known ("$0" for a model that runs here)."""
    if usage.cost_usd is None:
        return ""
    limit = " (the cost limit stopped its last calls)" if usage.cost_limit_reached else ""
    return f", {dollars(usage.cost_usd)}{limit}"


def _plain(text: str) -> str:
    """Article text as it is, for a format that escapes whole lines itself (HTML)."""
    return text


def _md(text: str) -> str:
    """Article text for Markdown: on one line, with what Markdown or HTML would read as markup
    escaped, so that "<script>" or "[a](b)" shows as written."""
    text = ENTITY_START.sub("&amp;", " ".join(text.split()))
    text = text.replace("<", "&lt;").replace(">", "&gt;")
    return MARKDOWN_INLINE.sub(r"\\\1", text)


def _md_line_start(line: str) -> str:
    """A line whose opening would make a heading, list or quote, escaped to read as text."""
    return BLOCK_NUMBER.sub(r"\1\\\2", BLOCK_MARK.sub(r"\\\1", line))


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
  .language { font: .75rem system-ui, sans-serif; color: #4a4a8a; background: #ecebf7;
              border-radius: 3px; padding: 0 .3rem; margin-left: .2rem; white-space: nowrap; }
  .agree { font: .75rem system-ui, sans-serif; color: #2b7a3d; background: #e9f5ec;
           white-space: nowrap;
           border-radius: 3px; padding: 0 .3rem; margin-left: .2rem; }
  mark.unsupported { font: .75rem system-ui, sans-serif; color: #8a1c1c; background: #fbe9e7;
                     border-radius: 3px; padding: 0 .3rem; }
  mark.uncertain { font: .75rem system-ui, sans-serif; color: #5c4a00; background: #f6f0d8;
                   border-radius: 3px; padding: 0 .3rem; }
  .sentence.unsupported, .sentence.uncertain, .sentence.suspicious { color: #6b6b70; }
  mark.suspicious { font: .75rem system-ui, sans-serif; color: #7a4a00; background: #fdf0d5;
                    border-radius: 3px; padding: 0 .3rem; }
  .left-out, .empty { font: .85rem/1.4 system-ui, sans-serif; color: #6b6b70; font-style: italic; }
  .dispute { border-left: 3px solid #d9a441; padding-left: .75rem; }
  details.checks { font: .8rem/1.4 system-ui, sans-serif; color: #6b6b70; margin: -.5rem 0 1rem; }
  details.checks summary { cursor: pointer; }
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


EMAIL_PAGE = Template("""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
</head>
<body style="$body">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="$frame">
<tr><td>
<div style="$sheet">
$body_html
</div>
</td></tr>
</table>
</body>
</html>
""")


def email_fragment(page: str) -> str:
    """What lies between an email page's <body> tags (`to_email_html`), to embed elsewhere
    (an Atom entry's content)."""
    start = page.find(">", page.find("<body")) + 1
    end = page.rfind("</body>")
    return page[start:end].strip() if 0 < start <= end else page
