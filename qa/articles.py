"""Read one article file into an `Article`: decoding, front matter, markdown and boilerplate removal.

The body becomes clean prose paragraphs. Scraped pages (WeChat especially) carry UI text, QR-code and
subscription blocks, cover images and a repeated title; those go. An author line and a "（来源：…）"
origin line become metadata. What is left is each paragraph as the outlet wrote it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import ArticleError
from .text import sentences

SUFFIXES = (".md", ".txt", ".markdown")
MAX_FILE_BYTES = 20 * 1024 * 1024

# WeChat / scraped-page interface text: a line that is exactly one of these is not content.
_UI_LINES = {
    "微信扫一扫", "关注该公众号", "使用小程序", "阅读原文", "轻触阅读原文", "预览时标签不可点",
    "继续滑动看下一个", "向上滑动看下一个", "知道了", "取消", "允许", "视频", "小程序", "赞", "在看",
    "分享", "留言", "收藏", "听过", "分析", "×", "，轻点两下取消赞", "，轻点两下取消在看",
    "微信扫一扫可打开此内容，", "使用完整服务", "写留言", "喜欢此内容的人还喜欢", "人划线",
    "end", "—end—", "-end-", "— end —", "- end -", "（完）", "(完)", "返回搜狐，查看更多",
}
# Short lines with these words are promotion, not reporting.
_PROMO = re.compile(
    r"扫码|扫一扫|二维码|订阅|关注我们|欢迎关注|点击关注|征订|热线|邮发代号|点击下图|点击上方|点击蓝字"
    r"|长按|识别|公众号|抖音号|视频号|阅读原文|倾力推荐|转载请|版权归|侵删|投稿|商务合作|联系我们"
    r"|责任编辑|编辑[:：]|校对[:：]|审核[:：]|监制[:：]|排版[:：]|了解详情|点个|点赞|星标|往期推荐|推荐阅读"
)
_ORIGIN = re.compile(r"^[（(]?\s*(?:来源|来自|转自|转载自|稿源|source)\s*[:：]\s*(.+?)\s*[）)]?$", re.I)
_AUTHOR_TAGGED = re.compile(r"^(?:作者|文|撰文|记者|作者丨|文丨|by)\s*[:：/丨|\s]\s*(.+)$", re.I)
_NAMES = re.compile(r"^[\u4e00-\u9fff·]{2,4}(?:[\s、，,]+[\u4e00-\u9fff·]{2,4}){0,4}$")
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINKED_IMAGE = re.compile(r"\[\s*!\[[^\]]*\]\([^)]*\)\s*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\((?:[^()]|\([^)]*\))*\)")
_HTML_TAG = re.compile(r"</?[a-zA-Z][^>\n]*>")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|~~|`)(?=\S)(.+?)(?<=\S)\1")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_LIST_MARK = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_QUOTE_MARK = re.compile(r"^\s*>\s?")
_PUNCT_ONLY = re.compile(r"^[\W_]*$")
_BARE_URL = re.compile(r"^(?:https?://|www\.)\S+$")
# A line that is nothing but links/linked images is navigation ("[Read more](…)", "[![](img)](…)").
_LINK_ONLY = re.compile(r"^(?:\s*!?\[(?:[^\]]|\[[^\]]*\])*\]\((?:[^()]|\([^)]*\))*\))+\s*$")
_PRIVATE_USE = re.compile("[\ue000-\uf8ff]")


class _FrontMatterLoader(yaml.SafeLoader):
    """Safe YAML, but dates stay strings: `2024-13-45` must not crash the parser; `_iso_date` checks them."""


_FrontMatterLoader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class Article:
    id: str  # path inside the seeds folder, without suffix ("000_e0dd…")
    path: str  # path inside the seeds folder, with suffix
    title: str
    paragraphs: tuple[str, ...]
    source: str | None = None
    date: str | None = None  # ISO yyyy-mm-dd, or None when absent or not a date
    url: str | None = None
    authors: tuple[str, ...] = ()
    origin: str | None = None  # "（来源：新华网）"
    meta: dict = field(default_factory=dict, compare=False)  # the whole front matter, JSON-safe
    content_hash: str = ""  # sha256 of the file's bytes


def read_article(path: Path, root: Path | None = None) -> Article:
    """Read and clean one file. Raises `ArticleError` naming the file and the reason."""
    rel = path.relative_to(root) if root else Path(path.name)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ArticleError(path, f"{size / 2**20:.0f} MB is over the {MAX_FILE_BYTES // 2**20} MB "
                               "limit for one article: split it into several files")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ArticleError(path, "the file disappeared while reading it") from None
    except OSError as e:
        raise ArticleError(path, f"cannot be read ({e.strerror or e}): check its permissions") from None
    return parse_article(decode(raw, path), rel, hashlib.sha256(raw).hexdigest())


def decode(raw: bytes, path: object = "<text>") -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM, or GB18030/GBK; anything else is rejected."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    elif raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return _lines(raw.decode("utf-16"))
        except UnicodeDecodeError:
            raise ArticleError(path, "starts like UTF-16 but is not valid UTF-16: re-save it as UTF-8") from None
    if b"\x00" in raw[:8192]:
        raise ArticleError(path, "looks like a binary file, not text: only .md/.txt articles are indexed")
    for encoding in ("utf-8", "gb18030"):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        if encoding == "gb18030" and len(_PRIVATE_USE.findall(text)) > max(2, len(text) // 200):
            break  # Big5 and friends "decode" as GB18030 into private-use garbage: reject instead
        return _lines(text)
    raise ArticleError(path, "is neither UTF-8 nor GB18030/GBK text: convert it, e.g. "
                       "`iconv -f BIG5 -t UTF-8 in.txt > out.txt`")


def _lines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse_article(text: str, rel: Path, content_hash: str = "") -> Article:
    """Turn decoded file text into an Article (pure function, no I/O)."""
    meta, body = split_front_matter(text, rel)
    title = _clean_inline(str(meta.get("title") or "")).strip()
    source = _str_or_none(meta.get("source"))
    blocks = _blocks(body)
    if not title:
        title = next((b for kind, b in blocks if kind == "heading"), "") or next(
            (b for _, b in blocks if len(b) <= 80), "") or rel.stem
    paragraphs, authors, origin = _content(blocks, title, source)
    if isinstance(meta.get("author"), str) and not authors:
        authors = [meta["author"]]
    if not paragraphs:
        raise ArticleError(rel, "has no article text left after removing markup and page "
                           "boilerplate: check that it is a news article")
    return Article(
        id=rel.with_suffix("").as_posix(), path=rel.as_posix(), title=title, paragraphs=tuple(paragraphs),
        source=source, date=_iso_date(meta.get("date")), url=_str_or_none(meta.get("url")),
        authors=tuple(authors), origin=origin or _str_or_none(meta.get("origin")),
        meta=_json_safe(meta), content_hash=content_hash or hashlib.sha256(text.encode()).hexdigest(),
    )


def split_front_matter(text: str, rel: object = "<text>") -> tuple[dict, str]:
    """`---\\n yaml \\n---` at the very top becomes a dict; the rest is the body."""
    text = text.lstrip("\ufeff")
    m = re.match(r"^---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|$)", text, re.S)
    if not m:
        return {}, text
    try:
        meta = yaml.load(m.group(1), Loader=_FrontMatterLoader)  # noqa: S506 - a SafeLoader subclass
    except (yaml.YAMLError, ValueError) as e:
        where = getattr(e, "problem_mark", None)
        line = f" (line {where.line + 2})" if where else ""
        raise ArticleError(rel, f"front matter is not valid YAML{line}: fix it or remove the --- block") from None
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise ArticleError(rel, "front matter must be `key: value` lines: fix it or remove the --- block")
    return {str(k): v for k, v in meta.items()}, text[m.end():]


def _blocks(body: str) -> list[tuple[str, str]]:
    """Clean lines grouped into paragraphs: [(kind, text)], kind is "heading" or "text"."""
    out: list[tuple[str, str]] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            out.append(("text", _join(current)))
            current.clear()

    for line in body.split("\n"):
        heading = _HEADING.match(line)
        if heading:
            flush()
            text = _clean_inline(heading.group(1)).strip()
            if text and not _is_junk(text):
                out.append(("heading", text))
            continue
        if not line.strip():
            flush()
            continue
        bare = _QUOTE_MARK.sub("", _LIST_MARK.sub("", line))
        if _LINK_ONLY.match(bare):
            continue
        text = _clean_inline(bare).strip()
        if not text or _is_junk(text):
            continue
        current.append(text)
    flush()
    return out


def _clean_inline(line: str) -> str:
    line = _LINKED_IMAGE.sub("", line)
    line = _IMAGE.sub("", line)
    line = _LINK.sub(lambda m: m.group(1), line)
    line = _HTML_TAG.sub("", line)
    for _ in range(2):  # nested emphasis: **_x_**
        line = _EMPHASIS.sub(lambda m: m.group(2), line)
    return line.replace("\u200b", "").replace("\xa0", " ")


def _is_junk(line: str) -> bool:
    low = line.strip().lower()
    return (low in _UI_LINES or bool(_PUNCT_ONLY.match(low)) or bool(_BARE_URL.match(low))
            or (len(low) <= 40 and bool(_PROMO.search(low))))


def _join(lines: list[str]) -> str:
    """Join wrapped lines: no space between CJK characters, one space between Latin words."""
    text = lines[0]
    for nxt in lines[1:]:
        cjk_edge = re.match(r"[\u3000-\u9fff\uff00-\uffef]", text[-1:] or " ") or re.match(
            r"[\u3000-\u9fff\uff00-\uffef]", nxt[:1])
        text += ("" if cjk_edge else " ") + nxt
    return text


def _is_prose(text: str) -> bool:
    return len(text) >= 60 or any(True for _ in sentences(text)) and text[-1:] in "。！？.!?”\"」"


def _content(blocks: list[tuple[str, str]], title: str, source: str | None
             ) -> tuple[list[str], list[str], str | None]:
    paragraphs: list[str] = []
    authors: list[str] = []
    origin: str | None = None
    seen_prose = after_origin = False
    norm_title = _norm(title)
    title_copy: str | None = None
    for kind, text in blocks:
        if _norm(text) == norm_title or (source and _norm(text) == _norm(source)):
            if _norm(text) == norm_title and kind == "text":
                title_copy = title_copy or text
            continue  # repeated title or outlet name
        m = _ORIGIN.match(text)
        if m and len(text) <= 60:
            origin = origin or m.group(1)
            after_origin = after_origin or seen_prose  # above the article it is a byline, not the page's end
            continue
        if not seen_prose and not authors and len(text) <= 40:
            tagged = _AUTHOR_TAGGED.match(text)
            if tagged or (_NAMES.match(text) and kind == "text"):
                names = tagged.group(1) if tagged else text
                authors = [n for n in re.split(r"[\s、，,]+", names) if n]
                continue
        if after_origin and len(text) < 80:
            continue  # the page's trailer: promotion and UI below the article's end
        if kind == "heading" and not seen_prose:
            continue  # headings above the first paragraph are title variants
        seen_prose = seen_prose or _is_prose(text)
        paragraphs.append(text)
    if not paragraphs and title_copy:
        paragraphs = [title_copy]  # a one-paragraph item whose title is its text: the text is the article
    return paragraphs, authors, origin


def _norm(text: str) -> str:
    return re.sub(r"\W+", "", text).lower()


def _str_or_none(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _iso_date(value: object) -> str | None:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        m = re.match(r"^\s*(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})", value)
        if m:
            try:
                return dt.date(int(m[1]), int(m[2]), int(m[3])).isoformat()
            except ValueError:
                return None
    return None


def _json_safe(value: object) -> object:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
