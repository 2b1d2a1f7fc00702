"""Text helpers: folding for matching, sentence spans, keyword tokens, language guess."""

from __future__ import annotations

import pytest

from qa.text import cjk_ratio, fold, is_chinese, query_tokens, sentences, tokens


@pytest.mark.parametrize(("raw", "folded"), [
    ("ＡＢＣ１２３", "abc123"),  # full width -> half width
    ("ＧＰＴ－４，ＡＩ！", "gpt-4,ai!"),  # full-width punctuation too
    ("聯合國大會通過決議", "联合国大会通过决议"),  # traditional -> simplified
    ("臺灣的網路與資訊安全", "台湾的网路与资讯安全"),
    ("Hello World", "hello world"),  # no CJK: the converter is not needed
    ("ＡＩ換臉詐騙", "ai换脸诈骗"),
])
def test_fold(raw, folded):
    assert fold(raw) == folded


def test_fold_leaves_simplified_text_alone():
    text = "第78届联合国大会7月1日协商一致通过中国主提的决议"
    assert fold(text) == text


def test_sentences_spans_point_into_the_text():
    text = "  第一句。第二句！ “第三句？”Then English. Next one? 3.5 is a number;末尾  "
    found = list(sentences(text))
    assert [s for s, _, _ in found] == ["第一句。", "第二句！", "“第三句？”", "Then English.", "Next one?",
                                        "3.5 is a number;", "末尾"]
    for s, start, end in found:
        assert text[start:end] == s


def test_sentences_keep_closing_quotes_and_ellipsis():
    assert [s for s, _, _ in sentences("他说：“好！”她问：“真的吗？”然后呢……结束")] == [
        "他说：“好！”", "她问：“真的吗？”", "然后呢……", "结束"]


def test_sentences_of_blank_text_is_empty():
    assert list(sentences("   \n ")) == []


def test_tokens_drop_punctuation_and_spaces():
    toks = tokens("联合国大会，哪天通过了决议？！  ……")
    assert "联合国" in toks and "决议" in toks
    assert all(t.strip() and t not in "，？！…。 " for t in toks)


def test_tokens_mixed_chinese_english_numbers_and_dates():
    toks = tokens("2024年7月1日，OpenAI发布GPT-4o，联合国大会通过AI决议")
    for expected in ("2024", "年", "7", "月", "1", "日", "openai", "发布", "gpt", "4o", "联合国", "ai", "决议"):
        assert expected in toks
    assert "-" not in toks and "，" not in toks


def test_tokens_are_folded_so_traditional_matches_simplified():
    assert tokens("聯合國大會通過決議") == tokens("联合国大会通过决议")
    assert tokens("ＡＩ換臉") == tokens("ai换脸")


def test_query_tokens_is_cached_tokens():
    q = "What did China propose about AI risks in 2018?"
    assert query_tokens(q) == tuple(tokens(q))
    assert query_tokens(q) is query_tokens(q)
    assert {"china", "ai", "2018"} <= set(query_tokens(q))


@pytest.mark.parametrize(("text", "chinese"), [
    ("联合国大会哪天通过了决议？", True),
    ("聯合國大會哪天通過了決議？", True),
    ("AI治理是什么", True),  # a few Latin letters do not make it English
    ("What did China propose about AI risks in 2018?", False),
    ("What does 人工智能 mean", True),  # 4 CJK vs 12 letters: 4 >= 12 // 4
    ("Tell me about the 联合国 resolution today please", False),
    ("2018", False),
    ("", False),
])
def test_is_chinese(text, chinese):
    assert is_chinese(text) is chinese


def test_cjk_ratio():
    assert cjk_ratio("联合国") == 1.0
    assert cjk_ratio("abc") == 0.0
    assert cjk_ratio("联合ab") == 0.5
    assert cjk_ratio("123 !") == 0.0
