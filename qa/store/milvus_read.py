"""The Milvus build's reading and folding: articles of every format through the same readers as the
local build (qa/sources), and syndicated copies folded the same way (qa/syndication.py).

The build reads the archive twice and holds neither pass whole: the first pass keeps, per article, its
id, date, source, url and a MinHash signature (256 bytes), so the fold sees every article; the second
writes the new and changed articles a batch at a time, an original with its "copies", a copy with
"copy_of" and no passages. An article's `marks` column is the digest of its copy marks: an unchanged
file whose articles gained or lost a copy is written again, so the cards never list stale copies.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .. import syndication
from ..articles import Article
from ..config import Settings
from ..errors import ArticleError
from ..index import BuildReport, Progress
from ..seedfiles import read_capped, seed_digest
from ..sources import MAX_PROBLEMS_LISTED, iter_file
from . import milvus as mv


def _file_articles(settings: Settings, rel: str) -> Iterator[tuple[int, Article | ArticleError]]:
    """(position, article or bad row) of one file, read through the same readers as the local build
    (qa/sources: pages, feeds, exports streamed row by row)."""
    path = settings.seeds / rel
    yield from enumerate(iter_file(path, rel, lambda p: read_capped(p, settings.seeds, settings.follow_links),
                                   settings.seeds))


class _Catalogue:
    """What the fold needs of every article, without its text: id, date, source, url, its file, and a
    MinHash signature (syndication.sketch, a batch of texts at a time). A later row with the same id in
    one file replaces the earlier one (as the local build's reader does)."""

    def __init__(self) -> None:
        self.items: list[dict] = []
        self.latest: dict[tuple[str, str], int] = {}  # (file digest, article id) -> position kept
        self._rows: list[np.ndarray] = []
        self._sigs: list[np.ndarray] = []
        self._texts: list[str] = []
        self._first = 0  # items index of self._texts[0]

    def add(self, digest: str, pos: int, a: Article) -> None:
        self.latest[(digest, a.id)] = pos
        self.items.append({"id": a.id, "date": a.date, "source": a.source, "url": a.url, "file": digest, "pos": pos})
        self._texts.append("\n".join(a.paragraphs))
        if len(self._texts) >= 512:
            self._sketch()

    def _sketch(self) -> None:
        rows, sigs = syndication.sketch(self._texts)
        self._rows.append(rows + self._first)
        self._sigs.append(sigs)
        self._first += len(self._texts)
        self._texts = []

    def fold(self) -> dict[str, dict]:
        """{article id: its marks ("copy_of" or "copies")} over the latest version of every article."""
        self._sketch()
        rows = np.concatenate(self._rows) if self._rows else np.zeros(0, np.int64)
        sigs = np.concatenate(self._sigs) if self._sigs else np.zeros((0, syndication.NUM_PERM), np.uint32)
        live = np.array([self.latest[(it["file"], it["id"])] == it["pos"] for it in self.items], bool)
        kept = np.flatnonzero(live)  # superseded rows take no part
        new_of = np.full(len(self.items), -1, np.int64)
        new_of[kept] = np.arange(len(kept))
        arts = [self.items[i] for i in kept]
        rows = new_of[rows]
        syndication.fold(arts, (rows[rows >= 0], sigs[rows >= 0]))
        return {a["id"]: {k: a[k] for k in ("copy_of", "copies") if k in a} for a in arts if "copy_of" in a or "copies" in a}


def _marks_digest(marks: dict) -> str:
    return hashlib.sha256(json.dumps(marks, ensure_ascii=False, sort_keys=True).encode()).hexdigest()[:32] if marks else ""


def _catalogue(settings: Settings, groups: dict[str, list[str]], report: BuildReport,
               progress: Progress | None = None) -> _Catalogue:
    """Read every article once for the fold; problems go to the build summary here (and only here)."""
    cat = _Catalogue()
    for n, (digest, paths) in enumerate(list(groups.items()), 1):
        if progress:
            progress("finding syndicated copies", n, len(groups))
        rel, found, problems, dropped = paths[0], 0, 0, 0
        try:
            for pos, item in _file_articles(settings, rel):
                if isinstance(item, ArticleError):
                    if problems < MAX_PROBLEMS_LISTED:
                        report.skipped.append((str(item.path), item.reason))
                        problems += 1
                    else:
                        dropped += 1
                    continue
                cat.add(digest, pos, item)
                found += 1
        except ArticleError as e:
            report.skipped.append((rel, e.reason))
            del groups[digest]
            continue
        if dropped:
            report.skipped.append((rel, f"{dropped} more rows or entries skipped for the same kinds of reasons"))
        if not found:
            report.skipped.append((rel, "has no entry or row with article text"))
            del groups[digest]
    return cat


def _add_article(batch: list[dict], record: dict, chunks: list[dict], paths: list[str], digest: str, gen: int) -> None:
    """An article's record as rows of the articles collection (split in PART_CHARS parts)."""
    record["paths"] = paths
    data = json.dumps(record, ensure_ascii=False)
    marks = _marks_digest({k: record[k] for k in ("copy_of", "copies") if k in record})
    for part, start in enumerate(range(0, max(len(data), 1), mv.PART_CHARS)):
        batch.append({"key": f"{gen}:{record['id']}:{part}", "article_id": record["id"], "gen": gen,
                      "part": part, "chunks": len(chunks), "path": paths[0], "content_hash": digest,
                      "paths": json.dumps(paths, ensure_ascii=False) if part == 0 else "",
                      "source": record.get("source") or "", "data": data[start:start + mv.PART_CHARS],
                      "marks": marks, "_v": [0.0, 0.0]})


def _scan(files: list[Path], seeds: Path, report: BuildReport, follow_links: bool = False) -> dict[str, list[str]]:
    """Content hash -> paths, in order (first pass: hashes only, so memory does not hold the archive;
    an export is hashed as a stream, it has no size cap)."""
    groups: dict[str, list[str]] = {}
    for path in files:
        rel = path.relative_to(seeds).as_posix()
        try:
            digest = seed_digest(path, seeds, follow_links)[1]  # the local build's helper (qa/seedfiles.py)
        except ArticleError as e:
            report.skipped.append((rel, e.reason))
            continue
        if digest in groups:
            report.duplicates.append((rel, groups[digest][0]))
        groups.setdefault(digest, []).append(rel)
    return groups


def _live_files(c, manifest: dict) -> dict[tuple[str, str], list[dict]]:
    """(path, file hash) -> the live articles read from that file (id, paths, passage count, source, marks)."""
    out: dict[tuple[str, str], list[dict]] = {}
    it = c.query_iterator(manifest["collections"]["articles"], batch_size=1000,
                          filter=f"part == 0 and {mv.visible(manifest)}",
                          output_fields=["article_id", "path", "content_hash", "paths", "chunks", "source", "marks"])
    while batch := it.next():
        for r in batch:
            out.setdefault((r["path"], r["content_hash"]), []).append(r)
    it.close()
    return out
