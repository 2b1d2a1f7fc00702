"""Time expressions in questions (qa/timeexpr.py) and their soft effect on search."""

from __future__ import annotations

import datetime as dt

import pytest

from qa import timeexpr
from qa.timeexpr import parse, passage_dates

D = dt.date


@pytest.mark.parametrize(("question", "today", "since", "until", "recent"), [
    ("2024年7月发生了什么？", D(2025, 1, 1), D(2024, 7, 1), D(2024, 7, 31), False),
    ("2020年4月2日广州发生了什么交通事故？", D(2024, 8, 30), D(2020, 4, 2), D(2020, 4, 2), False),
    ("二〇二三年三月的出口数据如何？", D(2024, 1, 1), D(2023, 3, 1), D(2023, 3, 31), False),
    ("2018年中央企业的营业收入是多少？", D(2024, 8, 30), D(2018, 1, 1), D(2018, 12, 31), False),
    ("去年的降水量是多少？", D(2024, 3, 5), D(2023, 1, 1), D(2023, 12, 31), False),
    ("前年的6月中国人民银行发布了哪项法律修订草案？", D(2024, 11, 12), D(2022, 6, 1), D(2022, 6, 30), False),
    ("三年前四月谁被任命为深圳市监委代主任？", D(2024, 11, 12), D(2021, 4, 1), D(2021, 4, 30), False),
    ("上个月的CPI涨了多少？", D(2024, 1, 10), D(2023, 12, 1), D(2023, 12, 31), False),
    ("截至上周，荣盛发展的股价连续多少日涨停？", D(2023, 6, 14), None, D(2023, 6, 11), True),
    ("昨天新疆新增了多少无症状感染者？", D(2020, 8, 7), D(2020, 8, 6), D(2020, 8, 6), False),
    ("近3个月有哪些地铁新线开通？", D(2024, 7, 1), D(2024, 3, 30), D(2024, 7, 1), False),
    ("What happened in March 2023?", D(2024, 1, 1), D(2023, 3, 1), D(2023, 3, 31), False),
    ("What did the minister say on July 15, 2024?", D(2025, 1, 1), D(2024, 7, 15), D(2024, 7, 15), False),
    ("What were exports as of last month?", D(2024, 5, 20), None, D(2024, 4, 30), True),
    ("How many homes were flooded last year?", D(2024, 5, 20), D(2023, 1, 1), D(2023, 12, 31), False),
])
def test_expressions_become_ranges(question, today, since, until, recent):
    scope = parse(question, today)
    assert (scope.since, scope.until, scope.recent) == (since, until, recent)


def test_latest_is_a_recency_preference_and_plain_questions_have_none():
    assert parse("最新的港口吞吐量数据是多少？", D(2024, 1, 1)) == timeexpr.TimeScope(recent=True, expression="最新")
    assert parse("What is the latest on the bridge?").label() == "latest first"
    assert parse("联合国大会通过了什么决议？") is None
    assert parse("一带一路倡议提出了什么？") is None  # numerals outside time words stay words


def test_relative_words_get_an_absolute_wording_for_the_keyword_search():
    assert parse("前年的6月发布了什么？", D(2024, 11, 12)).resolved == "2022年6月"
    assert parse("去年发生了什么？", D(2024, 11, 12)).resolved == "2023年"
    assert parse("2022年6月发布了什么？", D(2024, 11, 12)).resolved == ""  # already in the question


def test_label_shown_in_searched_for():
    assert parse("2024年7月的新闻", D(2025, 1, 1)).label() == "2024-07-01…2024-07-31"


def test_passage_dates_are_the_dates_it_states():
    assert passage_dates("2019年7月23日，COTODAMA推出了一款音箱；7月17日苹果停产。") == [
        (D(2019, 7, 23), D(2019, 7, 23)), (D(2019, 7, 17), D(2019, 7, 17))]
    assert passage_dates("2023年6月，荣盛发展被新增储能概念。") == [(D(2023, 6, 1), D(2023, 6, 30))]
    assert passage_dates("没有日期的段落。") == []


def test_prefer_moves_passages_dated_in_range_up_without_removing_any():
    scope = parse("2022年6月发布了什么？", D(2024, 1, 1))
    dates = {1: [(D(2021, 6, 3), D(2021, 6, 3))], 2: [(D(2022, 6, 3), D(2022, 6, 3))], 3: []}
    ranked = timeexpr.prefer([(1, 0.9), (2, 0.8), (3, 0.7)], scope, dates.__getitem__)
    assert [r for r, _ in ranked] == [2, 1, 3]


def test_search_prefers_the_article_of_the_asked_year(tmp_path, hash_settings, write_article):
    from qa.embedding import load_embedder
    from qa.index import build
    from qa.search import Retriever
    from qa.storage import load

    seeds = tmp_path / "seeds"
    text = "港务局公布全年集装箱吞吐量，比上年增长一成，新开通航线贡献最大，码头扩建工程同步推进。"
    for year in (2021, 2022, 2023):
        write_article(seeds, f"port{year}.md", f"{year}年港口年报", [text], source="港报", date=f"{year}-12-30")
    settings = hash_settings(seeds, tmp_path / "index")
    build(settings)
    r = Retriever(load(settings.index), load_embedder("hash"))
    stats: dict = {}
    hits = r.search("去年港口集装箱吞吐量增长多少？", 3, "keyword", stats=stats, today=D(2023, 3, 1))
    assert hits[0].article_id == "port2022" and stats["time"].label() == "2022-01-01…2022-12-31"
    assert len(hits) == 3  # the other years are still there, lower
    hits = r.search("最新的港口集装箱吞吐量是多少？", 3, "keyword", today=D(2024, 3, 1))
    assert hits[0].article_id == "port2023"


def test_today_setting_and_searched_for(tmp_path, hash_settings, write_article):
    from dataclasses import replace

    from qa.answer import Asker
    from qa.config import Settings
    from qa.errors import InputError
    from qa.index import build

    assert Settings.load(today="2024-07-15").today_date() == D(2024, 7, 15)
    with pytest.raises(InputError, match="YYYY-MM-DD"):
        Settings.load(today="15/07/2024").today_date()
    seeds = tmp_path / "seeds"
    write_article(seeds, "a.md", "港口年报", ["港务局公布全年集装箱吞吐量，比上年增长一成，新开通航线贡献最大。"], date="2023-12-30")
    settings = replace(hash_settings(seeds, tmp_path / "index"), today="2024-03-01")
    build(settings)
    answer = Asker.open(settings).ask("去年港口集装箱吞吐量增长多少？", mode="keyword")
    assert answer.searched_for == "去年港口集装箱吞吐量增长多少？ (2023-01-01…2023-12-31)"
    assert answer.as_json()["searched_for"].endswith("(2023-01-01…2023-12-31)")


def test_eval_honours_a_question_date_written_without_zero_padding():
    """69 chronoqa questions have question_date "2024-5-1": asked on today instead, "去年" meant the wrong year."""
    from qa.evaluate import _date

    assert _date("2024-5-1") == D(2024, 5, 1) and _date("2024-08-30") == D(2024, 8, 30)
    assert _date("someday") is None and _date(None) is None


@pytest.mark.parametrize(("question", "today", "since", "until"), [
    ("半年前首期超长期特别国债在哪些交易所上市？", D(2024, 11, 12), D(2024, 5, 1), D(2024, 5, 31)),
    ("三年半前，美国是如何回应的？", D(2024, 11, 12), D(2021, 5, 1), D(2021, 5, 31)),
    ("上半年赵雅芝的工作室对什么谣言发表了声明？", D(2024, 11, 12), D(2024, 1, 1), D(2024, 6, 30)),
    ("下半年有哪些新车上市？", D(2024, 11, 12), D(2024, 7, 1), D(2024, 12, 31)),
    ("上个季度末伯克希尔的持仓集中在哪些公司？", D(2024, 11, 12), D(2024, 7, 1), D(2024, 9, 30)),
    ("本季度的出口增长了多少？", D(2024, 2, 3), D(2024, 1, 1), D(2024, 3, 31)),
    ("几个月前天津和平法院审理了什么案件？", D(2024, 11, 12), D(2024, 2, 16), D(2024, 10, 13)),
    ("2月17日的短道速滑比赛中谁夺冠？", D(2024, 11, 12), D(2024, 2, 17), D(2024, 2, 17)),
    ("12月的CPI涨了多少？", D(2024, 11, 12), D(2023, 12, 1), D(2023, 12, 31)),
    ("八月底荷兰国防部网络故障调查结果是什么？", D(2024, 11, 12), D(2024, 8, 1), D(2024, 8, 31)),
    ("2023年前5个月地方政府共发行了多少债券？", D(2024, 8, 30), D(2023, 1, 1), D(2023, 12, 31)),  # not "23年前"
    ("What happened 3 years ago?", D(2024, 11, 12), D(2021, 1, 1), D(2021, 12, 31)),
])
def test_half_years_quarters_vague_and_yearless_expressions(question, today, since, until):
    scope = parse(question, today)
    assert (scope.since, scope.until) == (since, until)


@pytest.mark.parametrize("question", [
    "几个月前天津和平法院审理了什么案件？",  # "前天" inside "几个月前天津" is not the day before yesterday
    "五月天最早于哪一年和滚石公司签约？",  # a band, not May
    "十月革命是哪一年发生的？",
    "潘嘉丽于哪一年的2月14日发行了第一张个人专辑？",  # the year is what is asked: no year to assume
])
def test_words_that_look_like_time_but_are_not_that_time(question):
    scope = parse(question, D(2024, 11, 12))
    assert scope is None or scope.expression == "几个月前"


def test_passage_dates_read_years_alone_and_days_without_their_year():
    assert passage_dates("2023年，中国汽车总销量突破3000万辆。") == [(D(2023, 1, 1), D(2023, 12, 31))]
    assert passage_dates("2019年6月8日，中国新闻周刊报道。5月28日，日本川崎发生事件。") == [
        (D(2019, 6, 8), D(2019, 6, 8)), (D(2019, 5, 28), D(2019, 5, 28))]
    unknown = D(timeexpr.YEAR_UNKNOWN, 3, 7)  # no year stated anywhere: the day alone, matched on month and day
    assert passage_dates("北京时间3月7日，国王队主场获胜。") == [(unknown, unknown)]
    assert parse("2024年3月7日国王队战胜了谁？", D(2024, 8, 30)).fits((unknown, unknown)) is True
    assert parse("2024年3月8日国王队战胜了谁？", D(2024, 8, 30)).fits((unknown, unknown)) is None
    assert passage_dates("2024年3月22日") == []  # a bare date heading says nothing happened then


def test_the_same_time_some_years_ago():
    assert parse("两年前的这个月哪一个展会闭幕？", D(2024, 11, 12)).label() == "2022-11-01…2022-11-30"
    assert parse("一年前的这个星期，总书记访问了哪里？", D(2024, 11, 12)).label() == "2023-11-06…2023-11-12"
    assert parse("四年前的昨天重庆新增了多少病例？", D(2024, 11, 12)).label() == "2020-11-11…2020-11-11"


def test_every_date_a_question_names_counts():
    scope = parse("疫情警告（2020年11月19日）和浙江新增病例（2021年12月5日）哪个更早？", D(2023, 10, 20))
    assert scope.fits((D(2021, 12, 5), D(2021, 12, 5))) and scope.fits((D(2020, 11, 19), D(2020, 11, 19)))
    assert scope.fits((D(2021, 12, 6), D(2021, 12, 6))) is None
    assert scope.label() == "2020-11-19…2020-11-19, 2021-12-05…2021-12-05"


def test_a_coarser_passage_date_counts_less_than_an_exact_one():
    scope = parse("2024年7月26日发生了什么？", D(2024, 8, 1))
    assert scope.fits((D(2024, 1, 1), D(2024, 12, 31))) is False and scope.fits((D(2024, 7, 26), D(2024, 7, 26)))
    dates = {1: [(D(2024, 1, 1), D(2024, 12, 31))], 2: [(D(2024, 7, 26), D(2024, 7, 26))]}
    ranked = timeexpr.prefer([(1, 0.9), (2, 0.8)], scope, dates.__getitem__)
    assert [r for r, _ in ranked] == [2, 1]


def test_that_day_is_the_best_passages_day():
    """"X当天，Y…": the day is X's, read off the best passage; passages of that day move up."""
    scope = parse("中美元首会晤当天，辽宁女排对阵江西队的比赛结果是什么？", D(2024, 8, 30))
    assert scope.anchor == "day" and scope.since is None
    dates = {1: [(D(2023, 11, 14), D(2023, 11, 14))], 2: [(D(2022, 1, 5), D(2022, 1, 5))],
             3: [(D(2023, 11, 14), D(2023, 11, 14))]}
    ranked = timeexpr.prefer([(1, 0.9), (2, 0.8), (3, 0.7)], scope, dates.__getitem__)
    assert [r for r, _ in ranked] == [1, 3, 2]
    assert parse("Which came first, A or B?") is None


def test_that_day_question_asks_its_second_clause():
    """"X当天，Y…": Y is what is asked; X only dates it (and is often in no article), so search adds Y alone."""
    assert parse("中美元首会晤当天，辽宁女排对阵江西队的比赛结果是什么？").topic == "辽宁女排对阵江西队的比赛结果是什么？"
    assert parse("中美元首会晤当天，辽宁女排对阵江西队的比赛结果是什么？").label() == (
        "the same day as the best passage, with “辽宁女排对阵江西队的比赛结果是什么？” also searched alone")
    assert parse("会晤当天发生了什么？").topic == ""  # no second clause: the question is X itself
    assert parse("当天，比赛结果如何？").topic == ""  # no X: nothing to set apart


def test_search_of_a_that_day_question_is_not_led_by_the_event_words(tmp_path, hash_settings, write_article):
    from qa.embedding import load_embedder
    from qa.index import build
    from qa.search import Retriever
    from qa.storage import load

    seeds = tmp_path / "seeds"
    write_article(seeds, "summit.md", "峰会", ["中美元首在旧金山会晤，会晤持续四小时，双方发表联合声明。"],
                  source="外电", date="2023-11-15")
    write_article(seeds, "volley.md", "女排", ["辽宁女排对阵江西队，比赛结果为三比一。"], source="体育报", date="2023-11-15")
    write_article(seeds, "other.md", "天气", ["沈阳今日降温，局地有雪。"], source="晚报", date="2023-11-15")
    settings = hash_settings(seeds, tmp_path / "index")
    build(settings)
    r = Retriever(load(settings.index), load_embedder("hash"))
    glued = r.search("在旧金山会晤并发表联合声明当天辽宁女排比赛结果是什么？", 2, "keyword")  # one clause: no topic, X's words lead
    split = r.search("在旧金山会晤并发表联合声明当天，辽宁女排比赛结果是什么？", 2, "keyword")
    assert glued[0].article_id == "summit" and split[0].article_id == "volley"
