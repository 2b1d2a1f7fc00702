"""Fusing dense and keyword rankings so that the mix is never worse than its better part.

Plain reciprocal-rank fusion treats both lists as equally trustworthy. They are not: when a question
shares no words with the articles (English over Chinese), the keyword list is noise and RRF halves
quality (DESIGN.md §2). Here each side's scores are scaled to [0, 1] over the candidates, and the
keyword side's weight grows with how much of the question it can see (`coverage`):

    fused = (1 - w) * dense_norm + w * keyword_norm,   w = W_MAX * coverage ** POWER

>>> fuse({0: 0.85, 1: 0.80, 2: 0.78}, {}, coverage=0.0)[0][0]   # nothing to match: dense decides
0
>>> fuse({0: 0.85, 1: 0.84, 2: 0.78}, {1: 12.0, 2: 3.0}, coverage=1.0)[0][0]  # both agree on 1
1
"""

from __future__ import annotations

# Tuned on the dev halves of the eval sets with benchmarks/fusion_sweep.py (see benchmarks/README.md).
W_MAX = 0.5
POWER = 2.0


def keyword_weight(coverage: float, w_max: float = W_MAX, power: float = POWER) -> float:
    return w_max * max(0.0, min(1.0, coverage)) ** power


def _scaled(scores: dict[int, float]) -> dict[int, float]:
    if not scores:
        return {}
    hi, lo = max(scores.values()), min(scores.values())
    if hi <= 0:
        return {r: 0.0 for r in scores}
    if hi == lo:
        return {r: 1.0 for r in scores}
    return {r: (s - lo) / (hi - lo) for r, s in scores.items()}


def fuse(dense: dict[int, float], keyword: dict[int, float], coverage: float,
         w_max: float = W_MAX, power: float = POWER) -> list[tuple[int, float]]:
    """Rows ranked by the fused score, best first. Keyword scores ≤ 0 count as no match."""
    keyword = {r: s for r, s in keyword.items() if s > 0}
    w = keyword_weight(coverage, w_max, power) if keyword else 0.0
    if not dense:
        w = 1.0
    d, k = _scaled(dense), {r: s / max(keyword.values()) for r, s in keyword.items()} if keyword else {}
    rows = set(d) | set(k)
    fused = {r: (1 - w) * d.get(r, 0.0) + w * k.get(r, 0.0) for r in rows}
    return sorted(fused.items(), key=lambda x: (-x[1], x[0]))


def rrf(rankings: list[list[int]], k: int = 60) -> list[tuple[int, float]]:
    """Reciprocal-rank fusion, kept as the baseline the benchmarks compare against."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, row in enumerate(ranking):
            scores[row] = scores.get(row, 0.0) + 1.0 / (k + rank + 1)
    return sorted(scores.items(), key=lambda x: (-x[1], x[0]))
