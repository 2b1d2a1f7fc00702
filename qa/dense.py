"""FAISS: the only module that imports it. Inner product over L2-normalised vectors = cosine.

The index kind follows the size (measured by benchmarks/scale.py, see benchmarks/README.md "Dense search
at scale"): exact flat search while one query stays within its share of the latency budget, HNSW above
that, optionally with 8-bit scalar quantisation of the stored vectors (`SQ8`, a quarter of the memory).
Single queries run FAISS on one thread (faster on 2 cores, and it does not fight the embedding engine's
OpenMP threads); building uses every core.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

FLAT_MAX = 30_000  # above this many vectors, use HNSW: flat p95 stays under ~5 ms up to here (benchmarks/README.md)
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
# efSearch by size (benchmarks/scale.py, 200 queries, recall@10 against exact search): at 100k real use-m3
# vectors 512 gave 0.973, 1024 0.983 (p95 3.7 ms); at 1M, 1024 gave 0.980, 2048 0.987.
HNSW_EF_SEARCH = 1024
HNSW_EF_SEARCH_BIG, BIG = 2048, 500_000
SQ8 = os.environ.get("QA_DENSE_SQ8", "") == "1"  # HNSW over 8-bit codes instead of float32 vectors
KINDS = ("flat", "hnsw", "hnsw-sq8")


def _faiss():
    import logging

    logging.getLogger("faiss.loader").setLevel(logging.WARNING)  # its "Could not load library …" tries are noise
    import faiss

    return faiss


def choose_kind(n: int) -> str:
    if n <= FLAT_MAX:
        return "flat"
    return "hnsw-sq8" if SQ8 else "hnsw"


def ef_search(n: int) -> int:
    return HNSW_EF_SEARCH_BIG if n > BIG else HNSW_EF_SEARCH


def params(kind: str, n: int) -> dict:
    """What the manifest records next to `index_kind`: the size rule and the graph parameters."""
    out = {"flat_max": FLAT_MAX}
    if kind != "flat":
        out.update(hnsw_m=HNSW_M, ef_construction=HNSW_EF_CONSTRUCTION, ef_search=ef_search(n))
    return out


def build(vectors: np.ndarray, kind: str | None = None):
    faiss = _faiss()
    n, dim = vectors.shape
    kind = kind or choose_kind(n)
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind in ("hnsw", "hnsw-sq8"):
        if kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        else:
            index = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_8bit, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = ef_search(n)
    else:
        raise ValueError(f"unknown index kind {kind!r}")
    if n:
        x = np.ascontiguousarray(vectors, np.float32)
        # Loading an index set FAISS to one thread (for queries); building a graph wants every core.
        before = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        try:
            if not index.is_trained:
                index.train(x)
            index.add(x)
        finally:
            faiss.omp_set_num_threads(before)
    return index


def kind_of(index) -> str:
    if not hasattr(index, "hnsw"):
        return "flat"
    storage = _faiss().downcast_index(index.storage)
    return "hnsw-sq8" if isinstance(storage, _faiss().IndexScalarQuantizer) else "hnsw"


def save(index, path: Path) -> None:
    _faiss().write_index(index, str(path))


def load(path: Path):
    """Memory-mapped where FAISS supports it, so start-up does not copy the vectors."""
    faiss = _faiss()
    faiss.omp_set_num_threads(1)
    # IO_FLAG_MMAP_IFC maps flat vectors zero-copy (IO_FLAG_MMAP alone still copies them: measured).
    flag = getattr(faiss, "IO_FLAG_MMAP_IFC", faiss.IO_FLAG_MMAP)
    try:
        index = faiss.read_index(str(path), flag)
    except RuntimeError:
        index = faiss.read_index(str(path))
    if hasattr(index, "hnsw"):
        index.hnsw.efSearch = ef_search(index.ntotal)
    return index


def prefault(index) -> int:
    """Touch every page of a (memory-mapped) index once; returns the bytes touched.

    A graph search reads vectors all over the file: on pages never touched, each read is a page fault,
    which made the first questions after start-up 10x slower than later ones (p95 43 vs 4 ms at 100k).
    Costs ~0.1 s per 250 MB, once, when the app starts.
    """
    faiss = _faiss()
    top = faiss.downcast_index(index)  # a second proxy: `index` keeps owning the C++ object
    arrays = []
    if hasattr(top, "hnsw"):
        arrays.append(top.hnsw.neighbors)
        top = faiss.downcast_index(top.storage)
    if hasattr(top, "codes"):
        arrays.append(top.codes)
    touched = 0
    for a in arrays:
        if a.size():
            view = faiss.rev_swig_ptr(a.data(), a.size()).view(np.uint8)
            int(view[::4096].sum())
            touched += view.nbytes
    return touched


def search(index, query: np.ndarray, k: int, allowed: np.ndarray | None = None
           ) -> tuple[np.ndarray, np.ndarray]:
    """Top-k (scores, row ids) for one query vector; `allowed` is a boolean mask of rows."""
    faiss = _faiss()
    k = min(k, index.ntotal)
    if k <= 0:
        return np.zeros(0, np.float32), np.zeros(0, np.int64)
    params = None
    if allowed is not None:
        ids = np.flatnonzero(allowed).astype(np.int64)
        if ids.size == 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        if hasattr(index, "hnsw") and ids.size <= FLAT_MAX:
            # A graph walk with most nodes filtered out misses results: a small allowed set is searched
            # exactly (it is no bigger than what a flat index would scan anyway).
            scores = index.reconstruct_batch(ids) @ np.asarray(query, np.float32).reshape(-1)
            top = np.argsort(-scores, kind="stable")[:k]
            return scores[top].astype(np.float32), ids[top]
        selector = faiss.IDSelectorBatch(ids)
        params = faiss.SearchParametersHNSW(sel=selector, efSearch=index.hnsw.efSearch) if hasattr(
            index, "hnsw") else faiss.SearchParameters(sel=selector)
    scores, rows = index.search(np.ascontiguousarray(query.reshape(1, -1), np.float32), k, params=params)
    keep = rows[0] >= 0
    return scores[0][keep], rows[0][keep].astype(np.int64)
