"""qa/render.py: everything from an article or the user comes out inert; markers, marks and folding."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from qa.answer import Answer
from qa.evidence import Sentence
from qa.render import ARTICLE_CHARS, cards_html, md_text, panel_html, reply_html, safe_url, whole_article
from qa.search import Hit

SCRIPT = "<script>window.__pwned=1</script>"
IMG = "<img src=x onerror=alert(1)>"
LIVE_TAGS = {"script", "img", "iframe", "svg", "object", "embed", "style", "link", "meta", "form", "input"}


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text, as a browser would parse them."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def names(self) -> list[str]:
        return [t for t, _ in self.tags]

    def all_text(self) -> str:
        return "".join(self.text)


def assert_inert(markup: str) -> Tags:
    parsed = Tags(markup)
    assert not LIVE_TAGS & set(parsed.names()), parsed.names()
    for tag, attrs in parsed.tags:
        assert not [a for a in attrs if a.startswith("on")], (tag, attrs)
        for name in ("href", "src", "action", "formaction", "xlink:href"):
            value = (attrs.get(name) or "").strip()
            if value:
                assert value.startswith("#qa-cite-") or urlsplit(value).scheme in ("http", "https"), (tag, attrs)
        assert "javascript:" not in " ".join(str(v).lower() for v in attrs.values()), (tag, attrs)
    return parsed


def hit(n: int = 1, *, title="标题", source="新华网", url="https://example.com/a", text="第一句。第二句。",
        paragraph=1, article_id="a1") -> Hit:
    return Hit(n, n - 1, f"{article_id}-{n}", article_id, title, source, "2024-07-05", url, paragraph, (paragraph,),
               text, 0.9 / n, 0.8, 1.0)


def answer(hits, evidence, question="问题？", abstained=False, language="zh", searched_for=None) -> Answer:
    return Answer(question, question if searched_for is None else searched_for, hits, evidence, abstained, language,
                  context_used=searched_for is not None)


def article(*paragraphs: str) -> dict:
    return {"paragraphs": list(paragraphs)}


# --- escaping -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("payload", [SCRIPT, IMG, '"><svg onload=alert(1)>', "</details><script>x()</script>",
                                     "<a href=\"javascript:alert(1)\">x</a>", "&lt;script&gt;"])
def test_article_title_text_source_and_context_are_escaped(payload):
    text = f"正文{payload}。后文。"
    h = hit(title=f"标题{payload}", source=f"来源{payload}", text=text)
    a = answer([h], [Sentence(0, text[:len(text) - 3], 0, len(text) - 3, 1.0)])
    out = cards_html(a, {"a1": article(f"前文{payload}", text, f"后文{payload}")})
    parsed = assert_inert(out)
    # shown as text, not dropped: the reader sees what the article says
    assert payload in parsed.all_text()


def test_question_and_searched_for_are_escaped_in_the_reply():
    for q in (SCRIPT, IMG, "[x](javascript:alert(1))", "<iframe src=//evil.example>"):
        a = answer([hit()], [Sentence(0, "第一句。", 0, 4, 1.0)], question=q, searched_for=f"上一个问题 {q}")
        assert_inert(reply_html(a))
        assert_inert(reply_html(answer([], [], question=q, abstained=True)))
        assert_inert(md_text(q))
    # evidence text from an article is escaped too
    ev = f"句子{IMG}。"
    assert_inert(reply_html(answer([hit(text=ev)], [Sentence(0, ev, 0, len(ev), 1.0)])))


def test_markdown_link_syntax_in_the_question_is_neutralised():
    out = md_text("[click](javascript:alert(1)) ![x](https://evil.example/x.png)")
    assert "](" not in out  # brackets and parentheses are backslash-escaped for the markdown renderer
    assert "<" not in out


@pytest.mark.parametrize("url", ["javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)",
                                 "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
                                 "vbscript:msgbox(1)", "file:///etc/passwd", "//evil.example/x", "http://",
                                 'https://example.com/"onmouseover="alert(1)', "https://exa mple.com/<script>",
                                 None, 42])
def test_non_http_urls_get_no_link(url):
    out = cards_html(answer([hit(url=url)], []), {"a1": article("第一句。第二句。")})
    parsed = assert_inert(out)
    assert not [a for t, a in parsed.tags if t == "a" and "href" in a]
    assert "no link" in out
    assert safe_url(url) is None


def test_http_urls_link_out_in_a_new_tab():
    url = "https://mp.weixin.qq.com/s?__biz=MzA5&mid=2664&idx=3#rd"
    parsed = assert_inert(cards_html(answer([hit(url=url)], []), {"a1": article("x")}))
    links = [a for t, a in parsed.tags if t == "a" and a.get("class") == "qa-link"]
    assert len(links) == 1
    assert links[0]["href"] == url  # &-escaping is undone by the parser: the same URL
    assert links[0]["target"] == "_blank" and "noopener" in links[0]["rel"]


# --- markers, evidence marks, keyword marks ------------------------------------------------------------------

def test_markers_link_to_the_card_ids():
    hits = [hit(1, text="甲句。乙句。"), hit(2, text="丙句。丁句。", article_id="a2")]
    ev = [Sentence(0, "甲句。", 0, 3, 1.0), Sentence(1, "丁句。", 3, 6, 0.9)]
    a = answer(hits, ev)
    reply = Tags(reply_html(a))
    markers = [attrs for t, attrs in reply.tags if t == "a" and attrs.get("class") == "qa-marker"]
    assert [m["href"] for m in markers] == ["#qa-cite-1", "#qa-cite-2"]
    assert [m["data-cite"] for m in markers] == ["1", "2"]
    cards = Tags(cards_html(a, {"a1": article("甲句。乙句。"), "a2": article("丙句。丁句。")}))
    ids = [attrs["id"] for t, attrs in cards.tags if t == "details" and attrs.get("class") == "qa-card"]
    assert ids == ["qa-cite-1", "qa-cite-2"]
    # cited cards start open
    assert all("open" in attrs for t, attrs in cards.tags if t == "details" and attrs.get("class") == "qa-card")


def test_each_turn_has_its_own_card_ids_and_earlier_turns_stay_in_the_panel():
    first = answer([hit(1, text="甲句。")], [Sentence(0, "甲句。", 0, 3, 1.0)], question="<b>第一问</b>")
    second = answer([hit(1, text="乙句。", article_id="a2")], [Sentence(0, "乙句。", 0, 3, 1.0)])
    arts = {"a1": article("甲句。"), "a2": article("乙句。")}
    old, new = cards_html(first, arts, turn=1), cards_html(second, arts, turn=2)
    assert '#qa-cite-1-1' in reply_html(first, turn=1) and '#qa-cite-2-1' in reply_html(second, turn=2)
    panel = panel_html(new, [(first.question, old)])
    tags = assert_inert(panel)
    ids = [attrs["id"] for t, attrs in tags.tags if t == "details" and attrs.get("class") == "qa-card"]
    assert ids == ["qa-cite-2-1", "qa-cite-1-1"]  # latest first, the earlier one still there
    assert panel.index('class="qa-latest"') < panel.index('class="qa-earlier"')
    assert "&lt;b&gt;第一问&lt;/b&gt;" in panel
    assert panel_html(new, []) == f'<div class="qa-latest">{new}</div>'


def test_evidence_span_is_marked_and_keywords_are_bold():
    text = "人工智能发展很快。第78届联合国大会7月1日通过决议。其他内容。"
    start = text.index("第78届")
    end = text.index("其他")
    a = answer([hit(text=text)], [Sentence(0, text[start:end], start, end, 1.0)], question="联合国大会哪天通过了决议？")
    out = cards_html(a, {"a1": article(text)})
    assert_inert(out)
    body = out[out.index('<p class="qa-text">'):]
    body = body[:body.index("</p>")]
    marked = Tags(body)
    assert marked.names().count("mark") == 1  # one mark for the whole sentence
    # the mark holds exactly the evidence sentence (keyword <b> inside it is fine)
    inner = body[body.index("<mark"):body.rindex("</mark>")]
    assert "".join(Tags(inner).text) == text[start:end]
    assert "人工智能发展很快。" not in "".join(Tags(inner).text)
    assert '<b class="qa-kw">联合国</b>' in body or '<b class="qa-kw">联合国大会</b>' in body
    assert '<b class="qa-kw">通过决议</b>' in body  # adjacent keywords 通过 + 决议 merge into one run
    assert "人工智能发展很快" in body and "<b class=\"qa-kw\">人工智能" not in body


def test_keyword_marks_follow_folded_text_but_show_the_original():
    text = "ＡＩ換臉詐騙。"
    a = answer([hit(text=text)], [], question="AI换脸", abstained=True)
    out = cards_html(a, {"a1": article(text)})
    assert '<b class="qa-kw">ＡＩ</b>' in out or '<b class="qa-kw">ＡＩ換臉</b>' in out


# --- abstention ------------------------------------------------------------------------------------------------

def test_abstained_answer_folds_cards_under_closest_passages_header():
    hits = [hit(1), hit(2, article_id="a2")]
    a = answer(hits, [], question="特朗普的关税政策是什么？", abstained=True)
    out = cards_html(a, {"a1": article("x"), "a2": article("y")})
    parsed = assert_inert(out)
    cards = [attrs for t, attrs in parsed.tags if t == "details" and attrs.get("class") == "qa-card"]
    assert len(cards) == 2
    assert not [c for c in cards if "open" in c]
    assert out.index("Closest passages") < out.index('id="qa-cite-1"')
    assert "最接近的段落" in out
    reply = reply_html(a)
    assert "这些文章没有回答" in reply and "qa-marker" not in reply


def test_abstained_english_reply_is_english():
    a = answer([hit()], [], question="How do I bake sourdough bread?", abstained=True, language="en")
    assert "The articles do not answer this" in reply_html(a)


def test_answered_cards_without_evidence_stay_folded_and_no_header():
    hits = [hit(1), hit(2, article_id="a2")]
    out = cards_html(answer(hits, [Sentence(0, "第一句。", 0, 4, 1.0)]), {"a1": article("x"), "a2": article("y")})
    parsed = Tags(out)
    cards = {attrs["id"]: attrs for t, attrs in parsed.tags if t == "details" and attrs.get("class") == "qa-card"}
    assert "open" in cards["qa-cite-1"] and "open" not in cards["qa-cite-2"]
    assert "Closest passages" not in out


def test_card_shows_paragraph_number_and_context():
    paras = ["第一段。", "第二段。", "第三段。", "第四段。"]
    h = hit(text="第三段。", paragraph=3)
    out = cards_html(answer([h], [Sentence(0, "第三段。", 0, 4, 1.0)]), {"a1": article(*paras)})
    assert "¶3" in out
    context = out[out.index("Surrounding paragraphs"):out.index("Whole article")]
    assert "第二段" in context and "第四段" in context and "第一段" not in context


def test_reply_text_shows_as_written_inside_the_html_block():
    # Markdown is not applied inside our HTML block: backslash escapes would show literally, and a
    # blank line would end the block and let markdown in.
    a = answer([hit(1, text="U.S. policy *changed*.\n\nNext.")], [Sentence(0, "U.S. policy *changed*.\n\nNext.", 0, 29, 1.0)],
               question="What about the U.S.?", language="en")
    out = reply_html(a)
    assert "U.S. policy *changed*. Next." in out and "\\" not in out and "\n" not in out


# --- issue 9.5 / 12.8 / 12.12: what the reader sees ----------------------------------------------------------

def test_user_text_is_escaped_once():
    # the "#" of an entity must not get a markdown backslash: `Qu&#x27;a` showed in the bubble
    for q in ("Qu'a proposé la Chine en 2018 sur l'IA ?", 'He said "AI" & <b>more</b>', "a > b # c"):
        out = md_text(q)
        assert "&#" not in out and "\\&" not in out
        parsed = Tags(out)
        assert "".join(parsed.text).replace("\\", "") == q  # markdown then removes the backslashes


def test_searched_for_shows_only_when_context_was_used():
    a = answer([hit()], [Sentence(0, "第一句。", 0, 4, 1.0)], question="那它呢？", searched_for="上一问 那它呢？")
    assert "检索内容" in reply_html(a)
    alone = answer([hit()], [Sentence(0, "第一句。", 0, 4, 1.0)], question="那它呢？")
    alone.searched_for = "something else"  # a rewritten query without earlier context is not "searched for"
    assert "检索内容" not in reply_html(alone)


@pytest.mark.parametrize("control", ["\u202e", "\u202d", "\u2066", "\u2067", "\u2068", "\u2069", "\u202a", "\u202b", "\u202c"])
def test_bidi_controls_are_dropped_for_display(control):
    title, text = f"标题{control}exe.txt", f"正文{control}甲乙。"
    a = answer([hit(title=title, text=text, source=f"来{control}源")], [Sentence(0, text, 0, len(text), 1.0)],
               question=f"问{control}题")
    for out in (cards_html(a, {"a1": article(text)}), reply_html(a), md_text(a.question)):
        assert control not in out


def test_keywords_are_marked_on_word_bounds_only():
    text = "表明广大会员国普遍赞同，第78届联合国大会通过决议。"
    a = answer([hit(text=text)], [], question="大会哪天通过了决议？", abstained=True)
    out = cards_html(a, {"a1": article(text)})
    assert '广<b class="qa-kw">大会</b>' not in out and "广大会员国" in "".join(Tags(out).text)
    assert '联合国<b class="qa-kw">大会通过决议</b>' in out  # 联合国大会 / 大会 are its words there


def test_folded_cards_of_one_article_differ_by_their_snippet():
    hits = [hit(1, text="第一段的第一句。后面的话。", paragraph=1), hit(2, text="第二段开头一句。另一句。", paragraph=2),
            hit(3, text="第三段。有证据的一句在这里。", paragraph=3)]
    ev = [Sentence(2, "有证据的一句在这里。", 4, 14, 1.0)]
    out = cards_html(answer(hits, ev), {"a1": article("第一段的第一句。后面的话。", "第二段开头一句。另一句。",
                                                      "第三段。有证据的一句在这里。")})
    snippets = re.findall(r'<span class="qa-snippet">(.*?)</span>', out)
    assert snippets == ["第一段的第一句。", "第二段开头一句。", "有证据的一句在这里。"]


def test_whole_article_of_a_huge_article_is_bounded():
    paragraphs = [f"第{i}段，这是一个很长的文章里的普通段落。" for i in range(1, 100_001)]
    out = whole_article(paragraphs, 50_000, 50_000)
    assert len(out) < ARTICLE_CHARS * 2
    assert "¶50000" in out and "of 100000 paragraphs" in out
    h = hit(text=paragraphs[49_999], paragraph=50_000)
    card_html = cards_html(answer([h], [Sentence(0, paragraphs[49_999], 0, 5, 1.0)]), {"a1": article(*paragraphs)})
    assert len(card_html) < ARTICLE_CHARS * 2 + 5_000
    one_long = whole_article(["长" * 1_000_000], 1, 1)
    assert len(one_long) < 10_000  # a single huge paragraph is cut too
    short = whole_article(["甲。", "乙。"], 1, 1)
    assert "qa-note" not in short and "¶2" in short


def test_earlier_turns_keep_folded_cards_without_the_whole_article():
    hits = [hit(1, text="甲句。")]
    a = answer(hits, [Sentence(0, "甲句。", 0, 3, 1.0)])
    old = cards_html(a, {"a1": article("甲句。", "乙句。")}, turn=1, earlier=True)
    assert "Whole article" not in old
    assert not [t for t, attrs in Tags(old).tags if t == "details" and "open" in attrs]


def test_each_earlier_turn_folds_on_its_own():
    panel = panel_html("<p>latest</p>", [("第二问", '<details class="qa-card" id="qa-cite-2-1"></details>'),
                                         ("第一问", '<details class="qa-card" id="qa-cite-1-1"></details>')])
    turns = re.findall(r'<details class="qa-turn">.*?</details></details>', panel)
    assert len(turns) == 2 and "qa-cite-2-1" in turns[0] and "qa-cite-1-1" in turns[1]
