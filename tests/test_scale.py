"""Scale behaviour, by behaviour not timing: index kind by size, memory-mapped load, no per-query rebuild."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from qa import dense, storage

TOPICS = [
    ("联合国大会通过人工智能能力建设决议", "联合国大会协商一致通过了中国提出的加强人工智能能力建设国际合作决议。"
     "决议强调人工智能发展应坚持以人为本，帮助发展中国家从中平等受益。"),
    ("长江流域迎来汛期", "水利部门启动防汛四级应急响应，长江中下游多地降雨量较常年偏多三成。"
     "各地加强堤防巡查，转移低洼地区群众。"),
    ("新能源汽车出口增长", "今年前十个月，我国新能源汽车出口量同比增长百分之三十。"
     "企业加快海外建厂步伐，欧洲和东南亚市场需求旺盛。"),
    ("国产大飞机完成首次商业飞行", "国产大型客机从上海虹桥机场起飞，平稳降落在北京首都机场，标志着正式进入民航市场。"
     "航空公司计划明年增加航线。"),
    ("全国粮食总产量创新高", "国家统计局公布，全年粮食总产量达到一万三千亿斤以上，连续多年保持稳定。"
     "夏粮、早稻和秋粮均实现增产。"),
    ("博物馆夜场受年轻人欢迎", "多地博物馆推出夜间开放和沉浸式展览，年轻观众占比明显上升。"
     "文创产品销量也随之增长。"),
]


@pytest.fixture
def news(tmp_path, hash_settings, write_article):
    """12 short articles, 2 paragraphs each: 24 passages with the hash model."""
    seeds, index = tmp_path / "seeds", tmp_path / "index"
    for n in range(12):
        title, text = TOPICS[n % len(TOPICS)]
        first, second = text.split("。", 1)
        write_article(seeds, f"{n:02d}.md", f"{title}（{n}）", [f"第{n}篇：{first}。", f"{second}（编号{n}）"],
                      source="新华社" if n % 2 else "人民日报", date=f"2024-0{1 + n % 9}-15")
    return hash_settings(seeds, index)


def _live(index: Path) -> Path:
    return index / (index / "CURRENT").read_text().strip()


# --- index kind by size ----------------------------------------------------------------------------

def test_choose_kind_follows_flat_max(monkeypatch):
    assert dense.choose_kind(1) == "flat"
    assert dense.choose_kind(dense.FLAT_MAX) == "flat"
    assert dense.choose_kind(dense.FLAT_MAX + 1) == "hnsw"
    monkeypatch.setattr(dense, "SQ8", True)
    assert dense.choose_kind(dense.FLAT_MAX + 1) == "hnsw-sq8"
    assert dense.choose_kind(dense.FLAT_MAX) == "flat"


def test_graph_search_widens_with_size(tmp_path, monkeypatch):
    assert dense.ef_search(100_000) == dense.HNSW_EF_SEARCH < dense.ef_search(dense.BIG + 1) == dense.HNSW_EF_SEARCH_BIG
    assert dense.params("hnsw", dense.BIG + 1)["ef_search"] == dense.HNSW_EF_SEARCH_BIG
    assert "ef_search" not in dense.params("flat", 10)
    x = np.random.default_rng(5).standard_normal((300, 16)).astype(np.float32)
    dense.save(dense.build(x / np.linalg.norm(x, axis=1, keepdims=True), "hnsw"), tmp_path / "i.faiss")
    monkeypatch.setattr(dense, "BIG", 100)  # the loaded graph's own size decides
    assert dense.load(tmp_path / "i.faiss").hnsw.efSearch == dense.HNSW_EF_SEARCH_BIG


def test_small_index_is_flat_and_the_manifest_says_so(news):
    from qa.index import build

    report = build(news)
    stored = storage.load(news.index)
    assert report.index_kind == "flat" and stored.manifest["index_kind"] == "flat"
    assert dense.kind_of(stored.faiss_index) == "flat"


@pytest.mark.parametrize("kind", ["hnsw", "hnsw-sq8"])
def test_above_flat_max_the_index_is_approximate_and_still_answers(news, monkeypatch, kind):
    from qa.embedding import load_embedder
    from qa.index import build
    from qa.search import Filters, Retriever

    monkeypatch.setattr(dense, "FLAT_MAX", 5)
    monkeypatch.setattr(dense, "SQ8", kind == "hnsw-sq8")
    report = build(news)
    assert report.chunks > 5 and report.index_kind == kind
    stored = storage.load(news.index)
    assert stored.manifest["index_kind"] == kind
    assert dense.kind_of(stored.faiss_index) == kind
    assert stored.faiss_index.ntotal == report.chunks

    retriever = Retriever(stored, load_embedder("hash"))
    hits = retriever.search("国产大型客机从上海虹桥机场起飞", k=3, mode="dense")
    assert hits and "大飞机" in hits[0].title
    # a filter leaving few rows is searched exactly, not by a mostly-filtered graph walk
    only = retriever.search("国产大型客机", k=20, mode="dense", filters=Filters(source="人民日报"))
    assert only and all(h.source == "人民日报" for h in only)
    assert len(only) == sum(1 for c in stored.chunks if stored.articles[c["article_id"]]["source"] == "人民日报")


def test_approximate_index_finds_the_exact_top_hits(monkeypatch):
    """HNSW with the chosen parameters returns what exact search returns on clustered data."""
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((50, 64)).astype(np.float32)
    x = centres[rng.integers(0, 50, 3000)] + 0.3 * rng.standard_normal((3000, 64)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    flat, hnsw = dense.build(x, "flat"), dense.build(x, "hnsw")
    recall = []
    for q in x[:50] + 0.05 * rng.standard_normal((50, 64)).astype(np.float32):
        q /= np.linalg.norm(q)
        _, exact = dense.search(flat, q, 10)
        _, approx = dense.search(hnsw, q, 10)
        recall.append(len(set(exact) & set(approx)) / 10)
    assert np.mean(recall) >= 0.98


def test_building_a_graph_uses_every_core_and_restores_one_thread(tmp_path):
    import faiss

    x = np.random.default_rng(1).standard_normal((200, 32)).astype(np.float32)
    dense.save(dense.build(x, "flat"), tmp_path / "i.faiss")
    dense.load(tmp_path / "i.faiss")  # queries run on one thread
    assert faiss.omp_get_max_threads() == 1
    dense.build(x, "hnsw")
    assert faiss.omp_get_max_threads() == 1


# --- memory-mapped load ----------------------------------------------------------------------------

def _rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _mapped(path: Path) -> bool:
    return any(line.rstrip().endswith(str(path)) for line in Path("/proc/self/maps").read_text().splitlines())


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_index_file_is_memory_mapped_not_copied(tmp_path, kind):
    # HNSW keeps its graph (~270 bytes a vector at M=32) in memory and maps the vectors
    n, dim = (40_000, 256) if kind == "flat" else (8_000, 512)
    x = np.random.default_rng(2).standard_normal((n, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    path = tmp_path / "index.faiss"
    dense.save(dense.build(x, kind), path)
    vector_kb = n * dim * 4 // 1024
    del x
    before = _rss_kb()
    index = dense.load(path)
    grew = _rss_kb() - before
    assert _mapped(path), "index.faiss is not in /proc/self/maps: it was read into memory"
    assert grew < vector_kb / 4, f"RSS grew by {grew} kB on load, the vectors are {vector_kb} kB"
    assert index.ntotal == n
    _, rows = dense.search(index, np.eye(dim, dtype=np.float32)[0], 5)
    assert len(rows) == 5
    # prefault (the app's start-up) maps every vector page in, so no question pays for the faults
    assert dense.prefault(index) >= n * dim * 4
    assert _rss_kb() - before > 0.8 * vector_kb
    assert _mapped(path)


def test_loaded_index_keeps_its_files_mapped(news):
    from qa.index import build

    build(news)
    stored = storage.load(news.index)
    assert _mapped(stored.folder / "index.faiss")


# --- no per-query work that the build could have stored --------------------------------------------

def test_a_question_rebuilds_and_retokenises_nothing(news, monkeypatch):
    import qa.text
    from qa import answer, index, keywords
    from qa.evidence import BACKGROUND
    from qa.text import sentences

    index.build(news)
    gen = _live(news.index)
    mtimes = {f: f.stat().st_mtime_ns for f in gen.rglob("*") if f.is_file()}
    asker = answer.Asker.open(news)
    asker.ask("热身问题")  # first question: the off-topic background is embedded once per process
    corpus_texts = {c["text"] for c in asker.retriever.index.chunks}
    listing = sorted(os.listdir(news.index))

    calls: dict[str, list] = {"keyword_build": [], "dense_build": [], "load": [], "tokens": [], "embed_docs": []}

    def forbid(name, real):
        def wrapper(*a, **kw):
            calls[name].append(a)
            return real(*a, **kw)
        return wrapper

    monkeypatch.setattr(keywords.KeywordIndex, "build", classmethod(forbid("keyword_build", keywords.KeywordIndex.build.__func__)))
    monkeypatch.setattr(dense, "build", forbid("dense_build", dense.build))
    monkeypatch.setattr(storage, "load", forbid("load", storage.load))
    monkeypatch.setattr(qa.text, "tokens", forbid("tokens", qa.text.tokens))
    emb = asker.retriever.embedder
    monkeypatch.setattr(emb, "embed_documents", forbid("embed_docs", emb.embed_documents))

    questions = ["国产大飞机从哪里起飞？", "新能源汽车出口增长了多少？", "What is the weather today?",
                 "长江汛期", "博物馆夜场"]
    for q in questions:
        ans = asker.ask(q)
        assert ans.hits

    assert calls["keyword_build"] == [] and calls["dense_build"] == [] and calls["load"] == []
    # jieba ran on the questions only (a question naming a time, "today", also carries its date; an English
    # question's words are searched by their Chinese senses, qa/translate.py), never on stored passages
    tokenised = [a[0] for a in calls["tokens"]]
    assert not set(tokenised) & corpus_texts
    assert all(any(t.startswith(q) for q in questions) or len(t) <= 12 for t in tokenised), tokenised
    # the model saw evidence sentences of the top passages at most: never a stored passage, never the corpus
    embedded = [t for a in calls["embed_docs"] for t in a[0]]
    assert not set(embedded) & corpus_texts
    allowed = {s for t in corpus_texts for s, _, _ in sentences(t)} | set(BACKGROUND)
    assert set(embedded) <= allowed
    most = max(len(list(sentences(t))) for t in corpus_texts)
    assert len(embedded) <= 3 * most * len(questions)  # at most the sentences of the top 3 passages a question
    assert {f: f.stat().st_mtime_ns for f in gen.rglob("*") if f.is_file()} == mtimes
    assert _live(news.index) == gen and not (news.index / ".work").exists()
    assert sorted(os.listdir(news.index)) == listing  # no new generation, no work folder


def test_many_texts_are_tokenised_in_parallel_with_the_same_result():
    from qa.text import fold, tokens, tokens_encoded, tokens_many

    base = ["聯合國大會通過決議，著名學者表示乾隆時期的資料已數位化。", "新能源汽车出口同比增长百分之三十。",
            "ＡＩ換臉，ＧＰＴ－４ and 覆盖 沈阳", "Hello world, 2024年7月1日。"]
    texts = [f"{base[i % len(base)]}第{i}条" for i in range(2100)]
    assert tokens_many(texts) == [tokens(t) for t in texts]
    # the build's form: per block, its distinct words, every token as an index into them, each text's count
    decoded = []
    for words, local, lengths in tokens_encoded(texts):
        ends = np.cumsum(lengths)
        decoded += [[words[k] for k in local[e - n:e].tolist()] for e, n in zip(ends.tolist(), lengths.tolist())]
    assert decoded == tokens_many(texts)
    # fold skips the slow traditional->simplified pass only when it could change nothing
    import unicodedata

    import opencc

    conv = opencc.OpenCC("t2s")
    for t in base:
        assert fold(t) == conv.convert(unicodedata.normalize("NFKC", t)).lower()
