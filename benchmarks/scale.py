"""Dense search at scale: FAISS flat against HNSW from 10k to 1M passages, recall@10 against exact search.

    .venv/bin/python benchmarks/scale.py                 # 10k ... 1M, writes the "scale" section of README.md
    .venv/bin/python benchmarks/scale.py --sizes 10000,50000 --no-write

Vectors: use-m3 (the fast bundled model) vectors of the real news passages, from the disk cache that
`benchmarks/newsdata.py` fills (missing ones are embedded first). The corpus has ~160k passages, so above
the real count the set is topped up with perturbed copies of real vectors, normalise(x + e) with
e Gaussian of norm ~0.6 (cosine ~0.85 to its source): same dimension and norm, clusters around real
passages. Queries: the first sentences of 200 articles that are not in the set, embedded as queries.

Each size: exact flat search (single thread, as the app runs it) and HNSW (the parameters of qa/dense.py)
built once and kept in the cache, searched at several efSearch values; recall@10 is the overlap with
the flat top 10. FLAT_MAX is the largest size at which flat search stays within the budget below.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import newsdata as nd  # noqa: E402
from benchmarks.speed import load_avg, pct, rss_mb  # noqa: E402

FLAT_BUDGET_MS = 5.0  # flat p95 allowed: half of the 10 ms retrieval target (BM25, jieba, fusion need the rest)
REAL_PASSAGES = 110_000
NOISE = 0.6


def real_vectors(eval_dir: Path, cache: Path, log, count: int = REAL_PASSAGES) -> np.ndarray:
    _, passages = nd.articles_for_passages(eval_dir, count)
    unique = list(dict(passages).items())
    return nd.cached_vectors(unique, "use-m3", cache, log=log)


def query_vectors(eval_dir: Path, cache: Path, count: int) -> np.ndarray:
    path = cache / f"scale-queries-first-sentence-{count}.npy"
    if path.is_file():
        return np.load(path)
    from qa.embedding import load_embedder
    from qa.text import sentences

    # the corpus has no titles: the first sentence (<= 60 characters) of articles that are not in the set
    firsts = [next((s for s, _, _ in sentences(a["text"])), a["text"])[:60]
              for a in nd.articles(eval_dir, count, skip=60_000)]
    vecs = load_embedder("use-m3").embed_queries(firsts)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, vecs)
    return vecs


def dataset(real: np.ndarray, n: int) -> np.ndarray:
    if n <= len(real):
        return real[:n]
    rng = np.random.default_rng(42)
    extra = n - len(real)
    out = np.empty((n, real.shape[1]), np.float32)
    out[: len(real)] = real
    for b in range(0, extra, 100_000):
        m = min(100_000, extra - b)
        src = real[rng.integers(0, len(real), m)]
        noise = rng.standard_normal(src.shape).astype(np.float32) * (NOISE / np.sqrt(real.shape[1]))
        v = src + noise
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        out[len(real) + b: len(real) + b + m] = v
    return out


def timed_search(index, queries: np.ndarray, k: int = 10, **params) -> tuple[list[float], np.ndarray]:
    import faiss

    faiss.omp_set_num_threads(1)
    sp = faiss.SearchParametersHNSW(efSearch=params["ef"]) if "ef" in params else None
    for q in queries if "ef" in params else queries[:5]:  # a memory-mapped graph: fault its pages in first
        index.search(q[None], k, params=sp)
    times, rows = [], []
    for q in queries:
        t0 = time.perf_counter()
        _, r = index.search(q[None], k, params=sp)
        times.append((time.perf_counter() - t0) * 1000)
        rows.append(r[0])
    return times, np.array(rows)


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)]))


def hnsw_index(x: np.ndarray, n: int, m: int, efc: int, cache: Path, log, kind: str = "hnsw"):
    import faiss

    from qa import dense

    # the data's fingerprint is in the name: a graph cached over other vectors would fake a low recall
    data = hashlib.sha1(np.ascontiguousarray(x[:: max(1, n // 2000)]).tobytes()).hexdigest()[:10]
    path = cache / f"scale-{kind}-{n}-M{m}-efc{efc}-noise{NOISE}-{data}.faiss"
    if path.is_file():
        t0 = time.perf_counter()
        index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)
        meta = json.loads(path.with_suffix(".json").read_text())
        log(f"  HNSW M={m} efC={efc}: loaded (built earlier in {meta['build_s']:.0f} s)")
        return index, meta["build_s"], meta.get("load", "")
    saved = dense.HNSW_M, dense.HNSW_EF_CONSTRUCTION
    dense.HNSW_M, dense.HNSW_EF_CONSTRUCTION = m, efc
    try:
        t0 = time.perf_counter()
        index = dense.build(x, kind)
        build_s = time.perf_counter() - t0
    finally:
        dense.HNSW_M, dense.HNSW_EF_CONSTRUCTION = saved
    faiss.write_index(index, str(path))
    path.with_suffix(".json").write_text(json.dumps({"build_s": build_s, "load": load_avg()}))
    log(f"  HNSW M={m} efC={efc}: built in {build_s:.0f} s (load {load_avg()})")
    return index, build_s, load_avg()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="flat vs HNSW, 10k to 1M passages")
    ap.add_argument("--eval", type=Path, default=nd.DEFAULT_EVAL)
    ap.add_argument("--cache", type=Path, default=nd.DEFAULT_CACHE)
    ap.add_argument("--sizes", default="10000,25000,50000,100000,1000000")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--ef", default="64,128,256,384,512")
    ap.add_argument("--hnsw", default="32:80,32:80:sq8",
                    help="M:efConstruction[:sq8] for sizes up to 200k, comma separated")
    ap.add_argument("--hnsw-big", default="32:80", help="the same for sizes above 200k ('none': flat only)")
    ap.add_argument("--real", type=int, default=REAL_PASSAGES, help="real passages to use (the rest is perturbed)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)

    import faiss

    from benchmarks.machine import machine, update_section
    from qa import dense

    def log(msg: str) -> None:
        print(msg, flush=True)

    load_start = load_avg()
    real = real_vectors(args.eval, args.cache, log, args.real)
    queries = query_vectors(args.eval, args.cache, args.queries)
    log(f"{len(real)} real use-m3 passage vectors, {len(queries)} query vectors")
    rows = []
    for n in [int(s) for s in args.sizes.split(",")]:
        x = dataset(real, n)
        log(f"[{n:,}] {'real' if n <= len(real) else f'{len(real):,} real + {n - len(real):,} perturbed'}")
        flat = faiss.IndexFlatIP(x.shape[1])
        flat.add(x)
        ft, truth = timed_search(flat, queries)
        del flat
        row = {"n": n, "real": min(n, len(real)), "flat": [pct(ft, 50), pct(ft, 95)], "hnsw": []}
        log(f"  flat: p50 {row['flat'][0]:.2f} ms, p95 {row['flat'][1]:.2f} ms")
        configs = args.hnsw if n <= 200_000 else args.hnsw_big
        for pair in [] if configs == "none" else configs.split(","):
            m, efc, *sq = pair.split(":")
            m, efc, kind = int(m), int(efc), "hnsw-sq8" if sq else "hnsw"
            index, build_s, build_load = hnsw_index(x, n, m, efc, args.cache, log, kind)
            for ef in [int(e) for e in args.ef.split(",")]:
                ht, found = timed_search(index, queries, ef=ef)
                r = recall(found, truth)
                row["hnsw"].append({"m": m, "efc": efc, "ef": ef, "kind": kind, "p50": pct(ht, 50), "p95": pct(ht, 95),
                                    "recall": r, "build_s": build_s, "build_load": build_load})
                log(f"  {kind} M={m} ef={ef}: p50 {pct(ht, 50):.2f} ms, p95 {pct(ht, 95):.2f} ms, recall@10 {r:.3f}")
            del index
        rows.append(row)
        del x
    load_end = load_avg()

    # FLAT_MAX: flat search time grows linearly with n; take the size where its p95 reaches the budget.
    ns = np.array([r["n"] for r in rows], float)
    p95 = np.array([r["flat"][1] for r in rows])
    slope = float(np.sum(ns * p95) / np.sum(ns * ns))  # ms per vector, least squares through 0
    flat_max = int(FLAT_BUDGET_MS / slope // 5000 * 5000) if slope > 0 else dense.FLAT_MAX
    # (a saturated machine inflates flat search several-fold: read this beside the load average printed with it)

    lines = [f"Measured by `benchmarks/scale.py` on {machine()}. Load average at the start {load_start}, at the end "
             f"{load_end}. Vectors: use-m3 (512 dimensions) of {len(real):,} real news passages (disk-cached); "
             f"sizes above that are topped up with perturbed copies of real vectors (normalise(x + e), |e| ≈ {NOISE}, "
             f"cosine ≈ 0.85 to the source): the 1M row is {len(real):,} real + the rest synthetic, so its recall "
             f"is a proxy. Queries: the first sentences of {len(queries)} articles that are not in the set, embedded as queries. "
             "One query at a time, FAISS on one thread, k = 10; recall@10 = overlap with the exact flat top 10.", "",
             "| passages | flat p50 / p95 | HNSW (M, efConstruction) | build | efSearch | HNSW p50 / p95 | recall@10 |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        if not r["hnsw"]:
            star = "" if r["n"] <= r["real"] else " *"
            lines.append(f"| {r['n']:,}{star} | {r['flat'][0]:.2f} / {r['flat'][1]:.2f} ms | not built in this run | | | | |")
        for i, h in enumerate(r["hnsw"]):
            flat = f"{r['flat'][0]:.2f} / {r['flat'][1]:.2f} ms" if i == 0 else ""
            build = f"{h['build_s']:.0f} s" if i == 0 or (h["m"], h["efc"], h.get("kind")) != (
                r["hnsw"][i - 1]["m"], r["hnsw"][i - 1]["efc"], r["hnsw"][i - 1].get("kind")) else ""
            star = "" if r["n"] <= r["real"] else " *"
            sq8 = ", SQ8" if h.get("kind") == "hnsw-sq8" else ""
            lines.append(f"| {r['n']:,}{star} | {flat} | M={h['m']}, efC={h['efc']}{sq8} | {build} | {h['ef']} | "
                         f"{h['p50']:.2f} / {h['p95']:.2f} ms | {h['recall']:.3f} |")
    lines += ["", "\\* includes perturbed copies (see above).", "",
              f"Flat p95 grows by about {slope * 1e5:.1f} ms per 100k vectors. With a "
              f"budget of {FLAT_BUDGET_MS:g} ms for the dense side (half the 10 ms retrieval target) flat stays "
              f"exact up to about {flat_max:,} passages: measured FLAT_MAX = {flat_max:,} (qa/dense.py has "
              f"FLAT_MAX = {dense.FLAT_MAX:,}, HNSW M={dense.HNSW_M}, efConstruction={dense.HNSW_EF_CONSTRUCTION}, "
              f"efSearch={dense.HNSW_EF_SEARCH}, {dense.HNSW_EF_SEARCH_BIG} above {dense.BIG:,}). The manifest's `index_kind` records the choice of each build."]
    text = "\n".join(lines)
    print("\n" + text)
    if not args.no_write:
        update_section("scale", "## Dense search at scale: flat vs HNSW\n\n" + text)
    (args.cache / "scale-results.json").write_text(json.dumps(rows, indent=1))
    print(f"peak RSS {rss_mb('VmHWM'):.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
