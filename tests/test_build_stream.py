"""The streamed local build (qa/buildread.py, qa/buildwrite.py, rows spilled to `.work/`) writes what
the in-memory build wrote: the same articles (copy marks, identical files' paths, an export's updated
row in its place), passages, vectors, token lists and keyword scores, after a first build and after an
incremental one. `reference` below is the old in-memory code path: every article and passage in lists,
`read_file` (whole file), `syndication.fold` over the records, one token list and vector per passage."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np

from qa import syndication
from qa.buildread import article_record, chunk_records
from qa.embedding import load_embedder
from qa.errors import ArticleError
from qa.index import build
from qa.keywords import KeywordIndex
from qa.records import Columns
from qa.seedfiles import read_capped, seed_digest, seed_files
from qa.sources import read_file
from qa.text import tokens
from qa.tokentable import TokenTable
from tests.test_index import live, write_corpus
from tests.test_syndication import EDITED, OTHER, SAME_TOPIC, WIRE

QUERIES = ["工业企业利润", "地铁 车站", "Harbour Bridge repairs", "高温预警", "drought water"]


def reference(settings) -> dict:
    """The generation's content as the in-memory build made it."""
    articles, chunks, by_hash = [], [], {}
    for path in seed_files(settings.seeds):
        rel = path.relative_to(settings.seeds).as_posix()
        try:
            raw, digest = seed_digest(path, settings.seeds)
            if digest in by_hash:
                by_hash[digest]["paths"].append(rel)
                continue
            got = read_file(path, rel, lambda p: read_capped(p, settings.seeds), settings.seeds, raw, digest)
        except ArticleError:
            continue
        for a in got.articles:
            record = {**article_record(a), "paths": [rel]}
            by_hash.setdefault(digest, record)
            articles.append(record)
            chunks += chunk_records(a, settings)
    folded = syndication.fold(articles)
    chunks = [c for c in chunks if c["article_id"] not in folded]
    vectors = np.asarray(load_embedder(settings.model).embed_documents([c["text"] for c in chunks]), np.float32)
    return {"articles": articles, "chunks": chunks, "vectors": vectors, "copies": len(folded),
            "tokens": [tokens(c["text"]) for c in chunks], "columns": Columns.from_records(chunks, articles)}


def built(index: Path) -> dict:
    gen = live(index)
    rows = {name: [json.loads(x) for x in (gen / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]
            for name in ("articles", "chunks")}
    table = TokenTable.load(gen / "tokens")
    return {**rows, "vectors": np.load(gen / "vectors.npy"), "tokens": [table.tokens(i) for i in range(len(table))],
            "columns": Columns.load(gen / "columns.npz"), "keywords": KeywordIndex.load(gen / "bm25"), "gen": gen}


def assert_same(got: dict, want: dict) -> None:
    assert got["articles"] == want["articles"]
    assert got["chunks"] == want["chunks"]
    assert got["vectors"].dtype == np.float32 and np.array_equal(got["vectors"], want["vectors"])
    assert got["tokens"] == want["tokens"]
    for name in ("article_of", "article_ids", "sources", "dates"):
        assert np.array_equal(getattr(got["columns"], name), getattr(want["columns"], name)), name
    keywords = KeywordIndex.build(TokenTable.from_lists(want["tokens"]))
    for q in QUERIES:
        assert np.allclose(got["keywords"].scores(tokens(q)), keywords.scores(tokens(q))), q


def export_row(i: str, text: str, **kw) -> str:
    return json.dumps({"id": i, "title": f"标题{i}", "text": text, **kw}, ensure_ascii=False) + "\n"


def write_archive(seeds: Path, write_article) -> None:
    write_corpus(seeds, write_article)
    write_article(seeds, "xinhua.md", "上半年工业企业利润降幅收窄", [WIRE], source="新华社", date="2023-07-28")
    write_article(seeds, "jiangcheng.md", "工业企业利润降幅收窄", [EDITED], source="江城日报", date="2023-07-29")
    write_article(seeds, "weather.md", "高温预警", [OTHER], source="江城日报", date="2023-07-28")
    (seeds / "metro-again.md").write_bytes((seeds / "metro.md").read_bytes())  # identical file: indexed once
    (seeds / "feed.jsonl").write_text(
        export_row("e1", SAME_TOPIC, date="2023-07-30", source="经济观察")
        + export_row("e2", "第一版：港口吞吐量上半年增长百分之五，集装箱航线新增三条。", date="2023-07-01")
        + '{"id": "bad", "title": "无正文"}\n'
        + export_row("e3", EDITED.replace("江城日报", "海滨晚报"), date="2023-07-27", source="海滨晚报")  # earliest copy
        + export_row("e2", "更新版：港口吞吐量上半年增长百分之六，集装箱航线新增四条，新码头开工。", date="2023-07-02"),
        encoding="utf-8")


def test_a_first_build_writes_what_the_in_memory_build_wrote(tmp_path, hash_settings, write_article):
    seeds = tmp_path / "seeds"
    write_archive(seeds, write_article)
    settings = hash_settings(seeds, tmp_path / "index")
    report = build(settings)
    want = reference(settings)
    assert report.copies == want["copies"] == 2 and report.duplicates == [("metro.md", "metro-again.md")]
    got = built(settings.index)
    assert_same(got, want)
    e2 = [a for a in got["articles"] if a["id"] == "feed:e2"]
    assert len(e2) == 1 and "更新版" in e2[0]["paragraphs"][0]  # the later row, in the earlier one's place
    assert [a["id"] for a in got["articles"] if a.get("copy_of") == "feed:e3"] == ["jiangcheng", "xinhua"]
    assert any(path.startswith("feed.jsonl") for path, _ in report.skipped)  # the row without text
    assert not (settings.index / ".work").exists()


def test_an_incremental_build_writes_what_a_fresh_one_writes(tmp_path, hash_settings, write_article):
    seeds = tmp_path / "seeds"
    write_archive(seeds, write_article)
    settings = hash_settings(seeds, tmp_path / "index")
    build(settings)
    (seeds / "jiangcheng.md").unlink()  # a copy leaves
    write_article(seeds, "harbour.md", "Harbour Bridge Reopens", ["The Harbour Bridge reopened on Tuesday.",
                  "Engineers replaced forty steel cables."], source="City Daily", date="2024-03-02")
    write_article(seeds, "later/nanfang.md", "利润降幅收窄", [WIRE.replace("新华社北京", "南方网")], source="南方网",
                  date="2023-08-01")  # a copy arrives
    with open(seeds / "feed.jsonl", "a", encoding="utf-8") as f:
        f.write(export_row("e4", "新增：本市公交线路调整，十二条线路延长运营时间至午夜。", date="2023-08-02"))
    report = build(settings)
    assert 0 < report.reused < report.chunks and report.embedded > 0
    fresh = hash_settings(seeds, tmp_path / "fresh")
    build(fresh)
    got, again = built(settings.index), built(fresh.index)
    assert_same(got, reference(settings))
    for name in ("articles.jsonl", "chunks.jsonl", "vectors.npy", "columns.npz", "index.faiss"):
        assert (got["gen"] / name).read_bytes() == (again["gen"] / name).read_bytes(), name


def test_a_text_in_several_articles_is_embedded_once_and_every_row_gets_its_vector(tmp_path, hash_settings,
                                                                                 write_article, monkeypatch):
    from qa.embedding import HashEmbedder

    seeds = tmp_path / "seeds"
    write_corpus(seeds, write_article)
    shared = "市政府宣布，全市地铁线路将于下月起延长运营时间至午夜，并增开夜间公交线路。" * 6  # a passage alone
    for k, (source, other) in enumerate([("江城日报", "港口吞吐量上半年增长百分之五，集装箱航线新增三条，新码头下月开工建设。"),
                                         ("海滨晚报", "今年夏季降雨偏少，全市水库蓄水量比去年同期下降三成，农业用水趋紧。"),
                                         ("南方网", "新能源汽车出口同比增长百分之三十，创历史新高，欧洲市场需求最为旺盛。")]):
        write_article(seeds, f"shared{k}.md", f"本地新闻{k}", [other * 6, shared], source=source, date=f"2023-08-0{k + 1}")
    seen: list[str] = []
    embed = HashEmbedder.embed_documents
    monkeypatch.setattr(HashEmbedder, "embed_documents", lambda self, texts: (seen.extend(texts), embed(self, texts))[1])
    settings = hash_settings(seeds, tmp_path / "index")
    report = build(settings)
    embedded = Counter(seen)  # (before `reference` embeds again)
    got, want = built(settings.index), reference(settings)
    assert_same(got, want)  # every row holds its own text's vector
    assert sum(c["text"] == shared for c in got["chunks"]) == 3
    assert all(embedded[c["text"]] == 1 for c in got["chunks"])  # each text embedded once
    assert report.embedded == len(got["chunks"])
