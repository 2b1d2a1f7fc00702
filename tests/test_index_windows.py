"""Tokens are cut in bounded windows (qa/index.py TOKEN_WINDOW): the table must not depend on the window."""

from __future__ import annotations

import numpy as np

from qa import index as ix
from qa.index import build
from qa.tokentable import TokenTable
from tests.test_index import PARAS, live, write_corpus


def _table(index) -> TokenTable:
    return TokenTable.load(live(index) / "tokens")


def test_tokens_cut_one_passage_at_a_time_equal_one_pass(tmp_path, hash_settings, write_article, monkeypatch):
    seeds = tmp_path / "seeds"
    write_corpus(seeds, write_article)
    build(hash_settings(seeds, tmp_path / "whole"))
    monkeypatch.setattr(ix, "TOKEN_WINDOW", 1)
    build(hash_settings(seeds, tmp_path / "windows"))
    whole, windows = _table(tmp_path / "whole"), _table(tmp_path / "windows")
    assert len(whole) == len(windows) > len(PARAS)  # more passages than windows of one would hide
    assert windows.vocab == whole.vocab
    assert np.array_equal(windows.ids, whole.ids) and np.array_equal(windows.offsets, whole.offsets)
