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

from .errors import ArticleError
from .frontmatter import split_front_matter
from .seedfiles import decode, read_capped
from .text import sentences

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
# Article files are untrusted, so every pattern here runs in linear time: a bracket, parenthesis or
# emphasis run may not contain its own opening character, so a search that fails stops at the next
# opener instead of rescanning to the end of the line (`'_x ' * 32000` took 53 s with `(.+?)\1`).
_IMAGE = re.compile(r"!\[[^\[\]]*\]\([^()]*\)")
_LINKED_IMAGE = re.compile(r"\[\s*!\[[^\[\]]*\]\([^()]*\)\s*\]\([^()]*\)")
_LINK = re.compile(r"\[([^\[\]]*)\]\((?:[^()]|\([^()]*\))*\)")
_HTML_TAG = re.compile(r"</?[a-zA-Z][^<>\n]*>")
_EMPHASES = [re.compile(re.escape(d) + r"(?=\S)([^" + re.escape(d[0]) + r"]+?)(?<=\S)" + re.escape(d))
             for d in ("**", "__", "~~", "*", "_", "`")]
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*)$")
_LIST_MARK = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_CJK_EDGE = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")
_QUOTE_MARK = re.compile(r"^\s*>\s?")
_PUNCT_ONLY = re.compile(r"^[\W_]*$")
_BARE_URL = re.compile(r"^(?:https?://|www\.)\S+$")
# A line that is nothing but links/linked images is navigation ("[Read more](…)", "[![](img)](…)").
_LINK_ONLY = re.compile(r"^(?:\s*!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\((?:[^()]|\([^()]*\))*\))+\s*$")


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
    meta: dict = field(default_factory=dict, compare=False)  # the front matter, JSON-safe, flat, bounded
    content_hash: str = ""  # sha256 of the file's bytes
    problems: tuple[str, ...] = field(default=(), compare=False)  # kept, but e.g. its front matter was not


def read_article(path: Path, root: Path | None = None) -> Article:
    """Read and clean one file. Raises `ArticleError` naming the file and the reason."""
    rel = path.relative_to(root) if root else Path(path.name)
    raw = read_capped(path, root)  # a regular file inside `root`, size-capped, never a FIFO or device
    return parse_article(decode(raw, path), rel, hashlib.sha256(raw).hexdigest())


def parse_article(text: str, rel: Path, content_hash: str = "") -> Article:
    """Turn decoded file text into an Article (pure function, no I/O)."""
    front = split_front_matter(text, rel)
    meta, body = front.meta, front.body
    title = _clean_inline(_str_or_none(meta.get("title")) or "").strip()
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
        meta=meta, content_hash=content_hash or hashlib.sha256(text.encode()).hexdigest(),
        problems=(front.problem,) if front.problem else (),
    )


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
            text = _clean_inline(heading.group(1).rstrip().rstrip("#").rstrip()).strip()
            if text and not _is_junk(text):
                out.append(("heading", text))
            continue
        if not line.strip():
            flush()
            continue
        if line.strip().lower() in _UI_LINES:  # before list marks go: "- end -" is an end mark, not a list item
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
        for emphasis in _EMPHASES:
            line = emphasis.sub(r"\1", line)
    return line.replace("\u200b", "").replace("\xa0", " ")


def _is_junk(line: str) -> bool:
    low = line.strip().lower()
    return (low in _UI_LINES or bool(_PUNCT_ONLY.match(low)) or bool(_BARE_URL.match(low))
            or (len(low) <= 40 and bool(_PROMO.search(low))))


def _join(lines: list[str]) -> str:
    """Join wrapped lines: no space between CJK characters, one space between Latin words."""
    parts = [lines[0]]
    for prev, nxt in zip(lines, lines[1:]):
        cjk_edge = _CJK_EDGE.match(prev[-1:] or " ") or _CJK_EDGE.match(nxt[:1])
        parts.append(nxt if cjk_edge else " " + nxt)
    return "".join(parts)


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
        m = _ORIGIN.match(text) if len(text) <= 60 else None
        if m:
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
    if value is None or isinstance(value, (list, dict)):
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
