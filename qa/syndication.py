"""Syndicated copies: the same wire story in several outlets with small edits is indexed once.

Near-duplicate articles are found with MinHash LSH (datasketch) over character 5-grams of the whole text
(Chinese has no spaces; 5 characters keep short common phrases from matching). The signatures are
computed with numpy (a batch of articles and all 128 hash permutations per pass): datasketch's per-shingle Python
hashing (sha1 per 5-gram) cost several times more. A candidate pair from the LSH bands is kept only when
its estimated Jaccard similarity is ≥ THRESHOLD, and groups are stars around the earliest article
(no chaining A≈B≈C into one group when A and C differ).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np

SHINGLE = 5
NUM_PERM = 64  # 128 cost twice the time for the same groups on news-corpus' pairs (see benchmarks)
THRESHOLD = 0.7  # estimated Jaccard of 5-gram sets; precision measured in benchmarks/syndication.py
MIN_CHARS = 80  # shorter items (briefs, captions) are too alike by template to call copies
PARAGRAPH_THRESHOLD = 0.8  # two passages this alike never both fill the top cards
_rng = np.random.RandomState(1)  # x -> (a·x mod 2^32) xor b with odd a: a permutation of the 32-bit hashes
_A = (_rng.randint(0, 1 << 31, NUM_PERM, dtype=np.int64) * 2 + 1).astype(np.uint32)
_B = _rng.randint(0, 1 << 32, NUM_PERM, dtype=np.int64).astype(np.uint32)
_BATCH = 256  # articles per numpy pass (~40 MB of intermediate hashes)
_NONWORD = re.compile(r"[\W_]+")


def shingles(text: str, k: int = SHINGLE) -> np.ndarray:
    """32-bit hashes of the text's k-character windows (punctuation and space ignored; repeats kept:
    a minimum does not care, and skipping np.unique saved 15 % of the fold step)."""
    cps = np.frombuffer(_NONWORD.sub("", text).lower().encode("utf-32-le"), np.uint32)
    if len(cps) < k:
        return cps.copy() if len(cps) else np.zeros(1, np.uint32)
    h = cps[: len(cps) - k + 1].copy()
    for j in range(1, k):  # polynomial hash of the window, wrapping in 32 bits
        h *= np.uint32(1000003)
        h += cps[j:len(cps) - k + 1 + j]
    return h


def signatures(texts: Sequence[str]) -> np.ndarray:
    """(len(texts), NUM_PERM) uint32 MinHash signatures, a batch of articles per numpy pass."""
    out = np.zeros((len(texts), NUM_PERM), np.uint32)
    for b in range(0, len(texts), _BATCH):
        sh = [shingles(t) for t in texts[b:b + _BATCH]]
        flat = np.concatenate(sh)
        starts = np.cumsum([0] + [len(x) for x in sh[:-1]])
        hashed = np.multiply.outer(_A, flat)  # (NUM_PERM, all shingles of the batch)
        hashed ^= _B[:, None]
        out[b:b + len(sh)] = np.minimum.reduceat(hashed, starts, axis=1).T
    return out


def signature(text: str) -> np.ndarray:
    return signatures([text])[0]


def copy_groups(texts: Sequence[str], order: Sequence[int] | None = None,
                threshold: float = THRESHOLD) -> dict[int, list[int]]:
    """{original index: [copy indexes]} over `texts`. `order` says which article is the original when
    several match (first in order wins: the build passes earliest date first)."""
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
    # datasketch draws 128 permutations per MinHash it builds (10 ms) unless given some; the LSH uses
    # only the hash values, which come from signature() above.
    perms = MinHash(num_perm=NUM_PERM, scheme="legacy").permutations

    def sketch(values: np.ndarray) -> MinHash:
        return MinHash(num_perm=NUM_PERM, hashvalues=values, permutations=perms, scheme="legacy")

    long = [i for i, t in enumerate(texts) if len(t) >= MIN_CHARS]
    sigs = dict(zip(long, signatures([texts[i] for i in long]).astype(np.uint64)))
    for i in long:
        lsh.insert(i, sketch(sigs[i]))
    groups: dict[int, list[int]] = {}
    taken: set[int] = set()
    for i in (order if order is not None else range(len(texts))):
        if i not in sigs or i in taken:
            continue
        found = lsh.query(sketch(sigs[i]))
        copies = sorted(j for j in found if j != i and j not in taken
                        and float(np.mean(sigs[i] == sigs[j])) >= threshold)
        if copies:
            groups[i] = copies
            taken.update(copies, [i])
    return groups


def fold(articles: list[dict]) -> dict[str, str]:
    """Mark syndicated copies in place: an original gains "copies": [{"article_id", "source", "date",
    "url"}], a copy gains "copy_of": the original's id (its passages are then not indexed). Returns
    {copy id: original id}. Marks left by a previous build are replaced."""
    for a in articles:
        a.pop("copies", None)
        a.pop("copy_of", None)
    texts = ["\n".join(a.get("paragraphs") or []) for a in articles]
    order = sorted(range(len(articles)), key=lambda i: (articles[i].get("date") or "9999", i))
    out: dict[str, str] = {}
    for orig, copies in copy_groups(texts, order).items():
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
