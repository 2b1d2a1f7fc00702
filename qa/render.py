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
from .text import _jieba_module, fold, query_tokens, sentences

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")  # < > & are left to html.escape
# Bidi embeddings, overrides and isolates (LRE..RLO, LRI..PDI): shown as-is they let an article or a
# question reorder the text around them (visual spoofing). Dropped for display only.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
# What one card may embed: the page must stay small whatever the article's size (issue 12.8).
PARA_CHARS = 3000  # one paragraph shown in "surrounding" or "whole article"
ARTICLE_CHARS = 20000  # all of "whole article"; longer articles show a window around the passage
SNIPPET_CHARS = 160


def display(text: object) -> str:
    """Text as it may be shown: bidi controls removed."""
    return _BIDI.sub("", "" if text is None else str(text))


def esc(text: object) -> str:
    return html.escape(display(text), quote=True)


def md_text(text: str) -> str:
    """Text that is a whole markdown chat message: markdown-inert, then HTML-escaped. In this order: a
    backslash put before the "#" of an entity such as `&#x27;` would break it and show it (`Qu&#x27;a`)."""
    return html.escape(_MD_SPECIAL.sub(r"\\\1", display(text)), quote=False)


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
    if (answer.context_used or answer.time_range) and answer.searched_for:  # context joined, or a time named
        label = inline(phrase("searched_for", answer.language))
        extra += f'<p class="qa-searched">{label}{inline(answer.searched_for)}</p>'
    if answer.notice:
        extra += f'<p class="qa-notice">{inline(answer.notice)}</p>'
    return body + extra


def _word_bounds(folded: str) -> tuple[set[int], set[int]]:
    """Where jieba's words (and their search-mode sub-words) start and end in `folded`."""
    starts, ends = {0, len(folded)}, {0, len(folded)}
    for _, a, b in _jieba_module().tokenize(folded, mode="search"):
        starts.add(a)
        ends.add(b)
    return starts, ends


def _marks(text: str, spans: list[tuple[int, int]], words: list[str]) -> str:
    """Escape text, wrapping evidence spans in <mark> and question keywords in <b>. A keyword is marked
    only where the passage's own words begin and end (not 广**大会**员国: that text is 广大 / 会员国)."""
    tag = [0] * len(text)
    for s, e in spans:
        for i in range(max(0, s), min(len(text), e)):
            tag[i] |= 1
    folded = "".join((fold(ch) or ch)[:1] for ch in text)
    starts, ends = _word_bounds(folded) if words else (set(), set())
    for w in words:
        for m in re.finditer(re.escape(w), folded):
            if m.start() in starts and m.end() in ends:
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


def snippet(text: str, spans: list[tuple[int, int]]) -> str:
    """One line that tells a card from its neighbours: its evidence sentence, else its first sentence."""
    if spans:
        s, e = spans[0]
        line = text[s:e]
    else:
        line = next((t for t, _, _ in sentences(text)), text)
    line = re.sub(r"\s+", " ", line).strip()
    return line if len(line) <= SNIPPET_CHARS else line[:SNIPPET_CHARS - 1] + "…"


def _para(i: int, text: str, cls: str) -> str:
    cut = text if len(text) <= PARA_CHARS else text[:PARA_CHARS] + " …"
    return f'<p class="{cls}"><span class="qa-pn">¶{i}</span> {esc(cut)}</p>'


def whole_article(paragraphs: list[str], first: int, last: int) -> str:
    """"Whole article", bounded: every paragraph when the article is short, else a window of paragraphs
    around the cited ones (each cut to PARA_CHARS) with a note saying what is left out."""
    n = len(paragraphs)
    size = lambda i: min(len(paragraphs[i - 1]), PARA_CHARS) + 40  # noqa: E731 - markup per paragraph
    lo, hi = max(1, min(first, n)), max(1, min(last, n))
    budget = ARTICLE_CHARS - sum(size(i) for i in range(lo, hi + 1)) if n else 0
    while budget > 0 and (lo > 1 or hi < n):  # grow the window both ways while it fits
        grown = False
        for i in (lo - 1, hi + 1):
            if 1 <= i <= n and size(i) <= budget:
                budget -= size(i)
                lo, hi = min(lo, i), max(hi, i)
                grown = True
        if not grown:
            break
    body = "".join(_para(i, paragraphs[i - 1], "qa-cited" if first <= i <= last else "qa-ctx")
                   for i in range(lo, hi + 1))
    if lo == 1 and hi == n:
        return body
    note = (f'<p class="qa-note">Showing ¶{lo}–¶{hi} of {n} paragraphs; the link above has the whole article. '
            f'显示第 {lo}–{hi} 段（共 {n} 段），全文见上方链接。</p>')
    return note + body


def card(n: int, hit: Hit, article: dict, spans: list[tuple[int, int]], words: list[str], top_score: float,
         open_: bool, turn: int | None = None, whole: bool = True) -> str:
    meta = " · ".join(esc(x) for x in (hit.source, hit.date) if x)
    para = "¶" + "–".join(str(p) for p in (hit.paragraphs[0], hit.paragraphs[-1]) if p) if len(
        hit.paragraphs) > 1 else f"¶{hit.paragraph}"
    pct = max(3, min(100, round(100 * hit.score / top_score))) if top_score > 0 else 0
    url = safe_url(hit.url)
    link = (f'<a class="qa-link" href="{esc(url)}" target="_blank" rel="noopener noreferrer">'
            f'{esc(urlsplit(url).netloc)} ↗</a>') if url else '<span class="qa-nolink">no link</span>'
    paragraphs = article.get("paragraphs") or []
    first, last = hit.paragraphs[0], hit.paragraphs[-1]
    around = [(i, paragraphs[i - 1]) for i in (first - 1, last + 1) if 1 <= i <= len(paragraphs)]
    context = "".join(_para(i, p, "qa-ctx") for i, p in around)
    return (
        f'<details class="qa-card" id="qa-cite-{cite_id(n, turn)}" data-n="{n}"{" open" if open_ else ""}>'
        f'<summary><span class="qa-num">[{n}]</span> <span class="qa-title">{esc(hit.title)}</span>'
        f'<span class="qa-meta">{meta}{" · " if meta else ""}{para}</span>'
        f'<span class="qa-snippet">{esc(snippet(hit.text, spans))}</span>'
        f'<span class="qa-bar" title="relevance {hit.score:.3f}"><span style="width:{pct}%"></span></span></summary>'
        f'<div class="qa-body">{link}'
        f'<p class="qa-text">{_marks(hit.text, spans, words)}</p>'
        + (f'<details class="qa-more"><summary>Surrounding paragraphs · 上下文</summary>{context}</details>'
           if context else "")
        + (f'<details class="qa-more"><summary>Whole article · 全文</summary>'
           f'{whole_article(paragraphs, first, last)}</details>' if whole and paragraphs else "")
        + _copies(hit) + '</div></details>'
    )


def _copies(hit: Hit) -> str:
    """Syndicated copies of the story (qa/syndication.py): each outlet, date and link."""
    if not hit.copies:
        return ""
    items = []
    for c in hit.copies:
        label = esc(" · ".join(x for x in (c.get("source") or c.get("article_id"), c.get("date")) if x))
        url = safe_url(c.get("url"))
        items.append(f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer">{label}</a>' if url else label)
    return f'<p class="qa-copies">Also published by · 其他媒体转载：{"; ".join(items)}</p>'


def cards_html(answer: Answer, articles: dict[str, dict], turn: int | None = None, earlier: bool = False) -> str:
    """The answer's cards. `earlier=True`: the form kept for an earlier turn: every card folded (a
    marker opens only its own card) and no "whole article" (what earlier turns keep stays small)."""
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
                        open_=not earlier and not folded and i in spans, turn=turn, whole=not earlier)
                   for i, h in enumerate(answer.hits))
    return f'<div class="qa-cards">{head}{body}</div>'


def panel_html(latest: str, earlier: list[tuple[str, str]]) -> str:
    """The citations panel: the latest answer's cards, then each earlier turn folded on its own, so a
    marker in an old answer opens that turn (and that card) only. `earlier` is [(question, cards html)],
    newest first."""
    if not earlier:
        return f'<div class="qa-latest">{latest}</div>'
    groups = "".join(f'<details class="qa-turn"><summary class="qa-turn-q">{esc(q)}</summary>{html_}</details>'
                     for q, html_ in earlier)
    return (f'<div class="qa-latest">{latest}</div><div class="qa-earlier"><p class="qa-earlier-title">'
            f'Earlier questions · 之前的问题 ({len(earlier)})</p>{groups}</div>')


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
    if (answer.context_used or answer.time_range) and answer.searched_for:
        extra += f'<p class="qa-searched">{inline(phrase("searched_for", answer.language))}{inline(answer.searched_for)}</p>'
    return f'<p class="qa-answer qa-written">{parts.strip()}</p>{by}{extra}'


def streaming_html(text: str, model: str, host: str) -> str:
    """The chat message while a written answer arrives (replaced by `written_html` once checked)."""
    return (f'<p class="qa-answer qa-streaming">{inline(text)}▍</p>'
            f'<p class="qa-by">Writing with {esc(model)} at {esc(host)}; checking follows · 正在撰写，随后核对</p>')
