"""Sentence vectors kept for the process, per model: the search's best-sentence re-scoring (qa/sentencerank.py)
and the evidence step (qa/evidence.py) embed the same sentences of the same top passages, so each sentence is
embedded once per model (an English question's e5 sentence vectors cost an answer ~0.4 s over passages not seen
before: benchmarks/sentence_cost.py).

An LRU of CAPACITY sentences (about 30-40 MB of float32 at e5's 384 and USE's 512 dimensions); thread-safe.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

CAPACITY = 20_000


class SentenceVectors:
    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._vectors: OrderedDict[tuple[int, str], np.ndarray] = OrderedDict()
        self._models: dict[int, object] = {}  # kept alive, so that an id is never reused for another model
        self._lock = threading.Lock()

    def get(self, model, texts: Sequence[str]) -> np.ndarray:
        """Rows of `model`'s document vectors of `texts`, embedding the ones not kept in one batch."""
        key = id(model)
        with self._lock:
            self._models[key] = model
            missing = [t for t in dict.fromkeys(texts) if (key, t) not in self._vectors]
        fresh = dict(zip(missing, model.embed_documents(missing))) if missing else {}
        with self._lock:
            self._vectors.update(((key, t), v) for t, v in fresh.items())
            rows = []
            for t in texts:
                v = self._vectors.get((key, t))
                if v is not None:
                    self._vectors.move_to_end((key, t))
                rows.append(v if v is not None else fresh.get(t))
            while len(self._vectors) > self.capacity:
                self._vectors.popitem(last=False)
        late = [i for i, v in enumerate(rows) if v is None]  # evicted by another thread between the two steps
        if late:
            for i, v in zip(late, model.embed_documents([texts[i] for i in late])):
                rows[i] = v
        return np.stack(rows).astype(np.float32, copy=False) if rows else np.zeros((0, model.dim), np.float32)

    def held(self, model) -> set[str]:
        """The texts whose vectors by `model` are kept (tests: what was embedded, and by which model)."""
        with self._lock:
            return {t for k, t in self._vectors if k == id(model)}


SHARED = SentenceVectors()
