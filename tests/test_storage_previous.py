"""What a build reuses from the live generation: `load_previous` (the local build) and `previous_vectors`
(a build into Milvus, which needs only hash -> vector and must not hold the passages' text)."""

from __future__ import annotations

import numpy as np
import pytest

from qa import storage
from qa.index import build
from tests.test_index import live, write_corpus


@pytest.fixture
def built(tmp_path, hash_settings, write_article):
    seeds, index = tmp_path / "seeds", tmp_path / "index"
    write_corpus(seeds, write_article)
    settings = hash_settings(seeds, index)
    build(settings)
    return index


def test_previous_vectors_match_what_load_previous_reads(built):
    prev = storage.load_previous(built)
    manifest, rows, vectors = storage.previous_vectors(built)
    assert manifest == prev.manifest
    assert set(rows) == {c["hash"] for c in prev.chunks}
    for row, c in enumerate(prev.chunks):
        assert np.array_equal(vectors[rows[c["hash"]]], prev.vectors[row])


def test_previous_vectors_refuse_a_generation_whose_files_changed_size(built):
    with open(live(built) / "chunks.jsonl", "a", encoding="utf-8") as f:
        f.write('{"hash": "extra"}\n')  # a row the manifest does not count, as after a torn copy
    assert storage.previous_vectors(built) is None
    assert storage.load_previous(built) is None


def test_no_index_no_previous(tmp_path):
    assert storage.previous_vectors(tmp_path / "nothing") is None
    assert storage.load_previous(tmp_path / "nothing") is None
