"""What a build reuses of the live generation: passages, articles, vectors and token ids.

`Reuse` is what the local build keeps of it: no passage text and no article record, only passage
hash -> row, each file's article rows and each article's passage rows; the rows themselves are read
from the generation's files when an unchanged file needs them, and vectors are copied from
`vectors.npy` with `pread` (not mapped: mapped pages count in the build's memory). `load_previous` is
the older, whole view (every passage and article as dicts), kept for callers that want it;
`previous_vectors` is what a build into Milvus needs (hash -> row, vectors memory-mapped).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import storage
from .errors import IndexError_
from .records import JsonlRows


@dataclass
class Reuse:
    """The live generation for an incremental local build (see the module's doc)."""

    folder: Path
    manifest: dict
    rows: dict[str, int]  # passage hash -> its first row
    by_path: dict[str, list[int]]  # file path -> rows of articles.jsonl read from it
    passages_of: dict[str, list[int]]  # article id -> its passages' rows in chunks.jsonl
    articles: JsonlRows
    chunks: JsonlRows
    tokens: object  # TokenTable | None (format 1: cut again)
    dim: int
    _vector_offset: int
    _fd: int

    @property
    def current_format(self) -> bool:
        return self.manifest.get("format_version") == storage.FORMAT_VERSION

    def file_articles(self, path: str) -> list[dict]:
        return [self.articles[r] for r in self.by_path.get(path, ())]

    def passages(self, article_id: str) -> list[dict]:
        return [self.chunks[r] for r in self.passages_of.get(article_id, ())]

    def vector(self, row: int) -> bytes:
        """Row `row` of vectors.npy as raw float32 bytes."""
        size = self.dim * 4
        return os.pread(self._fd, size, self._vector_offset + row * size)

    def close(self) -> None:
        os.close(self._fd)


def _records(path: Path) -> Iterator[dict]:
    """The records of a generation's jsonl file, one line at a time (blank lines skipped)."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def load_reuse(index_dir: Path) -> Reuse | None:
    """The live generation for reuse by a local build, or None when there is none or it is damaged.
    Reads chunks.jsonl and articles.jsonl once, a line at a time, keeping the maps above."""
    from .tokentable import TokenTable

    try:
        live = _live(index_dir)
        if live is None:
            return None
        gen, manifest = live
        rows: dict[str, int] = {}
        passages_of: dict[str, list[int]] = {}
        count = 0
        for count, c in enumerate(_records(gen / "chunks.jsonl"), 1):
            rows.setdefault(c["hash"], count - 1)
            passages_of.setdefault(c["article_id"], []).append(count - 1)
        by_path: dict[str, list[int]] = {}
        n = 0
        for n, a in enumerate(_records(gen / "articles.jsonl"), 1):
            by_path.setdefault(a["path"], []).append(n - 1)
        vectors = np.load(gen / "vectors.npy", mmap_mode="r", allow_pickle=False)  # the header only
        tokens = TokenTable.load(gen / "tokens") if manifest["format_version"] == storage.FORMAT_VERSION else None
        if count != manifest["counts"]["chunks"] or vectors.shape[0] != count or vectors.ndim != 2 or \
                vectors.dtype != np.dtype("<f4") or not vectors.flags.c_contiguous or \
                (tokens is not None and len(tokens) != count):
            return None
        chunks, articles = JsonlRows(gen / "chunks.jsonl"), JsonlRows(gen / "articles.jsonl")
        if len(chunks) != count or len(articles) != n:
            return None
        fd = os.open(gen / "vectors.npy", os.O_RDONLY)
    except (IndexError_, OSError, ValueError, KeyError, TypeError):
        return None
    return Reuse(gen, manifest, rows, by_path, passages_of, articles, chunks, tokens, int(vectors.shape[1]),
                 int(vectors.offset), fd)


@dataclass
class Previous:
    """What a build reuses from the live generation: passages, articles, vectors (memory-mapped) and
    token ids (None for a generation of format 1, whose tokens are cut again)."""

    folder: Path
    manifest: dict
    chunks: list[dict]
    articles: dict[str, dict]
    vectors: np.ndarray
    tokens: object  # TokenTable | None

    @property
    def current_format(self) -> bool:
        return self.manifest.get("format_version") == storage.FORMAT_VERSION


def load_previous(index_dir: Path) -> Previous | None:
    """The live generation for reuse by a build, or None when there is none or it is damaged.

    Lighter than `load` (no FAISS index, no BM25) and it also reads format 1, so that upgrading newsqa
    re-tokenises an archive but does not embed it again."""
    from .tokentable import TokenTable

    try:
        live = _live(index_dir)
        if live is None:
            return None
        gen, manifest = live
        chunks = storage.read_jsonl(gen / "chunks.jsonl")
        articles = {a["id"]: a for a in storage.read_jsonl(gen / "articles.jsonl")}
        vectors = np.load(gen / "vectors.npy", mmap_mode="r", allow_pickle=False)
        tokens = TokenTable.load(gen / "tokens") if manifest["format_version"] == storage.FORMAT_VERSION else None
        if len(chunks) != manifest["counts"]["chunks"] or vectors.shape[0] != len(chunks) or \
                (tokens is not None and len(tokens) != len(chunks)):
            return None
    except (IndexError_, OSError, ValueError, KeyError, TypeError):
        return None
    return Previous(gen, manifest, chunks, articles, vectors, tokens)


def _live(index_dir: Path) -> tuple[Path, dict] | None:
    """The live generation and its manifest when a build may reuse it (raises OSError/ValueError as read)."""
    gen = storage.current_generation(index_dir)
    if gen is None:
        return None
    manifest = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
    if not isinstance(manifest, dict) or manifest.get("format_version") not in (1, storage.FORMAT_VERSION) \
            or storage.manifest_problem(manifest):
        return None
    for name, size in manifest.get("file_sizes", {}).items():
        if (gen / name).stat().st_size != size:
            return None
    return gen, manifest


def previous_vectors(index_dir: Path) -> tuple[dict, dict[str, int], np.ndarray] | None:
    """(manifest, passage hash -> row, vectors memory-mapped) of the live generation, or None: what a
    build into Milvus reuses. Unlike `load_previous` it keeps no passage text: chunks.jsonl is read a
    line at a time and only the hashes stay, so moving a 1M-passage index holds ~100 MB, not gigabytes."""
    try:
        live = _live(index_dir)
        if live is None:
            return None
        gen, manifest = live
        rows: dict[str, int] = {}
        count = 0
        for count, c in enumerate(_records(gen / "chunks.jsonl"), 1):
            rows.setdefault(c["hash"], count - 1)
        vectors = np.load(gen / "vectors.npy", mmap_mode="r", allow_pickle=False)
        if count != manifest["counts"]["chunks"] or vectors.shape[0] != count:
            return None
    except (IndexError_, OSError, ValueError, KeyError, TypeError):
        return None
    return manifest, rows, vectors
