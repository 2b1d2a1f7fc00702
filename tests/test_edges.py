"""Every boilerplate rule and every chunk-joining edge on its own (issue 12, item 19).

A mutation run found that dropping "（完）" from the UI lines, or an off-by-one in joining a short last
paragraph, survived the suite: the seed article's junk lines sit below its origin line, where the
page-trailer rule drops them whatever the other rules do. Here each rule is the only one that can act."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.articles import _PROMO, _UI_LINES, Article, parse_article
from qa.chunking import PARAGRAPH_SEP, chunk_article

P1 = "市政府今天宣布，新的地铁线路将于下个月正式开通，沿线设有十二座车站。"
P2 = "交通局表示，新线路采用无人驾驶系统，高峰时段每四分钟发一班车，预计每天服务八万名乘客。"


def paragraphs(body: str) -> list[str]:
    return list(parse_article("---\ntitle: 地铁新线开通\n---\n\n" + body, Path("a.md")).paragraphs)


# --- boilerplate: each rule alone, between two prose paragraphs (no origin line, so no trailer rule) --

@pytest.mark.parametrize("line", sorted(_UI_LINES))
def test_each_interface_line_is_dropped(line: str) -> None:
    assert paragraphs(f"{P1}\n\n{line}\n\n{P2}") == [P1, P2]


def test_end_marks_are_dropped_at_the_end_of_an_article_without_origin() -> None:
    for mark in ("（完）", "(完)", "—end—", "-END-"):
        assert paragraphs(f"{P1}\n\n{P2}\n\n{mark}") == [P1, P2], mark


def test_interface_words_inside_a_sentence_are_kept() -> None:
    kept = "记者在现场看到，市民纷纷拿出手机分享开通的消息，并在看台上留言祝贺。"
    assert paragraphs(f"{P1}\n\n{kept}") == [P1, kept]


PROMO_WORDS = [w.replace("[:：]", "：") for w in _PROMO.pattern.split("|")]


@pytest.mark.parametrize("word", PROMO_WORDS)
def test_each_promotion_word_drops_a_short_line_only(word: str) -> None:
    short = f"请{word}了解更多"
    assert len(short) <= 40
    assert paragraphs(f"{P1}\n\n{short}\n\n{P2}") == [P1, P2]
    long = f"据报道，当地一家企业的负责人说，他们今年新增了{word}相关的业务，收入比去年同期增长了三成以上。"
    assert len(long) > 40
    assert paragraphs(f"{P1}\n\n{long}") == [P1, long]


@pytest.mark.parametrize("line", ["，", "。。。", "———", "* * *", "…"])
def test_a_punctuation_only_line_is_dropped(line: str) -> None:
    assert paragraphs(f"{P1}\n\n{line}\n\n{P2}") == [P1, P2]


@pytest.mark.parametrize("line", ["https://example.com/a?b=1", "www.example.com/page"])
def test_a_bare_url_line_is_dropped(line: str) -> None:
    assert paragraphs(f"{P1}\n\n{line}\n\n{P2}") == [P1, P2]


@pytest.mark.parametrize("line", ["[阅读更多](https://x.cn/a)", "[![](https://x.cn/i.png)](https://x.cn)",
                                  "![封面](https://x.cn/c.jpg)", "[一](a) [二](b)"])
def test_a_line_of_only_links_or_images_is_dropped(line: str) -> None:
    assert paragraphs(f"{P1}\n\n{line}\n\n{P2}") == [P1, P2]


@pytest.mark.parametrize("marked, plain", [
    ("**加粗**的字", "加粗的字"), ("__加粗__的字", "加粗的字"), ("*斜体*的字", "斜体的字"), ("_斜体_的字", "斜体的字"),
    ("~~删除~~的字", "删除的字"), ("`代码`的字", "代码的字"), ("**_嵌套_**的字", "嵌套的字"),
    ("<b>标签</b>的字", "标签的字"), ("[链接](https://x.cn)的字", "链接的字"), ("图![](i.png)的字", "图的字"),
    ("零宽\u200b的字", "零宽的字"), ("不换行\xa0空格", "不换行 空格"),
    ("- 列表的字", "列表的字"), ("1. 编号的字", "编号的字"), ("> 引用的字", "引用的字"),
])
def test_each_inline_markup_keeps_its_text(marked: str, plain: str) -> None:
    assert paragraphs(f"{P1}\n\n{marked}，这一段文字足够长，所以它是正文而不是标题或者页面上的其他东西。") == [
        P1, f"{plain}，这一段文字足够长，所以它是正文而不是标题或者页面上的其他东西。"]


def test_repeated_title_and_outlet_name_are_dropped() -> None:
    body = f"地铁新线开通\n\n城市日报\n\n{P1}\n\n{P2}"
    a = parse_article("---\ntitle: 地铁新线开通\nsource: 城市日报\n---\n\n" + body, Path("a.md"))
    assert list(a.paragraphs) == [P1, P2]


def test_headings_above_the_first_paragraph_are_dropped_and_below_are_kept() -> None:
    assert paragraphs(f"## 副标题\n\n{P1}\n\n## 小标题\n\n{P2}") == [P1, "小标题", P2]


def test_author_line_before_the_article_becomes_authors_and_after_it_stays() -> None:
    a = parse_article(f"---\ntitle: t\n---\n\n作者：张三\n\n{P1}\n\n李四 王五\n\n{P2}", Path("a.md"))
    assert a.authors == ("张三",) and list(a.paragraphs) == [P1, "李四 王五", P2]
    b = parse_article(f"---\ntitle: t\n---\n\n李四 王五\n\n{P1}", Path("a.md"))
    assert b.authors == ("李四", "王五") and list(b.paragraphs) == [P1]


def test_origin_line_ends_the_article_and_only_short_lines_after_it_go() -> None:
    long = "附：相关背景资料显示，这条地铁线路从规划到建成一共用了六年时间，" * 3
    got = paragraphs(f"{P1}\n\n（来源：新华网）\n\n欢迎转发给朋友们看看\n\n{long}")
    assert got == [P1, long]


def test_origin_line_above_the_article_is_a_byline() -> None:
    a = parse_article(f"---\ntitle: t\n---\n\n来源：新华网\n\n{P1}\n\n短句。", Path("a.md"))
    assert a.origin == "新华网" and list(a.paragraphs) == [P1, "短句。"]


# --- chunk joining: each edge at its exact boundary ---------------------------------------------------

def art(*lengths: int) -> Article:
    """Paragraphs of the given lengths, each of distinct text."""
    return Article(id="a", path="a.md", title="T",
                   paragraphs=tuple(chr(0x4e00 + i) * n for i, n in enumerate(lengths)))


def ids(a: Article, max_chars: int = 50, min_chars: int = 10) -> list[str]:
    chunks = chunk_article(a, max_chars=max_chars, min_chars=min_chars)
    text = PARAGRAPH_SEP.join(a.paragraphs)
    assert all(text[c.start:c.end] == c.text for c in chunks)
    return [c.id for c in chunks]


def test_a_paragraph_of_exactly_min_chars_stands_alone() -> None:
    assert ids(art(10, 30)) == ["a#p1", "a#p2"]


def test_a_paragraph_one_short_of_min_chars_joins_the_next() -> None:
    assert ids(art(9, 30)) == ["a#p1-2"]


def test_short_paragraphs_gather_until_their_sum_reaches_min_chars() -> None:
    assert ids(art(3, 3, 4, 30)) == ["a#p1-3", "a#p4"]  # 3 + 3 + 4 = 10
    assert ids(art(3, 3, 3, 30)) == ["a#p1-4"]  # 9: not yet


def test_short_last_paragraph_joins_when_the_previous_paragraph_leaves_room() -> None:
    # joined when the previous paragraph + separator is under max_chars: 47 + 2 < 50
    assert ids(art(30, 47, 5)) == ["a#p1", "a#p2-3"]


def test_short_last_paragraph_stands_alone_at_the_boundary() -> None:
    assert ids(art(30, 48, 5)) == ["a#p1", "a#p2", "a#p3"]  # 48 + 2 == 50: no room


def test_short_last_paragraph_looks_at_the_previous_paragraph_not_the_group() -> None:
    # the previous group is p1-2 (5 + 40); its last paragraph is 40 long: room, though the group is 45
    assert ids(art(5, 40, 5)) == ["a#p1-3"]
    assert ids(art(5, 48, 5)) == ["a#p1-2", "a#p3"]


def test_short_last_paragraphs_together_join_the_previous_one() -> None:
    assert ids(art(30, 20, 4, 4)) == ["a#p1", "a#p2-4"]


def test_an_article_of_one_short_paragraph_is_one_chunk() -> None:
    assert ids(art(3)) == ["a#p1"]


def test_a_tiny_tail_of_a_split_paragraph_joins_the_previous_piece() -> None:
    sentence = "一二三四五六七八九。"  # 10 characters
    tail_6, tail_7 = "尾" * 5 + "。", "尾" * 6 + "。"  # max 56 // 8 == 7
    joined = chunk_article(Article("a", "a.md", "T", (sentence * 5 + tail_6,)), max_chars=56, min_chars=5)
    assert [c.id for c in joined] == ["a#p1"] or [len(c.text) for c in joined][-1] > 7
    assert all(len(c.text) >= 7 for c in joined)
    alone = chunk_article(Article("a", "a.md", "T", (sentence * 5 + tail_7,)), max_chars=56, min_chars=5)
    assert alone[-1].text == tail_7


def test_a_long_sentence_is_cut_after_a_comma_past_half_else_at_max() -> None:
    late_comma = "甲" * 30 + "，" + "乙" * 40
    pieces = [c.text for c in chunk_article(Article("a", "a.md", "T", (late_comma,)), max_chars=50, min_chars=5)]
    assert pieces[0] == "甲" * 30 + "，"
    early_comma = "甲" * 10 + "，" + "乙" * 60
    pieces = [c.text for c in chunk_article(Article("a", "a.md", "T", (early_comma,)), max_chars=50, min_chars=5)]
    assert len(pieces[0]) == 50
