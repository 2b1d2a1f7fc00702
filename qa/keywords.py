"""BM25 over jieba tokens (bm25s), built once by `qa build` and loaded memory-mapped.

Besides scores it answers "how much of this question can keywords see at all?" (`coverage`): the
IDF-weighted share of the question's tokens that occur in the articles. An English question over
Chinese articles has coverage near 0, and fusion then leans on the dense side.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

logging.getLogger("bm25s").setLevel(logging.WARNING)
K1, B = 1.2, 0.75  # bm25s defaults (Lucene)


class TokenTable:
    """Every passage's tokens as ids into `vocab`, passage after passage: what BM25 is built from.

    Stored with each generation (`tokens/`: two .npy files and a JSON word list), so an incremental
    build takes the tokens of unchanged passages as array slices instead of re-reading and re-mapping
    strings (at 23k passages that was 1.4 s of a 5 s one-article rebuild).
    """

    def __init__(self, ids: np.ndarray, offsets: np.ndarray, vocab: list[str]) -> None:
        self.ids, self.offsets, self.vocab = ids, offsets, vocab

    @classmethod
    def from_lists(cls, token_lists: Sequence[Sequence[str]]) -> TokenTable:
        builder = TokenTableBuilder()
        for toks in token_lists:
            builder.add(toks)
        return builder.finish()

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def row(self, i: int) -> np.ndarray:
        return self.ids[self.offsets[i]:self.offsets[i + 1]]

    def tokens(self, i: int) -> list[str]:
        return [self.vocab[t] for t in self.row(i).tolist()]

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "ids.npy", self.ids, allow_pickle=False)
        self._save_rest(folder, self.offsets, self.vocab)

    @staticmethod
    def _save_rest(folder: Path, offsets: np.ndarray, vocab: list[str]) -> None:
        """Everything but the ids (which a build's TokenTableBuilder writes in place)."""
        np.save(folder / "offsets.npy", offsets, allow_pickle=False)
        (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> TokenTable:
        ids = np.load(folder / "ids.npy", mmap_mode="r", allow_pickle=False)
        offsets = np.load(folder / "offsets.npy", allow_pickle=False)
        vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
        if offsets.ndim != 1 or len(offsets) < 1 or offsets[0] != 0 or offsets[-1] != len(ids) or \
                not isinstance(vocab, list) or (len(ids) and int(ids.max()) >= len(vocab)):
            raise ValueError(f"{folder} is inconsistent: its offsets, ids and word list disagree")
        return cls(ids, offsets, vocab)


class TokenTableBuilder:
    """A new table from rows of a previous one (reused as slices) and new passages' tokens, in order.

    New tokens arrive as ids in blocks (`feed`, `add`) and are placed in the order `add_new` and
    `add_previous` are called; `finish` writes every passage once and renumbers in place. With a
    `folder` (a build's), new ids go to a file as they come and the table is written there and loaded
    memory-mapped: a million passages' ids (~1 GB) never sit in memory.
    """

    RENUMBER = 1 << 22  # ids renumbered this many at a time

    def __init__(self, previous: TokenTable | None = None, folder: Path | None = None) -> None:
        self._prev = previous
        self._vocab: list[str] = list(previous.vocab) if previous else []
        self._term_ids: dict[str, int] | None = None  # made on the first new tokens only
        self._pieces: list[list[int] | int] = []  # [first, last + 1) previous rows, or a count of new passages
        self._folder = folder
        self._blocks: list[np.ndarray] = []  # new passages' ids, in memory (without a folder)
        self._lengths: list[np.ndarray] = []  # new passages' token counts, per block
        self._spill = None
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)  # a killed build's
            folder.mkdir(parents=True)
            self._spill = open(folder / "new-ids.bin", "wb")  # noqa: SIM115 - closed by finish
        self._fed = self._placed = 0

    def _ids(self) -> dict[str, int]:
        if self._term_ids is None:
            self._term_ids = {t: i for i, t in enumerate(self._vocab)}
        return self._term_ids

    def feed(self, words: Sequence[str], local: np.ndarray, lengths: np.ndarray) -> None:
        """New passages' tokens (placed later by `add_new`): `local` indexes `words`, `lengths` per passage."""
        ids, vocab = self._ids(), self._vocab
        remap = np.empty(len(words), np.int32)
        for k, w in enumerate(words):
            i = ids.get(w)
            if i is None:
                i = ids[w] = len(vocab)
                vocab.append(w)
            remap[k] = i
        if self._spill is not None:
            self._spill.write(remap[local].tobytes())
        else:
            self._blocks.append(remap[local])
        self._lengths.append(np.asarray(lengths, np.int64))
        self._fed += len(lengths)

    def add_new(self) -> None:
        """Place the next fed passage."""
        if self._placed == self._fed:
            raise ValueError("add_new: every fed passage is placed already")
        self._placed += 1
        if self._pieces and isinstance(self._pieces[-1], int):
            self._pieces[-1] += 1
        else:
            self._pieces.append(1)

    def add(self, toks: Sequence[str]) -> None:
        """One new passage, placed now."""
        words = list(dict.fromkeys(toks))
        at = {w: k for k, w in enumerate(words)}
        self.feed(words, np.fromiter(map(at.__getitem__, toks), np.int32, len(toks)), np.array([len(toks)]))
        self.add_new()

    def add_previous(self, row: int) -> None:
        assert self._prev is not None
        last = self._pieces[-1] if self._pieces else None
        if isinstance(last, list) and last[1] == row:  # runs of unchanged passages become one slice
            last[1] = row + 1
        else:
            self._pieces.append([row, row + 1])

    def _new_ids(self) -> np.ndarray:
        if self._spill is None:
            return np.concatenate(self._blocks) if self._blocks else np.zeros(0, np.int32)
        self._spill.close()
        path = Path(self._spill.name)
        return np.memmap(path, np.int32, "r") if path.stat().st_size else np.zeros(0, np.int32)

    def finish(self) -> TokenTable:
        """The table; words no passage uses any more are dropped and the ids renumbered."""
        if self._placed != self._fed:
            raise ValueError(f"{self._fed - self._placed} fed passages were never placed")
        prev_ids = np.asarray(self._prev.ids) if self._prev else None  # a plain view: memmap slices are slow
        prev_off = self._prev.offsets if self._prev else None
        new_ids = self._new_ids()
        new_off = np.zeros(self._fed + 1, np.int64)
        if self._lengths:
            np.cumsum(np.concatenate(self._lengths), out=new_off[1:])
        n = sum(p[1] - p[0] if isinstance(p, list) else p for p in self._pieces)
        total = sum(int(prev_off[p[1]] - prev_off[p[0]]) for p in self._pieces if isinstance(p, list)) + len(new_ids)
        if self._folder is not None and total:
            ids = np.lib.format.open_memmap(self._folder / "ids.npy", "w+", np.int32, (total,))
        else:
            ids = np.empty(total, np.int32)
        offsets = np.zeros(n + 1, np.int64)
        at = row = nxt = 0  # next token, next passage, next new passage
        for piece in self._pieces:
            a, b, src, off = (piece[0], piece[1], prev_ids, prev_off) if isinstance(piece, list) else \
                (nxt, nxt + piece, new_ids, new_off)
            lo, hi = int(off[a]), int(off[b])
            ids[at:at + hi - lo] = src[lo:hi]
            offsets[row + 1:row + 1 + b - a] = off[a + 1:b + 1] - lo + at
            at, row = at + hi - lo, row + b - a
            if not isinstance(piece, list):
                nxt = b
        self._pieces, self._blocks = [], []
        del new_ids
        used = np.bincount(ids, minlength=len(self._vocab)) > 0
        vocab = self._vocab
        if not used.all():
            remap = (np.cumsum(used) - 1).astype(np.int32)
            for s in range(0, total, self.RENUMBER):
                ids[s:s + self.RENUMBER] = remap[ids[s:s + self.RENUMBER]]
            vocab = [t for t, u in zip(vocab, used.tolist()) if u]
        table = TokenTable(ids, offsets, vocab)
        if self._folder is None:
            return table
        (self._folder / "new-ids.bin").unlink()
        if isinstance(ids, np.memmap):
            ids.flush()
            TokenTable._save_rest(self._folder, offsets, vocab)
            del table, ids
        else:
            table.save(self._folder)  # (nothing to map: an empty table)
        return TokenTable.load(self._folder)


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
