"""Fusion of dense and keyword rankings, on hand-made rankings with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from qa.fusion import ANCHOR_WEIGHT, MARGIN_SCALE, POWER, W_MAX, dense_margin, fuse, keyword_weight, profile, rrf


def order(fused):
    return [row for row, _ in fused]


def test_zero_coverage_keeps_the_dense_order_exactly():
    """English question over Chinese articles: whatever keywords found is noise, dense decides."""
    dense = {4: 0.83, 0: 0.81, 7: 0.80, 2: 0.79, 5: 0.60}
    keyword = {5: 40.0, 2: 30.0, 7: 1.0}
    fused = fuse(dense, keyword, coverage=0.0)
    assert order(fused) == [4, 0, 7, 2, 5]
    assert fused[0][1] == pytest.approx(1.0) and fused[-1][1] == pytest.approx(0.0)


def test_zero_coverage_keyword_only_rows_rank_below_dense_ones():
    fused = fuse({1: 0.9, 2: 0.8, 3: 0.7}, {8: 25.0, 9: 5.0}, coverage=0.0)
    assert order(fused)[:2] == [1, 2]
    assert dict(fused)[8] == 0.0 and dict(fused)[9] == 0.0


def test_when_both_sides_agree_that_row_is_first():
    # dense alone would put row 0 first, by a hair; keywords clearly prefer row 1
    fused = fuse({0: 0.85, 1: 0.84, 2: 0.78}, {1: 12.0, 2: 3.0}, coverage=1.0)
    assert order(fused) == [1, 0, 2]
    assert order(fuse({0: 0.85, 1: 0.84, 2: 0.78}, {}, coverage=1.0)) == [0, 1, 2]


def test_strong_keyword_match_with_full_coverage_lifts_a_row():
    # dense hesitates (top two 0.02 apart): a full-coverage keyword match decides
    dense = {0: 0.86, 1: 0.84, 2: 0.80, 3: 0.78}
    keyword = {3: 10.0}
    assert order(fuse(dense, keyword, coverage=1.0))[0] == 3  # last -> first
    # the same match with a fifth of the question covered weighs a fifth as much, and lifts nothing
    assert order(fuse(dense, keyword, coverage=0.2)) == [0, 1, 2, 3]


def test_a_sure_dense_side_is_not_overturned_by_keywords():
    dense = {0: 0.95, 1: 0.80, 2: 0.78, 3: 0.76, 4: 0.75}  # top-1 leads by most of the candidates' spread
    assert dense_margin(dense) >= 0.7
    assert order(fuse(dense, {2: 50.0}, coverage=1.0))[0] == 0


def test_keyword_only_row_with_full_coverage_enters_the_top():
    dense = {0: 0.85, 1: 0.84, 2: 0.70}
    fused = fuse(dense, {9: 10.0}, coverage=1.0)
    w = keyword_weight(1.0, dense_margin=dense_margin(dense))
    assert 9 in order(fused)[:2]
    assert dict(fused)[9] == pytest.approx(w)


def test_fused_scores_are_the_documented_formula():
    dense = {0: 0.9, 1: 0.7, 2: 0.5}
    keyword = {1: 8.0, 2: 2.0}
    coverage = 0.8
    w = W_MAX * coverage ** POWER * max(0.0, 1 - ((0.9 - 0.7) / (0.9 - 0.5)) / MARGIN_SCALE)
    expected = {0: (1 - w) * 1.0, 1: (1 - w) * 0.5 + w * 1.0, 2: (1 - w) * 0.0 + w * 0.25}
    assert dict(fuse(dense, keyword, coverage)) == pytest.approx(expected)


def test_nonpositive_keyword_scores_count_as_no_match():
    assert order(fuse({0: 0.9, 1: 0.8}, {1: 0.0, 0: -3.0}, coverage=1.0)) == [0, 1]


def test_no_dense_scores_means_keyword_order():
    assert order(fuse({}, {3: 2.0, 1: 9.0, 2: 5.0}, coverage=0.1)) == [1, 2, 3]


def test_ties_break_by_row_id():
    assert order(fuse({5: 0.8, 2: 0.8, 9: 0.8}, {}, coverage=0.0)) == [2, 5, 9]


@pytest.mark.parametrize(("coverage", "factor"), [(0.0, 0.0), (0.5, 0.5 ** POWER), (1.0, 1.0), (1.7, 1.0), (-1.0, 0.0)])
def test_keyword_weight_grows_with_coverage_and_is_clipped(coverage, factor):
    assert keyword_weight(coverage) == pytest.approx(W_MAX * factor)


@pytest.mark.parametrize(("margin", "gate"), [(0.0, 1.0), (MARGIN_SCALE / 2, 0.5), (MARGIN_SCALE, 0.0), (2 * MARGIN_SCALE, 0.0)])
def test_keyword_weight_shrinks_as_the_dense_side_gets_sure(margin, gate):
    assert keyword_weight(1.0, dense_margin=margin) == pytest.approx(W_MAX * gate)


def test_rrf_baseline_exact_scores():
    fused = rrf([[1, 2, 3], [3, 1]], k=60)
    assert order(fused) == [1, 3, 2]
    assert dict(fused) == pytest.approx({1: 1 / 61 + 1 / 62, 3: 1 / 63 + 1 / 61, 2: 1 / 62})


def test_rrf_treats_both_lists_alike_unlike_fuse():
    """The reason fuse exists: RRF lets a noisy keyword list pull the dense winner down."""
    dense_rank, noisy_keyword_rank = [4, 0, 7], [7, 0]
    assert order(rrf([dense_rank, noisy_keyword_rank]))[0] != 4
    assert order(fuse({4: 0.83, 0: 0.81, 7: 0.80}, {7: 9.0, 0: 5.0}, coverage=0.0))[0] == 4


# --- the dense-margin gate in units that do not depend on the model (issue 9.7) ----------------------------------

def test_dense_margin_is_relative_to_the_candidates_spread():
    scores = {0: 0.90, 1: 0.85, 2: 0.70, 3: 0.40}
    assert dense_margin(scores, "absolute") == pytest.approx(0.05)
    assert dense_margin(scores, "spread") == pytest.approx(0.05 / 0.50)
    assert dense_margin(scores, "std") == pytest.approx(0.05 / np.std(list(scores.values())))
    assert dense_margin({0: 0.9}, "spread") == 0.0 and dense_margin({}, "spread") == 0.0
    assert dense_margin({0: 0.5, 1: 0.5, 2: 0.5}, "spread") == 0.0  # no spread: no margin


@pytest.mark.parametrize(("scale", "shift"), [(4.0, 0.0), (0.25, 0.3), (2.5, -0.6)])
def test_the_shipped_gate_gives_the_same_fusion_whatever_the_cosine_scale(scale, shift):
    """use-m3's cosines spread ~4x wider than e5-small's: the same ranking, stretched, must fuse the same."""
    rng = np.random.default_rng(0)
    for _ in range(50):
        dense = {r: float(v) for r, v in enumerate(rng.uniform(0.6, 0.9, 30))}
        keyword = {int(r): float(rng.uniform(1, 20)) for r in rng.choice(40, 12, replace=False)}
        coverage = float(rng.uniform(0.3, 1.0))
        stretched = {r: scale * v + shift for r, v in dense.items()}
        a, b = fuse(dense, keyword, coverage), fuse(stretched, keyword, coverage)
        assert order(a) == order(b)
        assert [s for _, s in a] == pytest.approx([s for _, s in b])


def test_the_absolute_gate_was_not_scale_free():
    """What issue 9.7 measured: a margin in e5-small cosine units silences keywords for a wider-spread model."""
    dense = {0: 0.86, 1: 0.84, 2: 0.80, 3: 0.78}  # e5-like: hesitant, keywords decide
    wide = {r: 4 * v for r, v in dense.items()}  # same ranking in use-m3-like units
    assert order(fuse(dense, {3: 10.0}, 1.0, gate="absolute"))[0] == 3
    assert order(fuse(wide, {3: 10.0}, 1.0, gate="absolute", margin_scale=0.1))[0] == 0
    assert order(fuse(wide, {3: 10.0}, 1.0))[0] == 3  # the shipped gate: same answer at any scale


def test_anchors_lift_the_passage_holding_the_number():
    """"Qu'a proposé la Chine en 2018 ?": coverage is 1 token in 11, but the passage with 2018 must count."""
    dense = {0: 0.84, 1: 0.83, 2: 0.82, 3: 0.70, 4: 0.69}
    assert order(fuse(dense, {2: 5.0}, coverage=0.1))[0] == 0
    assert order(fuse(dense, {2: 5.0}, coverage=0.1, anchors={2: 5.0}, anchor_weight=0.5))[0] == 2
    assert order(fuse(dense, {}, coverage=0.0, anchors={2: 5.0}, anchor_weight=0.0)) == [0, 1, 2, 3, 4]
    assert order(fuse({}, {2: 5.0}, coverage=1.0, anchors={1: 3.0})) == [2]  # keyword mode: no anchors


def test_profiles_per_model():
    """use-m3 and unmeasured models lean on keywords where keywords see the question (benchmarks/fusion_profiles.py)."""
    assert profile("e5-small+use-m3") == {"w_max": W_MAX, "power": POWER, "margin_scale": MARGIN_SCALE,
                                          "anchor_weight": ANCHOR_WEIGHT}
    assert profile("use-m3")["w_max"] == 1.0 and profile("/models/some-minilm") == profile("another")
    dense = {0: 0.60, 1: 0.40, 2: 0.35, 3: 0.30}  # a weak model, sure of the wrong passage
    assert order(fuse(dense, {3: 9.0, 1: 2.0}, 1.0))[0] == 0  # the default model's profile trusts it
    assert order(fuse(dense, {3: 9.0, 1: 2.0}, 1.0, **profile("use-m3")))[0] == 3
