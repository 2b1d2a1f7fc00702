"""Passages and articles are read from disk row by row; only offsets and columns stay in memory."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qa import records, storage
from qa.embedding import load_embedder
from qa.errors import IndexError_
from qa.index import build
from qa.records import Columns, JsonlRows, line_offsets
from qa.search import Filters, Retriever

ARTICLES = {
    "metro.md": ("地铁新线开通", "示例日报", ["市政府宣布新的地铁线路下个月开通，沿线设有十二座车站。",
                                          "交通局表示新线路采用无人驾驶系统，高峰时段每四分钟一班。"]),
    "harbour.md": ("Harbour Bridge Reopens", "City Daily", ["The Harbour Bridge reopened on Monday after repairs.",
                                                         "Engineers replaced forty steel cables."]),
    "farm.md": ("Farmers Brace for Drought", "Rural Wire", ["Farmers in the valley are storing water."]),
}


@pytest.fixture
def corpus(tmp_path, hash_settings, write_article):
    for name, (title, source, paras) in ARTICLES.items():
        write_article(tmp_path / "seeds", name, title, paras, source=source, date="2024-05-10")
    return hash_settings(tmp_path / "seeds", tmp_path / "index")


def test_line_offsets_across_blocks_and_without_a_last_newline(tmp_path, monkeypatch):
    monkeypatch.setattr(records, "_BLOCK", 7)  # lines cross block ends
    rows = [{"n": i, "t": "新闻" * i} for i in range(20)]
    path = tmp_path / "r.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    assert len(line_offsets(path)) == 21
    table = JsonlRows(path)
    assert list(table) == rows and table[-1] == rows[-1] and table[3:5] == rows[3:5]
    with pytest.raises(IndexError):
        table[20]


def test_load_parses_no_row_until_a_hit_needs_it(corpus, monkeypatch):
    build(corpus)
    stored = storage.load(corpus.index)
    parsed = []
    real = json.loads
    monkeypatch.setattr(records.json, "loads", lambda s: parsed.append(s) or real(s))
    retriever = Retriever(stored, load_embedder("hash"))
    assert parsed == []  # opening the index and the retriever read no passage
    hits = retriever.search("地铁 车站", k=2)
    assert hits and 0 < len(parsed) <= 4  # each hit: its passage and its article
    assert stored.articles["metro"]["source"] == "示例日报" and "nope" not in stored.articles
    assert len(stored.articles) == 3 and len(stored.chunks) == stored.manifest["counts"]["chunks"] == 3


def test_filters_use_the_article_columns(corpus):
    build(corpus)
    retriever = Retriever(storage.load(corpus.index), load_embedder("hash"))
    keep = retriever.mask(Filters(source="示例"))
    chunks = list(retriever.index.chunks)
    assert keep.tolist() == [c["article_id"] == "metro" for c in chunks]


def test_a_damaged_passage_row_is_reported_with_the_fix(corpus):
    build(corpus)
    gen = corpus.index / (corpus.index / "CURRENT").read_text().strip()
    data = bytearray((gen / "chunks.jsonl").read_bytes())
    data[1:3] = b"@@"  # same size: the manifest's sizes cannot see it, reading the row does
    (gen / "chunks.jsonl").write_bytes(bytes(data))
    stored = storage.load(corpus.index)
    with pytest.raises(IndexError_, match=r"chunks.jsonl line 1 is damaged.*qa build"):
        stored.chunks[0]


def test_columns_pointing_past_the_articles_are_refused(tmp_path):
    cols = Columns(np.array([0, 2], np.int32), np.array(["a", "b"]), np.array(["", ""]), np.array(["", ""]))
    cols.save(tmp_path / "c.npz")
    with pytest.raises(ValueError, match="does not have"):
        Columns.load(tmp_path / "c.npz")
