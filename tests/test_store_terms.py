"""Keyword search through Milvus over terms newsqa cuts itself (format 3, qa/store/milvus.py): the same
tokens as the local store, the user dictionary honoured, the same BM25 scores, and an index of the older
format (Milvus's own jieba) refused with the fix. Milvus Lite embedded and over gRPC (the 2.3.5 server
has no BM25: tests/test_store.py covers its dense side and its refusal of keyword search)."""

from __future__ import annotations

import itertools
import os
import re

import pytest

from qa import store
from qa.embedding import load_embedder
from qa.errors import IndexError_
from qa.index import build
from qa.search import Retriever
from qa.text import query_tokens

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

_names = itertools.count()
WORD = "易烊千玺"  # jieba alone cuts it 易 / 烊 / 千玺


def test_terms_are_one_word_run_each_and_one_to_one():
    from qa.store.milvus import term, terms

    tokens = ["台风", "gpt-4", "a_b", "ab", "3.5", "İ", "c++", "50%", "ｆｕｌｌ"]
    written = [term(t) for t in tokens]
    assert len(set(written)) == len(tokens)  # one-to-one on these
    assert all(re.fullmatch(r"\w+", w) and w == w.lower() for w in written)  # one run for Lite's `standard`
    # Lite's analyzer is `\w+` over the lower-cased text: it finds exactly the terms, in order
    assert re.findall(r"\w+", terms(tokens).lower()) == written
    assert terms(["台风", "", "登陆"]) == "台风 登陆"


@pytest.fixture(params=["lite", "lite-grpc"])
def pair(request, tmp_path, write_article, hash_settings, monkeypatch):
    """A local index and a Milvus Lite index of the same articles, with a user dictionary."""
    monkeypatch.setenv("QA_MILVUS_COLLECTION", f"terms{os.getpid()}_{next(_names)}")
    seeds = tmp_path / "seeds"
    write_article(seeds, "star.md", "演唱会", [f"歌手{WORD}昨晚在北京举行演唱会，门票很快售罄。",
                                              "主办方说，GPT-4 生成的海报吸引了很多观众。"], source="新华社")
    write_article(seeds, "port.md", "港口", ["上半年港口吞吐量增长百分之五，集装箱航线增加。",
                                             "港口吞吐量的增长来自出口。千玺湾码头扩建完成。"], source="滨海日报")
    write_article(seeds, "tide.md", "潮汐", ["天文大潮期间，沿海港口停止装卸作业，渔船回港避风。"], source="BBC")
    (seeds / "userdict.txt").write_text(f"{WORD} 10 nr\n", encoding="utf-8")
    spec = str(tmp_path / "terms.db") if request.param == "lite" else request.getfixturevalue("lite_uri")
    local = hash_settings(seeds, tmp_path / "embeddings", cache=tmp_path / "cache")
    milvus = hash_settings(seeds, tmp_path / "embeddings-unused", store=spec, cache=tmp_path / "cache")
    build(local)
    build(milvus)
    yield local, milvus
    if request.param == "lite":
        from qa.store import milvus as mv

        mv.forget(spec)


def _retriever(settings) -> Retriever:
    return Retriever(store.load(settings), load_embedder(settings.model))


def test_keyword_scores_equal_the_local_store(pair):
    local, milvus = (_retriever(s) for s in pair)
    assert WORD in query_tokens(f"{WORD}在哪里开演唱会")  # the user dictionary is loaded on the question side
    for question in (f"{WORD}在哪里开演唱会", "港口吞吐量增长了多少", "GPT-4 海报", "港口 港口 港口", "千玺"):
        toks = query_tokens(question)
        want = {local.store.passages([r])[0]["id"]: s for r, s in local.store.keyword(question, toks, 50).items()}
        got = {milvus.store.passages([r])[0]["id"]: s for r, s in milvus.store.keyword(question, toks, 50).items()}
        assert want or question == "千玺", question  # 千玺 alone: wherever the local store finds it
        assert got.keys() == want.keys(), question
        for cid, score in want.items():
            assert got[cid] == pytest.approx(score, rel=1e-4), (question, cid)
        assert milvus.store.coverage(toks) == local.store.coverage(toks), question
    # the user dictionary's word is one term in Milvus too: the whole name occurs, so coverage is full
    assert milvus.store.coverage([WORD]) == 1.0 and milvus.store.coverage(["烊"]) == 0.0
    assert milvus.search(f"{WORD}的演唱会", 1, "keyword")[0].title == "演唱会"


def test_an_index_of_the_old_format_is_refused_with_the_fix(pair):
    from qa.store import milvus as mv
    from qa.store.milvus_build import _publish
    from qa.store.milvus_check import check

    _, settings = pair
    c = mv.client(settings.store)
    manifest = mv.read_manifest(c, settings.store)
    assert manifest["format"] == mv.FORMAT and manifest["bm25"]
    _publish(c, {**manifest, "format": 2})  # as an index written before terms were cut by newsqa
    with pytest.raises(IndexError_, match=r"old keyword format 2.*qa build --store .* to rebuild"):
        store.load(settings)
    result = check(settings)
    assert not result.ok and any("old keyword format" in p for p in result.problems)
    report = build(settings)  # the rebuild: a new epoch, every vector reused
    assert report.embedded == 0 and not report.unchanged
    assert mv.read_manifest(c, settings.store)["format"] == mv.FORMAT
    assert _retriever(settings).search("港口吞吐量", 1, "keyword")[0].title == "港口"
