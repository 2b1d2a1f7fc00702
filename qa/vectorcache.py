"""Vectors kept on disk by (model, text hash), in append-only shards.

`qa build` writes every embedded batch here as it goes, so a build that is interrupted resumes
without redoing finished batches; `qa eval` keeps one per model so reruns skip embedding. A shard is
complete once its `.json` list of hashes exists (written after the `.npy`, both via rename).

Memory does not grow with the cache: only a hash -> (shard, row) map is kept (the hash lists are
small), and a shard's vectors are memory-mapped when a row of it is first asked for, so the page
cache, not this process, holds them. A million cached passages cost ~200 MB of map, not 2 GB of vectors.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def model_key(identity: dict) -> str:
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


class VectorCache:
    def __init__(self, folder: Path, dim: int) -> None:
        self.folder = folder
        self.dim = dim
        self._where: dict[str, int] = {}  # hash -> shard number << 32 | row (one int: less memory than a tuple)
        self._paths: list[Path] = []  # shard number -> its .npy
        self._maps: dict[int, np.ndarray] = {}  # shard number -> its vectors, memory-mapped on first use
        self._loaded = False
        self._shards = 0  # shards on disk: counted once, not globbed per batch (that was O(batches²))

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        if not self.folder.is_dir():
            return
        metas = sorted(self.folder.glob("shard-*.json"))
        self._shards = len(metas)
        for meta in metas:
            try:
                hashes = json.loads(meta.read_text())
                vectors = np.load(meta.with_suffix(".npy"), mmap_mode="r", allow_pickle=False)  # the header only
            except (OSError, ValueError):
                continue  # a torn shard from a killed build: its batch is simply embedded again
            if vectors.shape != (len(hashes), self.dim):
                continue
            self._index(hashes, meta.with_suffix(".npy"))

    def _index(self, hashes: Sequence[str], npy: Path) -> None:
        shard = len(self._paths)
        self._paths.append(npy)
        for row, h in enumerate(hashes):
            self._where[h] = shard << 32 | row

    def get(self, text_hash: str) -> np.ndarray | None:
        self._load()
        where = self._where.get(text_hash)
        if where is None:
            return None
        shard, row = where >> 32, where & 0xFFFFFFFF
        vectors = self._maps.get(shard)
        if vectors is None:
            try:
                vectors = self._maps[shard] = np.load(self._paths[shard], mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError):  # removed or cut short since it was listed: embed again
                del self._where[text_hash]
                return None
        return np.array(vectors[row], np.float32)  # a copy: callers may keep it after the map is gone

    def __len__(self) -> int:
        self._load()
        return len(self._where)

    def add(self, hashes: Sequence[str], vectors: np.ndarray, remember: bool = True) -> None:
        """Save a batch as a shard; `remember=False`: on disk only, not looked up by this object (a build
        looks every hash up before it embeds: its map would grow ~170 bytes a passage for nothing)."""
        self._load()
        self.folder.mkdir(parents=True, exist_ok=True)
        stem = self.folder / f"shard-{self._shards:06d}-{os.getpid()}"
        self._shards += 1
        tmp = stem.with_suffix(".npy.tmp")
        with open(tmp, "wb") as f:
            np.save(f, np.asarray(vectors, np.float32), allow_pickle=False)
        os.replace(tmp, stem.with_suffix(".npy"))
        tmp_meta = stem.with_suffix(".json.tmp")
        tmp_meta.write_text(json.dumps(list(hashes)))
        os.replace(tmp_meta, stem.with_suffix(".json"))
        if remember:
            self._index(hashes, stem.with_suffix(".npy"))
