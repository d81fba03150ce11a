"""Pieces of text sized for a model: over-long sentences cut into citable passages, and prompt
lines packed to a token budget."""

from __future__ import annotations

from collections.abc import Callable, Sequence

TokenCounter = Callable[[str], int]
PASSAGE_MAX_CHARS = 1200  # a "sentence" longer than this (a run-on scrape) is cut into passages
SEPARATORS = ["; ", ", ", " ", ""]


def split_long(text: str, limit: int = PASSAGE_MAX_CHARS) -> list[tuple[int, int]]:
    """Spans of `text` no longer than `limit` characters, cut at clause and word breaks."""
    if len(text) <= limit:
        return [(0, len(text))]
    # Imported here: few runs meet a sentence this long, and the import costs a tenth of a second.
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        chunk_size=limit, chunk_overlap=0, length_function=len, separators=SEPARATORS,
        keep_separator="end", add_start_index=True, strip_whitespace=False,
    )
    spans = []
    for doc in splitter.create_documents([text]):
        start = doc.metadata["start_index"]
        piece = doc.page_content
        lead = len(piece) - len(piece.lstrip())
        if piece.strip():
            spans.append((start + lead, start + len(piece.rstrip())))
    return spans


def pack(items: Sequence[str], count_tokens: TokenCounter, budget: int) -> list[list[int]]:
    """Group consecutive items (by index) so that each group's token count fits the budget.

    An item larger than the budget on its own still gets a group of its own; callers check
    for that.
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
