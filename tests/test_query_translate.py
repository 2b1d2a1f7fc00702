"""qa/translate.py and its use in qa/query.py: an English question's words searched as Chinese words."""

from __future__ import annotations

from qa.query import anchors, searched_literally
from qa.translate import dictionary, terms


def test_dictionary_reads_short_glosses_backwards():
    book = dictionary()
    assert "总统" in book["president"] and "全球变暖" in book["global warming"]
    assert all(len(w) >= 2 for words in book.values() for w in words)  # single characters are too ambiguous


def test_terms_take_the_longest_phrase_and_plain_forms():
    assert "全球变暖" in terms("What causes global warming?")
    assert "温度" in terms("How were temperatures measured?") or "气温" in terms("How were temperatures measured?")
    assert terms("What is it?") == ()  # question words and pronouns translate to nothing
    assert terms("中方反对什么？") == ()


def test_only_english_questions_get_chinese_words():
    en = searched_literally("Which team won Super Bowl 50?")
    assert set(anchors("Which team won Super Bowl 50?")) <= set(en) and "超级" in en
    # German words read as English found wrong passages: German questions keep their anchors only
    de = "Welche Mannschaft hat den Super Bowl 50 gewonnen?"
    assert searched_literally(de) == anchors(de)
    assert searched_literally("超级碗50的冠军是哪支球队？") == ()


def test_an_english_question_quotes_the_sentence_with_its_words_in_chinese():
    from qa.evidence import select

    passage = ["今天天气很好，大家都出门散步。联合国大会通过了这项决议，各国表示欢迎。"]
    quoted = [s.text for s in select("When was the resolution adopted?", None, passage, None, {})]
    assert quoted == ["联合国大会通过了这项决议，各国表示欢迎。"]
    # without its literal words the English question has no keyword to tell the two sentences apart
    assert len(select("When was the resolution adopted?", None, passage, None, {}, literal=False)) == 2


def test_an_english_word_scores_once_by_its_best_sense():
    """qa/query.py literal_groups / anchor_scores: a passage with three senses of one English word does not
    outrank a passage with one sense of each of two words (summing every sense did: benchmarks/feedback.py)."""
    from qa.keywords import KeywordIndex
    from qa.query import anchor_scores, literal_groups
    from qa.text import query_tokens
    from qa.tokentable import TokenTableBuilder

    groups = literal_groups("Who registered the team in 2015?")
    assert groups[0] == (("2015",),) and len(groups) == 3  # 2015, registered, team
    assert all(len(g) <= 10 for g in groups) and len(groups[1]) > 3  # "register" has many senses, one group
    passages = ["他挂号注册登录了很多次。", "团队在今天注册了。", "今天天气很好。", "明天下雨。"]
    builder = TokenTableBuilder()
    for p in passages:
        builder.add(query_tokens(p))
    index = KeywordIndex.build(builder.finish())
    scores = anchor_scores(index, "Who registered the team?")
    assert max(scores, key=scores.get) == 1 and set(scores) == {0, 1}
    assert anchor_scores(index, "超级碗50的冠军是哪支球队？") == {}  # a Chinese question: no literal search
