"""A leaning follow-up a little past NEAR_LEAN still follows when it is near in units of its own dense spread
(qa/conversation.py NEAR_LOOSE / Z_LOOSE; benchmarks/followups_scale.py)."""

from __future__ import annotations

from qa.conversation import NEAR_LEAN, NEAR_LOOSE, Z_LOOSE, follows


def test_a_leaning_question_within_the_loose_limit_follows_when_near_in_its_own_spread():
    near = (NEAR_LEAN + NEAR_LOOSE) / 2  # past the cosine limit, inside the loose one
    tight, wide = near / (Z_LOOSE * 1.5), near / (Z_LOOSE * 0.5)  # spreads giving z -1.5x and -0.5x the limit
    assert not follows(near, True, None)  # no spread: the cosine rule alone
    assert follows(near, True, None, spread=wide)  # z above Z_LOOSE
    assert not follows(near, True, None, spread=tight)  # its cosines bunch: the same gap is far
    assert not follows(near, False, None, spread=wide)  # only a question that leans on the context
    assert not follows(NEAR_LOOSE - 0.001, True, None, spread=1.0)  # never past NEAR_LOOSE
    assert not follows(near, True, 0.5, spread=wide)  # a Chinese question's own words still must be in the articles
