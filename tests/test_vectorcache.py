"""The vector cache keeps only a hash map in memory and reads vectors from its shards when asked."""

from __future__ import annotations

import numpy as np

from qa.vectorcache import VectorCache


def _vecs(n: int, start: int = 0) -> np.ndarray:
    return np.arange(start * 4, (start + n) * 4, dtype=np.float32).reshape(n, 4)


def test_rows_come_back_from_every_shard_and_the_newest_copy_wins(tmp_path):
    cache = VectorCache(tmp_path, 4)
    cache.add(["a", "b"], _vecs(2))
    cache.add(["c", "a"], _vecs(2, 10))  # "a" embedded again later: the later shard is the one read
    fresh = VectorCache(tmp_path, 4)
    assert len(fresh) == 3
    assert np.array_equal(fresh.get("b"), _vecs(1, 1)[0])
    assert np.array_equal(fresh.get("c"), _vecs(1, 10)[0])
    assert np.array_equal(fresh.get("a"), _vecs(1, 11)[0])
    assert fresh.get("zzz") is None


def test_a_batch_not_remembered_is_on_disk_for_the_next_reader_only(tmp_path):
    cache = VectorCache(tmp_path, 4)
    cache.add(["a"], _vecs(1))
    cache.add(["b", "c"], _vecs(2, 1), remember=False)  # what a build does: it looked them up already
    cache.add(["d"], _vecs(1, 3))
    assert len(cache) == 2 and cache.get("b") is None and np.array_equal(cache.get("d"), _vecs(1, 3)[0])
    fresh = VectorCache(tmp_path, 4)  # a resumed build, or the next one
    assert len(fresh) == 4 and np.array_equal(fresh.get("c"), _vecs(1, 2)[0])
    assert np.array_equal(fresh.get("d"), _vecs(1, 3)[0])


def test_a_returned_row_is_a_copy_that_outlives_the_shard(tmp_path):
    cache = VectorCache(tmp_path, 4)
    cache.add(["a"], _vecs(1))
    row = VectorCache(tmp_path, 4).get("a")
    for f in tmp_path.glob("shard-*"):
        f.unlink()
    row += 1  # writable, and not a view of a file that is gone
    assert np.array_equal(row, _vecs(1)[0] + 1)


def test_torn_wrong_sized_and_vanished_shards_are_embedded_again(tmp_path):
    cache = VectorCache(tmp_path, 4)
    cache.add(["a"], _vecs(1))
    cache.add(["b"], _vecs(1, 1))
    cache.add(["c"], _vecs(1, 2))
    shards = sorted(tmp_path.glob("shard-*.npy"))
    shards[0].write_bytes(b"not a numpy file")  # killed mid-write
    np.save(shards[1], _vecs(2, 5))  # two rows for one hash: not trusted
    fresh = VectorCache(tmp_path, 4)
    assert fresh.get("a") is None and fresh.get("b") is None
    assert len(fresh) == 1
    shards[2].unlink()  # listed, then removed before its first read (e.g. a clean-up)
    assert fresh.get("c") is None


def test_rows_added_in_this_process_are_read_back_from_disk(tmp_path):
    cache = VectorCache(tmp_path, 4)
    cache.add(["a", "b"], _vecs(2))
    assert np.array_equal(cache.get("b"), _vecs(1, 1)[0])
    assert cache.get("b").dtype == np.float32
