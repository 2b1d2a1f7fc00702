"""Reading article files: front matter, markdown, scraped-page boilerplate, encodings, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.articles import decode, parse_article, read_article
from qa.errors import ArticleError

JUNK = ("微信扫一扫", "阅读原文", "取消", "允许", "扫码", "征订", "邮发代号", "mmbiz", "![", "](", "**")

ZH_BODY = ("# 城市新闻\n\n"
           "市政府今天宣布，新的地铁线路将于下个月正式开通，沿线设有十二座车站，预计每天服务八万名乘客。\n\n"
           "交通局表示，新线路采用无人驾驶系统，高峰时段每四分钟发一班车。\n")


@pytest.fixture(scope="module")
def seed(seed_file):
    return read_article(seed_file, seed_file.parent)


# --- the seed article -----------------------------------------------------------------------------

def test_seed_has_exactly_its_seven_prose_paragraphs(seed):
    assert len(seed.paragraphs) == 7
    assert seed.paragraphs[0].startswith("第78届联合国大会")
    assert seed.paragraphs[-1].startswith("未来已来")


def test_seed_paragraphs_carry_no_page_junk(seed):
    for p in seed.paragraphs:
        for junk in JUNK:
            assert junk not in p, (junk, p[:40])


def test_seed_bold_lead_in_is_kept_as_text(seed):
    # "**坚持以人为本…不动摇。**人工智能…" keeps the bold words, loses the asterisks
    assert seed.paragraphs[3].startswith("坚持以人为本、智能向善、造福人类的方向不动摇。人工智能")


def test_seed_metadata(seed):
    assert seed.id == "000_e0ddd22777e12010"
    assert seed.path == "000_e0ddd22777e12010.txt"
    assert seed.title == "评论 | 为人工智能造福人类贡献中国智慧"
    assert seed.source == "中国信息安全"
    assert seed.date == "2024-07-05"
    assert seed.url.startswith("https://mp.weixin.qq.com/s?__biz=MzA5MzE5MDAzOA==")
    assert seed.authors == ("吴黎明", "毛振华")
    assert seed.origin == "新华网"
    assert seed.meta["fetch_date"].startswith("2025-10-06")  # extra front-matter keys are kept
    assert len(seed.content_hash) == 64


def test_seed_author_and_origin_lines_are_not_content(seed):
    text = "\n".join(seed.paragraphs)
    assert "吴黎明" not in text
    assert "来源" not in text


# --- markdown -------------------------------------------------------------------------------------

def test_markdown_images_dropped_and_inline_markup_keeps_text(fixtures_dir):
    a = read_article(fixtures_dir / "markdown_sample.md", fixtures_dir)
    assert a.title == "Harbour Bridge Reopens After Repairs"
    assert ("The city's Harbour Bridge reopened on Monday after eight months of repairs, "
            "officials said at a morning ceremony.") in a.paragraphs
    assert a.paragraphs[-1].startswith("Engineers replaced 40 steel cables")
    joined = "\n".join(a.paragraphs)
    assert "cover" not in joined and "banner" not in joined and "http" not in joined


def test_markdown_link_only_line_is_dropped(fixtures_dir):
    """A line that is nothing but a link ("Read the full story") is navigation, not content."""
    a = read_article(fixtures_dir / "markdown_sample.md", fixtures_dir)
    assert "Read the full story" not in a.paragraphs
    assert len(a.paragraphs) == 2


def test_link_with_parentheses_in_url_keeps_its_text():
    a = parse_article("# T\n\nSee [the report](https://example.com/a_(b)) on page two, which explains it all.\n",
                      Path("x.md"))
    assert a.paragraphs == ("See the report on page two, which explains it all.",)


def test_wrapped_lines_join_without_space_in_chinese_and_with_space_in_english():
    a = parse_article("# T\n\n联合国大会今天\n通过了决议。\n\nThe assembly\nadopted it today.\n", Path("x.md"))
    assert a.paragraphs == ("联合国大会今天通过了决议。", "The assembly adopted it today.")


# --- titles without front matter -------------------------------------------------------------------

def test_title_from_first_heading(fixtures_dir):
    a = read_article(fixtures_dir / "no_front_matter_heading.md", fixtures_dir)
    assert a.title == "Rail Strike Ends"
    assert a.paragraphs == ("Train drivers returned to work on Thursday after a week-long strike over pay "
                            "ended with a new agreement.",)
    assert a.source is None and a.date is None and a.url is None


def test_title_from_first_short_line(fixtures_dir):
    a = read_article(fixtures_dir / "no_front_matter_line.txt", fixtures_dir)
    assert a.title == "Farmers brace for drought"
    assert len(a.paragraphs) == 1 and a.paragraphs[0].startswith("Farmers in the valley")


def test_title_falls_back_to_file_stem(fixtures_dir):
    a = read_article(fixtures_dir / "no_title_at_all.txt", fixtures_dir)
    assert a.title == "no_title_at_all"
    assert a.id == "no_title_at_all"


def test_dates_are_normalised_or_dropped():
    a = parse_article("---\ntitle: T\ndate: 2024年7月5日\n---\n\nSome body text that is an article.\n", Path("a.md"))
    assert a.date == "2024-07-05"
    b = parse_article("---\ntitle: T\ndate: last week\n---\n\nSome body text that is an article.\n", Path("b.md"))
    assert b.date is None
    assert b.meta["date"] == "last week"


# --- encodings ------------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8-sig", "utf-16"])
def test_encodings_decode_to_the_same_article(tmp_path, encoding):
    path = tmp_path / f"zh-{encoding}.txt"
    path.write_bytes(ZH_BODY.encode(encoding))
    if encoding == "utf-16":
        assert path.read_bytes()[:2] in (b"\xff\xfe", b"\xfe\xff")
    a = read_article(path, tmp_path)
    assert a.title == "城市新闻"
    assert a.paragraphs[0].startswith("市政府今天宣布")
    assert len(a.paragraphs) == 2
    assert "\ufeff" not in a.title


def test_gb18030_only_characters_decode(tmp_path):
    text = "# 标题\n\n这篇文章提到了𠀀字和€符号，以及其他内容，用来检查编码。\n"
    path = tmp_path / "a.txt"
    path.write_bytes(text.encode("gb18030"))
    assert "𠀀" in read_article(path, tmp_path).paragraphs[0]


def test_crlf_line_endings(tmp_path):
    path = tmp_path / "crlf.md"
    path.write_bytes(("---\ntitle: 标题\nsource: 示例\n---\n" + ZH_BODY).replace("\n", "\r\n").encode())
    a = read_article(path, tmp_path)
    assert a.title == "标题" and a.source == "示例"
    assert len(a.paragraphs) == 2
    assert not any("\r" in p for p in a.paragraphs)


def test_binary_file_is_rejected_naming_the_file(tmp_path):
    path = tmp_path / "photo.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(ArticleError) as err:
        read_article(path, tmp_path)
    assert "photo.txt" in str(err.value)
    assert "binary" in str(err.value)


def test_undecodable_bytes_are_rejected_with_a_fix():
    with pytest.raises(ArticleError, match=r"big5\.txt: .*UTF-8.*convert"):
        decode(b"\x81\x30" * 3 + b"\xff\xff\xff", "big5.txt")


# --- errors ---------------------------------------------------------------------------------------

def test_invalid_yaml_front_matter_names_file_and_fix(fixtures_dir):
    with pytest.raises(ArticleError) as err:
        read_article(fixtures_dir / "bad_front_matter.md", fixtures_dir)
    msg = str(err.value)
    assert msg.startswith("bad_front_matter.md:")
    assert "YAML" in msg and "line 2" in msg
    assert "fix it or remove the --- block" in msg


def test_front_matter_that_is_not_a_mapping_is_rejected():
    with pytest.raises(ArticleError, match=r"x\.md: front matter must be `key: value` lines"):
        parse_article("---\n- a\n- b\n---\n\nBody text here for the article.\n", Path("x.md"))


def test_boilerplate_only_article_is_rejected(fixtures_dir):
    with pytest.raises(ArticleError) as err:
        read_article(fixtures_dir / "boilerplate_only.md", fixtures_dir)
    assert "boilerplate_only.md" in str(err.value)
    assert "no article text" in str(err.value)


def test_missing_file_is_an_article_error(tmp_path):
    with pytest.raises(ArticleError, match="gone.md"):
        read_article(tmp_path / "gone.md", tmp_path)


# --- bylines, origin lines, repeated titles -----------------------------------------------------------

def test_tagged_author_line_lone_punctuation_and_repeated_title_are_not_content():
    text = ("---\ntitle: 地铁新线开通\n---\n\n# 地铁新线开通\n\n文丨李四 王五\n\n。。。\n\n"
            "市政府今天宣布，新的地铁线路将于下个月正式开通。\n\n# 地铁新线开通\n\n——\n\n"
            "交通局表示，新线路票价与现有线路相同。\n")
    a = parse_article(text, Path("x.md"))
    assert a.authors == ("李四", "王五")
    assert a.paragraphs == ("市政府今天宣布，新的地铁线路将于下个月正式开通。", "交通局表示，新线路票价与现有线路相同。")


def test_origin_line_at_the_end_drops_the_page_trailer():
    text = ("# 地铁新线开通\n\n市政府今天宣布，新的地铁线路将于下个月正式开通。\n\n（来源：新华社）\n\n"
            "分享网络安全知识\n\n喜欢就点个赞吧\n")
    a = parse_article(text, Path("x.md"))
    assert a.origin == "新华社"
    assert a.paragraphs == ("市政府今天宣布，新的地铁线路将于下个月正式开通。",)


def test_origin_line_above_the_article_keeps_every_paragraph():
    """Chinese outlets often put "来源：新华社" under the title: that is a byline, not the page's end."""
    paragraphs = ("市政府今天宣布，新的地铁线路将于下个月正式开通，沿线设有十二座车站，预计每天服务八万名乘客。",
                  "交通局表示，新线路票价与现有线路相同。",
                  "部分沿线居民担心施工期间的噪音问题尚未完全解决，交通局承诺在年底前完成隔音墙工程。")
    a = parse_article("# 地铁新线开通\n\n来源：新华社\n\n" + "\n\n".join(paragraphs) + "\n", Path("x.md"))
    assert a.origin == "新华社"
    assert a.paragraphs == paragraphs


def test_big5_file_is_rejected_not_indexed_as_garbage(tmp_path, fixtures_dir):
    """Every Big5 byte pair is also a GB18030 one: decoding must not silently yield mojibake."""
    path = tmp_path / "big5.md"
    path.write_bytes((fixtures_dir / "traditional.md").read_text(encoding="utf-8").encode("big5"))
    with pytest.raises(ArticleError) as err:
        read_article(path, tmp_path)
    assert "big5.md: is neither UTF-8 nor GB18030/GBK text" in str(err.value)
    assert "iconv -f BIG5" in str(err.value)


def test_an_item_whose_title_is_its_text_keeps_the_text():
    # News feeds often give a one-paragraph item the paragraph as its title: it must not vanish as a
    # "repeated title" (it did: 860 of 3,000 chronoqa passages were rejected).
    text = "2023年4月19日，北京发生暴雨。"
    article = parse_article(f"---\ntitle: {text}\n---\n\n{text}\n", Path("x.md"))
    assert article.paragraphs == (text,)
    # a real repeated title above real paragraphs is still dropped
    two = parse_article(f"---\ntitle: 标题\n---\n\n# 标题\n\n标题\n\n{text}\n", Path("y.md"))
    assert two.paragraphs == (text,)
