"""Article -> chunks: one per paragraph; long paragraphs split at sentence ends, short ones joined.

Every chunk's text is an exact slice of the article body (`body(article)[c.start:c.end] == c.text`),
so a citation can always point back into the article and highlight inside it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from .articles import Article
from .text import sentences

PARAGRAPH_SEP = "\n\n"


@dataclass(frozen=True)
class Chunk:
    id: str  # "<article id>#p3", "#p3-4" (joined), "#p3.2" (second piece of a split paragraph)
    article_id: str
    paragraphs: tuple[int, ...]  # 1-based paragraph numbers covered
    start: int  # span in body(article)
    end: int
    text: str

    @property
    def paragraph(self) -> int:
        return self.paragraphs[0]

    @property
    def hash(self) -> str:
        """Content key for reusing vectors: same text, same key, whatever the article."""
        return hashlib.sha1(self.text.encode()).hexdigest()


def body(article: Article) -> str:
    return PARAGRAPH_SEP.join(article.paragraphs)


def chunk_article(article: Article, max_chars: int = 400, min_chars: int = 40) -> list[Chunk]:
    """Split an article into retrieval units. `max_chars` ≥ 2 × `min_chars` keeps both rules sane."""
    offsets, pos = [], 0
    for p in article.paragraphs:
        offsets.append(pos)
        pos += len(p) + len(PARAGRAPH_SEP)
    text = body(article)

    # Group paragraph numbers: a short paragraph joins the next one (the last joins the previous).
    groups: list[list[int]] = []
    pending: list[int] = []
    for n in range(1, len(article.paragraphs) + 1):
        pending.append(n)
        if sum(len(article.paragraphs[i - 1]) for i in pending) >= min_chars:
            groups.append(pending)
            pending = []
    if pending:
        if groups and len(article.paragraphs[groups[-1][-1] - 1]) + len(PARAGRAPH_SEP) < max_chars:
            groups[-1].extend(pending)
        else:
            groups.append(pending)

    chunks: list[Chunk] = []
    for group in groups:
        start = offsets[group[0] - 1]
        end = offsets[group[-1] - 1] + len(article.paragraphs[group[-1] - 1])
        label = f"p{group[0]}" if len(group) == 1 else f"p{group[0]}-{group[-1]}"
        pieces = _split(text, start, end, max_chars)
        for i, (s, e) in enumerate(pieces, 1):
            suffix = f".{i}" if len(pieces) > 1 else ""
            paras = tuple(n for n in group if offsets[n - 1] < e and offsets[n - 1] + len(article.paragraphs[n - 1]) > s)
            chunks.append(Chunk(f"{article.id}#{label}{suffix}", article.id, paras or (group[0],), s, e, text[s:e]))
    return chunks


def _split(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """Spans of at most ~max_chars inside text[start:end], cut at sentence ends where possible."""
    if end - start <= max_chars:
        return [(start, end)]
    spans: list[tuple[int, int]] = []
    cur_s = cur_e = None
    for _, s, e in sentences(text[start:end]):
        s, e = s + start, e + start
        for ps, pe in _hard_split(text, s, e, max_chars):
            if cur_s is not None and pe - cur_s > max_chars:
                spans.append((cur_s, cur_e))
                cur_s = None
            if cur_s is None:
                cur_s = ps
            cur_e = pe
    if cur_s is not None:
        spans.append((cur_s, cur_e))
    # A tiny tail reads badly alone: give it to the previous piece.
    if len(spans) > 1 and spans[-1][1] - spans[-1][0] < max_chars // 8:
        last = spans.pop()
        spans[-1] = (spans[-1][0], last[1])
    return spans


def _hard_split(text: str, s: int, e: int, max_chars: int) -> list[tuple[int, int]]:
    """A single sentence longer than max_chars is cut at a comma or space, else anywhere."""
    out = []
    while e - s > max_chars:
        window = text[s:s + max_chars]
        cut = max(window.rfind(c) for c in "，,、 ：:")
        cut = cut + 1 if cut > max_chars // 2 else max_chars
        piece_e = s + cut
        while piece_e > s and text[piece_e - 1].isspace():
            piece_e -= 1
        out.append((s, piece_e))
        s += cut
        while s < e and text[s].isspace():
            s += 1
    if e > s:
        out.append((s, e))
    return out
