"""Saved web pages (.html/.htm): trafilatura finds the main text and the page's metadata (title, date,
author, site, canonical URL); then the house cleaning rules of qa/articles.py remove what a news page
still carries inside its text (WeChat QR/subscription blocks, "阅读原文", editor lines).

`favor_precision` because the default mode falls back to a whole-page baseline on short articles, which
joins the paragraphs into one line and keeps the share bar; paragraphs must survive (chunks map to them).
"""

from __future__ import annotations

from pathlib import Path

from ..articles import Article, decode
from ..errors import ArticleError
from .common import make_article


def read_html(raw: bytes, rel: str, digest: str) -> Article:
    import trafilatura

    text = decode(raw, rel)
    try:
        doc = trafilatura.bare_extraction(text, with_metadata=True, include_comments=False, include_tables=True,
                                          favor_precision=True, output_format="python")
    except Exception as e:  # noqa: BLE001 - lxml/trafilatura raise many types on broken markup
        raise ArticleError(rel, f"is not a readable web page ({type(e).__name__}): save it again as HTML") from None
    if doc is None or not (doc.text or "").strip():
        raise ArticleError(rel, "has no article text that a news-page extractor can find: "
                           "check that it is a saved article page, not an index or a login page")
    authors = [a.strip() for a in (doc.author or "").split(";") if a.strip()]
    site = doc.sitename
    # WeChat: the account's name is the outlet (the site is always 微信公众平台); trafilatura puts it first in author.
    if site in ("微信公众平台", "mp.weixin.qq.com") and authors:
        site, authors = authors[0], authors[1:]
    return make_article(rel, digest, title=doc.title, body=doc.text.replace("\n", "\n\n"), source=site,
                        date=doc.date, url=doc.url, authors=authors, key=None,
                        meta={"format": "html", "hostname": doc.hostname, "description": doc.description})


def html_suffix(path: Path) -> bool:
    return path.suffix.lower() in (".html", ".htm")
