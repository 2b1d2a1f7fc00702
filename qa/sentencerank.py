"""A question in another language than the articles: its top passages re-scored by their best sentence.

A passage's vector averages all its sentences, so a German or Arabic question whose answer is one sentence of a
long Chinese paragraph scores that paragraph like its neighbours; the sentence itself scores much closer. For a
question whose words are never in the articles (qa/query.py keywords_apply: the keyword side cannot help), the
dense top TOP passages get SHARE x their best sentence's cosine + (1 - SHARE) x their own; the passages below
them move by the mean change of those TOP, so the list keeps one scale for the fusion's gate. Chinese questions
are not touched (no cost; their gain was +.003). Measured on the dev half of xquad-5lang-to-zh and xquad-en2zh
(benchmarks/sentence_rank.py, benchmarks/README.md "A passage's best sentence"): TOP 10 and SHARE 0.5.

Only models measured get it (MODELS: e5-small carries the gain; use-m3 alone moved little, others were not
measured). Sentence vectors cost one embedding per sentence not seen before (an English answer on the seed index
with nothing cached: 445 -> 826 ms, benchmarks/sentence_cost.py); they are kept per model (qa/sentencevectors.py)
and the evidence step reuses them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .embedding import Embedder
from .sentencevectors import SHARED, SentenceVectors
from .text import MIN_SENTENCE, sentences

TOP = 10
SHARE = 0.5
MODELS = ("e5-small", "e5-small+use-m3")


def passage_sentences(text: str) -> list[str]:
    """The sentences scored for a passage: those the evidence step quotes from (MIN_SENTENCE characters or more,
    so both embed the same texts and share their vectors), else the passage itself."""
    out = [s for s, _, _ in sentences(text) if len(s) >= MIN_SENTENCE]
    return out or [text]


class SentenceRanker:
    """Re-scores a dense candidate list by each passage's best sentence; safe to share between threads."""

    def __init__(self, embedder: Embedder, top: int = TOP, share: float = SHARE,
                 store: SentenceVectors = SHARED) -> None:
        self.embedder = embedder
        self.top = top
        self.share = share
        self.store = store

    def _vectors(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Each passage's sentence vectors (rows), as the index's model embeds documents. A combined model's
        parts are kept apart (the evidence step reuses e5's and USE's sentence vectors) and joined here."""
        pieces = [passage_sentences(t) for t in texts]
        flat = [s for p in pieces for s in p]
        parts = getattr(self.embedder, "parts", None)
        if parts and hasattr(self.embedder, "join"):
            rows = self.embedder.join([self.store.get(p, flat) for p in parts])
        else:
            rows = self.store.get(self.embedder, flat)
        out, at = [], 0
        for p in pieces:
            out.append(rows[at:at + len(p)])
            at += len(p)
        return out

    def rescore(self, vec: np.ndarray, dense: dict[int, float],
                texts: Callable[[list[int]], list[str]]) -> dict[int, float]:
        """`dense` (row -> cosine) with its top `top` rows mixed with their best sentence's cosine to `vec` and
        the rest shifted by those rows' mean change. `texts(rows)` reads the passages."""
        if not dense or self.share <= 0:
            return dict(dense)
        rows = sorted(dense, key=lambda r: (-dense[r], r))[:self.top]
        best = [float((m @ vec).max()) for m in self._vectors(texts(rows))]
        mixed = {r: (1 - self.share) * dense[r] + self.share * b for r, b in zip(rows, best)}
        shift = float(np.mean([mixed[r] - dense[r] for r in rows]))
        return {r: mixed.get(r, s + shift) for r, s in dense.items()}


def applies(model: str) -> bool:
    return model in MODELS
