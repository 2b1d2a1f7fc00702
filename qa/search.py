"""Retrieval over a loaded index: dense (FAISS), keyword (BM25) or hybrid, with source/date filters."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field

import numpy as np

from . import dense, fusion
from .embedding import Embedder
from .errors import IndexError_, InputError
from .query import anchor_scores, keywords_apply
from .storage import StoredIndex
from .text import query_tokens

MODES = ("keyword", "dense", "hybrid")
CANDIDATES = 50  # per side, before fusion


@dataclass(frozen=True)
class Hit:
    rank: int
    row: int
    chunk_id: str
    article_id: str
    title: str
    source: str | None
    date: str | None
    url: str | None
    paragraph: int
    paragraphs: tuple[int, ...]
    text: str
    score: float  # fused score in [0, 1] (hybrid), cosine (dense) or BM25 (keyword)
    dense_score: float | None = None  # cosine similarity to the question, when computed
    keyword_score: float | None = None

    def as_json(self) -> dict:
        """The stable `qa ask --json` result object (keys are a contract: extend, never rename)."""
        return {"rank": self.rank, "chunk_id": self.chunk_id, "article_id": self.article_id,
                "title": self.title, "source": self.source, "date": self.date, "url": self.url,
                "paragraph": self.paragraph, "paragraphs": list(self.paragraphs), "text": self.text,
                "score": round(float(self.score), 4),
                "dense_score": None if self.dense_score is None else round(float(self.dense_score), 4),
                "keyword_score": None if self.keyword_score is None else round(float(self.keyword_score), 4)}


@dataclass(frozen=True)
class Filters:
    source: str | None = None
    since: str | None = None  # yyyy-mm-dd, inclusive
    until: str | None = None

    def __post_init__(self) -> None:
        for name in ("since", "until"):
            value = getattr(self, name)
            if value:
                try:
                    dt.date.fromisoformat(value)
                except ValueError:
                    raise InputError(f"--{name} {value!r} is not a date: use YYYY-MM-DD, e.g. 2024-07-01") from None

    def active(self) -> bool:
        return bool(self.source or self.since or self.until)


@dataclass
class Retriever:
    """Owns a loaded index and the embedder that built it; safe to share between threads."""

    index: StoredIndex
    embedder: Embedder
    _meta: dict = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        built = self.index.manifest.get("model", {})
        if built and built != self.embedder.identity():
            raise IndexError_(
                f"{self.index.folder.parent} was built with model {built.get('model')!r} "
                f"({built.get('backend', 'sentence-transformers')}) but {self.embedder.name!r} is selected: "
                f"run `qa build` to rebuild it, or select {built.get('model')!r} (--model / QA_MODEL)")
        cols = self.index.columns
        self._sources = np.array([s.casefold() for s in cols.sources.tolist()], dtype=str)

    def __len__(self) -> int:
        return len(self.index.columns.article_of)

    def prefault(self) -> int:
        """Map the memory-mapped indexes' pages in now rather than during the first questions."""
        return dense.prefault(self.index.faiss_index) + self.index.keywords.prefault()

    def mask(self, filters: Filters) -> np.ndarray | None:
        """Which passages the filters keep: decided per article, then spread to its passages."""
        if not filters.active():
            return None
        cols = self.index.columns
        keep = np.ones(len(cols.article_ids), bool)
        if filters.source:
            keep &= np.char.find(self._sources, filters.source.casefold()) >= 0
        if filters.since:
            keep &= (cols.dates != "") & (cols.dates >= filters.since)
        if filters.until:
            keep &= (cols.dates != "") & (cols.dates <= filters.until)
        return keep[cols.article_of]

    def embed_query(self, question: str) -> np.ndarray:
        return self.embedder.embed_queries([question])[0]

    def search(self, question: str, k: int = 5, mode: str = "hybrid", filters: Filters | None = None,
               query_vector: np.ndarray | None = None, stats: dict | None = None) -> list[Hit]:
        """Top-k hits. `stats`, when given, receives `dense_top`: the best dense scores, best first
        (the abstention signal needs them; searching again for them would double the dense cost)."""
        if mode not in MODES:
            raise InputError(f"search mode {mode!r} is unknown: use one of {', '.join(MODES)}")
        if k < 1:
            raise InputError(f"k={k}: ask for at least 1 passage")
        filters = filters or Filters()
        allowed = self.mask(filters)
        if allowed is not None and not allowed.any():
            return []
        n = max(CANDIDATES, k)
        dense_scores: dict[int, float] = {}
        keyword_scores: dict[int, float] = {}
        coverage = 0.0
        if mode in ("dense", "hybrid"):
            vec = self.embed_query(question) if query_vector is None else query_vector
            scores, rows = dense.search(self.index.faiss_index, vec, n, allowed)
            dense_scores = dict(zip(rows.tolist(), scores.tolist()))
            if stats is not None:
                stats["dense_top"] = scores.tolist()
        if mode in ("keyword", "hybrid"):
            toks = query_tokens(question)
            coverage = self.index.keywords.coverage(toks) if keywords_apply(question) or mode == "keyword" else 0.0
            all_scores = self.index.keywords.scores(toks, allowed)
            top = np.argpartition(-all_scores, min(n, len(all_scores) - 1))[:n] if len(all_scores) else []
            keyword_scores = {int(r): float(all_scores[r]) for r in top if all_scores[r] > 0}
        if mode == "dense":
            ranked = sorted(dense_scores.items(), key=lambda x: (-x[1], x[0]))
        elif mode == "keyword":
            ranked = sorted(keyword_scores.items(), key=lambda x: (-x[1], x[0]))
        else:
            ranked = fusion.fuse(dense_scores, keyword_scores, coverage,
                                 anchors=anchor_scores(self.index.keywords, question, allowed, n),
                                 **fusion.profile(self.embedder.name))
        return [self._hit(i + 1, row, score, dense_scores.get(row), keyword_scores.get(row))
                for i, (row, score) in enumerate(ranked[:k])]

    def _hit(self, rank: int, row: int, score: float, d: float | None, kw: float | None) -> Hit:
        c = self.index.chunks[row]
        a = self.index.articles[c["article_id"]]
        return Hit(rank, row, c["id"], c["article_id"], a["title"], a.get("source"), a.get("date"), a.get("url"),
                   c["paragraphs"][0], tuple(c["paragraphs"]), c["text"], score, d, kw)
