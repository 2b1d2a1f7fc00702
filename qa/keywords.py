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


def _retriever_class():
    """bm25s.BM25 with its per-document Python loops replaced by numpy (the same index, bit for bit).

    bm25s documents `build_index_from_tokens` / `build_index_from_ids` as the places to override. Its
    own versions count terms with a Counter and a set per document: most of a build's BM25 time on a
    100k-passage corpus. Other scoring methods than the Lucene/Robertson ones used here fall back to
    bm25s's code.
    """
    import bm25s

    class FastBM25(bm25s.BM25):
        def build_index_from_tokens(self, corpus_tokens, show_progress=True, leave_progress=False):
            from collections import defaultdict

            vocab: defaultdict[str, int] = defaultdict()
            vocab.default_factory = vocab.__len__  # a new token gets the next id, all in C
            ids = [list(map(vocab.__getitem__, doc)) for doc in corpus_tokens]
            scores = self.build_index_from_ids(list(range(len(vocab))), ids, show_progress, leave_progress)
            return scores, dict(vocab)

        def build_index_from_ids(self, unique_token_ids, corpus_token_ids, show_progress=True,
                                 leave_progress=False):
            if self.method not in ("lucene", "robertson") or self.idf_method not in ("lucene", "robertson") or \
                    self.csc_backend not in ("scipy", "numpy"):
                return super().build_index_from_ids(unique_token_ids, corpus_token_ids, show_progress, leave_progress)
            from itertools import chain

            n_docs, n_vocab = len(corpus_token_ids), len(unique_token_ids)
            lengths = np.fromiter(map(len, corpus_token_ids), np.int64, n_docs)
            avg_doc_len = lengths.mean() if n_docs else np.float64("nan")
            flat = np.fromiter(chain.from_iterable(corpus_token_ids), np.int64, int(lengths.sum()))
            pairs, tf = np.unique(np.repeat(np.arange(n_docs, dtype=np.int64), lengths) * n_vocab + flat,
                                  return_counts=True)  # (document, term) sorted, with the term's count
            doc_idx, vocab_idx = pairs // n_vocab, pairs % n_vocab
            df = np.bincount(vocab_idx, minlength=n_vocab)
            idf = np.zeros(n_vocab, dtype=self.dtype)
            seen = df != 0
            inner = (n_docs - df[seen] + 0.5) / (df[seen] + 0.5)
            idf[seen] = np.log(1 + inner) if self.idf_method == "lucene" else np.log(np.maximum(inner, 1))
            self.nonoccurrence_array = None
            # same float64 arithmetic as bm25s's tf component (its avg length is a numpy float64)
            l_d = lengths[doc_idx]
            tf = tf.astype(self.dtype)
            tfc = tf / (self.k1 * ((1 - self.b) + self.b * l_d / avg_doc_len) + tf)
            scores_flat = (idf[vocab_idx] * tfc).astype(self.dtype)
            doc_idx, vocab_idx = doc_idx.astype(self.int_dtype), vocab_idx.astype(self.int_dtype)
            if self.csc_backend == "scipy":
                import scipy.sparse as sp

                m = sp.csc_matrix((scores_flat, (doc_idx, vocab_idx)), shape=(n_docs, n_vocab), dtype=self.dtype)
                data, indices, indptr = m.data, m.indices, m.indptr
            else:
                data, indices, indptr = self._np_csc(data=scores_flat, rows=doc_idx, cols=vocab_idx,
                                                     shape=(n_docs, n_vocab))
                data = data.astype(self.dtype)
            return {"data": data, "indices": indices, "indptr": indptr, "num_docs": n_docs}

    return FastBM25


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
        retriever = _retriever_class()(k1=1.2, b=0.75)
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
