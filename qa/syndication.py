"""Syndicated copies: the same wire story in several outlets with small edits is indexed once.

Near-duplicate articles are found with MinHash LSH over character 5-grams of the whole text (Chinese has
no spaces; 5 characters keep short common phrases from matching). Everything runs on whole batches in
numpy, which is what keeps the fold under 5 % of a build (benchmarks/syndication.py):
- the 5-gram hashes of a batch of articles come from one rolling hash over their joined text;
- the signatures take all NUM_PERM hash permutations of a batch per pass;
- the LSH bands are bucketed by sorting the band keys, and only an article's bucket mates are compared.
datasketch's MinHashLSH did the banding before: its import (scipy) and per-article Python insert/query cost
more than the signatures themselves. BANDS x ROWS is what datasketch chooses for THRESHOLD and NUM_PERM
(its `_optimal_param`, checked in tests/test_syndication.py). A candidate is kept only when its estimated
Jaccard similarity is >= THRESHOLD, and groups are stars around the earliest article (no chaining
A≈B≈C into one group when A and C differ).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Sequence

import numpy as np

SHINGLE = 5
NUM_PERM = 64  # 128 cost twice the time for the same groups on news-corpus' pairs (see benchmarks)
BANDS, ROWS = 8, 8  # datasketch's optimum for THRESHOLD 0.7 at 64 permutations (false +/- weighted equally)
THRESHOLD = 0.7  # estimated Jaccard of 5-gram sets; precision measured in benchmarks/syndication.py
MIN_CHARS = 80  # shorter items (briefs, captions) are too alike by template to call copies
PARAGRAPH_THRESHOLD = 0.8  # two passages this alike never both fill the top cards
_rng = np.random.RandomState(1)  # x -> (a·x mod 2^32) xor b with odd a: a permutation of the 32-bit hashes
_A = (_rng.randint(0, 1 << 31, NUM_PERM, dtype=np.int64) * 2 + 1).astype(np.uint32)
_B = _rng.randint(0, 1 << 32, NUM_PERM, dtype=np.int64).astype(np.uint32)
_BATCH = 64  # articles per numpy pass: ~35 MB of intermediate hashes for news articles (256: ~85 MB, and slower)
_NONWORD = re.compile(r"[\W_]+")
_EMPTY = np.iinfo(np.uint32).max  # the signature value of a text without a single k-gram


@functools.cache
def _tables() -> tuple[np.ndarray, np.ndarray]:
    """Per BMP code point: is it a letter or digit, and its lower case (regex + str.lower per article cost
    more than the hashing)."""
    chars = [chr(c) for c in range(0x10000)]
    word = np.fromiter((c.isalnum() for c in chars), bool, len(chars))
    lower = np.fromiter((ord(lc) if len(lc := c.lower()) == 1 else ord(c) for c in chars), np.uint32, len(chars))
    return word, lower


def _windows(texts: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
    """32-bit hashes of every k-character window of every text (punctuation and space ignored; repeats
    kept: a minimum does not care), concatenated, and how many each text has. One rolling hash runs
    over the joined texts; windows that cross from one text into the next are dropped."""
    raw = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), np.uint32)  # (a lone surrogate from bad JSON)
    word, lower = _tables()
    bmp = np.minimum(raw, 0xFFFF)  # beyond the BMP: CJK extensions are letters, kept as they are
    keep = word[bmp] | (raw > 0xFFFF)
    cps = np.where(raw > 0xFFFF, raw, lower[bmp])[keep]
    kept = np.concatenate(([0], np.cumsum(keep)))  # each text's kept characters, from the running count
    lens = np.diff(kept[np.cumsum([0] + [len(t) for t in texts])])
    counts = np.maximum(lens - k + 1, 0)
    if len(cps) < k:
        return np.zeros(0, np.uint32), counts
    h = cps[: len(cps) - k + 1].copy()
    for j in range(1, k):  # polynomial hash of the window, wrapping in 32 bits
        h *= np.uint32(1000003)
        h += cps[j:len(cps) - k + 1 + j]
    crossing = (np.cumsum(lens)[:, None] - np.arange(1, k)).ravel()  # windows that start in the last
    keep = np.ones(len(h), bool)  # k-1 characters of a text run into the next one
    keep[crossing[(crossing >= 0) & (crossing < len(h))]] = False
    return h[keep], counts


def shingles(text: str, k: int = SHINGLE) -> np.ndarray:
    """32-bit hashes of the text's k-character windows (the whole text when it is shorter than k)."""
    h, _ = _windows([text], k)
    if len(h):
        return h
    cps = np.frombuffer(_NONWORD.sub("", text).lower().encode("utf-32-le", "surrogatepass"), np.uint32)
    return cps.copy() if len(cps) else np.zeros(1, np.uint32)


def signatures(texts: Sequence[str]) -> np.ndarray:
    """(len(texts), NUM_PERM) uint32 MinHash signatures, a batch of articles per numpy pass; a text
    without a single 5-gram gets all _EMPTY (and is never grouped)."""
    out = np.full((len(texts), NUM_PERM), _EMPTY, np.uint32)
    for b in range(0, len(texts), _BATCH):
        flat, counts = _windows(texts[b:b + _BATCH], SHINGLE)
        has = np.flatnonzero(counts)
        if not len(has):
            continue
        hashed = np.multiply.outer(_A, flat)  # (NUM_PERM, all shingles of the batch)
        hashed ^= _B[:, None]
        starts = np.concatenate(([0], np.cumsum(counts[has])[:-1]))
        out[b + has] = np.minimum.reduceat(hashed, starts, axis=1).T
    return out


def signature(text: str) -> np.ndarray:
    return signatures([text])[0]


def _buckets(sigs: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per LSH band: each row's bucket number, and the rows sorted by bucket with where each bucket
    starts (bucket b's members, rows whose ROWS signature values in that band are all equal, are
    order[starts[b]:starts[b + 1]]). Sorting the band keys replaces a hash table; one array per bucket
    (np.split) cost ~1 KB an article at 435k articles, most buckets holding one."""
    out = []
    mult = np.uint64(0x9E3779B97F4A7C15)
    for band in range(BANDS):
        key = np.zeros(len(sigs), np.uint64)
        for col in sigs[:, band * ROWS:(band + 1) * ROWS].T.astype(np.uint64):
            key = key * mult + col  # wraps in 64 bits; a rare collision is caught by the Jaccard check
        order = np.argsort(key, kind="stable")
        first = np.concatenate(([True], key[order][1:] != key[order][:-1]))
        bucket = np.empty(len(sigs), np.int64)
        bucket[order] = np.cumsum(first) - 1
        out.append((bucket, order, np.append(np.flatnonzero(first), len(sigs))))
    return out


def sketch(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(indexes of the texts that can be copies, their signatures): long enough, with a 5-gram.
    A build that cannot hold every text at once sketches a batch at a time and concatenates."""
    long = np.array([i for i, t in enumerate(texts) if len(t) >= MIN_CHARS], np.int64)
    sigs = signatures([texts[i] for i in long]) if len(long) else np.zeros((0, NUM_PERM), np.uint32)
    keep = sigs[:, 0] != _EMPTY
    return long[keep], sigs[keep]


def copy_groups(texts: Sequence[str], order: Sequence[int] | None = None,
                threshold: float = THRESHOLD) -> dict[int, list[int]]:
    """{original index: [copy indexes]} over `texts`. `order` says which article is the original when
    several match (first in order wins: the build passes earliest date first)."""
    return groups_of(*sketch(texts), order if order is not None else range(len(texts)), threshold)


def groups_of(long: np.ndarray, sigs: np.ndarray, order: Iterable[int],
              threshold: float = THRESHOLD) -> dict[int, list[int]]:
    """copy_groups over sketched texts: sigs[r] is the signature of text long[r]."""
    row_of = {int(i): r for r, i in enumerate(long)}
    bands = _buckets(sigs)
    lonely = np.ones(len(long), bool)  # rows that share no bucket with anyone: nothing to compare
    for bucket, _, starts in bands:
        lonely &= np.diff(starts)[bucket] == 1
    groups: dict[int, list[int]] = {}
    taken = np.zeros(len(long), bool)
    for i in order:
        r = row_of.get(i)
        if r is None or lonely[r] or taken[r]:
            continue
        cand = np.unique(np.concatenate([order[starts[b]:starts[b + 1]] for bucket, order, starts in bands
                                         for b in [bucket[r]]]))
        cand = cand[(cand != r) & ~taken[cand]]
        if not len(cand):
            continue
        cand = cand[(sigs[cand] == sigs[r]).mean(axis=1) >= threshold]
        if len(cand):
            groups[i] = sorted(int(long[c]) for c in cand)
            taken[cand] = taken[r] = True
    return groups


def earliest_first(dates: Sequence[str | None], sketched: tuple[np.ndarray, np.ndarray]) -> dict[int, list[int]]:
    """groups_of with the earliest dated article of a group as its original (undated ones last)."""
    return groups_of(*sketched, sorted(range(len(dates)), key=lambda i: (dates[i] or "9999", i)))


class Sketches:
    """Signatures of articles as a build reads them, a batch of texts at a time, so that the fold
    needs neither the texts nor the article records in memory (NUM_PERM x 4 bytes an article).
    `add` numbers every text; `select(keys)` gives sketch() of the texts numbered `keys`, in that
    order (texts that were replaced or dropped meanwhile are simply not selected)."""

    def __init__(self, batch: int = 512) -> None:
        self._batch = batch
        self._texts: list[str] = []
        self._keys: list[np.ndarray] = []
        self._sigs: list[np.ndarray] = []
        self.count = 0

    def add(self, text: str) -> int:
        self._texts.append(text)
        self.count += 1
        if len(self._texts) >= self._batch:
            self._flush()
        return self.count - 1

    def _flush(self) -> None:
        long, sigs = sketch(self._texts)
        self._keys.append(long + (self.count - len(self._texts)))
        self._sigs.append(sigs)
        self._texts = []

    def select(self, keys: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        self._flush()
        found = np.concatenate(self._keys) if self._keys else np.zeros(0, np.int64)
        sigs = np.concatenate(self._sigs) if self._sigs else np.zeros((0, NUM_PERM), np.uint32)
        pos = np.full(self.count, -1, np.int64)
        pos[np.asarray(keys, np.int64)] = np.arange(len(keys))
        at = pos[found]
        keep = np.flatnonzero(at >= 0)
        keep = keep[np.argsort(at[keep], kind="stable")]
        return at[keep], sigs[keep]


def fold(articles: list[dict], sketched: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, str]:
    """Mark syndicated copies in place: an original gains "copies": [{"article_id", "source", "date",
    "url"}], a copy gains "copy_of": the original's id (its passages are then not indexed). Returns
    {copy id: original id}. Marks left by a previous build are replaced. `sketched` is sketch() of the
    articles' texts when the caller made it already (the articles then need no "paragraphs")."""
    for a in articles:
        a.pop("copies", None)
        a.pop("copy_of", None)
    if sketched is None:
        sketched = sketch(["\n".join(a.get("paragraphs") or []) for a in articles])
    out: dict[str, str] = {}
    for orig, copies in earliest_first([a.get("date") for a in articles], sketched).items():
        articles[orig]["copies"] = [{"article_id": articles[j]["id"], "source": articles[j].get("source"),
                                     "date": articles[j].get("date"), "url": articles[j].get("url")}
                                    for j in copies]
        for j in copies:
            articles[j]["copy_of"] = articles[orig]["id"]
            out[articles[j]["id"]] = articles[orig]["id"]
    return out


def diversify(ranked: list[tuple[int, float]], text_of: Callable[[int], str], article_of: Callable[[int], str],
              top: int = 5) -> list[tuple[int, float]]:
    """Nearly identical passages of different articles never fill two of the `top` places: a later one
    moves below them (it stays in the list, for k beyond `top`)."""
    kept: list[tuple[int, float]] = []
    later: list[tuple[int, float]] = []
    seen: list[tuple[str, set]] = []
    for row, score in ranked:
        if len(kept) >= top:
            later.append((row, score))
            continue
        grams = set(shingles(text_of(row), 3).tolist())
        art = article_of(row)
        if any(a != art and len(grams & g) >= PARAGRAPH_THRESHOLD * min(len(grams), len(g)) for a, g in seen):
            later.append((row, score))
            continue
        seen.append((art, grams))
        kept.append((row, score))
    return kept + later
