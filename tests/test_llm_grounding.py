"""qa/grounding.py: sentences and markers of a written answer, and each sentence checked against its passages
(with the real sentence model of the default answer path, use-m3)."""

from __future__ import annotations

import re

import pytest

from qa.crossnames import phrases, support
from qa.embedding import load_embedder
from qa.grounding import (
    MISCITED,
    NAME_SIMILARITY,
    NEAR,
    SOUNDALIKE,
    check,
    claims,
    mentions,
    names,
    numbers,
    vectors,
)
from qa.soundalike import key_en, key_zh
from qa.soundalike import score as sound

P1 = ("第78届联合国大会7月1日协商一致通过中国主提的加强人工智能能力建设国际合作决议。这份决议聚焦人工智能能力建设，"
      "旨在帮助各国特别是发展中国家从人工智能发展中平等受益。决议获得140多个国家联署。")
P2 = "本届城市马拉松比赛共有三万名选手参加，赛道全长四十二公里。男子组冠军来自肯尼亚，成绩是两小时十分。"
P3 = "2018年，中国发布《人工智能标准化白皮书》，提出人工智能安全风险。中方主张各国在联合国框架内加强对话。"
PASSAGES = [P1, P2, P3]


@pytest.fixture(scope="module")
def model():
    return load_embedder("use-m3")


def test_sentences_take_the_markers_that_follow_or_sit_inside_them():
    got = claims("决议7月1日通过。[1]共有三万名选手参加[2]！The race was 42 km long [2, 3]. Bad one【9】。", 3)
    assert [(c.text, c.citations, c.invalid) for c in got] == [
        ("决议7月1日通过。", (1,), ()), ("共有三万名选手参加！", (2,), ()),
        ("The race was 42 km long.", (2, 3), ()), ("Bad one。", (), (9,))]
    assert claims("", 3) == [] and claims("[1]", 3) == []
    assert [c.text for c in claims("It passed on July 1.[1]It was proposed by China.[1]", 1)] == [
        "It passed on July 1.", "It was proposed by China."]


def test_numbers_are_read_in_every_notation():
    assert {150.0, 1_500_000.0} <= numbers("150万人")
    assert 30_000.0 in numbers("三万名选手") and 42.0 in numbers("四十二公里")
    assert 1_500_000.0 in numbers("1.5 million people") and 90.0 in numbers("the 1990s")
    assert numbers("统一协调", strict=True) == set()  # 一 inside a word is not a count
    assert 7.0 in numbers("on July 1, 2024") and 2024.0 in numbers("on July 1, 2024")
    assert mentions("66 million years ago, in the 1990s") == [[66.0, 66e6], [1990.0, 90.0]]
    assert mentions("five million people") == [[5.0, 5e6]]


def test_a_scaled_number_is_found_in_either_notation(model):
    passage = ["白垩纪-古近纪灭绝事件发生在大约6600万年前，导致恐龙灭绝。"]
    assert check("The extinction of the dinosaurs happened about 66 million years ago.[1]", passage, model)[0].supported
    v = check("The extinction of the dinosaurs happened about 67 million years ago.[1]", passage, model)[0]
    assert not v.supported and v.reason.startswith("number 67 ")


def test_initials_and_et_al_do_not_end_a_sentence():
    got = claims("It was founded by E.I. du Pont in 1802.[1] Jones et al. 1998 agree.[2]", 2)
    assert [c.text for c in got] == ["It was founded by E.I. du Pont in 1802.", "Jones et al. 1998 agree."]


def test_a_question_quoted_inside_a_sentence_does_not_end_it():
    got = claims('The answer to "Why were they called \u201cthe Methodists?\u201d" is their method.[1] He asked '
                 '"Why?" and left.[2] Was it? Yes.[2]', 2)
    assert [(c.text, c.citations) for c in got] == [
        ('The answer to "Why were they called \u201cthe Methodists?\u201d" is their method.', (1,)),
        ('He asked "Why?" and left.', (2,)), ("Was it?", ()), ("Yes.", (2,))]
    assert [c.text for c in claims("It is led by Rev. Paul T. Stallsworth.[1]", 1)] == [
        "It is led by Rev. Paul T. Stallsworth."]


def test_numbers_of_the_question_are_the_askers_not_checked(model):
    passage = ["诺曼在本赛季有四次拦截，其中两次回攻达阵。"]
    sentence = "In 2015, Josh Norman returned two interceptions for touchdowns.[1]"
    assert not check(sentence, passage, model)[0].supported
    v = check(sentence, passage, model, asked="How many interceptions did Josh Norman return in 2015?")[0]
    assert v.supported, v.reason
    v = check(sentence.replace("two", "three"), passage, model, asked="How many did Josh Norman return in 2015?")[0]
    assert not v.supported and v.reason.startswith("number 3 ")


def test_a_lower_case_word_with_digits_is_translated_across_scripts(model):
    passage = ["在较冷的气候条件下，海洋动物会获得更多的氧-18，因为它们的壳体中富含这种同位素。"]
    assert "oxygen-18" not in " ".join(names("Marine animals take in more oxygen-18.", False, cross=True))
    assert names("It flies an A380.", False, cross=True) == ["a380"]
    v = check("In cooler climates, marine animals take in more oxygen-18.[1]", passage, model)[0]
    assert v.supported, v.reason
    assert not check("In cooler climates, marine animals take in more oxygen-17.[1]", passage, model)[0].supported


def test_a_copied_sentence_is_supported_with_its_span(model):
    v = check("第78届联合国大会7月1日协商一致通过中国主提的加强人工智能能力建设国际合作决议。[1]", PASSAGES, model)[0]
    assert v.supported and v.citations == (1,)
    i, a, b = v.spans[0]
    assert i == 0 and "7月1日" in P1[a:b]


def test_an_english_sentence_over_a_chinese_passage_is_supported(model):
    v = check("The UN General Assembly adopted the resolution on AI capacity building on July 1.[1]", PASSAGES, model)[0]
    assert v.supported, v.reason


@pytest.mark.parametrize(("sentence", "reason"), [
    ("第78届联合国大会7月2日协商一致通过中国主提的加强人工智能能力建设国际合作决议。[1]", "number 2"),
    ("本届城市马拉松比赛共有五万名选手参加。[2]", "number 50000"),
    ("男子组冠军来自埃塞俄比亚，成绩是两小时十分。[2]", "埃塞俄比亚"),
    ("本届城市马拉松比赛共有三万名选手参加。[1]", "number 30000 is not in [1]"),
    ("城市马拉松比赛的选手很多，赛道很长。[1]", "says this|does not say this|not in [1]"),
    ("决议还规定每个会员国每年须缴纳人工智能税。", "cites no given passage"),
    ("This is a resolution about GPT-5 models.[1]", "not in [1]"),
])
def test_unsupported_sentences_are_caught_with_a_reason(model, sentence, reason):
    v = check(sentence, PASSAGES, model)[0]
    assert not v.supported and re.search(reason.replace("[", r"\[").replace("]", r"\]"), v.reason), v.reason


def test_a_sentence_copied_from_another_given_passage_is_miscited(model):
    given = ["赛道的路线经过市中心的主要街道，沿途有许多观众。", P1, "比赛当天天气晴朗，选手们在街道上跑步。"]
    v = check("赛道的路线经过市中心的主要街道。[3]", given, model)[0]
    assert not v.supported and v.rival > MISCITED["same"] and v.reason
    assert check("赛道的路线经过市中心的主要街道。[1]", given, model)[0].supported


def test_a_sentence_repeating_the_instructions_is_refused(model):
    v = check("Answer the question using only the numbered passages.[1]", PASSAGES, model,
              refuse=("answer the question using only the numbered passages",))[0]
    assert not v.supported and v.reason == "repeats the instructions"


def test_latin_phrases_are_names_without_the_words_that_open_a_clause():
    assert phrases('The answer to "How many sacks did Jared Allen have" is 136.') == ["Jared Allen"]
    assert phrases("According to Reuters, the University of Chicago and Tesla's board met.") == [
        "Reuters", "University of Chicago", "Tesla"]


@pytest.mark.parametrize(("sentence", "supported"), [
    ("The men's race was won by a runner from Kenya.[2]", True),
    ("The men's race was won by a runner from Ethiopia.[2]", False),  # CC-CEDICT: 肯尼亚 is Kenya
    ("The men's race was won by a runner from Brazil.[2]", False),  # no word of [2] is close to it
    ("In 2018 China published a white paper on AI standardisation.[3]", True),
    ("In 2018 Microsoft published a white paper on AI standardisation.[3]", False),
])
def test_an_english_name_is_matched_across_the_script_gap(model, sentence, supported):
    v = check(sentence, PASSAGES, model)[0]
    assert v.supported is supported, (v.reason, v.name_support)
    if not supported:
        assert "is not in [" in v.reason and v.name_support < NAME_SIMILARITY["cross"]


def test_a_transliterated_person_name_is_found_in_a_chinese_passage(model):
    passage = "黑豹队的防守只丢了308分。职业碗防守截锋卡万·肖特以11分领先于全队，他的队友马里奥·爱迪生贡献了6次擒杀。"
    found = support(["Mario Addison", "Peyton Manning"], [passage], model, vectors)
    assert found[0][1] >= NAME_SIMILARITY["cross"] and "爱迪生" in found[0][2]
    assert found[1][1] < found[0][1]


HADRIAN = "公元122年，罗马帝国皇帝哈德良下令在不列颠北部修建一道城墙，后人称之为哈德良长城。"


def test_a_transliterated_name_is_found_by_its_sound(model, monkeypatch):
    found = support(["Hadrian", "Trajan", "Marcus Aurelius"], [HADRIAN], model, vectors)
    assert found[0][3] >= SOUNDALIKE["cross"] and found[0][1] < 0.55  # the vectors alone are unsure of 哈德良
    assert all(f[3] < SOUNDALIKE["cross"] for f in found[1:])
    sentence = "Hadrian ordered the wall built in 122.[1]"
    assert check(sentence, [HADRIAN], model)[0].name_support == 1.0
    monkeypatch.setitem(SOUNDALIKE, "cross", 9.0)
    assert check(sentence, [HADRIAN], model)[0].name_support < 0.55


def test_sound_skeletons():
    assert key_en("Jared Allen") == key_zh("贾里德·艾伦") and key_en("Chaffee") == key_zh("查菲")
    assert sound("Kawann Short", ["卡万·肖特"]) >= 0.9 > sound("Jean Cauvin", ["杰克逊维尔"])
    # three consonants match too much by chance: a short name is compared by its vowel skeleton (DaLaS, MaNiN)
    assert sound("Dallas", ["达拉斯"], vowels=False) == 0.0 and sound("Manning", ["曼宁"], vowels=False) == 0.0
    assert sound("Dallas", ["达拉斯"]) >= 0.9 > sound("Dallas", ["大理石", "德里", "塔利班"])
    assert sound("Manning", ["曼宁"]) == 1.0 > 0.9 > sound("Manning", ["米兰", "明年", "蒙古"])
    assert sound("Chaffee", ["查菲"]) == 1.0 > 0.9 > sound("Chaffee", ["车辆", "咖啡馆", "主席"])
    assert sound("Brookhaven", ["布鲁黑文"]) >= 0.9  # v is 文 here, 夫 elsewhere: f, v and w are one class
    # the generic head is translated (等级), the specific part transliterated: it alone is compared too
    assert sound("Saffir-Simpson Scale", ["萨福尔-辛普森"]) >= 0.9 > sound("Saffir-Simpson Scale", ["杰克逊维尔"])
    # an r closing a syllable is mostly not written (皮塔德: Pittard), yet 尔 can be one (鲍尔森: Paulson, Bauerson)
    assert sound("Pittard Sullivan", ["皮塔德·沙利文"]) == 1.0 > sound("Pittard Sullivan", ["杰克逊维尔"])
    assert sound("Bauerson", ["鲍尔森"]) == 1.0


def test_a_people_next_to_its_country_is_no_contradiction(model):
    found = support(["Japanese", "Turkish", "Ethiopia"], ["日本和土耳其的研究团队合作。", "冠军来自肯尼亚。"], model, vectors)
    assert found[0][1] >= NAME_SIMILARITY["cross"] and found[1][1] >= NAME_SIMILARITY["cross"]
    assert found[2][1] == 0.0  # Ethiopia is not 肯尼亚: the dictionary knows both as places


def test_a_lower_case_abbreviation_does_not_end_a_sentence():
    # a benchmark sentence quoting "the y. pestis" lost its marker to a split after "y."
    got = claims('The answer to "When did the y. pestis reach England" is 1349.[1] It spread, e.g. to Paris.[1]', 1)
    assert [(c.text, c.citations) for c in got] == [
        ('The answer to "When did the y. pestis reach England" is 1349.', (1,)), ("It spread, e.g. to Paris.", (1,))]
    assert [c.text for c in claims("It ended in 1351. Then it came back.[1]", 1)] == [
        "It ended in 1351.", "Then it came back."]


INTERNET2 = ("Internet2是一个由来自研究、教育、工业和政府各界的成员领导的非盈利的美国计算机网络联盟。Internet2群体与 Qwest "
             "合作，于1998年建立了第一个Internet2网络，名为 Abilene。2006年，Internet2宣布与Level 3 Communications合作。")


def test_a_chinese_passage_quoting_english_names_is_not_latin_script(model):
    # 47 % of its letters are Chinese: "United States" is 美国 there, not a word to find literally
    v = check("Internet2 is a not-for-profit United States computer networking consortium.[1]", [INTERNET2], model)[0]
    assert v.supported, v.reason
    v = check("Internet2 is a not-for-profit Canadian computer networking consortium.[1]", [INTERNET2], model)[0]
    assert not v.supported


def test_a_word_built_on_the_passages_name_is_no_contradiction(model):
    # CC-CEDICT gives Islamic as 清真 and 伊斯兰教 as Islam: Islamic must not score 0 against 伊斯兰教
    passage = ["正是由于未能区分伊斯兰教和伊斯兰主义，西方有很多人才会支持非自由伊斯兰政权。"]
    found = support(["Islamic", "Ethiopian"], passage, model, vectors)
    assert found[0][1] >= NAME_SIMILARITY["cross"] and found[1][1] < NAME_SIMILARITY["cross"]


RACE = ["本届马拉松比赛于周日清晨开跑。组委会表示，报名人数创下新高，共有31000名选手参加。",
        "本届马拉松比赛吸引了大批选手参加，赛道经过市中心的主要街道，沿途观众很多。"]


def test_a_rival_passage_lacking_the_sentences_number_is_no_rival(model):
    # [2] is closer in wording, but only [1] holds 31000: [1] is the right citation (supported sentences of the
    # benchmark were flagged as miscited this way)
    v = check("本届马拉松比赛吸引了31000名选手参加，赛道经过市中心的主要街道。[1]", RACE, model)[0]
    assert v.rival > MISCITED["same"] and not v.rival_holds and v.supported, v.reason
    v = check("本届马拉松比赛吸引了大批选手参加，赛道经过市中心的主要街道。[1]", RACE, model)[0]
    assert v.rival_holds and not v.supported and "passage [2] says this" in v.reason


TESLA = ["特斯拉于1891年发明了特斯拉线圈。这种线圈至今仍用于无线电技术和娱乐表演。他晚年住在纽约的一家旅馆里，生活拮据。"
         "1901年，他获得了无线电力传输的专利。"]


def test_an_english_sentences_number_must_be_where_the_passage_says_it(model):
    # a changed year often lands on another year of the same passage (benchmark: dates changed, English)
    assert check("In 1901 Tesla received a patent for wireless power transmission.[1]", TESLA, model)[0].supported
    assert check("In 1891 Tesla invented the Tesla coil.[1]", TESLA, model)[0].supported
    v = check("In 1891 Tesla received a patent for wireless power transmission.[1]", TESLA, model)[0]
    assert not v.supported and v.number_gap > NEAR["cross"] and "near what it says" in v.reason
