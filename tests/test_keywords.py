"""The BM25 index built from stored token ids scores exactly like bm25s built from the token strings."""

from __future__ import annotations

import random

import bm25s
import numpy as np
import pytest

from qa.keywords import KeywordIndex
from qa.tokentable import TokenTable, TokenTableBuilder

WORDS = ["北京", "上海", "经济", "增长", "发布", "会议", "a", "bank", "人工智能", "联合国", "气候", "新闻"]


def _corpus(rng: random.Random, n: int) -> list[list[str]]:
    # some empty passages: bm25s gives them its reserved "" token
    return [[rng.choice(WORDS) for _ in range(rng.choice([0, 1, 3, 8, 20]))] for _ in range(n)]


def _table(docs: list[list[str]]) -> TokenTable:
    return TokenTable.from_lists(docs)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_scores_equal_bm25s_built_from_strings(seed):
    docs = _corpus(random.Random(seed), 60)
    ours = KeywordIndex.build(_table(docs))
    ref = bm25s.BM25(k1=1.2, b=0.75)
    ref.index([d or [""] for d in docs], show_progress=False)
    for query in (["北京"], ["经济", "增长"], ["bank", "气候", "新闻"], WORDS):
        ids = [ref.vocab_dict[t] for t in query if t in ref.vocab_dict]
        expected = ref.get_scores(ids) if ids else np.zeros(len(docs))
        np.testing.assert_allclose(ours.scores(query), expected, rtol=1e-6, atol=1e-7)
    assert ours.num_docs == len(docs)


@pytest.mark.parametrize("block", [1, 7, 50])
def test_score_matrix_built_in_blocks_equals_one_block(monkeypatch, block):
    # blocks of whole passages (down to one token: every passage its own block) give the same matrix
    table = _table(_corpus(random.Random(4), 200))
    whole = KeywordIndex.build(table)._bm25.scores
    monkeypatch.setattr("qa.keywords.BM25_BLOCK", block)
    parts = KeywordIndex.build(table)._bm25.scores
    for name in ("data", "indices", "indptr"):
        assert parts[name].dtype == whole[name].dtype
        np.testing.assert_array_equal(parts[name], whole[name])


def test_builder_reuses_rows_and_drops_words_no_passage_uses(tmp_path):
    first = _table([["北京", "经济"], ["上海"], ["气候", "北京"]])
    first.save(tmp_path / "t")
    prev = TokenTable.load(tmp_path / "t")
    b = TokenTableBuilder(prev)
    b.add_previous(2)  # 气候 北京
    b.add(["新闻", "北京"])  # 上海 and 经济 are used by no passage any more
    table = b.finish()
    assert [table.tokens(i) for i in range(len(table))] == [["气候", "北京"], ["新闻", "北京"]]
    assert sorted(table.vocab) == sorted(["气候", "北京", "新闻"])
    index = KeywordIndex.build(table)
    assert index.coverage(["上海"]) == 0.0 and index.coverage(["新闻"]) == 1.0


@pytest.mark.parametrize("seed,on_disk", [(5, False), (6, False), (5, True), (7, True)])
def test_builder_places_fed_blocks_between_reused_rows_as_told(tmp_path, monkeypatch, seed, on_disk):
    # a build feeds new passages' tokens in blocks and places them among reused rows in the index's order;
    # on disk (a build's): new ids spilled to a file, the table written in the folder and memory-mapped
    rng = random.Random(seed)
    if on_disk:
        monkeypatch.setattr(TokenTableBuilder, "RENUMBER", 5)  # words in use and renumbering, 5 ids at a time
    _table(old := _corpus(rng, 40)).save(tmp_path / "t")
    b = TokenTableBuilder(TokenTable.load(tmp_path / "t"), tmp_path / "new" if on_disk else None)
    new = _corpus(rng, 50)
    for s in range(0, len(new), 7):  # blocks of 7, each with its own word list
        words = list(dict.fromkeys(w for d in new[s:s + 7] for w in d))
        b.feed(words, np.array([words.index(w) for d in new[s:s + 7] for w in d], np.int32),
               np.array([len(d) for d in new[s:s + 7]]))
    expected, left = [], list(new)
    while left:  # runs of new passages (crossing blocks) between runs of reused rows
        if rng.random() < 0.45:
            row = rng.randrange(40)
            b.add_previous(row)
            expected.append(old[row])
        else:
            b.add_new()
            expected.append(left.pop(0))
    table = b.finish()
    assert [table.tokens(i) for i in range(len(table))] == expected
    assert sorted(table.vocab) == sorted({w for d in expected for w in d})
    if on_disk:
        assert isinstance(table.ids, np.memmap) and sorted(p.name for p in (tmp_path / "new").iterdir()) == \
            ["ids.npy", "offsets.npy", "vocab.json"]
        again = TokenTable.load(tmp_path / "new")
        assert [again.tokens(i) for i in range(len(again))] == expected
    with pytest.raises(ValueError, match="placed already"):
        b.add_new()


def test_builder_on_disk_with_no_tokens_writes_an_empty_table(tmp_path):
    b = TokenTableBuilder(None, tmp_path / "t")
    b.add([])
    table = b.finish()
    assert len(table) == 1 and table.tokens(0) == [] and len(TokenTable.load(tmp_path / "t").ids) == 0


def test_builder_refuses_fed_passages_left_unplaced():
    b = TokenTableBuilder()
    b.feed(["北京"], np.zeros(1, np.int32), np.array([1]))
    with pytest.raises(ValueError, match="never placed"):
        b.finish()


def test_damaged_table_is_refused(tmp_path):
    _table([["北京"], ["上海", "北京"]]).save(tmp_path / "t")
    np.save(tmp_path / "t" / "offsets.npy", np.array([0, 1, 9]))
    with pytest.raises(ValueError, match="disagree"):
        TokenTable.load(tmp_path / "t")
