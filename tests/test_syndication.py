"""Syndicated copies (qa/syndication.py): found, folded at build, listed on the card and in --json;
near-identical paragraphs of different articles never fill two top cards."""

from __future__ import annotations

from qa import syndication
from qa.syndication import copy_groups, diversify

WIRE = ("新华社北京7月28日电 国家统计局28日发布数据，上半年全国规模以上工业企业实现利润总额3.3万亿元，同比下降16.8%。"
        "其中，6月份利润同比下降8.3%，降幅比5月份收窄4.3个百分点。统计局工业司首席统计师表示，工业企业利润恢复态势持续。")
EDITED = ("（来源：江城日报）国家统计局28日发布数据，上半年全国规模以上工业企业实现利润总额3.3万亿元，同比下降16.8%。"
          "其中，6月份利润同比下降8.3%，降幅比5月份收窄4.3个百分点。统计局工业司首席统计师表示，工业企业利润恢复态势持续。")
OTHER = ("本报讯 市气象台28日发布高温橙色预警，预计未来三天最高气温将达到38摄氏度以上，请市民注意防暑降温，"
         "减少午后户外活动，老人和儿童尤其要注意补充水分，户外作业单位应调整作业时间。")
SAME_TOPIC = ("国家统计局28日发布数据显示，上半年规模以上工业企业利润降幅继续收窄。分行业看，电气机械、汽车制造利润增长较快，"
              "而化工、有色冶炼利润明显下降。专家认为，下半年需求回暖将推动利润继续改善。")


def test_copies_with_small_edits_are_grouped_and_the_same_topic_is_not():
    assert copy_groups([WIRE, EDITED, OTHER, SAME_TOPIC]) == {0: [1]}


def test_the_earliest_article_is_the_original():
    assert copy_groups([EDITED, WIRE], order=[1, 0]) == {1: [0]}


def test_short_items_are_never_copies():
    assert copy_groups(["今日天气晴，最高气温30度。", "今日天气晴，最高气温30度。"]) == {}


def test_fold_marks_both_sides_and_replaces_old_marks():
    arts = [{"id": "b", "date": "2023-07-29", "source": "江城日报", "url": "https://jc.example.cn/1", "paragraphs": [EDITED]},
            {"id": "a", "date": "2023-07-28", "source": "新华社", "url": None, "paragraphs": [WIRE]},
            {"id": "c", "date": None, "paragraphs": [OTHER], "copies": [{"article_id": "old"}]}]
    assert syndication.fold(arts) == {"b": "a"}
    assert arts[1]["copies"] == [{"article_id": "b", "source": "江城日报", "date": "2023-07-29", "url": "https://jc.example.cn/1"}]
    assert arts[0]["copy_of"] == "a" and "copies" not in arts[2]


def test_diversify_keeps_one_of_two_identical_paragraphs_in_the_top():
    texts = {1: WIRE, 2: EDITED, 3: OTHER, 4: SAME_TOPIC}
    arts = {1: "a", 2: "b", 3: "c", 4: "d"}
    ranked = diversify([(1, 0.9), (2, 0.8), (3, 0.7), (4, 0.6)], texts.__getitem__, arts.__getitem__, top=3)
    assert [r for r, _ in ranked] == [1, 3, 4, 2]


def test_build_indexes_a_wire_story_once_and_lists_its_copies(tmp_path, hash_settings, write_article):
    import json

    from qa.answer import Asker
    from qa.index import build
    from qa.render import card

    seeds = tmp_path / "seeds"
    write_article(seeds, "xinhua.md", "上半年工业企业利润降幅收窄", [WIRE], source="新华社", date="2023-07-28")
    write_article(seeds, "jiangcheng.md", "工业企业利润降幅收窄", [EDITED], source="江城日报", date="2023-07-29",
                  url="https://jc.example.cn/1")
    write_article(seeds, "weather.md", "高温预警", [OTHER], source="江城日报", date="2023-07-28")
    settings = hash_settings(seeds, tmp_path / "index")
    report = build(settings)
    assert report.copies == 1 and report.articles == 3 and report.chunks == 2
    answer = Asker.open(settings).ask("上半年工业企业利润总额是多少？", mode="keyword")
    top = answer.as_json()["results"][0]
    assert top["article_id"] == "xinhua"
    assert top["copies"] == [{"article_id": "jiangcheng", "source": "江城日报", "date": "2023-07-29",
                              "url": "https://jc.example.cn/1"}]
    assert all(r["article_id"] != "jiangcheng" for r in answer.as_json()["results"])
    html = card(1, answer.hits[0], {"paragraphs": [WIRE]}, [], [], 1.0, True)
    assert "Also published by" in html and 'href="https://jc.example.cn/1"' in html and "江城日报 · 2023-07-29" in html
    json.dumps(answer.as_json())  # still plain JSON
    assert build(settings).unchanged


def test_lsh_bands_are_datasketchs_optimum_for_the_threshold():
    from datasketch.lsh import _optimal_param

    assert _optimal_param(syndication.THRESHOLD, syndication.NUM_PERM, 0.5, 0.5) == (syndication.BANDS, syndication.ROWS)


def test_a_batch_of_texts_hashes_each_text_alone():
    """One rolling hash runs over the joined batch: no window may cross from one text into the next."""
    import numpy as np

    texts = [WIRE, "", "短", "，，，", EDITED + "ABCÄ", OTHER]
    alone = np.stack([syndication.signature(t) for t in texts])
    assert (syndication.signatures(texts) == alone).all()
    assert (alone[1] == alone[3]).all() and not (alone[0] == alone[4]).all()
    assert sorted(syndication.shingles("AbCdEf，g").tolist()) == sorted(syndication.shingles("abcdefg").tolist())


def test_fold_from_a_sketch_made_in_batches():
    import numpy as np

    arts = [{"id": str(i), "date": None, "paragraphs": [t]} for i, t in enumerate([OTHER, WIRE, SAME_TOPIC, EDITED])]
    parts = [syndication.sketch(["\n".join(a["paragraphs"]) for a in arts[k:k + 2]]) for k in (0, 2)]
    sketched = (np.concatenate([parts[0][0], parts[1][0] + 2]), np.concatenate([parts[0][1], parts[1][1]]))
    light = [{k: v for k, v in a.items() if k != "paragraphs"} for a in arts]
    assert syndication.fold(light, sketched) == syndication.fold(arts) == {"3": "1"}


def test_a_lone_surrogate_from_a_bad_export_row_does_not_stop_the_fold():
    bad = WIRE + "\ud800"
    assert copy_groups([bad, EDITED, OTHER]) == {0: [1]}
