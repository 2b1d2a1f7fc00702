"""`qa eval`: retrieval quality on a passage/question set (corpus.jsonl + queries.jsonl).

The corpus is used as given (one passage = one chunk), in a throw-away in-memory index or, with
`--store`, in Milvus (Lite or a server); its vectors are cached on disk by model and text hash, so a
rerun only embeds the questions.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import dense
from .embedding import Embedder
from .errors import InputError
from .keywords import KeywordIndex
from .records import Columns
from .search import Retriever
from .storage import StoredIndex
from .text import tokens_many
from .tokentable import TokenTable
from .vectorcache import VectorCache, model_key

Progress = Callable[[str, int, int], None]


def read_jsonl(path: Path, required: tuple[str, ...]) -> list[dict]:
    """Rows of a JSON-lines file; a bad line is reported with its file and line number."""
    if not path.is_file():
        raise InputError(f"{path} does not exist: give the path of a .jsonl file")
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as e:
                raise InputError(f"{path}:{n} is not valid JSON ({e.msg}): fix or remove that line") from None
            missing = [k for k in required if k not in row]
            if missing:
                raise InputError(f"{path}:{n} lacks {', '.join(missing)}: each line needs {', '.join(required)}")
            rows.append(row)
    if not rows:
        raise InputError(f"{path} is empty: it needs one JSON object per line")
    return rows


def corpus_records(corpus: list[dict]) -> tuple[list[dict], dict[str, dict]]:
    """Passage and article records of an eval corpus: one passage = one chunk = one article."""
    chunks = [{"id": str(r["id"]), "article_id": str(r["id"]), "paragraphs": [1], "start": 0,
               "end": len(r["text"]), "text": r["text"], "hash": hashlib.sha1(r["text"].encode()).hexdigest()}
              for r in corpus]
    articles = {c["id"]: {"id": c["id"], "title": r.get("title") or c["id"], "source": r.get("source"),
                          "date": r.get("date"), "url": r.get("url"), "paragraphs": [r["text"]]}
                for c, r in zip(chunks, corpus)}
    return chunks, articles


def corpus_retriever(corpus: list[dict], embedder: Embedder | None, cache_root: Path,
                     progress: Progress | None = None, store: str = "local") -> tuple[Retriever, float]:
    """An index over the passages; returns it and the seconds it took to build (or to find it built).

    `store` as `--store`: `local` builds it in memory; a Milvus Lite `.db` or a server URI holds it in
    that store's `<prefix>_eval` collections (beside the app's index, never in place of it), where the
    same corpus with the same model is reused on the next run. Passage vectors come from the cache."""
    from .embedding import HashEmbedder
    from .store import kind

    t0 = time.perf_counter()
    chunks, articles = corpus_records(corpus)
    keyword_only = embedder is None
    embedder = embedder or HashEmbedder(2)  # keyword mode only: never asked for a vector

    def vectors() -> np.ndarray:
        if keyword_only:
            return np.zeros((len(chunks), embedder.dim), np.float32)
        return cached_documents(embedder, [(c["hash"], c["text"]) for c in chunks], cache_root / "eval", progress)

    if kind(store) != "local":
        found = _milvus_corpus(store, chunks, articles, embedder.identity(), vectors)
        return Retriever(found, embedder), time.perf_counter() - t0
    keywords = KeywordIndex.build(TokenTable.from_lists(tokens_many([c["text"] for c in chunks])))
    stored = StoredIndex(Path("."), {"model": embedder.identity()}, chunks, articles, dense.build(vectors(), "flat"),
                         keywords, Columns.from_records(chunks, list(articles.values())))
    return Retriever(stored, embedder), time.perf_counter() - t0


def _milvus_corpus(spec: str, chunks: list[dict], articles: dict[str, dict], model: dict,
                   vectors: Callable[[], np.ndarray]):
    """The corpus in Milvus: the one there when it is this corpus with this model, else written anew."""
    from .store import milvus as mv
    from .store.milvus_corpus import write_corpus

    digest = hashlib.sha256(json.dumps([model, chunks, articles], ensure_ascii=False, sort_keys=True)
                            .encode()).hexdigest()
    with mv.collections(f"{mv.prefix()}_eval"), mv.errors(spec):
        found = mv.read_manifest(mv.client(spec), spec)
        if found is not None and found.get("settings", {}).get("eval_corpus") == digest \
                and found.get("format") == mv.FORMAT:
            return mv.MilvusStore.open(spec)
        return write_corpus(spec, chunks, articles, vectors(), model, settings={"eval_corpus": digest})


def cached_documents(embedder: Embedder, items: list[tuple[str, str]], root: Path,
                     progress: Progress | None = None) -> np.ndarray:
    """Passage vectors through an on-disk cache per model; a combined model reuses its parts' caches."""
    from .embedding import Combined

    if isinstance(embedder, Combined):
        return embedder.join([cached_documents(p, items, root, progress) for p in embedder.parts])
    cache = VectorCache(root / model_key(embedder.identity()), embedder.dim)
    todo = sorted({h: t for h, t in items if cache.get(h) is None}.items(), key=lambda x: len(x[1]))
    for b in range(0, len(todo), 64):
        batch = todo[b:b + 64]
        cache.add([h for h, _ in batch], embedder.embed_documents([t for _, t in batch]))
        if progress:
            progress("embed", b + len(batch), len(todo))
    return np.stack([cache.get(h) for h, _ in items]).astype(np.float32) if items else \
        np.zeros((0, embedder.dim), np.float32)


@dataclass
class EvalResult:
    metrics: dict
    runs: list[dict] = field(default_factory=list)


def evaluate(retriever: Retriever, queries: list[dict], k: int = 10, mode: str = "hybrid",
             progress: Progress | None = None, today: dt.date | None = None) -> EvalResult:
    """Each question is asked on its own `question_date` when it has one (chronoqa), else on `today`."""
    hit1 = hit5 = recall = mrr = ndcg = 0.0
    latencies, runs = [], []
    depth = max(k, 10)
    for n, q in enumerate(queries, 1):
        gold = {str(g) for g in q["gold_ids"]}
        t = time.perf_counter()
        asked = _date(q.get("question_date")) or today
        hits = retriever.search(q["question"], depth, mode, today=asked)
        latencies.append((time.perf_counter() - t) * 1000)
        ranked = [h.chunk_id for h in hits]
        runs.append({"id": q["id"], "ranked": ranked[:k]})
        first = next((i for i, cid in enumerate(ranked[:10]) if cid in gold), None)
        hit1 += first == 0
        hit5 += first is not None and first < 5
        mrr += 1.0 / (first + 1) if first is not None else 0.0
        recall += len(gold & set(ranked[:10])) / len(gold) if gold else 0.0
        dcg = sum(1.0 / math.log2(i + 2) for i, cid in enumerate(ranked[:10]) if cid in gold)
        ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(gold), 10)))
        ndcg += dcg / ideal if ideal else 0.0
        if progress:
            progress("query", n, len(queries))
    total = len(queries)
    metrics = {"queries": total, "mode": mode, "hit@1": hit1 / total, "hit@5": hit5 / total,
               "recall@10": recall / total, "mrr@10": mrr / total, "ndcg@10": ndcg / total,
               "latency_ms_p50": float(np.percentile(latencies, 50)),
               "latency_ms_p95": float(np.percentile(latencies, 95))}
    return EvalResult(metrics, runs)


def _date(value: object) -> dt.date | None:
    from .sources.common import iso_date  # "2024-5-1" (69 chronoqa questions) is not ISO but is a date

    try:
        return dt.date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        day = iso_date(value)
        return dt.date.fromisoformat(day) if day else None
