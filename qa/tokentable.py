"""The token table: every passage's keyword tokens as int32 ids into one word list, what BM25 is built from.

Kept with each generation (`tokens/`), so an incremental build reuses unchanged passages' ids as slices;
a build writes a new table in its work folder as tokens are cut (TokenTableBuilder), never holding the
archive's ids or token strings in memory at once.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np


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
        used = np.zeros(len(self._vocab), bool)  # in blocks: bincount of int32 ids made an int64 copy of them all
        for s in range(0, total, self.RENUMBER):
            used[ids[s:s + self.RENUMBER]] = True
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
