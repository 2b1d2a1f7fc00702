"""Parity of the Milvus Lite store with the local store: MRR@10 per eval set and mode, same passages,
same passage vectors (the vector cache), same query vectors, same fusion (qa/fusion.py) above the seam.

    python benchmarks/milvus_parity.py [--model use-m3] [--limit 300] [--sets a,b] [--section terms] [--no-write]

`--section NAME` writes the table into its own README section (`milvus-parity-NAME`), beside the first one.

Differences can only come from below the seam: the dense index (Milvus HNSW, ef 1024, vs FAISS flat at
these sizes), BM25 (since store format 3 the same jieba tokens as the local store, written out as terms;
before, Milvus Lite's own jieba over the folded text), IDF per segment, ties, and the keyword side's
coverage/IDF estimates.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.machine import machine, publish  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.embedding import load_embedder  # noqa: E402
from qa.evaluate import corpus_retriever, read_jsonl  # noqa: E402
from qa.search import Retriever  # noqa: E402

SETS = ("cmrc2018-trial", "drcd-test", "xquad-zh", "xquad-en2zh", "chronoqa")
MODES = ("dense", "keyword", "hybrid")
EVAL = Path(__file__).resolve().parent.parent.parent / "shared" / "eval"


def mrr(retriever: Retriever, queries: list[dict], qvecs: np.ndarray, mode: str) -> float:
    total = 0.0
    for q, v in zip(queries, qvecs):
        gold = {str(g) for g in q["gold_ids"]}
        hits = retriever.search(q["question"], 10, mode, query_vector=v if mode != "keyword" else None)
        first = next((i for i, h in enumerate(hits) if h.chunk_id in gold), None)
        total += 1.0 / (first + 1) if first is not None else 0.0
    return total / len(queries)


def sample(queries: list[dict], limit: int) -> list[dict]:
    """A fixed, spread-out subsample (by hash of the id, so reruns and both stores see the same)."""
    if len(queries) <= limit:
        return queries
    return sorted(queries, key=lambda q: hashlib.sha1(str(q["id"]).encode()).hexdigest())[:limit]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="use-m3")
    ap.add_argument("--limit", type=int, default=300, help="questions per set (a fixed subsample)")
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--section", default="", help="publish into the section milvus-parity-NAME instead")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    settings = Settings.load()
    embedder = load_embedder(args.model)
    rows, notes = [], []
    with tempfile.TemporaryDirectory(prefix="milvus-parity-") as tmp:
        for name in args.sets.split(","):
            corpus = read_jsonl(EVAL / name / "corpus.jsonl", ("id", "text"))
            queries = sample(read_jsonl(EVAL / name / "queries.jsonl", ("id", "question", "gold_ids")), args.limit)
            local, _ = corpus_retriever(corpus, embedder, settings.cache)
            # the path `qa eval --store x.db` takes: same records, same cached vectors, written into Lite
            lite, load_s = corpus_retriever(corpus, embedder, settings.cache, store=str(Path(tmp) / f"{name}.db"))
            qvecs = embedder.embed_queries([q["question"] for q in queries])
            for mode in MODES:
                t = time.perf_counter()
                a = mrr(local, queries, qvecs, mode)
                ta = time.perf_counter() - t
                t = time.perf_counter()
                b = mrr(lite, queries, qvecs, mode)
                tb = time.perf_counter() - t
                rows.append((name, len(local), len(queries), mode, a, b, ta / len(queries) * 1000,
                             tb / len(queries) * 1000))
                print(rows[-1], flush=True)
            notes.append(f"{name}: {len(local)} passages written to Lite in {load_s:.1f} s")
            lite.store.close()
    lines = ["| set | passages | questions | mode | local MRR@10 | Lite MRR@10 | diff | local ms/q | Lite ms/q |",
             "|---|---:|---:|---|---:|---:|---:|---:|---:|"]
    worst = 0.0
    for name, n, nq, mode, a, b, ta, tb in rows:
        worst = max(worst, abs(a - b))
        lines.append(f"| {name} | {n} | {nq} | {mode} | {a:.3f} | {b:.3f} | {b - a:+.3f} | {ta:.1f} | {tb:.1f} |")
    import qa.store.milvus as mv

    text = (f"Store format {mv.FORMAT}. Model {args.model} for both stores (same cached passage vectors and query vectors); "
            f"{args.limit} questions a set at most (a fixed subsample by id hash). Largest difference: "
            f"{worst:.3f} (target: under .01). ms/q includes fusion and reading the hits' passages. "
            f"Machine: {machine()}.\n\n" + "\n".join(lines) + "\n\n" + "; ".join(notes) + ".")
    name = f"milvus-parity-{args.section}" if args.section else "milvus-parity"
    heading = "## Milvus Lite parity with the local store (benchmarks/milvus_parity.py)"
    if args.section:
        heading = (f"### Milvus Lite parity, keyword terms cut by newsqa (store format {mv.FORMAT}, "
                   f"benchmarks/milvus_parity.py --section {args.section})")
    publish(name, heading, text, not args.no_write)


if __name__ == "__main__":
    main()
