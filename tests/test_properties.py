"""Property tests: the parser and chunker on random text and random front matter either return a
well-formed result or raise the project's own ArticleError, and chunk spans always point back exactly."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa.articles import decode, parse_article
from qa.chunking import body, chunk_article
from qa.errors import ArticleError

# Text drawn from the alphabets the parser meets: CJK, Latin, punctuation of both, markdown, newlines.
ALPHABET = st.sampled_from(list("的是在一了不人有中国这大会决议通过。，！？；“”《》abcXYZ 019.!?,;:*#[]()!-_>`~\n\n\r\t\u3000\ufeff"))
TEXT = st.text(ALPHABET, max_size=600) | st.text(max_size=300)
SCALAR = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
META = st.dictionaries(st.sampled_from(["title", "url", "source", "date", "author", "tags", "x"]),
                       SCALAR | st.lists(SCALAR, max_size=3), max_size=5)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXT, meta=META, raw_front=st.booleans())
def test_parser_and_chunker_return_or_raise_own_error(text: str, meta: dict, raw_front: bool) -> None:
    front = f"---\n{text[:80]}\n---\n" if raw_front else f"---\n{yaml.safe_dump(meta, allow_unicode=True)}---\n"
    for doc in (text, front + text):
        try:
            article = parse_article(doc, Path("a/b.md"))
        except ArticleError as e:
            assert e.path == "a/b.md" and e.reason
            continue
        assert article.paragraphs and all(p.strip() for p in article.paragraphs)
        assert article.title
        full = body(article)
        for max_chars, min_chars in ((400, 40), (50, 10), (20, 0)):
            chunks = chunk_article(article, max_chars, min_chars)
            assert chunks
            assert len({c.id for c in chunks}) == len(chunks)
            for c in chunks:
                assert full[c.start:c.end] == c.text and c.text.strip()
                assert all(1 <= p <= len(article.paragraphs) for p in c.paragraphs)


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=400))
def test_decoder_returns_text_or_own_error(raw: bytes) -> None:
    try:
        text = decode(raw, "x.txt")
    except ArticleError as e:
        assert e.path == "x.txt"
    else:
        assert isinstance(text, str) and "\r" not in text
