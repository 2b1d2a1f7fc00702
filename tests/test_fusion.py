"""Fusion of dense and keyword rankings, on hand-made rankings with known answers."""

from __future__ import annotations

import pytest

from qa.fusion import MARGIN_SCALE, POWER, W_MAX, fuse, keyword_weight, rrf


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
    dense = {0: 0.95, 1: 0.80, 2: 0.78}  # top-1 leads by more than MARGIN_SCALE
    assert MARGIN_SCALE <= 0.95 - 0.80
    assert order(fuse(dense, {2: 50.0}, coverage=1.0))[0] == 0


def test_keyword_only_row_with_full_coverage_enters_the_top():
    dense = {0: 0.85, 1: 0.84, 2: 0.70}
    fused = fuse(dense, {9: 10.0}, coverage=1.0)
    w = keyword_weight(1.0, dense_margin=0.85 - 0.84)
    assert 9 in order(fused)[:2]
    assert dict(fused)[9] == pytest.approx(w)


def test_fused_scores_are_the_documented_formula():
    dense = {0: 0.9, 1: 0.7, 2: 0.5}
    keyword = {1: 8.0, 2: 2.0}
    coverage = 0.8
    w = W_MAX * coverage ** POWER * max(0.0, 1 - (0.9 - 0.7) / MARGIN_SCALE)
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


@pytest.mark.parametrize(("margin", "gate"), [(0.0, 1.0), (MARGIN_SCALE / 2, 0.5), (MARGIN_SCALE, 0.0), (1.0, 0.0)])
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
