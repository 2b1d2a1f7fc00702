"""A local build's reading pass: every seeds file read once, in order, its articles and passages
spilled to the build's `.work/` (qa/buildspill.py) as they come, and per article only what the fold
and the writer need kept in memory (`Catalogue`: id, date, spill rows, passage count, signature key).

An export is read row by row and never held whole (a 1 GB export is ~500k articles); a later row with
the same id replaces the earlier one in its place, as qa/sources' `read_file` does for a whole file.
A file that fails part-way (a file-level problem) leaves no article behind.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .articles import Article
from .buildspill import Spill
from .chunking import chunk_article
from .config import Settings
from .errors import ArticleError
from .previous import Reuse
from .seedfiles import read_capped, seed_digest
from .sources import MAX_PROBLEMS_LISTED, iter_file
from .syndication import Sketches

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class Catalogue:
    """Per article, in the order the generation lists them; per spilled passage, its reusable row."""

    ids: list[str] = field(default_factory=list)
    dates: list[str | None] = field(default_factory=list)
    spilled: array = field(default_factory=lambda: array("q"))  # row in the article spill
    first: array = field(default_factory=lambda: array("q"))  # first row in the passage spill
    counts: array = field(default_factory=lambda: array("q"))  # passages
    keys: array = field(default_factory=lambda: array("q"))  # its text's number in `sketches`
    notes: dict[int, list[tuple[str, str]]] = field(default_factory=dict)  # article -> what was ignored
    more_paths: dict[int, list[str]] = field(default_factory=dict)  # article -> identical files' paths
    prev_rows: array = field(default_factory=lambda: array("q"))  # passage spill row -> live row or -1
    files: dict[str, str] = field(default_factory=dict)  # path -> sha256 (the manifest's "files")
    row_problems: dict[str, list[list[str]]] = field(default_factory=dict)
    sketches: Sketches = field(default_factory=Sketches)

    def __len__(self) -> int:
        return len(self.ids)

    def _truncate(self, n: int) -> None:
        for col in (self.ids, self.dates, self.spilled, self.first, self.counts, self.keys):
            del col[n:]
        for pos in [p for p in self.notes if p >= n]:
            del self.notes[pos]


def article_record(a: Article) -> dict:
    return {"id": a.id, "path": a.path, "title": a.title, "source": a.source, "date": a.date, "url": a.url,
            "authors": list(a.authors), "origin": a.origin, "meta": a.meta, "content_hash": a.content_hash,
            "paragraphs": list(a.paragraphs), **({"problems": list(a.problems)} if a.problems else {})}


def chunk_records(a: Article, settings: Settings) -> list[dict]:
    return [{"id": c.id, "article_id": c.article_id, "paragraphs": list(c.paragraphs), "start": c.start,
             "end": c.end, "text": c.text, "hash": c.hash}
            for c in chunk_article(a, settings.max_chunk_chars, settings.min_chunk_chars)]


class Reader:
    """Reads the seeds folder into two spills and a Catalogue (see the module's doc)."""

    def __init__(self, settings: Settings, reuse: Reuse | None, report, articles: Spill, passages: Spill,
                 on_new: Callable[[], None]) -> None:
        self.settings, self.reuse, self.report = settings, reuse, report
        self.articles, self.passages, self.on_new = articles, passages, on_new
        self.cat = Catalogue()
        self._where: dict[str, int] = {}  # article id -> position, within the file being read

    def read(self, files: list[Path], progress: Progress | None) -> Catalogue:
        s, report, reuse = self.settings, self.report, self.reuse
        prev_files = reuse.manifest.get("files", {}) if reuse else {}
        prev_problems = reuse.manifest.get("row_problems", {}) if reuse else {}
        by_hash: dict[str, tuple[int, str]] = {}  # file sha256 -> (its first article, that article's path)
        for n, path in enumerate(files, 1):
            rel = path.relative_to(s.seeds).as_posix()
            if progress:
                progress("read", n, len(files))
            try:
                raw, digest = seed_digest(path, s.seeds, s.follow_links)
            except ArticleError as e:
                report.skipped.append((rel, e.reason))
                continue
            self.cat.files[rel] = digest
            if digest in by_hash:  # identical content: index once, remember both paths
                first, first_path = by_hash[digest]
                self.cat.more_paths.setdefault(first, []).append(rel)
                report.duplicates.append((rel, first_path))
                continue
            start = len(self.cat)
            if reuse and prev_files.get(rel) == digest and rel in reuse.by_path:  # unchanged: all kept
                problems = [tuple(p) for p in prev_problems.get(rel, [])]
                for a in reuse.file_articles(rel):  # (a syndicated copy kept no passages: cut it again)
                    self._add(dict(a), reuse.passages(a["id"]) or chunk_records(_stored(a), s), rel)
            else:
                try:
                    problems = self._read_new(path, rel, raw)
                except ArticleError as e:
                    self.cat._truncate(start)
                    report.skipped.append((rel, e.reason))
                    continue
            if problems:  # bad rows or entries inside a file that still gave articles
                report.skipped += problems
                self.cat.row_problems[rel] = [list(p) for p in problems]
            if len(self.cat) > start:
                by_hash.setdefault(digest, (start, self.articles.get(self.cat.spilled[start])["path"]))
        report.notes += [n for pos in sorted(self.cat.notes) for n in self.cat.notes[pos]]
        return self.cat

    def _read_new(self, path: Path, rel: str, raw: bytes | None) -> list[tuple[str, str]]:
        s = self.settings
        self._where = {}
        problems: list[tuple[str, str]] = []
        dropped = found = 0
        for item in iter_file(path, rel, lambda p: read_capped(p, s.seeds, s.follow_links), s.seeds, raw):
            if isinstance(item, ArticleError):
                if len(problems) < MAX_PROBLEMS_LISTED:
                    problems.append((item.path, item.reason))
                else:
                    dropped += 1
                continue
            found += 1
            chunks = chunk_records(item, s)
            if any(c["hash"] not in (self.reuse.rows if self.reuse else {}) for c in chunks):
                self.on_new()  # the model loads while the rest is read
            self._add(article_record(item), chunks, rel, self._where.get(item.id))
        if dropped:
            problems.append((rel, f"{dropped} more rows or entries skipped for the same kinds of reasons"))
        if not found:
            first = f" (first: {problems[0][0]}: {problems[0][1]})" if problems else ""
            raise ArticleError(rel, f"has no entry or row with article text{first}")
        return problems

    def _add(self, record: dict, chunks: list[dict], rel: str, replace: int | None = None) -> None:
        """Spill one article and its passages; `replace`: the position of an earlier row it updates."""
        cat, rows = self.cat, self.reuse.rows if self.reuse else {}
        record["paths"] = [rel]
        first = len(self.passages)
        for c in chunks:
            self.passages.add(c)
            cat.prev_rows.append(rows.get(c["hash"], -1))
        values = (record["id"], record.get("date"), self.articles.add(record), first, len(chunks),
                  cat.sketches.add("\n".join(record.get("paragraphs") or [])))
        notes = [(rel, p) for p in record.get("problems", [])]
        pos = len(cat) if replace is None else replace
        if replace is None:
            self._where[record["id"]] = pos
            for col, v in zip((cat.ids, cat.dates, cat.spilled, cat.first, cat.counts, cat.keys), values):
                col.append(v)
        else:
            for col, v in zip((cat.ids, cat.dates, cat.spilled, cat.first, cat.counts, cat.keys), values):
                col[pos] = v
            cat.notes.pop(pos, None)
        if notes:
            cat.notes[pos] = notes


def _stored(r: dict) -> Article:
    return Article(id=r["id"], path=r["path"], title=r["title"], paragraphs=tuple(r["paragraphs"]))
