"""Vectors kept on disk by (model, text hash), in append-only shards.

`qa build` writes every embedded batch here as it goes, so a build that is interrupted resumes
without redoing finished batches; `qa eval` keeps one per model so reruns skip embedding. A shard is
complete once its `.json` list of hashes exists (written after the `.npy`, both via rename).
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
        self._rows: dict[str, np.ndarray] = {}
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
                vectors = np.load(meta.with_suffix(".npy"), allow_pickle=False)
            except (OSError, ValueError):
                continue  # a torn shard from a killed build: its batch is simply embedded again
            if vectors.shape != (len(hashes), self.dim):
                continue
            for h, row in zip(hashes, vectors):
                self._rows[h] = row

    def get(self, text_hash: str) -> np.ndarray | None:
        self._load()
        return self._rows.get(text_hash)

    def __len__(self) -> int:
        self._load()
        return len(self._rows)

    def add(self, hashes: Sequence[str], vectors: np.ndarray) -> None:
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
        for h, row in zip(hashes, vectors):
            self._rows[h] = row
