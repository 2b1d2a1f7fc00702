"""Passages and articles of a loaded index, read from disk when a hit needs them.

Held as Python dicts, a 100k-passage index cost ~350 MB of the app's memory (the limit of issue 5 is
model + 1.5 x vectors + 400 MB). Here only each row's byte offset and a few columns stay in memory:
each passage's article, each article's id, source and date (what filters and hits need); a row is
parsed when a question's hits show it, a handful per question.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import IndexError_

_BLOCK = 8 * 2**20


def line_offsets(path: Path) -> np.ndarray:
    """Start of every line and the end of the last one (int64, lines + 1), read in blocks."""
    starts = [np.zeros(1, np.int64)]
    pos = 0
    with open(path, "rb") as f:
        while block := f.read(_BLOCK):
            ends = np.flatnonzero(np.frombuffer(block, np.uint8) == 10)
            starts.append(ends.astype(np.int64) + pos + 1)
            pos += len(block)
    offsets = np.concatenate(starts)
    if offsets[-1] != pos:  # a last line without its newline
        offsets = np.append(offsets, pos)
    return offsets


class JsonlRows(Sequence):
    """The rows of a .jsonl file as a read-only sequence of dicts; `os.pread` makes it thread-safe."""

    def __init__(self, path: Path, fix: str = "run `qa build`") -> None:
        self.path, self._fix = path, fix
        self._offsets = line_offsets(path)
        self._fd = os.open(path, os.O_RDONLY)

    def __del__(self) -> None:
        fd = getattr(self, "_fd", None)
        if fd is not None:
            os.close(fd)

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"row {i} of {n}")
        start, end = int(self._offsets[i]), int(self._offsets[i + 1])
        line = os.pread(self._fd, end - start, start)
        try:
            return json.loads(line)
        except ValueError as e:
            raise IndexError_(f"{self.path} line {i + 1} is damaged ({e}): {self._fix}") from None

    def __iter__(self) -> Iterator[dict]:
        for i in range(len(self)):
            yield self[i]


class ArticleRows(Mapping):
    """Articles by id, read on demand: `articles.jsonl` rows in the order of `ids`."""

    def __init__(self, rows: Sequence[dict], ids: Sequence[str]) -> None:
        self._rows = rows
        self._row = {a: i for i, a in enumerate(ids)}

    def __getitem__(self, article_id: str) -> dict:
        return self._rows[self._row[article_id]]

    def __iter__(self) -> Iterator[str]:
        return iter(self._row)

    def __len__(self) -> int:
        return len(self._row)


@dataclass
class Columns:
    """What search needs of every passage without reading it: its article (a row of the article
    columns) and each article's id, source and date, as numpy arrays."""

    article_of: np.ndarray  # int32, per passage
    article_ids: np.ndarray  # str, per article, in articles.jsonl order
    sources: np.ndarray  # str ("" when unknown)
    dates: np.ndarray  # str, YYYY-MM-DD ("" when unknown)

    @classmethod
    def from_records(cls, chunks: Sequence[dict], articles: Sequence[dict]) -> Columns:
        row = {a["id"]: i for i, a in enumerate(articles)}
        return cls(np.fromiter((row[c["article_id"]] for c in chunks), np.int32, len(chunks)),
                   np.array([a["id"] for a in articles], dtype=str),
                   np.array([a.get("source") or "" for a in articles], dtype=str),
                   np.array([a.get("date") or "" for a in articles], dtype=str))

    def save(self, path: Path) -> None:
        with open(path, "wb") as f:
            np.savez(f, article_of=self.article_of, article_ids=self.article_ids, sources=self.sources,
                     dates=self.dates)

    @classmethod
    def load(cls, path: Path) -> Columns:
        with np.load(path, allow_pickle=False) as z:
            cols = cls(z["article_of"], z["article_ids"], z["sources"], z["dates"])
        n = len(cols.article_ids)
        if not len(cols.sources) == len(cols.dates) == n or (
                len(cols.article_of) and not 0 <= int(cols.article_of.min()) <= int(cols.article_of.max()) < n):
            raise ValueError(f"{path} is inconsistent: passages point at articles it does not have")
        return cols
