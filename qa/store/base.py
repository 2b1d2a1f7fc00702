"""The store seam: what search and `qa build` need of an index, and nothing more.

Two implementations, one short file each: `local.py` (today's files: FAISS + BM25 + records) and
`milvus.py` (Milvus Lite `.db` or a Milvus server). Fusion, abstention and evidence stay above this seam
and are the same for every store; a store only answers the verbs below.

Rows are int64 ids chosen by the store (the local store's row number, Milvus's primary key); the
filter object is `qa.search.Filters` (duck-typed: `source`, `since`, `until`, `active()`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence

import numpy as np

DenseHits = tuple[np.ndarray, np.ndarray]  # (scores, rows), best first


class Store(ABC):
    """A loaded, searchable index. `manifest` holds the model and settings it was built with."""

    label: str  # what messages name: the index folder or the Milvus URI
    manifest: dict

    @abstractmethod
    def __len__(self) -> int:
        """Passages searchable now."""

    @abstractmethod
    def generation(self) -> str:
        """Changes whenever a build publishes: readers compare it to pick up new builds."""

    @abstractmethod
    def dense(self, vector: np.ndarray, n: int, filters=None) -> DenseHits:
        """Top-n passages by cosine similarity to `vector`, among those the filters keep."""

    @abstractmethod
    def keyword(self, question: str, tokens: Sequence[str], n: int, filters=None) -> dict[int, float]:
        """Top-n passages by BM25 (on the local store's scale), among those the filters keep; only rows
        that match at least one token. `tokens` are `qa.text.query_tokens(question)`."""

    @abstractmethod
    def coverage(self, tokens: Sequence[str]) -> float:
        """Share of the distinct tokens that occur in any passage (0..1): fusion's keyword weight."""

    @property
    def has_keywords(self) -> bool:
        """Whether `keyword`, `coverage` and `idf` work here (Milvus before 2.5 has no BM25: dense only)."""
        return True

    def best_keyword(self, tokens: Sequence[str]) -> float:
        """The top BM25 score of the tokens over every passage (the abstention signal's numerator when the
        search had no keyword side); 0 when none matches or the store has no keyword side."""
        if not tokens or not self.has_keywords:
            return 0.0
        return max(self.keyword(" ".join(tokens), tokens, 1).values(), default=0.0)

    @abstractmethod
    def idf(self, tokens: Sequence[str]) -> dict[str, float]:
        """IDF of each token that occurs (marks the question's rarer words; an abstention signal)."""

    @abstractmethod
    def passages(self, rows: Sequence[int]) -> list[dict]:
        """Passage records (id, article_id, paragraphs, start, end, text, hash) of `rows`, in order."""

    @abstractmethod
    def vectors(self, rows: Sequence[int]) -> np.ndarray:
        """The stored passage vectors of `rows`, in order, shape (len(rows), dim): a follow-up compares the
        question alone with the passage its joined search found."""

    @property
    @abstractmethod
    def articles(self) -> Mapping[str, dict]:
        """Article records by id, read on demand."""

    def prefault(self) -> int:
        """Map a memory-mapped index in before the first question (stores on a server: nothing)."""
        return 0

    def close(self) -> None:  # noqa: B027 - optional: only stores holding connections override it
        """Release connections (a Milvus Lite `.db` admits one process at a time)."""
