"""HTML for an Answer: the reply with clickable [n] markers, and the citation cards.

Everything that came from an article, a file name or the user is escaped here, in one place; links are
made only for http(s) URLs. Pure string building: no Gradio, so it is unit-tested on its own.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

from .answer import Answer
from .replies import phrase
from .search import Hit
from .text import fold, query_tokens

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def esc(text: object) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def md_text(text: str) -> str:
    """Text that is a whole markdown chat message: HTML-escaped and markdown-inert."""
    return _MD_SPECIAL.sub(r"\\\1", esc(text))


def inline(text: object) -> str:
    """Text inside our own HTML block of a chat message. Markdown is not applied inside an HTML
    block (so no backslash escapes, which would show), and a blank line would end the block: fold
    newlines into spaces."""
    return re.sub(r"\s*\n\s*", " ", esc(text))


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


def cite_id(n: int, turn: int | None = None) -> str:
    """Card n of conversation turn `turn`: ids stay unique when earlier turns' cards are kept."""
    return f"{turn}-{n}" if turn else str(n)


def marker(n: int, turn: int | None = None) -> str:
    cid = cite_id(n, turn)
    return f'<a class="qa-marker" href="#qa-cite-{cid}" data-cite="{cid}">[{n}]</a>'


def reply_html(answer: Answer, turn: int | None = None) -> str:
    """The assistant's chat message."""
    zh = answer.language in ("zh", "ja")
    if answer.abstained or not answer.evidence:
        body = f'<p class="qa-abstain">{inline(answer.answer_text())}</p>'
    else:
        lead = inline(phrase("lead", answer.language))
        sentences = "".join(f"{inline(s.text)}{marker(s.hit_index + 1, turn)}" + ("" if zh else " ")
                            for s in answer.evidence)
        body = f'<p class="qa-lead">{lead}</p><p class="qa-answer">{sentences.strip()}</p>'
    extra = ""
    if answer.searched_for and answer.searched_for != answer.question:
        label = inline(phrase("searched_for", answer.language))
        extra += f'<p class="qa-searched">{label}{inline(answer.searched_for)}</p>'
    if answer.notice:
        extra += f'<p class="qa-notice">{inline(answer.notice)}</p>'
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
    def runs(lo: int, hi: int, bit: int):
        i = lo
        while i < hi:
            j = i
            while j < hi and tag[j] & bit == tag[i] & bit:
                j += 1
            yield i, j, bool(tag[i] & bit)
            i = j

    out = []
    for a, b, evidence in runs(0, len(text), 1):  # one <mark> per evidence run, keywords <b> inside it
        inner = "".join(f'<b class="qa-kw">{esc(text[i:j])}</b>' if kw else esc(text[i:j])
                        for i, j, kw in runs(a, b, 2))
        out.append(f'<mark class="qa-ev">{inner}</mark>' if evidence else inner)
    return "".join(out)


def keywords(question: str) -> list[str]:
    """Question words worth marking: multi-character tokens, longest first."""
    return sorted({t for t in query_tokens(question) if len(t) >= 2}, key=len, reverse=True)


def card(n: int, hit: Hit, article: dict, spans: list[tuple[int, int]], words: list[str], top_score: float,
         open_: bool, turn: int | None = None) -> str:
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
        f'<details class="qa-card" id="qa-cite-{cite_id(n, turn)}" data-n="{n}"{" open" if open_ else ""}>'
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


def cards_html(answer: Answer, articles: dict[str, dict], turn: int | None = None) -> str:
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
                        open_=not folded and i in spans, turn=turn) for i, h in enumerate(answer.hits))
    return f'<div class="qa-cards">{head}{body}</div>'


def panel_html(latest: str, earlier: list[tuple[str, str]]) -> str:
    """The citations panel: the latest answer's cards, then earlier turns' cards folded away, so a
    marker in an old answer still opens the card it meant. `earlier` is [(question, cards html)], newest first."""
    if not earlier:
        return f'<div class="qa-latest">{latest}</div>'
    groups = "".join(f'<div class="qa-turn"><p class="qa-turn-q">{esc(q)}</p>{html_}</div>' for q, html_ in earlier)
    return (f'<div class="qa-latest">{latest}</div><details class="qa-earlier"><summary>Earlier questions · '
            f'之前的问题 ({len(earlier)})</summary>{groups}</details>')


def written_html(answer: Answer, turn: int | None, model: str, host: str, local: bool) -> str:
    """The chat message of a written answer (qa/written.py): its kept sentences with clickable markers, who
    wrote it, and, for a server elsewhere, that the passages were sent there."""
    zh = answer.language in ("zh", "ja")
    parts = "".join(inline(s["text"]) + "".join(marker(n, turn) for n in s["citations"]) + ("" if zh else " ")
                    for s in answer.sentences if s["supported"])
    by = (f'<p class="qa-by">Written by {esc(model)} at {esc(host)}; every sentence checked against the passage '
          f'it cites · 由 {esc(model)} 撰写，逐句核对引用</p>')
    if not local:
        by += f'<p class="qa-by qa-remote">The question and passages were sent to {esc(host)}. 问题和段落已发送至 {esc(host)}。</p>'
    extra = f'<p class="qa-notice">{inline(answer.notice)}</p>' if answer.notice else ""
    if answer.searched_for and answer.searched_for != answer.question:
        extra += f'<p class="qa-searched">{inline(phrase("searched_for", answer.language))}{inline(answer.searched_for)}</p>'
    return f'<p class="qa-answer qa-written">{parts.strip()}</p>{by}{extra}'


def streaming_html(text: str, model: str, host: str) -> str:
    """The chat message while a written answer arrives (replaced by `written_html` once checked)."""
    return (f'<p class="qa-answer qa-streaming">{inline(text)}▍</p>'
            f'<p class="qa-by">Writing with {esc(model)} at {esc(host)}; checking follows · 正在撰写，随后核对</p>')
