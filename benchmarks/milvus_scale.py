"""Dense search at scale through each store: ingest rows/s and query p50/p95, same vectors for all.

    python benchmarks/milvus_scale.py [--n 100000] [--dim 384] [--queries 200] [--stores local,lite,server]

Vectors: random unit vectors with a cluster structure (the same seed for every store), as real passage
vectors at this size are not cached here; queries are perturbed passages, top-50 as the app asks.
  local    FAISS as `qa build` makes it (HNSW above 30k passages, qa/dense.py), timed build + search
  lite     Milvus Lite 3.2.2 embedded (`.db`), HNSW M 32 / efConstruction 80, ef 1024
  server   the Milvus 2.3.5 server binary of the `milvus` package (tests/milvus_servers.py), same index
Ingest = insert + flush + index + load, until the first search can run. RSS is this process's resident
memory after the store is open (for Lite the whole engine lives in it; for the server only the client).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.machine import machine, publish  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def data(n: int, dim: int, queries: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    centres = rng.standard_normal((max(n // 200, 1), dim)).astype(np.float32)
    x = centres[rng.integers(0, len(centres), n)] + 0.6 * rng.standard_normal((n, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    q = x[rng.integers(0, n, queries)] + 0.3 * rng.standard_normal((queries, dim)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return x, q


def timed(fn, qs: np.ndarray) -> tuple[float, float]:
    fn(qs[0])
    lat = []
    for v in qs:
        t = time.perf_counter()
        fn(v)
        lat.append((time.perf_counter() - t) * 1000)
    return float(np.percentile(lat, 50)), float(np.percentile(lat, 95))


def run_local(x: np.ndarray, qs: np.ndarray) -> dict:
    from qa import dense

    t = time.perf_counter()
    index = dense.build(x)
    ingest = time.perf_counter() - t
    p50, p95 = timed(lambda v: dense.search(index, v, 50), qs)
    return {"ingest_rows_s": len(x) / ingest, "p50": p50, "p95": p95, "kind": dense.kind_of(index)}


def run_milvus(spec: str, x: np.ndarray, qs: np.ndarray) -> dict:
    from qa.store import milvus as mv
    from qa.store.milvus_corpus import write_corpus

    n = len(x)
    chunks = [{"id": str(i), "article_id": str(i // 4), "paragraphs": [1], "start": 0, "end": 1,
               "text": f"段落{i}", "hash": str(i)} for i in range(n)]
    articles = {str(a): {"id": str(a), "title": f"文章{a}", "source": "s", "date": "2024-01-01"}
                for a in range(n // 4 + 1)}
    t = time.perf_counter()
    store = write_corpus(spec, chunks, articles, x, {"model": "random"})
    ingest = time.perf_counter() - t
    p50, p95 = timed(lambda v: store.dense(v, 50), qs)
    out = {"ingest_rows_s": n / ingest, "p50": p50, "p95": p95, "kind": "milvus-hnsw", "rss_mb": rss_mb()}
    store.close()
    mv.forget(spec)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--stores", default="local,lite,server")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    x, qs = data(args.n, args.dim, args.queries)
    os.environ["QA_MILVUS_COLLECTION"] = "scale"
    rows = {}
    with tempfile.TemporaryDirectory(prefix="milvus-scale-") as tmp:
        for name in args.stores.split(","):
            before = rss_mb()
            if name == "local":
                rows[name] = run_local(x, qs)
                rows[name]["rss_mb"] = rss_mb()
            elif name == "lite":
                rows[name] = run_milvus(str(Path(tmp) / "scale.db"), x, qs)
            elif name == "server":
                sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
                from milvus_servers import ROOT_TOKEN, milvus_server

                os.environ["QA_MILVUS_TOKEN"] = ROOT_TOKEN
                with milvus_server(Path(tmp) / "server") as uri:
                    rows[name] = run_milvus(uri, x, qs)
            rows[name]["rss_growth_mb"] = rows[name]["rss_mb"] - before
            print(name, rows[name], flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines = ["| store | index | ingest rows/s | query p50 ms | query p95 ms | this process's RSS growth MB |",
             "|---|---|---:|---:|---:|---:|"]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['kind']} | {r['ingest_rows_s']:,.0f} | {r['p50']:.1f} | {r['p95']:.1f} | "
                     f"{r['rss_growth_mb']:.0f} |")
    text = (f"{args.n:,} passages, {args.dim}-dim random clustered unit vectors (seed 7), {args.queries} top-50 "
            f"queries, one at a time. Peak RSS of the benchmark process {peak:.0f} MB. Machine: {machine()} "
            "(shared with other jobs while this ran: compare ratios, not absolute numbers).\n\n" + "\n".join(lines))
    publish("milvus-scale", f"## Dense search at {args.n:,} passages per store (benchmarks/milvus_scale.py)",
            text, not args.no_write)


if __name__ == "__main__":
    main()
