"""Fusing dense and keyword rankings so that the mix is never worse than its better part.

Plain reciprocal-rank fusion treats both lists as equally trustworthy. They are not: when a question
shares no words with the articles (English over Chinese), the keyword list is noise and RRF halves
quality (DESIGN.md §2). Here each side's scores are scaled over its candidates (dense: min-max,
keyword: divided by the best BM25 score) and mixed with a keyword weight that adapts to the question:

    fused = (1 - w) * dense_norm + w * keyword_norm
    w     = W_MAX * coverage ** POWER * clip(1 - dense_margin / MARGIN_SCALE, 0, 1)

- `coverage`: share of the question's tokens that occur in the articles. English over Chinese
  articles gives ~0, so dense decides; a Chinese question gives ~1.
- `dense_margin`: best minus second-best cosine, divided by the spread of the dense candidates (best minus
  the worst of the top-50): a share, the same for any model's cosine scale (issue 9.7: in raw cosines
  a gate tuned on e5-small silenced keywords for use-m3, whose cosines spread ~4x wider). When the dense
  side is clearly sure of its top passage, keywords cannot overturn it; when it hesitates, they break the tie.
- W_MAX, POWER and MARGIN_SCALE form a per-model profile (`PROFILES`, looked up by the index's model
  name): how far to trust the dense side depends on how good the model is on Chinese text, which no
  single question's scores reveal (benchmarks/fusion_profiles.py; use-m3 on Chinese questions: keywords
  .89-.99 MRR@10, dense .50-.85). A model not measured gets the keyword-led profile.
- `anchors`: numbers and Latin names of a non-Chinese question, matched literally (qa/query.py).

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

import numpy as np

# The default model's profile. Tuned on the dev halves of the eval sets with benchmarks/fusion_sweep.py in
# e5-small cosine units (a margin of 0.1); 1.35 is that margin over the median spread of e5-small's top-50
# on Chinese questions (0.073-0.076: benchmarks/README.md, "Fusion for every model").
W_MAX = 0.7
POWER = 1.0
GATE = "spread"
MARGIN_SCALE = 1.35  # dense gap (top-1 minus top-2) over the candidates' spread at which keywords lose their say
ANCHOR_WEIGHT = 0.5  # benchmarks/languages.py: flat from 0.2 to 0.5 on the dev half (en .866 vs .862), and
# 0.5 is what lifts the seed article's "2018" paragraph over a flat dense top (tests/test_languages.py)

# Per model (benchmarks/fusion_profiles.py, dev halves of every shared set the model was measured on):
# (w_max, power, margin_scale, anchor_weight); margin_scale 0 = no gate. Others (any sentence-transformers
# model): KEYWORD_LED, whose anchors count double (a weak model's dense side cannot place "2018" at all).
PROFILES = {"e5-small": (W_MAX, POWER, MARGIN_SCALE, ANCHOR_WEIGHT),
            "e5-small+use-m3": (W_MAX, POWER, MARGIN_SCALE, ANCHOR_WEIGHT),
            "hash": (W_MAX, POWER, MARGIN_SCALE, ANCHOR_WEIGHT), "use-m3": (1.0, 1.0, 0.0, ANCHOR_WEIGHT)}
KEYWORD_LED = (1.0, 0.5, 0.0, 2.0)


def profile(model: str) -> dict[str, float]:
    """`fuse` keyword arguments for an index built with this model."""
    w_max, power, scale, anchor = PROFILES.get(model, KEYWORD_LED)
    return {"w_max": w_max, "power": power, "margin_scale": scale, "anchor_weight": anchor}


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


def dense_margin(scores: dict[int, float], gate: str | None = None) -> float:
    """How clearly the dense side's best candidate stands out, in units that do not depend on the model.

    "absolute": top-1 minus top-2 cosine (e5-small units: what the first tuning used);
    "spread":   that gap over the spread of the candidates (top-1 minus the worst of the top-50);
    "std":      that gap over the standard deviation of the candidates' scores."""
    gate = gate or GATE
    vals = sorted(scores.values(), reverse=True)
    if len(vals) < 2:
        return 0.0
    gap = vals[0] - vals[1]
    if gate == "absolute":
        return gap
    if gate == "spread":
        scale = vals[0] - vals[-1]
    else:
        scale = float(np.std(vals))
    return gap / scale if scale > 0 else 0.0


def fuse(dense: dict[int, float], keyword: dict[int, float], coverage: float,
         w_max: float = W_MAX, power: float = POWER,
         margin_scale: float | None = None, gate: str | None = None,
         anchors: dict[int, float] | None = None, anchor_weight: float | None = None) -> list[tuple[int, float]]:
    """Rows ranked by the fused score, best first. Keyword scores ≤ 0 count as no match. `anchors`: BM25
    scores of the question's literal anchors alone (numbers, Latin names: qa/query.py), added with
    `anchor_weight` whatever the coverage (a French question's "2018" is 1 token in 11)."""
    keyword = {r: s for r, s in keyword.items() if s > 0}
    margin_scale = MARGIN_SCALE if margin_scale is None else margin_scale
    w = keyword_weight(coverage, w_max, power, dense_margin(dense, gate), margin_scale) if keyword else 0.0
    if not dense:
        w = 1.0
    d, k = _scaled(dense), {r: s / max(keyword.values()) for r, s in keyword.items()} if keyword else {}
    anchors = {r: s for r, s in (anchors or {}).items() if s > 0} if dense else {}
    a = ANCHOR_WEIGHT if anchor_weight is None else anchor_weight
    top = max(anchors.values()) if anchors else 1.0
    rows = set(d) | set(k) | set(anchors)
    total = 1.0 + (a if anchors else 0.0)  # fused scores stay in [0, 1]
    fused = {r: ((1 - w) * d.get(r, 0.0) + w * k.get(r, 0.0) + a * anchors.get(r, 0.0) / top) / total for r in rows}
    return sorted(fused.items(), key=lambda x: (-x[1], x[0]))


def rrf(rankings: list[list[int]], k: int = 60) -> list[tuple[int, float]]:
    """Reciprocal-rank fusion, kept as the baseline the benchmarks compare against."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, row in enumerate(ranking):
            scores[row] = scores.get(row, 0.0) + 1.0 / (k + rank + 1)
    return sorted(scores.items(), key=lambda x: (-x[1], x[0]))
