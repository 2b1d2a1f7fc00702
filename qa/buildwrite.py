"""A local build's second half, over what qa/buildread.py spilled: syndicated copies folded from the
articles' signatures, token ids and vectors made for the passages that stay, and the generation's
files written by streaming the spills back (articles and passages are never all in memory).

Vectors go straight into a `.npy` file row by row (`pwrite`), reused ones copied from the live
generation's file, embedded ones in length-sorted batches (each batch also saved to the vector cache
for resume); the file is then moved into the generation and FAISS is built from it memory-mapped.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import dense, storage, syndication
from .buildread import Catalogue
from .buildspill import Spill
from .embedding import Embedder
from .keywords import KeywordIndex
from .previous import Reuse
from .records import Columns
from .text import tokens_encoded
from .tokentable import TokenTable, TokenTableBuilder
from .vectorcache import VectorCache

Progress = Callable[[str, int, int], None]


@dataclass
class Plan:
    """Which articles are copies and which passages the generation holds, in order."""

    groups: dict[int, list[int]]  # original's position -> its copies' positions
    copy_of: dict[int, int]  # copy's position -> its original's position
    folded: dict[str, str]  # copy id -> original id
    counts: np.ndarray  # per article: its passages in the generation (none for a copy)
    final: np.ndarray  # the generation's passages as rows of the passage spill


def fold(cat: Catalogue) -> Plan:
    """Syndicated copies over every article's signature; a copy's passages are not indexed."""
    groups = syndication.earliest_first(cat.dates, cat.sketches.select(cat.keys))
    copy_of = {j: o for o, copies in groups.items() for j in copies}
    folded = {cat.ids[j]: cat.ids[o] for o, copies in groups.items() for j in copies}
    counts = np.array(cat.counts, np.int64)
    if folded:  # (by id, as the passages name their article)
        counts[np.fromiter((i in folded for i in cat.ids), bool, len(cat.ids))] = 0
    first = np.array(cat.first, np.int64)
    has = counts > 0
    starts, lens = first[has], counts[has]
    before = np.concatenate(([0], np.cumsum(lens)[:-1])).astype(np.int64)
    final = np.repeat(starts - before, lens) + np.arange(int(lens.sum()), dtype=np.int64)
    return Plan(groups, copy_of, folded, counts, final)


def spilled_rows(spill: Spill, rows: np.ndarray, block: int = 512) -> Iterator[dict]:
    """spill[rows[0]], spill[rows[1]], …: consecutive rows are read together."""
    if not len(rows):
        return
    for run in np.split(rows, np.flatnonzero(np.diff(rows) != 1) + 1):
        for b in range(0, len(run), block):
            yield from spill.range(int(run[b]), min(block, len(run) - b))


def token_table(passages: Spill, final: np.ndarray, plan: np.ndarray, prev: TokenTable | None,
                window: int, progress: Progress | None, folder: Path) -> TokenTable:
    """Reused passages take their token ids from the previous table (`plan`: its row, or -1); the rest
    are cut `window` passages at a time (on every core when there are many): a token list as Python
    strings costs ~15 times its ids, so cutting the whole archive at once held over a gigabyte at 100k."""
    plan = plan if prev is not None else np.full(len(final), -1, np.int64)
    todo = np.flatnonzero(plan < 0)
    builder = TokenTableBuilder(prev, folder)  # written in `folder`, memory-mapped (`write` moves it)
    for block in _cut_windows(passages, final[todo], window, progress):
        builder.feed(*block)
    for row in plan.tolist():
        if row < 0:
            builder.add_new()
        else:
            builder.add_previous(row)
    return builder.finish()


def _cut_windows(passages: Spill, rows: np.ndarray, window: int, progress: Progress | None
                 ) -> Iterator[tuple[list[str], np.ndarray, np.ndarray]]:
    texts = (c["text"] for c in spilled_rows(passages, rows))
    for w in range(0, len(rows), window):
        part = [next(texts) for _ in range(min(window, len(rows) - w))]
        report = (lambda stage, done, total, w=w: progress(stage, w + done, len(rows))) if progress else None
        yield from tokens_encoded(part, report)


def vectors(path: Path, passages: Spill, final: np.ndarray, plan: np.ndarray, reuse: Reuse | None,
            embedder: Embedder, work: Path, report, batch: int, progress: Progress | None) -> None:
    """Write the generation's vectors, row i for passage final[i], into the .npy file `path`."""
    dim, n = embedder.dim, len(final)
    header = np.lib.format.open_memmap(path, "w+", np.float32, (n, dim))
    offset, size = header.offset, dim * 4
    del header
    cache = VectorCache(work, dim)
    with open(path, "r+b") as f:
        fd = f.fileno()
        for i in np.flatnonzero(plan >= 0).tolist():
            os.pwrite(fd, reuse.vector(int(plan[i])), offset + i * size)  # type: ignore[union-attr]
        report.reused += int((plan >= 0).sum())
        new = np.flatnonzero(plan < 0)
        # What is left to embed, as arrays (a dict of hash -> rows kept ~1 KB a passage, with the holes
        # its strings left among the freed rows): each row's text hash (hex) and length.
        keys, lengths, left = np.empty(len(new), "S40"), np.empty(len(new), np.int64), np.zeros(len(new), bool)
        for k, (i, c) in enumerate(zip(new.tolist(), spilled_rows(passages, final[new]))):
            if (cached := cache.get(c["hash"])) is not None:
                os.pwrite(fd, cached.astype("<f4").tobytes(), offset + i * size)
                report.reused += 1
            else:
                keys[k], lengths[k], left[k] = c["hash"], len(c["text"]), True
        rows, keys, lengths = new[left], keys[left], lengths[left]
        _, first, which = np.unique(keys, return_index=True, return_inverse=True)
        which = which.ravel()
        # One text per hash in first-seen order, then by length (similar lengths waste less padding);
        # each finished batch is saved for resume.
        seen = first[np.argsort(first, kind="stable")]
        order = seen[np.argsort(lengths[seen], kind="stable")]  # rows (of `rows`) whose text is embedded
        same = np.argsort(which, kind="stable")  # rows grouped by hash ...
        start = np.searchsorted(which[same], np.arange(len(first) + 1))  # ... hash u's at same[start[u]:start[u+1]]
        for b in range(0, len(order), batch):
            picked = order[b:b + batch].tolist()
            vecs = embedder.embed_documents([passages.get(int(final[rows[r]]))["text"] for r in picked])
            cache.add([keys[r].decode() for r in picked], vecs, remember=False)  # (all looked up above)
            for r, v in zip(picked, np.asarray(vecs, np.float32)):
                data = np.ascontiguousarray(v, "<f4").tobytes()
                u = int(which[r])
                for j in same[start[u]:start[u + 1]].tolist():
                    os.pwrite(fd, data, offset + int(rows[j]) * size)
                report.embedded += int(start[u + 1] - start[u])
            if progress:
                progress("embed", min(b + batch, len(order)), len(order))


def write(gen: Path, cat: Catalogue, plan: Plan, articles: Spill, passages: Spill, table: TokenTable,
          tokens_dir: Path, vectors_npy: Path, kind: str) -> None:
    """The generation's files; `table` is the one `token_table` wrote in `tokens_dir`."""
    sources: list[str] = []
    storage.write_jsonl(gen / "articles.jsonl", _articles(cat, plan, articles, sources))
    storage.write_jsonl(gen / "chunks.jsonl", spilled_rows(passages, plan.final))
    _columns(cat, plan, sources).save(gen / "columns.npz")
    os.replace(tokens_dir, gen / "tokens")  # (the table's memory map stays valid: same files)
    os.replace(vectors_npy, gen / "vectors.npy")
    vecs = np.load(gen / "vectors.npy", mmap_mode="r", allow_pickle=False)
    dense.save(dense.build(vecs, kind), gen / "index.faiss")
    del vecs
    KeywordIndex.build(table).save(gen / "bm25")


def _articles(cat: Catalogue, plan: Plan, spill: Spill, sources: list[str]) -> Iterator[dict]:
    """The article records in order, with the paths of identical files and this build's copy marks
    (marks a previous build left are replaced)."""
    for p, rec in enumerate(spilled_rows(spill, np.array(cat.spilled, np.int64))):
        rec["paths"] += cat.more_paths.get(p, [])
        rec.pop("copies", None)
        rec.pop("copy_of", None)
        if p in plan.groups:
            copies = [spill.get(cat.spilled[j]) for j in plan.groups[p]]
            rec["copies"] = [{"article_id": c["id"], "source": c.get("source"), "date": c.get("date"),
                              "url": c.get("url")} for c in copies]
        elif p in plan.copy_of:
            rec["copy_of"] = cat.ids[plan.copy_of[p]]
        sources.append(rec.get("source") or "")
        yield rec


def _columns(cat: Catalogue, plan: Plan, sources: list[str]) -> Columns:
    """Columns.from_records without the records: a passage points at the last article with its id."""
    ids = np.array(cat.ids, dtype=str)
    if len(ids):
        _, inverse = np.unique(ids, return_inverse=True)
        last = np.zeros(int(inverse.max()) + 1, np.int64)
        np.maximum.at(last, inverse.ravel(), np.arange(len(ids)))
        article_of = np.repeat(last[inverse.ravel()], plan.counts).astype(np.int32)
    else:
        article_of = np.zeros(0, np.int32)
    return Columns(article_of, ids, np.array(sources, dtype=str), np.array([d or "" for d in cat.dates], dtype=str))
