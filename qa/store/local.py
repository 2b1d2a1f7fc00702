"""The local store: today's files (`qa/storage.py` generation, FAISS, bm25s, records), wrapped unchanged."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from .. import dense
from ..storage import StoredIndex
from .base import DenseHits, Store


class LocalStore(Store):
    """`mask` turns filters into a boolean mask over passages (the Retriever's `mask`, so the filter
    rules live in one place); the last mask is kept because a hybrid search asks twice."""

    def __init__(self, index: StoredIndex, mask: Callable[[object], np.ndarray | None]) -> None:
        self.index = index
        self.label = str(index.folder.parent)
        self.manifest = index.manifest
        self._mask_fn = mask
        self._last: tuple[object, np.ndarray | None] | None = None

    def _mask(self, filters) -> np.ndarray | None:
        if filters is None or not filters.active():
            return None
        if self._last is None or self._last[0] != filters:
            self._last = (filters, self._mask_fn(filters))
        return self._last[1]

    def __len__(self) -> int:
        return len(self.index.columns.article_of)

    def generation(self) -> str:
        return self.index.folder.name

    def dense(self, vector: np.ndarray, n: int, filters=None) -> DenseHits:
        allowed = self._mask(filters)
        if allowed is not None and not allowed.any():
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        return dense.search(self.index.faiss_index, vector, n, allowed)

    def keyword(self, question: str, tokens: Sequence[str], n: int, filters=None) -> dict[int, float]:
        allowed = self._mask(filters)
        if allowed is not None and not allowed.any():
            return {}
        scores = self.index.keywords.scores(tokens, allowed)
        top = np.argpartition(-scores, min(n, len(scores) - 1))[:n] if len(scores) else []
        return {int(r): float(scores[r]) for r in top if scores[r] > 0}

    def coverage(self, tokens: Sequence[str]) -> float:
        return self.index.keywords.coverage(tokens)

    def idf(self, tokens: Sequence[str]) -> dict[str, float]:
        return self.index.keywords.idf(tokens)

    def passages(self, rows: Sequence[int]) -> list[dict]:
        return [self.index.chunks[int(r)] for r in rows]

    def vectors(self, rows: Sequence[int]) -> np.ndarray:
        ids = np.asarray([int(r) for r in rows], np.int64)
        if not len(ids):
            return np.zeros((0, self.index.faiss_index.d), np.float32)
        return np.asarray(self.index.faiss_index.reconstruct_batch(ids), np.float32)

    @property
    def articles(self) -> Mapping[str, dict]:
        return self.index.articles

    def prefault(self) -> int:
        return dense.prefault(self.index.faiss_index) + self.index.keywords.prefault()
