"""A ready corpus (passages, articles, vectors) written straight into Milvus: what `qa eval`-style
benchmarks need to compare stores on the same passages and the same vectors (no seeds, no chunking)."""

from __future__ import annotations

import json
import time

import numpy as np

from . import milvus as mv
from .milvus_build import _ensure_meta, _publish, _schemas, grace, settle

BATCH = 1000


def write_corpus(spec: str, chunks: list[dict], articles: dict[str, dict], vectors: np.ndarray, model: dict,
                 words: list[str] | None = None, settings: dict | None = None) -> mv.MilvusStore:
    """A fresh epoch holding exactly these passages, published; returns the store opened on it.
    `settings` goes into the manifest (`qa eval`: what identifies the corpus, to reuse it next time)."""
    c = mv.client(spec)
    server_version, bm25 = mv.version(c)
    _ensure_meta(c)
    old = mv.read_manifest(c, spec)
    epoch = old["epoch"] + 1 if old else 1
    collections = {"passages": f"{mv.prefix()}_p{epoch}", "articles": f"{mv.prefix()}_a{epoch}"}
    for name in collections.values():
        if c.has_collection(name):
            c.drop_collection(name)
    (ps, pi), (as_, ai) = _schemas(c, vectors.shape[1], bm25, words or [])
    c.create_collection(collections["passages"], schema=ps, index_params=pi, consistency_level="Strong")
    c.create_collection(collections["articles"], schema=as_, index_params=ai, consistency_level="Strong")
    arts = {ch["article_id"]: articles[ch["article_id"]] for ch in chunks}
    for b in range(0, len(chunks), BATCH):
        rows = []
        for i in range(b, min(b + BATCH, len(chunks))):
            ch, a = chunks[i], arts[chunks[i]["article_id"]]
            row = {"row": i, "gen": 1, "article_id": ch["article_id"], "source": a.get("source") or "",
                   "date": a.get("date") or "", "hash": ch["hash"], "chunk": json.dumps(ch, ensure_ascii=False),
                   "vector": vectors[i].tolist()}
            if bm25:
                row["folded"] = mv.folded(ch["text"])
            rows.append(row)
        c.insert(collections["passages"], rows)
    art_rows = []
    for aid, a in arts.items():
        data = json.dumps(a, ensure_ascii=False)
        for part, start in enumerate(range(0, max(len(data), 1), mv.PART_CHARS)):
            art_rows.append({"key": f"1:{aid}:{part}", "article_id": aid, "gen": 1, "part": part, "chunks": 0,
                             "path": "", "content_hash": "", "paths": "[]", "source": a.get("source") or "",
                             "data": data[start:start + mv.PART_CHARS], "_v": [0.0, 0.0]})
    for b in range(0, len(art_rows), BATCH):
        c.insert(collections["articles"], art_rows[b:b + BATCH])
    for name in collections.values():
        settle(c, name)
    grace(c)
    _publish(c, {"format": 1, "epoch": epoch, "published": 1, "retired": [], "collections": collections,
                 "model": model, "settings": settings or {}, "bm25": bm25, "server_version": server_version,
                 "sources": sorted({a.get("source") for a in arts.values() if a.get("source")}),
                 "counts": {"articles": len(arts), "chunks": len(chunks)},
                 "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    if old is not None:
        for name in old["collections"].values():
            if name not in collections.values() and c.has_collection(name):
                c.drop_collection(name)
    return mv.MilvusStore.open(spec)
