"""RSS 2.0 / Atom / RDF feeds (.xml/.rss/.atom) through feedparser: every entry an article, its full
content (`content:encoded`, Atom `<content>`) preferred over the summary."""

from __future__ import annotations

from collections.abc import Iterator

from ..articles import Article
from ..errors import ArticleError
from .common import article_key, html_paragraphs, make_article


def read_feed(raw: bytes, rel: str, digest: str) -> Iterator[Article | ArticleError]:
    """Yields each entry's Article, or an ArticleError for an entry with no text. Raises ArticleError
    when the file is not a feed or has no entries."""
    import feedparser

    parsed = feedparser.parse(raw)
    if not parsed.entries:
        why = f"not a valid RSS/Atom feed ({parsed.bozo_exception})" if parsed.get("bozo") else "a feed with no entries"
        raise ArticleError(rel, f"is {why}: nothing to index; check the file or remove it")
    feed = parsed.get("feed", {})
    outlet = feed.get("title") or None
    broken = f"; the file is not a valid RSS/Atom feed ({parsed.bozo_exception})" if parsed.get("bozo") else ""
    for n, e in enumerate(parsed.entries, 1):
        contents = [c.get("value", "") for c in e.get("content", []) if c.get("value")]
        html = max(contents, key=len) if contents else e.get("summary", "")
        body = html_paragraphs(html)
        url = e.get("link") or None
        where = f"{rel} entry {n}"
        if not body.strip():
            yield ArticleError(where, f"({e.get('title', 'untitled')!r}) has neither content nor summary: skipped{broken}")
            continue
        authors = [a.get("name") for a in e.get("authors", []) if a.get("name")] or (
            [e["author"]] if e.get("author") else [])
        date = e.get("published") or e.get("updated") or e.get("published_parsed") or e.get("updated_parsed")
        try:
            yield make_article(rel, digest, title=e.get("title"), body=body, source=outlet, date=date, url=url,
                               authors=authors, key=article_key(e.get("id"), url, body),
                               meta={"format": "feed", "entry": n, "feed_url": feed.get("link")})
        except ArticleError as err:
            yield ArticleError(where, err.reason)
