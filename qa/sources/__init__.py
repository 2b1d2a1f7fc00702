"""Readers by file format: each turns one file into the Articles it holds (a page or a .md file holds
one, a feed or an export holds many). `read_file` dispatches on the suffix.

| suffix | reader |
|---|---|
| .md .markdown .txt | qa/articles.py (front matter + markdown) |
| .html .htm | sources/html.py (trafilatura) |
| .xml .rss .atom | sources/feeds.py (feedparser) |
| .jsonl .csv | sources/exports.py (streamed, rows) |
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..articles import Article, decode, parse_article
from ..errors import ArticleError
from ..seedfiles import TEXT_SUFFIXES

PAGE_SUFFIXES = (".html", ".htm")
FEED_SUFFIXES = (".xml", ".rss", ".atom")
EXPORT_SUFFIXES = (".jsonl", ".csv")
SUFFIXES = TEXT_SUFFIXES + PAGE_SUFFIXES + FEED_SUFFIXES + EXPORT_SUFFIXES
MAX_PROBLEMS_LISTED = 20  # per file; the rest are counted in one line


@dataclass
class FileArticles:
    digest: str  # sha256 of the file's bytes (streamed for exports)
    articles: list[Article] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (where, reason): skipped parts


def streamed(path: Path) -> bool:
    """Exports are read row by row from the file (no size limit); everything else is read whole."""
    return path.suffix.lower() in EXPORT_SUFFIXES


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(2**20):
            h.update(block)
    return h.hexdigest()


def read_file(path: Path, rel: str, read: Callable[[Path], bytes], seeds: Path | None = None,
              raw: bytes | None = None, digest: str | None = None) -> FileArticles:
    """The Articles of one file. `read` is the build's guarded whole-file reader (size limit, errors);
    a file-level problem raises ArticleError, a bad entry or row becomes a problem and is skipped."""
    if streamed(path):
        try:
            digest = digest or file_digest(path)
        except OSError as e:
            raise ArticleError(rel, f"cannot be read ({e.strerror or e}): check the file and its permissions") from None
        return _collect(rel, digest, iter_file(path, rel, read, seeds))
    raw = read(path) if raw is None else raw
    return _collect(rel, digest or hashlib.sha256(raw).hexdigest(), iter_file(path, rel, read, seeds, raw))


def iter_file(path: Path, rel: str, read: Callable[[Path], bytes], seeds: Path | None = None,
              raw: bytes | None = None) -> Iterator[Article | ArticleError]:
    """The articles of one file as they are read (an export row by row, never whole; a later row with
    the same id replaces an earlier one, which a caller that streams has to do itself), and each bad
    entry or row as an ArticleError item. A file-level problem raises ArticleError."""
    suffix = path.suffix.lower()
    if streamed(path):
        from .exports import load_fields, read_csv, read_jsonl

        fields = load_fields(seeds) if seeds else load_fields(Path("/nonexistent"))
        yield from (read_jsonl if suffix == ".jsonl" else read_csv)(path, rel, fields)
        return
    raw = read(path) if raw is None else raw
    digest = hashlib.sha256(raw).hexdigest()
    if suffix in PAGE_SUFFIXES:
        from .html import read_html

        yield read_html(raw, rel, digest)
    elif suffix in FEED_SUFFIXES:
        from .feeds import read_feed

        yield from read_feed(raw, rel, digest)
    else:
        yield parse_article(decode(raw, path), Path(rel), digest)


def _collect(rel: str, digest: str, items) -> FileArticles:
    out = FileArticles(digest)
    seen: dict[str, int] = {}
    dropped = 0
    for item in items:
        if isinstance(item, ArticleError):
            if len(out.problems) < MAX_PROBLEMS_LISTED:
                out.problems.append((item.path, item.reason))
            else:
                dropped += 1
            continue
        if item.id in seen:  # the same id twice in one file: the later row wins (an export's update)
            out.articles[seen[item.id]] = item
            continue
        seen[item.id] = len(out.articles)
        out.articles.append(item)
    if dropped:
        out.problems.append((rel, f"{dropped} more rows or entries skipped for the same kinds of reasons"))
    if not out.articles:
        first = f" (first: {out.problems[0][0]}: {out.problems[0][1]})" if out.problems else ""
        raise ArticleError(rel, f"has no entry or row with article text{first}")
    return out
