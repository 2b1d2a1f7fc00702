"""Fusing dense and keyword rankings so that the mix is never worse than its better part.

Plain reciprocal-rank fusion treats both lists as equally trustworthy. They are not: when a question
shares no words with the articles (English over Chinese), the keyword list is noise and RRF halves
quality (DESIGN.md §2). Here each side's scores are scaled over its candidates (dense: min-max,
keyword: divided by the best BM25 score) and mixed with a keyword weight that adapts to the question:

    fused = (1 - w) * dense_norm + w * keyword_norm
    w     = W_MAX * coverage ** POWER * clip(1 - dense_margin / MARGIN_SCALE, 0, 1)

- `coverage`: share of the question's tokens that occur in the articles. English over Chinese
  articles gives ~0, so dense decides; a Chinese question gives ~1.
- `dense_margin`: best minus second-best cosine. When the dense side is clearly sure of its top
  passage (margin ≥ MARGIN_SCALE), keywords cannot overturn it; when it hesitates (e5 cosines bunch
  together, DESIGN.md §2), keywords break the tie. MARGIN_SCALE is in cosine units of e5-small.

Chosen with benchmarks/fusion_sweep.py on the even-numbered questions ("dev" half) of cmrc2018-trial,
drcd-test, xquad-zh and xquad-en2zh, then checked on the odd half ("test"). MRR@10, e5-small, test half:

    set            keyword  dense  RRF    previous (0.5, cov^2)  this
    cmrc2018-trial  .978    .960   .976   .983                   .987
    drcd-test       .956    .854   .925   .941                   .957
    xquad-zh        .950    .933   .964   .968                   .971
    xquad-en2zh     .125    .807   .494   .808                   .808

The grid (436 variants: W_MAX .3-.8, POWER .5-6, min-max / divide-by-max / z-score on either side,
BM25-margin and dense-margin gating, a language gate) is a flat plateau: the best dozen are within
.001 mean MRR of each other. What mattered was a larger keyword share (W_MAX .7, POWER 1) for
traditional-character questions (drcd: dense alone .86, keywords .95), made safe by the dense margin.
Full tables: benchmarks/README.md, "Retrieval quality".

>>> fuse({0: 0.85, 1: 0.80, 2: 0.78}, {}, coverage=0.0)[0][0]   # nothing to match: dense decides
0
>>> fuse({0: 0.85, 1: 0.84, 2: 0.78}, {1: 12.0, 2: 3.0}, coverage=1.0)[0][0]  # both agree on 1
1
>>> fuse({0: 0.95, 1: 0.80, 2: 0.78}, {1: 12.0, 2: 3.0}, coverage=1.0)[0][0]  # dense is sure: it stays
0
"""

from __future__ import annotations

# Tuned on the dev halves of the eval sets with benchmarks/fusion_sweep.py (see benchmarks/README.md).
W_MAX = 0.7
POWER = 1.0
MARGIN_SCALE = 0.1  # cosine gap between dense top-1 and top-2 at which keywords lose their say


def keyword_weight(coverage: float, w_max: float = W_MAX, power: float = POWER,
                   dense_margin: float = 0.0, margin_scale: float = MARGIN_SCALE) -> float:
    gate = max(0.0, min(1.0, 1.0 - dense_margin / margin_scale)) if margin_scale > 0 else 1.0
    return w_max * max(0.0, min(1.0, coverage)) ** power * gate


def _scaled(scores: dict[int, float]) -> dict[int, float]:
    if not scores:
        return {}
    hi, lo = max(scores.values()), min(scores.values())
    if hi <= 0:
        return {r: 0.0 for r in scores}
    if hi == lo:
        return {r: 1.0 for r in scores}
    return {r: (s - lo) / (hi - lo) for r, s in scores.items()}


def _margin(scores: dict[int, float]) -> float:
    top = sorted(scores.values(), reverse=True)[:2]
    return top[0] - top[1] if len(top) == 2 else 0.0


def fuse(dense: dict[int, float], keyword: dict[int, float], coverage: float,
         w_max: float = W_MAX, power: float = POWER,
         margin_scale: float = MARGIN_SCALE) -> list[tuple[int, float]]:
    """Rows ranked by the fused score, best first. Keyword scores ≤ 0 count as no match."""
    keyword = {r: s for r, s in keyword.items() if s > 0}
    w = keyword_weight(coverage, w_max, power, _margin(dense), margin_scale) if keyword else 0.0
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
