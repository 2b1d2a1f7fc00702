"""Retrieval over a loaded index: dense (FAISS), keyword (BM25) or hybrid, with source/date filters."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import fusion, sentencerank, syndication, timeexpr
from .embedding import Embedder
from .errors import IndexError_, InputError
from .query import anchor_scores, keywords_apply
from .storage import StoredIndex
from .store.base import Store
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
    copies: tuple[dict, ...] = ()  # the same story published by other outlets (syndication.fold)

    def as_json(self) -> dict:
        """The stable `qa ask --json` result object (keys are a contract: extend, never rename)."""
        return {"rank": self.rank, "chunk_id": self.chunk_id, "article_id": self.article_id,
                "title": self.title, "source": self.source, "date": self.date, "url": self.url,
                "paragraph": self.paragraph, "paragraphs": list(self.paragraphs), "text": self.text,
                "score": round(float(self.score), 4),
                "dense_score": None if self.dense_score is None else round(float(self.dense_score), 4),
                "keyword_score": None if self.keyword_score is None else round(float(self.keyword_score), 4),
                "copies": [dict(c) for c in self.copies]}


@dataclass(frozen=True)
class Filters:
    source: str | None = None
    since: str | None = None  # YYYY-MM-DD, inclusive
    until: str | None = None

    def __post_init__(self) -> None:
        # Dates are stored as YYYY-MM-DD and compared as text, so a filter must be exactly that form:
        # `20240101` or `2024-W01-1` (ISO forms Python also parses) compared as text matched nothing or
        # everything. They are parsed to a date and written back as YYYY-MM-DD, so every ISO form works.
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise InputError(f"--{name} {value!r} is not a date: use YYYY-MM-DD, e.g. 2024-07-01")
            if value and value.strip():
                object.__setattr__(self, name, _iso_day(name, value.strip()))
            elif value is not None:
                object.__setattr__(self, name, None)

    def active(self) -> bool:
        return bool(self.source or self.since or self.until)


def _iso_day(name: str, value: str) -> str:
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        try:
            day = dt.datetime.fromisoformat(value).date()  # 2024-07-01T08:00 is that day
        except ValueError:
            raise InputError(f"--{name} {value!r} is not a date: use YYYY-MM-DD, e.g. 2024-07-01") from None
    return day.isoformat()


@dataclass
class Retriever:
    """Owns a loaded index and the embedder that built it; safe to share between threads.

    `index` is a local `StoredIndex` or any `qa.store.Store`; searches go through `self.store`."""

    index: StoredIndex | Store
    embedder: Embedder
    _meta: dict = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.index, Store):
            self.store = self.index
        else:
            from .store.local import LocalStore

            self.store = LocalStore(self.index, self.mask)
        built = self.index.manifest.get("model", {})
        if built and built != self.embedder.identity():
            raise IndexError_(
                f"{self.store.label} was built with model {built.get('model')!r} "
                f"({built.get('backend', 'sentence-transformers')}) but {self.embedder.name!r} is selected: "
                f"run `qa build` to rebuild it, or select {built.get('model')!r} (--model / QA_MODEL)")
        # A question in another language than the articles: top passages re-scored by their best sentence.
        self._sentences = sentencerank.SentenceRanker(self.embedder) \
            if sentencerank.applies(self.embedder.name) else None
        if not isinstance(self.index, Store):
            cols = self.index.columns
            self._sources = np.array([s.casefold() for s in cols.sources.tolist()], dtype=str)

    def __len__(self) -> int:
        return len(self.store)

    def prefault(self) -> int:
        """Map the memory-mapped indexes' pages in now rather than during the first questions."""
        return self.store.prefault()

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
               query_vector: np.ndarray | None = None, stats: dict | None = None,
               today: dt.date | None = None) -> list[Hit]:
        """Top-k hits. `stats`, when given, receives `dense_top`: the best dense scores, best first
        (the abstention signal needs them; searching again for them would double the dense cost), and
        `time`: the question's TimeScope when it names a time ("去年", "latest"; relative to `today`)."""
        if mode not in MODES:
            raise InputError(f"search mode {mode!r} is unknown: use one of {', '.join(MODES)}")
        if k < 1:
            raise InputError(f"k={k}: ask for at least 1 passage")
        filters = filters or Filters()
        n = max(CANDIDATES, k)
        scope = timeexpr.parse(question, today)
        if stats is not None and scope is not None:
            stats["time"] = scope
        cache: dict[int, dict] = {}

        def read(rows: list[int]) -> list[dict]:  # each passage read from the store once, in one call per step
            todo = [r for r in dict.fromkeys(rows) if r not in cache]
            if todo:
                cache.update(zip(todo, self.store.passages(todo)))
            return [cache[r] for r in rows]

        def chunk(row: int) -> dict:
            return read([row])[0]

        ranked, dense_scores, keyword_scores = self._ranked(question, query_vector, mode, filters, n, scope, stats,
                                                            read)
        if scope is not None and scope.topic and ranked:  # "X当天，Y…": Y alone too, the two rankings averaged
            alone, _, _ = self._ranked(scope.topic, None, mode, filters, n, None, None, read)
            ranked = _mean(ranked, alone)
        if scope is not None and ranked:  # time: passages dated inside the range move up (soft, never removed)
            read([row for row, _ in ranked])
            scale = {"hybrid": 1.0, "dense": 0.2}.get(mode, ranked[0][1])
            ranked = timeexpr.prefer(ranked, scope, lambda r: self._dates(chunk(r)), scale)
        read([row for row, _ in ranked[:k]])  # the hits' passages in one call (a round trip each on a server)
        if k > 1 and len(ranked) > 1:  # one story's near-identical paragraphs from two articles: one card, not two
            ranked = syndication.diversify(ranked, lambda r: chunk(r)["text"], lambda r: chunk(r)["article_id"],
                                           min(k, 5))
        ranked = ranked[:k]
        return [self._hit(i + 1, row, chunk(row), score, dense_scores.get(row), keyword_scores.get(row))
                for i, (row, score) in enumerate(ranked)]

    def _ranked(self, question: str, query_vector: np.ndarray | None, mode: str, filters: Filters, n: int,
                scope: timeexpr.TimeScope | None, stats: dict | None, read: Callable[[list[int]], list[dict]]
                ) -> tuple[list[tuple[int, float]], dict[int, float], dict[int, float]]:
        """One text's ranking before the time preference, with the dense and keyword scores it came from.
        `read(rows)`: the search's passages (read once, shared with the hits)."""
        dense_scores: dict[int, float] = {}
        keyword_scores: dict[int, float] = {}
        coverage = 0.0
        if mode in ("dense", "hybrid"):
            vec = self.embed_query(question) if query_vector is None else query_vector
            scores, rows = self.store.dense(vec, n, filters)
            dense_scores = dict(zip(rows.tolist(), scores.tolist()))
            if stats is not None:
                stats["dense_top"] = scores.tolist()
        # The hits keep their passages' own cosines (the abstention rule reads them); only the ranking moves.
        ranking_dense = dense_scores
        if dense_scores and self._sentences is not None and not keywords_apply(question):
            ranking_dense = self._sentences.rescore(
                vec, dense_scores, lambda rows: [c["text"] for c in read(rows)])
        if mode in ("keyword", "hybrid"):
            text = f"{question} {scope.resolved}" if scope and scope.resolved else question
            toks = query_tokens(text)
            coverage = self.store.coverage(toks) if keywords_apply(question) or mode == "keyword" else 0.0
            keyword_scores = self.store.keyword(text, toks, n, filters)
        if mode == "dense":
            ranked = sorted(ranking_dense.items(), key=lambda x: (-x[1], x[0]))
        elif mode == "keyword":
            ranked = sorted(keyword_scores.items(), key=lambda x: (-x[1], x[0]))
        else:
            ranked = fusion.fuse(ranking_dense, keyword_scores, coverage,
                                 anchors=anchor_scores(self.store, question, filters, n),
                                 **fusion.profile(self.embedder.name))
        return ranked, dense_scores, keyword_scores

    def _dates(self, c: dict) -> list[timeexpr.Range]:
        """A passage's date: its article's, else the dates its text states (chronoqa's passages have only those)."""
        day = self.store.articles[c["article_id"]].get("date")
        try:
            d = dt.date.fromisoformat(str(day)[:10]) if day else None
        except ValueError:
            d = None
        return [(d, d)] if d else timeexpr.passage_dates(c["text"])

    def _hit(self, rank: int, row: int, c: dict, score: float, d: float | None, kw: float | None) -> Hit:
        a = self.store.articles[c["article_id"]]
        return Hit(rank, row, c["id"], c["article_id"], a["title"], a.get("source"), a.get("date"), a.get("url"),
                   c["paragraphs"][0], tuple(c["paragraphs"]), c["text"], score, d, kw, tuple(a.get("copies", ())))


def _mean(a: list[tuple[int, float]], b: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """Two rankings' scores averaged (a passage one of them did not find counts 0 there), best first.
    Chosen over reciprocal-rank fusion on chronoqa's "X当天，Y…" questions: as good, and the scores keep the
    scale the time preference and the evidence step read (benchmarks/README.md, "searches Y alone too")."""
    score: dict[int, float] = {}
    for ranked in (a, b):
        for row, s in ranked:
            score[row] = score.get(row, 0.0) + s / 2
    return sorted(score.items(), key=lambda x: (-x[1], x[0]))
