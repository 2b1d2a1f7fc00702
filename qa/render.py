"""HTML for an Answer: the reply with clickable [n] markers, and the citation cards.

Everything that came from an article, a file name or the user is escaped here, in one place; links are
made only for http(s) URLs. Pure string building: no Gradio, so it is unit-tested on its own.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

from .answer import Answer
from .search import Hit
from .text import fold, query_tokens

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def esc(text: object) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def md_text(text: str) -> str:
    """Text shown inside a markdown chat message: HTML-escaped and markdown-inert."""
    return _MD_SPECIAL.sub(r"\\\1", esc(text))


def safe_url(url: object) -> str | None:
    if not isinstance(url, str):
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or any(c in url for c in "\"'<> \n\t"):
        return None
    return url


def marker(n: int) -> str:
    return f'<a class="qa-marker" href="#qa-cite-{n}" data-cite="{n}">[{n}]</a>'


def reply_html(answer: Answer) -> str:
    """The assistant's chat message."""
    zh = answer.language == "zh"
    if answer.abstained or not answer.evidence:
        body = f'<p class="qa-abstain">{md_text(answer.answer_text())}</p>'
    else:
        lead = "以下是文章原文：" if zh else "In the articles' own words:"
        sentences = "".join(f"{md_text(s.text)}{marker(s.hit_index + 1)}" + ("" if zh else " ")
                            for s in answer.evidence)
        body = f'<p class="qa-lead">{lead}</p><p class="qa-answer">{sentences.strip()}</p>'
    extra = ""
    if answer.searched_for:
        label = "检索内容：" if zh else "Searched for: "
        extra += f'<p class="qa-searched">{label}{md_text(answer.searched_for)}</p>'
    if answer.notice:
        extra += f'<p class="qa-notice">{md_text(answer.notice)}</p>'
    return body + extra


def _marks(text: str, spans: list[tuple[int, int]], words: list[str]) -> str:
    """Escape text, wrapping evidence spans in <mark> and question keywords in <b>."""
    tag = [0] * len(text)
    for s, e in spans:
        for i in range(max(0, s), min(len(text), e)):
            tag[i] |= 1
    folded = "".join((fold(ch) or ch)[:1] for ch in text)
    for w in words:
        for m in re.finditer(re.escape(w), folded):
            for i in range(m.start(), m.end()):
                tag[i] |= 2
    out, i = [], 0
    while i < len(text):
        j = i
        while j < len(text) and tag[j] == tag[i]:
            j += 1
        piece = esc(text[i:j])
        if tag[i] & 2:
            piece = f'<b class="qa-kw">{piece}</b>'
        if tag[i] & 1:
            piece = f'<mark class="qa-ev">{piece}</mark>'
        out.append(piece)
        i = j
    return "".join(out)


def keywords(question: str) -> list[str]:
    """Question words worth marking: multi-character tokens, longest first."""
    return sorted({t for t in query_tokens(question) if len(t) >= 2}, key=len, reverse=True)


def card(n: int, hit: Hit, article: dict, spans: list[tuple[int, int]], words: list[str], top_score: float,
         open_: bool) -> str:
    meta = " · ".join(esc(x) for x in (hit.source, hit.date) if x)
    para = "¶" + "–".join(str(p) for p in (hit.paragraphs[0], hit.paragraphs[-1]) if p) if len(
        hit.paragraphs) > 1 else f"¶{hit.paragraph}"
    pct = max(3, min(100, round(100 * hit.score / top_score))) if top_score > 0 else 0
    url = safe_url(hit.url)
    link = (f'<a class="qa-link" href="{esc(url)}" target="_blank" rel="noopener noreferrer">'
            f'{esc(urlsplit(url).netloc)} ↗</a>') if url else '<span class="qa-nolink">no link</span>'
    paragraphs = article.get("paragraphs") or []
    first, last = hit.paragraphs[0], hit.paragraphs[-1]
    around = [(i, p) for i, p in enumerate(paragraphs, 1) if first - 1 <= i <= last + 1 and not first <= i <= last]
    context = "".join(f'<p class="qa-ctx"><span class="qa-pn">¶{i}</span> {esc(p)}</p>' for i, p in around)
    whole = "".join(f'<p class="{"qa-cited" if first <= i <= last else "qa-ctx"}"><span class="qa-pn">¶{i}</span> '
                    f'{esc(p)}</p>' for i, p in enumerate(paragraphs, 1))
    return (
        f'<details class="qa-card" id="qa-cite-{n}"{" open" if open_ else ""}>'
        f'<summary><span class="qa-num">[{n}]</span> <span class="qa-title">{esc(hit.title)}</span>'
        f'<span class="qa-meta">{meta}{" · " if meta else ""}{para}</span>'
        f'<span class="qa-bar" title="relevance {hit.score:.3f}"><span style="width:{pct}%"></span></span></summary>'
        f'<div class="qa-body">{link}'
        f'<p class="qa-text">{_marks(hit.text, spans, words)}</p>'
        + (f'<details class="qa-more"><summary>Surrounding paragraphs · 上下文</summary>{context}</details>'
           if context else "")
        + f'<details class="qa-more"><summary>Whole article · 全文</summary>{whole}</details>'
        f'</div></details>'
    )


def cards_html(answer: Answer, articles: dict[str, dict]) -> str:
    if not answer.hits:
        return '<div class="qa-empty">No passages yet. 暂无引用。</div>' if not answer.question else \
            '<div class="qa-empty">Nothing matched. 没有匹配的段落。</div>'
    spans: dict[int, list[tuple[int, int]]] = {}
    for s in answer.evidence:
        spans.setdefault(s.hit_index, []).append((s.start, s.end))
    words = keywords(answer.searched_for or answer.question)
    top = max(h.score for h in answer.hits) or 1.0
    folded = answer.abstained or not answer.evidence
    head = ('<p class="qa-closest">Closest passages, not an answer · 最接近的段落（并非答案）</p>'
            if folded else "")
    body = "".join(card(i + 1, h, articles.get(h.article_id, {}), spans.get(i, []), words, top,
                        open_=not folded and i in spans) for i, h in enumerate(answer.hits))
    return f'<div class="qa-cards">{head}{body}</div>'
