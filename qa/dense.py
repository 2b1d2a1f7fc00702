"""FAISS: the only module that imports it. Inner product over L2-normalised vectors = cosine.

The index kind follows the size (measured in benchmarks/, see README): exact flat search while it
is fast enough, HNSW above that. Single queries run FAISS on one thread (faster on 2 cores, and it
does not fight the embedding engine's OpenMP threads).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

FLAT_MAX = 200_000  # above this many vectors, use HNSW (see benchmarks/README.md)
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128


def _faiss():
    import faiss

    return faiss


def choose_kind(n: int) -> str:
    return "flat" if n <= FLAT_MAX else "hnsw"


def build(vectors: np.ndarray, kind: str | None = None):
    faiss = _faiss()
    n, dim = vectors.shape
    kind = kind or choose_kind(n)
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        raise ValueError(f"unknown index kind {kind!r}")
    if n:
        index.add(np.ascontiguousarray(vectors, np.float32))
    return index


def kind_of(index) -> str:
    return "hnsw" if hasattr(index, "hnsw") else "flat"


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
        index.hnsw.efSearch = HNSW_EF_SEARCH
    return index


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
        selector = faiss.IDSelectorBatch(ids)
        params = faiss.SearchParametersHNSW(sel=selector, efSearch=HNSW_EF_SEARCH) if hasattr(
            index, "hnsw") else faiss.SearchParameters(sel=selector)
    scores, rows = index.search(np.ascontiguousarray(query.reshape(1, -1), np.float32), k, params=params)
    keep = rows[0] >= 0
    return scores[0][keep], rows[0][keep].astype(np.int64)
