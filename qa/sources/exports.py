"""Crawler and database exports (.jsonl, .csv): one article per row, read as a stream (a 1 GB export
never sits in memory), column names found automatically or mapped in `<seeds>/fields.yaml`:

    text: 正文          # a name, or a list of names tried in order
    date: [发布时间, pub_time]
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import yaml

from ..articles import Article
from ..errors import ArticleError
from .common import article_key, make_article

FIELDS = {  # canonical field -> names tried in order (compared case-insensitively)
    "title": ["title", "headline", "标题", "题目"],
    "text": ["text", "content", "body", "article", "正文", "内容"],
    "date": ["date", "published", "pubdate", "pub_date", "published_at", "publish_time", "time", "datetime",
             "日期", "发布时间", "时间"],
    "url": ["url", "link", "href", "链接", "网址"],
    "source": ["source", "site", "outlet", "publisher", "media", "来源", "媒体"],
    "id": ["id", "_id", "uuid", "guid", "doc_id", "article_id", "编号"],
    "author": ["author", "authors", "byline", "作者"],
}
MAX_ROW_BYTES = 16 * 2**20  # one row longer than this is skipped (a broken export, not an article)


def load_fields(seeds: Path) -> dict[str, list[str]]:
    """FIELDS with the user's names from `<seeds>/fields.yaml` tried first."""
    path = seeds / "fields.yaml"
    out = {k: list(v) for k, v in FIELDS.items()}
    if not path.is_file():
        return out
    try:
        user = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as e:
        raise ArticleError(path, f"is not readable YAML ({e}): write `text: 正文` lines, one field a line") from None
    if not isinstance(user, dict) or not set(user) <= set(FIELDS):
        raise ArticleError(path, f"maps only these fields: {', '.join(FIELDS)} (e.g. `text: 正文`)")
    for field, names in user.items():
        names = [names] if isinstance(names, str) else [str(n) for n in names or []]
        out[field] = names + out[field]
    return out


def _pick(row: dict, fields: dict[str, list[str]]) -> dict[str, object]:
    lower = {str(k).strip().lower(): v for k, v in row.items()}
    out: dict[str, object] = {}
    for field, names in fields.items():
        for name in names:
            value = lower.get(name.lower())
            if value not in (None, "", []):
                out[field] = value
                break
    return out


def _article(row: dict, fields: dict[str, list[str]], rel: str, where: str) -> Article:
    if not isinstance(row, dict):
        raise ArticleError(where, "is not a JSON object: each line must be {\"title\": …, \"text\": …}")
    got = _pick(row, fields)
    text = got.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ArticleError(where, f"has no article text (columns: {', '.join(map(str, list(row)[:8]))}): "
                           "name the text column in seeds/fields.yaml, e.g. `text: 正文`")
    url = str(got["url"]) if got.get("url") else None
    author = got.get("author")
    authors = [str(a) for a in author] if isinstance(author, list) else [str(author)] if author else []
    title = str(got["title"]) if got.get("title") else None
    import hashlib

    digest = hashlib.sha256(json.dumps(row, ensure_ascii=False, sort_keys=True, default=str).encode()).hexdigest()
    return make_article(rel, digest, title=title, body=text.replace("\r\n", "\n"), url=url, authors=authors,
                        source=str(got["source"]) if got.get("source") else None, date=got.get("date"),
                        key=article_key(got.get("id"), url, (title or "") + text),
                        meta={"format": Path(rel).suffix.lower().lstrip(".")})


def read_jsonl(path: Path, rel: str, fields: dict[str, list[str]]) -> Iterator[Article | ArticleError]:
    with open(path, "rb") as f:
        n = 0
        while True:
            line = f.readline(MAX_ROW_BYTES + 1)
            if not line:
                return
            n += 1
            where = f"{rel} line {n}"
            if len(line) > MAX_ROW_BYTES and not line.endswith(b"\n"):
                while (rest := f.readline(2**20)) and not rest.endswith(b"\n"):
                    pass
                yield ArticleError(where, f"is longer than {MAX_ROW_BYTES // 2**20} MB: skipped")
                continue
            if not line.strip():
                continue
            try:
                row = json.loads(line.decode("utf-8-sig" if n == 1 else "utf-8"))
            except UnicodeDecodeError:
                yield ArticleError(where, "is not UTF-8: JSON lines must be UTF-8; convert the file with iconv")
                continue
            except ValueError as e:
                yield ArticleError(where, f"is not valid JSON ({e}): fix or remove that line")
                continue
            try:
                yield _article(row, fields, rel, where)
            except ArticleError as e:
                yield e


def csv_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) or GB18030/GBK, judged on the first 1 MB."""
    with open(path, "rb") as f:
        head = f.read(2**20)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as e:
        if e.start >= len(head) - 4:  # the 1 MB cut fell inside a character
            return "utf-8"
    try:
        head[: len(head) - 4].decode("gb18030")
        return "gb18030"
    except UnicodeDecodeError:
        raise ArticleError(path, "is neither UTF-8 nor GBK/GB18030: convert it, e.g. "
                           "`iconv -f BIG5 -t UTF-8 in.csv > out.csv`") from None


def read_csv(path: Path, rel: str, fields: dict[str, list[str]]) -> Iterator[Article | ArticleError]:
    encoding = csv_encoding(path)
    csv.field_size_limit(MAX_ROW_BYTES)
    with open(path, "rb") as raw:
        text = io.TextIOWrapper(raw, encoding=encoding, newline="")
        reader = csv.DictReader(text)
        n = 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except (csv.Error, UnicodeDecodeError) as e:
                yield ArticleError(f"{rel} row {n + 1}", f"cannot be read as {encoding} CSV ({e}): "
                                   "the rest of the file is skipped; fix the file and build again")
                return
            n += 1
            row.pop(None, None)  # cells beyond the header
            try:
                yield _article(row, fields, rel, f"{rel} row {n}")
            except ArticleError as e:
                yield e
