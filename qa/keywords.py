"""BM25 over jieba tokens (bm25s), built once by `qa build` and loaded memory-mapped.

Besides scores it answers "how much of this question can keywords see at all?" (`coverage`): the
IDF-weighted share of the question's tokens that occur in the articles. An English question over
Chinese articles has coverage near 0, and fusion then leans on the dense side.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

logging.getLogger("bm25s").setLevel(logging.WARNING)


class KeywordIndex:
    """Owns a bm25s index; `scores` is one sparse-matrix pass, no re-tokenising of the corpus."""

    def __init__(self, retriever) -> None:
        self._bm25 = retriever
        indptr = np.asarray(retriever.scores["indptr"])
        self.num_docs = int(retriever.scores["num_docs"])
        df = np.diff(indptr).astype(np.float64)
        self._idf = np.log(1.0 + (self.num_docs - df + 0.5) / (df + 0.5))
        self._vocab = retriever.vocab_dict

    @classmethod
    def build(cls, token_lists: Sequence[Sequence[str]]) -> KeywordIndex:
        import bm25s

        retriever = bm25s.BM25(k1=1.2, b=0.75)
        # An empty document still needs a token for bm25s; "" is its reserved empty token.
        retriever.index([list(t) or [""] for t in token_lists], show_progress=False)
        return cls(retriever)

    def save(self, folder: Path) -> None:
        self._bm25.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> KeywordIndex:
        import bm25s

        return cls(bm25s.BM25.load(str(folder), mmap=True, show_progress=False))

    def _ids(self, tokens: Sequence[str]) -> list[int]:
        return [self._vocab[t] for t in dict.fromkeys(tokens) if t and t in self._vocab]

    def scores(self, tokens: Sequence[str], mask: np.ndarray | None = None) -> np.ndarray:
        """BM25 score of every document (0 where nothing matches)."""
        ids = self._ids(tokens)
        if not ids:
            return np.zeros(self.num_docs, np.float32)
        weights = None if mask is None else mask.astype(np.float32)
        return np.asarray(self._bm25.get_scores(ids, weight_mask=weights), np.float32)

    def coverage(self, tokens: Sequence[str]) -> float:
        """Share of the question's distinct tokens that occur anywhere in the articles (0..1)."""
        unique = [t for t in dict.fromkeys(tokens) if t]
        if not unique:
            return 0.0
        return sum(t in self._vocab for t in unique) / len(unique)

    def idf(self, tokens: Sequence[str]) -> dict[str, float]:
        """IDF of each known token (for marking the question's rarer words in the page)."""
        return {t: float(self._idf[self._vocab[t]]) for t in tokens if t in self._vocab}
