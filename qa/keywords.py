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

from .tokentable import TokenTable

logging.getLogger("bm25s").setLevel(logging.WARNING)
K1, B = 1.2, 0.75  # bm25s defaults (Lucene)
BM25_BLOCK = 1 << 22  # tokens per block of whole passages while the score matrix is built (~100 MB of temporaries)


def _bm25_matrix(ids: np.ndarray, offsets: np.ndarray, n_vocab: int, block: int | None = None,
                 empty: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """bm25s's Lucene BM25 score matrix (CSC: a column per word, rows sorted), in numpy alone.

    The same arithmetic as bm25s's own build (float64 tf part, Lucene idf, float32 scores) without its
    per-document Python loops, most of a 100k-passage build's BM25 time. tests/test_keywords.py checks
    the scores against bm25s built from the same tokens.

    Built in blocks of whole passages, twice over: the first pass counts each word's passages (its
    column's length), the second writes each block's (word, passage) pairs into their columns. Doing all
    tokens at once held ~8 int64/float64 copies of the token count (a 1.8M-passage build was killed
    by the OOM killer in this step); now it holds the output and one block's temporaries.
    """
    block = block or BM25_BLOCK
    n_docs = len(offsets) - 1
    raw = np.diff(offsets)
    lengths = raw if empty is None else np.maximum(raw, 1)  # `empty`: the word an empty passage holds once
    avg_doc_len = lengths.mean() if n_docs else np.float64("nan")
    cuts = np.unique(np.concatenate(([0], np.searchsorted(offsets, np.arange(block, int(offsets[-1]), block)),
                                     [n_docs]))) if n_docs else np.zeros(1, np.int64)

    def pairs(d0: int, d1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One block's (word, passage) pairs sorted by word then passage, with the term counts."""
        span = d1 - d0
        local = np.repeat(np.arange(span, dtype=np.int64), raw[d0:d1])
        words = np.asarray(ids[offsets[d0]:offsets[d1]], np.int64)
        if empty is not None and len(none := np.flatnonzero(raw[d0:d1] == 0)):
            words, local = np.concatenate((words, np.full(len(none), empty))), np.concatenate((local, none))
        key, tf = np.unique(words * span + local, return_counts=True)
        word, doc = np.divmod(key, span)
        return word, doc + d0, tf

    df = np.zeros(n_vocab, np.int64)
    for d0, d1 in zip(cuts[:-1].tolist(), cuts[1:].tolist()):
        df += np.bincount(pairs(d0, d1)[0], minlength=n_vocab)
    idf = np.zeros(n_vocab, dtype=np.float32)
    seen = df != 0
    idf[seen] = np.log(1 + (n_docs - df[seen] + 0.5) / (df[seen] + 0.5))
    indptr = np.zeros(n_vocab + 1, np.int64)
    np.cumsum(df, out=indptr[1:])
    data = np.zeros(int(indptr[-1]), np.float32)
    indices = np.zeros(int(indptr[-1]), np.int32)
    fill = indptr[:-1].copy()  # per word: where its next pair goes
    for d0, d1 in zip(cuts[:-1].tolist(), cuts[1:].tolist()):
        word, doc, tf = pairs(d0, d1)
        if not len(word):  # a block of empty passages (build gives those a token, a direct caller may not)
            continue
        starts = np.flatnonzero(np.concatenate(([True], word[1:] != word[:-1])))
        runs = np.diff(np.append(starts, len(word)))
        at = fill[word] + (np.arange(len(word)) - np.repeat(starts, runs))  # rank within the word's run
        fill[word[starts]] += runs
        tf = tf.astype(np.float32)
        tfc = tf / (K1 * ((1 - B) + B * lengths[doc] / avg_doc_len) + tf)
        data[at] = (idf[word] * tfc).astype(np.float32)
        indices[at] = doc
    return data, indices, indptr


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
    def build(cls, table: TokenTable) -> KeywordIndex:
        import bm25s

        ids, offsets, vocab = np.asarray(table.ids), table.offsets, list(table.vocab)
        empty = None
        if (np.diff(offsets) == 0).any():  # as in bm25s, an empty passage holds the reserved "" token (length 1)
            if "" not in vocab:
                vocab.append("")
            empty = vocab.index("")  # (given block by block: inserting it copied every id)
        data, indices, indptr = _bm25_matrix(ids, offsets, len(vocab), empty=empty)
        retriever = bm25s.BM25(k1=K1, b=B)
        retriever.scores = {"data": data, "indices": indices, "indptr": indptr, "num_docs": len(offsets) - 1}
        retriever.vocab_dict = {t: i for i, t in enumerate(vocab)}
        retriever.vocab_dict.setdefault("", len(vocab))  # what bm25s's own `index` adds
        retriever.unique_token_ids_set = set(retriever.vocab_dict.values())
        retriever.nonoccurrence_array = None  # only the BM25L/BM25+ variants have one
        return cls(retriever)

    def save(self, folder: Path) -> None:
        self._bm25.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> KeywordIndex:
        import bm25s

        retriever = bm25s.BM25.load(str(folder), mmap=True, show_progress=False)
        _check(retriever, folder)
        return cls(retriever)


    def prefault(self) -> int:
        """Touch every page of the memory-mapped score matrix once (see `dense.prefault`)."""
        touched = 0
        for name in ("data", "indices", "indptr"):
            view = np.asarray(self._bm25.scores[name]).reshape(-1).view(np.uint8)
            int(view[::4096].sum())
            touched += view.nbytes
        return touched

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


def _check(retriever, folder: Path) -> None:
    """Refuse a damaged score matrix at load rather than fail inside a question: same-size garbage in
    these files loaded, then raised IndexError in `get_scores`. One vectorised pass (memory-mapped)."""
    scores, vocab = retriever.scores, retriever.vocab_dict
    data, indices, indptr = (np.asarray(scores[k]) for k in ("data", "indices", "indptr"))
    num_docs = scores["num_docs"]
    n_words = len(indptr) - 1
    word_ids = [i for t, i in vocab.items() if t] if isinstance(vocab, dict) else None
    ok = (indptr.ndim == data.ndim == indices.ndim == 1 and n_words >= 0 and len(data) == len(indices)
          and isinstance(num_docs, int) and num_docs >= 0
          and np.issubdtype(indptr.dtype, np.integer) and np.issubdtype(indices.dtype, np.integer)
          and int(indptr[0]) == 0 and int(indptr[-1]) == len(data) and bool(np.all(np.diff(indptr) >= 0))
          and (not len(indices) or 0 <= int(indices.min()) <= int(indices.max()) < num_docs)
          and bool(np.isfinite(data).all()) and word_ids is not None
          and all(isinstance(i, int) and 0 <= i < n_words for i in word_ids))
    if not ok:
        raise ValueError(f"{folder}: the keyword index is inconsistent (its offsets, passages and words disagree)")
