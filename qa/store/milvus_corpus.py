"""A ready corpus (passages, articles, vectors) written straight into Milvus: what `qa eval`-style
benchmarks need to compare stores on the same passages and the same vectors (no seeds, no chunking)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import numpy as np

from ..text import tokens_many
from . import milvus as mv
from .milvus_build import _ensure_meta, _publish, _schemas, grace, settle

BATCH = 5000  # rows per insert (~12 MB at 512 dimensions with real passages): fewer round trips


def _insert_columns(c, name: str, chunks: list[dict], arts: dict[str, dict], vectors: np.ndarray, first: int,
                    terms: list[str] | None) -> None:
    """One insert of these passages, field by field: MilvusClient.insert takes rows and packs every value of
    every row in Python (~0.6 ms a row, profiled); the column form packs the vectors from one array, so the
    client spends less. Into the 2.3.5 server on the busy shared machine it was not faster (0.9x and 2x in
    two runs, benchmarks/milvus_scale_insert.py): the server bounds ingest there. pymilvus 3.0.2 (pinned)
    has it only on the connection handler, as `batch_insert`."""
    from pymilvus import DataType

    a = [arts[ch["article_id"]] for ch in chunks]
    columns = [("row", DataType.INT64, list(range(first, first + len(chunks)))),
               ("gen", DataType.INT64, [1] * len(chunks)),
               ("article_id", DataType.VARCHAR, [ch["article_id"] for ch in chunks]),
               ("source", DataType.VARCHAR, [x.get("source") or "" for x in a]),
               ("date", DataType.VARCHAR, [x.get("date") or "" for x in a]),
               ("hash", DataType.VARCHAR, [ch["hash"] for ch in chunks]),
               ("chunk", DataType.VARCHAR, [json.dumps(ch, ensure_ascii=False) for ch in chunks]),
               ("vector", DataType.FLOAT_VECTOR, np.ascontiguousarray(vectors, np.float32))]
    if terms is not None:  # BM25's input (milvus.terms)
        columns.append(("terms", DataType.VARCHAR, terms))
    handler = c._get_connection()
    handler.batch_insert(name, [{"name": n, "type": t, "values": v} for n, t, v in columns],
                         schema=handler.describe_collection(name))


def write_corpus(spec: str, chunks: list[dict], articles: dict[str, dict], vectors: np.ndarray, model: dict,
                 settings: dict | None = None, timings: dict | None = None,
                 progress: Callable[[int, int], None] | None = None) -> mv.MilvusStore:
    """A fresh epoch holding exactly these passages, published; returns the store opened on it. The keyword
    terms are cut by this process's jieba: load the user dictionary first (qa.text.load_userdict) if any.
    `settings` goes into the manifest (`qa eval`: what identifies the corpus, to reuse it next time);
    `timings`, when given, receives the seconds of each phase (insert, of which terms = cutting the keyword
    tokens; settle = flush + index + load; grace); `progress(done, total)` is called after each insert."""
    timings = {} if timings is None else timings
    t = time.perf_counter()
    c = mv.client(spec)
    server_version, bm25 = mv.version(c)
    _ensure_meta(c)
    old = mv.read_manifest(c, spec)
    epoch = old["epoch"] + 1 if old else 1
    collections = {"passages": f"{mv.prefix()}_p{epoch}", "articles": f"{mv.prefix()}_a{epoch}"}
    for name in collections.values():
        if c.has_collection(name):
            c.drop_collection(name)
    (ps, pi), (as_, ai) = _schemas(c, vectors.shape[1], bm25)
    c.create_collection(collections["passages"], schema=ps, index_params=pi, consistency_level="Strong")
    c.create_collection(collections["articles"], schema=as_, index_params=ai, consistency_level="Strong")
    arts = {ch["article_id"]: articles[ch["article_id"]] for ch in chunks}
    timings["terms"] = 0.0
    for b in range(0, len(chunks), BATCH):
        t_terms = time.perf_counter()  # the passages' keyword tokens, cut on every core, as `qa build` does
        terms = [mv.terms(tk) for tk in tokens_many([ch["text"] for ch in chunks[b:b + BATCH]])] if bm25 else None
        timings["terms"] += time.perf_counter() - t_terms
        _insert_columns(c, collections["passages"], chunks[b:b + BATCH], arts, vectors[b:b + BATCH], b, terms)
        if progress:
            progress(min(b + BATCH, len(chunks)), len(chunks))
    art_rows = []
    for aid, a in arts.items():
        data = json.dumps(a, ensure_ascii=False)
        for part, start in enumerate(range(0, max(len(data), 1), mv.PART_CHARS)):
            art_rows.append({"key": f"1:{aid}:{part}", "article_id": aid, "gen": 1, "part": part, "chunks": 0,
                             "path": "", "content_hash": "", "paths": "[]", "source": a.get("source") or "",
                             "marks": "", "data": data[start:start + mv.PART_CHARS], "_v": [0.0, 0.0]})
    for b in range(0, len(art_rows), BATCH):
        c.insert(collections["articles"], art_rows[b:b + BATCH])
    timings["insert"], t = time.perf_counter() - t, time.perf_counter()
    for name in collections.values():
        settle(c, name)
    timings["settle"], t = time.perf_counter() - t, time.perf_counter()
    grace(c)
    timings["grace"] = time.perf_counter() - t
    _publish(c, {"format": mv.FORMAT, "epoch": epoch, "published": 1, "retired": [], "collections": collections,
                 "model": model, "settings": settings or {}, "bm25": bm25, "server_version": server_version,
                 "sources": sorted({a.get("source") for a in arts.values() if a.get("source")}),
                 "counts": {"articles": len(arts), "chunks": len(chunks)},
                 "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    if old is not None:
        for name in old["collections"].values():
            if name not in collections.values() and c.has_collection(name):
                c.drop_collection(name)
    return mv.MilvusStore.open(spec)
