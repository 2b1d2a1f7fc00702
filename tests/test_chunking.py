"""Article -> chunks: exact spans, sentence-end splits, joins of short paragraphs, stable ids."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa.articles import Article, read_article
from qa.chunking import body, chunk_article

CLOSING = "”’」』）)]\"'"


def art(*paragraphs: str, aid: str = "a") -> Article:
    return Article(id=aid, path=f"{aid}.md", title="T", paragraphs=tuple(paragraphs))


def check_invariants(a: Article, chunks, max_chars: int) -> None:
    text = body(a)
    starts = []
    pos = 0
    for p in a.paragraphs:
        starts.append(pos)
        pos += len(p) + 2
    for c in chunks:
        assert c.text == text[c.start:c.end]
        assert c.article_id == a.id
        assert c.text == c.text.strip() and c.text
        # paragraph numbers are exactly the paragraphs the span overlaps
        overlapping = tuple(n for n, (s, p) in enumerate(zip(starts, a.paragraphs), 1)
                            if s < c.end and s + len(p) > c.start)
        assert c.paragraphs == overlapping
        assert c.paragraph == overlapping[0]
        # a tiny tail may be given to the previous piece: "~max_chars" is max + max/8 + the separator
        assert len(c.text) <= max_chars + max_chars // 8 + 2
    assert len({c.id for c in chunks}) == len(chunks)
    # nothing is lost: every non-space character of the body is inside exactly one chunk
    covered = [0] * len(text)
    for c in chunks:
        for i in range(c.start, c.end):
            covered[i] += 1
    assert all(covered[i] == 1 for i, ch in enumerate(text) if not ch.isspace())


def test_seed_one_chunk_per_paragraph(seed_file):
    a = read_article(seed_file, seed_file.parent)
    chunks = chunk_article(a)
    assert [c.id for c in chunks] == [f"000_e0ddd22777e12010#p{n}" for n in range(1, 8)]
    assert [c.paragraphs for c in chunks] == [(n,) for n in range(1, 8)]
    assert [c.text for c in chunks] == list(a.paragraphs)
    check_invariants(a, chunks, 400)


def test_ids_and_hashes_are_stable_across_runs(seed_file):
    first = chunk_article(read_article(seed_file, seed_file.parent))
    second = chunk_article(read_article(seed_file, seed_file.parent))
    assert [(c.id, c.hash, c.start, c.end) for c in first] == [(c.id, c.hash, c.start, c.end) for c in second]
    assert len({c.hash for c in first}) == len(first)


def test_same_text_same_hash_whatever_the_article():
    p = "联合国大会7月1日协商一致通过了中国主提的加强人工智能能力建设国际合作决议，各国普遍赞同。"
    a, b = chunk_article(art(p, aid="a")), chunk_article(art(p, aid="b"))
    assert a[0].hash == b[0].hash
    assert a[0].id != b[0].id


def test_long_paragraph_split_at_sentence_ends_under_max():
    sentences = [f"第{i}个句子讲的是一件事情，并且给出了一些解释。" for i in range(30)]  # 23-24 chars each
    a = art("".join(sentences))
    chunks = chunk_article(a, max_chars=100, min_chars=20)
    assert len(chunks) > 5
    assert [c.id for c in chunks] == [f"a#p1.{i}" for i in range(1, len(chunks) + 1)]
    for c in chunks:
        assert len(c.text) <= 100
        assert c.text.endswith("。")
        assert c.paragraphs == (1,)
    assert "".join(c.text for c in chunks) == a.paragraphs[0]
    check_invariants(a, chunks, 100)


def test_split_keeps_closing_quotes_with_their_sentence():
    sentences = [f"他说：“第{i}件事情已经办完了，大家都很满意！”" for i in range(20)]
    a = art("".join(sentences))
    chunks = chunk_article(a, max_chars=90, min_chars=20)
    assert len(chunks) > 3
    for c in chunks:
        assert c.text.endswith("！”"), c.text
        assert not c.text.startswith(tuple(CLOSING))
    check_invariants(a, chunks, 90)


@pytest.mark.parametrize("end", ["。", "！", "？", "!", "?", ".", "；"])
def test_every_sentence_end_mark_is_a_cut_point(end):
    sentence = ("This is sentence number {} about the harbour bridge" if end in "!?." else
                "这是关于港口大桥的第{}个句子内容") + end
    text = (" " if end in "!?." else "").join(sentence.format(i) for i in range(12))
    chunks = chunk_article(art(text), max_chars=120, min_chars=20)
    assert len(chunks) > 1
    assert all(c.text.endswith(end) for c in chunks)


def test_sentence_longer_than_max_is_cut_at_a_comma():
    clause = "各国代表在会议上发表意见"  # 12 chars
    text = "，".join([clause] * 20) + "。"
    chunks = chunk_article(art(text), max_chars=100, min_chars=20)
    assert len(chunks) > 1
    assert all(len(c.text) <= 100 for c in chunks)
    assert all(c.text.endswith("，") for c in chunks[:-1])
    check_invariants(art(text), chunks, 100)


def test_short_paragraph_joins_the_next_one():
    a = art("记者报道：", "联合国大会7月1日协商一致通过了中国主提的加强人工智能能力建设国际合作决议，各国普遍赞同。",
            "这份决议聚焦人工智能能力建设，围绕加强相关国际合作提出了一系列重要的务实举措。")
    chunks = chunk_article(a, max_chars=400, min_chars=20)
    assert [c.id for c in chunks] == ["a#p1-2", "a#p3"]
    assert chunks[0].paragraphs == (1, 2)
    assert chunks[0].text == a.paragraphs[0] + "\n\n" + a.paragraphs[1]
    check_invariants(a, chunks, 400)


def test_short_last_paragraph_joins_the_previous_one():
    a = art("联合国大会7月1日协商一致通过了中国主提的加强人工智能能力建设国际合作决议，各国普遍赞同。",
            "这份决议聚焦人工智能能力建设，围绕加强相关国际合作提出了一系列重要的务实举措。", "（完）")
    chunks = chunk_article(a, max_chars=400, min_chars=20)
    assert [c.id for c in chunks] == ["a#p1", "a#p2-3"]
    assert chunks[1].paragraphs == (2, 3)
    assert chunks[1].text.endswith("（完）")


def test_single_short_article_is_one_chunk():
    a = art("很短。")
    chunks = chunk_article(a)
    assert [(c.id, c.paragraphs, c.text) for c in chunks] == [("a#p1", (1,), "很短。")]


_word = st.text(alphabet="联合国大会决议AIab12，、 ", min_size=1, max_size=12)
_sentence = st.builds(lambda w, e: w.strip() + e, _word, st.sampled_from(["。", "！", "？”", ". ", "", "；", "…"]))
_paragraph = st.lists(_sentence, min_size=1, max_size=25).map(lambda s: re.sub(r"\s+", " ", "".join(s)).strip()) \
    .filter(bool)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(paragraphs=st.lists(_paragraph, min_size=1, max_size=8),
       max_chars=st.integers(min_value=16, max_value=120))
def test_chunk_invariants_hold_for_any_article(paragraphs, max_chars):
    a = art(*paragraphs)
    min_chars = max_chars // 4
    chunks = chunk_article(a, max_chars=max_chars, min_chars=min_chars)
    check_invariants(a, chunks, max_chars)
    assert [c.id for c in chunk_article(a, max_chars=max_chars, min_chars=min_chars)] == [c.id for c in chunks]
