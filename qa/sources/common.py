"""What every reader shares: an `Article` from extracted fields (through the house cleaning rules),
stable article ids, dates from the many ways feeds and exports write them, HTML fragments to paragraphs."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
from pathlib import PurePosixPath

from ..articles import Article, _blocks, _clean_inline, _content  # the house cleaning rules
from ..errors import ArticleError

_ISO = re.compile(r"^\s*(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})")
_YEAR = re.compile(r"(?<!\d)(?:1[89]|20)\d{2}(?!\d)")
_KEY_SAFE = re.compile(r"[^\w.\-]+")
_BLOCK_TAGS = ("p", "div", "section", "article", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
               "pre", "tr", "table", "ul", "ol", "figure", "figcaption")


def article_key(given: object, url: str | None, text: str) -> str:
    """Stable identity inside a file: the row's own id, else its URL, else its content."""
    if given not in (None, ""):
        key = _KEY_SAFE.sub("_", str(given).strip())[:80].strip("_")
        if key:
            return key
    if url:
        return "u" + hashlib.sha1(url.strip().encode()).hexdigest()[:16]
    return "c" + hashlib.sha1(text.encode()).hexdigest()[:16]


def make_article(rel: str, digest: str, *, title: str | None, body: str, source: str | None = None,
                 date: object = None, url: str | None = None, authors: list[str] | tuple[str, ...] = (),
                 key: str | None = None, meta: dict | None = None) -> Article:
    """Run extracted text through the same cleaning as a .md article (WeChat debris, origin and author
    lines). `key` None: the file is the article (id = path without suffix, like .md); else `<path>:<key>`.
    Raises ArticleError when nothing is left."""
    # The cleaning steps of parse_article without its YAML round trip (YAML was 75 % of an export's read time).
    blocks = _blocks(body)
    clean_title = _clean_inline(title or "").strip() or next(
        (b for kind, b in blocks if kind == "heading"), "") or next((b for _, b in blocks if len(b) <= 80), "")
    paragraphs, found_authors, origin = _content(blocks, clean_title, source)
    where = rel if key is None else f"{rel} ({key})"
    if not paragraphs:
        raise ArticleError(where, "has no article text left after removing markup and page boilerplate: "
                           "check that it is a news article")
    stem = PurePosixPath(rel).with_suffix("").as_posix()
    extra = {k: v for k, v in (meta or {}).items() if v not in (None, "")}
    return Article(id=stem if key is None else f"{stem}:{key}", path=rel, title=clean_title or stem,
                   paragraphs=tuple(paragraphs), source=source or None, date=iso_date(date), url=url or None,
                   authors=tuple(authors) or tuple(found_authors), origin=origin,
                   meta={**extra, **({"key": key} if key else {})}, content_hash=digest)


def iso_date(value: object) -> str | None:
    """yyyy-mm-dd from a date, a struct_time, a unix timestamp or a date string in any common form."""
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if hasattr(value, "tm_year"):  # time.struct_time (feedparser)
        return dt.date(value.tm_year, value.tm_mon, value.tm_mday).isoformat()  # type: ignore[attr-defined]
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.strip().isdigit()
                                           and len(value.strip()) in (10, 13)):
        stamp = float(value) / (1000 if len(str(int(float(value)))) == 13 else 1)
        try:
            return dt.datetime.fromtimestamp(stamp, dt.timezone.utc).date().isoformat()
        except (OverflowError, OSError, ValueError):
            return None
    text = str(value).strip()
    m = _ISO.match(text)
    if m:
        try:
            return dt.date(int(m[1]), int(m[2]), int(m[3])).isoformat()
        except ValueError:
            return None
    try:  # RFC 822 (RSS pubDate): the outlet's own calendar day, not UTC's
        from email.utils import parsedate_to_datetime

        return parsedate_to_datetime(text).date().isoformat()
    except (TypeError, ValueError, IndexError):
        pass
    if not _YEAR.search(text):  # "07-24 09:50": dateparser would put it in the current year, wrong for an archive
        return None
    return _free_date(text[:64])


@functools.lru_cache(maxsize=8192)
def _free_date(text: str) -> str | None:
    """dateparser, slower (20 ms a call; exports repeat their dates): only for "Mon, 15 Jul 2024 10:00 GMT",
    "15 July 2024", "2024年7月15日 星期一"."""
    import dateparser

    parsed = dateparser.parse(text, settings={"PREFER_DAY_OF_MONTH": "first", "RETURN_AS_TIMEZONE_AWARE": False})
    return parsed.date().isoformat() if parsed else None


def html_paragraphs(fragment: str) -> str:
    """An HTML fragment (a feed entry's content) as plain text, one blank line between blocks."""
    if "<" not in fragment:
        return fragment
    import lxml.html
    from lxml import etree

    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (etree.ParserError, ValueError):
        return re.sub(r"<[^>]+>", "", fragment)
    for bad in root.xpath("//script|//style|//noscript"):
        bad.drop_tree()
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        if el.tag == "br":
            el.tail = "\n" + (el.tail or "")
        elif el.tag in _BLOCK_TAGS:
            el.tail = "\n\n" + (el.tail or "")
            el.text = "\n\n" + (el.text or "")
    text = root.text_content()
    return re.sub(r"\n\s*\n\s*", "\n\n", text).strip()
