"""64-bit simhash over the same 5-gram shingles as qa/syndication.py, for benchmarks/syndication.py's
measured choice between simhash and MinHash (the build uses MinHash; see benchmarks/README.md).

Each shingle's 32-bit hash is spread to 64 bits (splitmix64's finaliser); an article's simhash bit is set
when more than half of its shingles have it. Near duplicates are within `distance` bits; candidates come
from the pigeonhole blocks (split into distance+1 blocks, two fingerprints that close agree on one whole
block), and groups are stars around the earliest article, as in copy_groups.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qa.syndication import MIN_CHARS, SHINGLE, _windows

_BATCH = 256  # articles per pass: the unpacked bits are 64 bytes per shingle (~100 MB)


def _mix(x: np.ndarray) -> np.ndarray:
    z = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def fingerprints(texts: Sequence[str]) -> np.ndarray:
    """(len(texts),) uint64 simhashes (0 for a text without a 5-gram)."""
    out = np.zeros(len(texts), np.uint64)
    for b in range(0, len(texts), _BATCH):
        flat, counts = _windows(texts[b:b + _BATCH], SHINGLE)
        has = np.flatnonzero(counts)
        if not len(has):
            continue
        bits = np.unpackbits(_mix(flat).view(np.uint8).reshape(-1, 8), axis=1)  # (shingles, 64) 0/1
        starts = np.concatenate(([0], np.cumsum(counts[has])[:-1]))
        ones = np.add.reduceat(bits, starts, axis=0, dtype=np.uint32)  # per article: shingles with the bit
        on = ones * 2 > counts[has][:, None]
        out[b + has] = np.packbits(on, axis=1).view(np.uint64).ravel()
    return out


def _popcount(x: np.ndarray) -> np.ndarray:
    return np.unpackbits(x.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)


def copy_groups(texts: Sequence[str], order: Sequence[int] | None = None, distance: int = 3) -> dict[int, list[int]]:
    long = np.array([i for i, t in enumerate(texts) if len(t) >= MIN_CHARS], np.int64)
    fps = fingerprints([texts[i] for i in long])
    row_of = {int(i): r for r, i in enumerate(long)}
    width = 64 // (distance + 1)
    blocks = []
    for blk in range(distance + 1):  # the last block takes the leftover bits
        hi = 64 if blk == distance else (blk + 1) * width
        key = (fps >> np.uint64(blk * width)) & np.uint64((1 << (hi - blk * width)) - 1)
        uniq, inverse = np.unique(key, return_inverse=True)
        members = np.split(np.argsort(inverse, kind="stable"), np.cumsum(np.bincount(inverse, minlength=len(uniq)))[:-1])
        blocks.append((inverse, members))
    groups: dict[int, list[int]] = {}
    taken = np.zeros(len(long), bool)
    for i in (order if order is not None else range(len(texts))):
        r = row_of.get(i)
        if r is None or taken[r]:
            continue
        cand = np.unique(np.concatenate([members[inv[r]] for inv, members in blocks]))
        cand = cand[(cand != r) & ~taken[cand]]
        if not len(cand):
            continue
        cand = cand[_popcount(fps[cand] ^ fps[r]) <= distance]
        if len(cand):
            groups[i] = sorted(int(long[c]) for c in cand)
            taken[cand] = taken[r] = True
    return groups
