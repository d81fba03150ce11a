"""Passages (citable spans with ids and offsets) and chunks (passages packed to a token budget)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from langchain_text_splitters import RecursiveCharacterTextSplitter

from .dedup import Span
from .models import Article, Passage

TokenCounter = Callable[[str], int]
PASSAGE_MAX_TOKENS = 256  # long paragraphs are split so that a citation points somewhere precise
SEPARATORS = [". ", "? ", "! ", "; ", ", ", " ", ""]


def make_passages(article: Article, article_no: int, spans: Sequence[Span],
                  count_tokens: TokenCounter, max_tokens: int) -> list[Passage]:
    """Number the kept paragraphs of an article as passages, splitting any that are too long."""
    limit = max(16, min(PASSAGE_MAX_TOKENS, max_tokens))
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=limit, chunk_overlap=0, length_function=count_tokens,
        separators=SEPARATORS, keep_separator="end", add_start_index=True,
    )
    passages: list[Passage] = []
    for span in spans:
        paragraph = article.text[span.start : span.end]
        if count_tokens(paragraph) <= limit:
            pieces = [(span.start, paragraph)]
        else:
            pieces = [(span.start + doc.metadata["start_index"], doc.page_content)
                      for doc in splitter.create_documents([paragraph])]
        for start, text in pieces:
            passages.append(Passage(article_id=article.id, article_no=article_no,
                                    index=len(passages) + 1, start=start,
                                    end=start + len(text), text=text))
    return passages


def pack(items: Sequence[str], count_tokens: TokenCounter, budget: int) -> list[list[int]]:
    """Group consecutive items (by index) so that each group's token count fits the budget.

    An item larger than the budget on its own still gets a group of its own; callers make
    items small enough (passages are capped) so that this does not happen in practice.
    """
    groups: list[list[int]] = []
    used = 0
    for i, item in enumerate(items):
        size = count_tokens(item) + 1
        if groups and used + size <= budget:
            groups[-1].append(i)
            used += size
        else:
            groups.append([i])
            used = size
    return groups
