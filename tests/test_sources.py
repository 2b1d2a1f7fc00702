"""Saved web pages, feeds and exports (qa/sources/): exact paragraphs and metadata from realistic files,
bad input skipped with its reason, and per-article incremental builds through `qa build`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa import storage
from qa.errors import ArticleError
from qa.index import build, check
from qa.sources import exports, read_file

FIX = Path(__file__).resolve().parent / "fixtures" / "archives"


def read(name: str, folder: Path = FIX, seeds: Path | None = None):
    return read_file(folder / name, name, lambda p: p.read_bytes(), seeds)


def test_wechat_page_loses_scripts_qr_blocks_and_read_original():
    a, = read("wechat_article.html").articles
    assert a.id == "wechat_article"
    assert a.title == "江城夜市重开：三百个摊位一晚迎客两万人次"
    assert (a.source, a.date, a.authors, a.origin) == ("江城晚报", "2024-07-15", ("李明",), "江城晚报")
    assert a.url == "https://mp.weixin.qq.com/s/Xk3pQ7vJYb2LmN0aRtUwZg"
    assert a.paragraphs == (
        "7月14日晚，停业三年的江城中山路夜市重新开张。三百个摊位从傍晚六点一直营业到午夜，市商务局估计当晚客流超过两万人次。",
        "夜市由街道办与一家本地商业运营公司共同管理。摊位经过抽签分配，优先照顾原来在这里经营多年的老摊主，每个摊位每月管理费八百元。",
        "“以前在这里卖了十年凉粉，停了三年，今天总算又回来了。”摊主王秀兰说，她当晚卖出四百多碗，比预想的多了一倍。",
        "市场监管部门在现场设立了食品安全检测点，对油品和餐具进行抽检。街道办表示，夜市将在每周四至周日开放，持续到十月底。",
    )


def test_outlet_page_loses_navigation_share_bar_and_comments():
    a, = read("outlet_page.html").articles
    assert (a.title, a.source, a.date, a.authors) == ("长江中游五省联合开展禁渔执法检查", "东湖新闻网", "2023-03-08", ("陈晓",))
    assert a.url == "https://news.donghu.example.cn/2023/03/08/yuzheng.html"
    assert len(a.paragraphs) == 4
    assert a.paragraphs[0].startswith("3月7日，湖北、湖南、江西、安徽、重庆五省市渔政部门")
    assert a.paragraphs[3] == "多位渔政人员表示，禁渔进入第三年，执法重点正从水上巡查转向市场和餐桌，只有切断销售链条，才能真正断了偷捕者的念头。"
    text = "".join(a.paragraphs)
    for debris in ("首页", "分享到", "支持！", "沙发", "版权所有", "相关新闻"):
        assert debris not in text


def test_rss_entries_prefer_full_content_and_skip_an_empty_entry():
    got = read("xinhua_feed.rss")
    first, second = got.articles
    assert first.id == "xinhua_feed:binhai-20240715-1130"
    assert (first.title, first.source, first.date, first.authors, first.origin) == (
        "滨海港集装箱吞吐量上半年增长一成", "滨海日报·要闻", "2024-07-15", ("周宁",), "滨海日报")
    assert first.paragraphs == (
        "滨海港务集团7月15日发布数据，上半年滨海港完成集装箱吞吐量412万标箱，同比增长10.3%，增速居沿海主要港口前列。",
        "新开通的两条东南亚航线贡献了近三成增量。港务集团表示，下半年将继续加密至日韩的近洋航线。")
    assert second.paragraphs == ("地铁3号线北延段14日开始空载试运行，全长9.6公里，设站6座，预计年底前开通运营。",)
    assert second.date == "2024-07-14" and second.url.endswith("c_1121.htm")
    assert got.problems == [("xinhua_feed.rss entry 3", "('图片新闻') has neither content nor summary: skipped")]


def test_atom_entries_content_over_summary_and_updated_as_date():
    reef, heat = read("science_feed.atom").articles
    assert reef.title == "Reef survey finds coral recovery slower than hoped"
    assert (reef.source, reef.date, reef.authors) == ("Harbour Science Desk", "2023-03-20", ("Maria Lopez",))
    assert reef.paragraphs[0].startswith("Divers who surveyed 40 sites") and len(reef.paragraphs) == 2
    assert "short summary" not in " ".join(reef.paragraphs)
    assert heat.date == "2023-03-14" and heat.paragraphs == (
        "The network will heat 1,200 homes in the old harbour district from next winter, using water drawn from the bay.",)


def test_gbk_csv_with_chinese_headers_and_a_row_without_text():
    got = read("export_gbk.csv")
    h2, sewer = got.articles
    assert h2.id == "export_gbk:hb-0311-01" and h2.title == "江北新区首座氢能加气站投用"
    assert (h2.source, h2.date, h2.url) == ("江北日报", "2023-03-11", "https://jb.example.cn/n/0311-01")
    assert h2.paragraphs == ("3月11日，江北新区首座氢能加气站正式投入使用，日加注能力500公斤，可满足约100辆氢燃料公交车的需求。",
                             "该站由市能源集团投资建设，站内配备两台压缩机和四个储氢瓶组。")
    assert sewer.date == "2023-03-12"
    (where, reason), = got.problems
    assert where == "export_gbk.csv row 4" and "no article text" in reason and "fields.yaml" in reason


def _rows(n: int) -> list[dict]:
    return [{"id": f"r{i}", "headline": f"第{i}号公告：港区泊位调整", "content": f"港务局发布第{i}号公告，"
             f"{i % 7 + 1}号泊位自下月起调整作业时间，涉及的船公司已收到书面通知，调整期间引航服务照常提供。",
             "published": f"2024-{i % 12 + 1:02d}-{i % 28 + 1:02d}", "link": f"https://port.example.cn/n/{i}"}
            for i in range(n)]


def write_jsonl(path: Path, rows: list) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def test_jsonl_of_10k_rows_streamed_with_bad_lines_reported(tmp_path):
    rows = _rows(10_000)
    write_jsonl(tmp_path / "port.jsonl", rows)
    with open(tmp_path / "port.jsonl", "a", encoding="utf-8") as f:
        f.write('{"id": "broken", "content": \n')
        f.write(json.dumps({"id": "notext", "title": "x"}) + "\n")
    got = read("port.jsonl", tmp_path)
    assert len(got.articles) == 10_000
    a = got.articles[1234]
    assert a.id == "port:r1234" and a.title == "第1234号公告：港区泊位调整" and a.date == "2024-11-03"
    assert a.url == "https://port.example.cn/n/1234" and a.paragraphs == (rows[1234]["content"],)
    assert [w for w, _ in got.problems] == ["port.jsonl line 10001", "port.jsonl line 10002"]
    assert "not valid JSON" in got.problems[0][1]


def test_an_overlong_row_is_skipped_without_reading_it_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(exports, "MAX_ROW_BYTES", 1000)
    write_jsonl(tmp_path / "x.jsonl", [{"id": "big", "text": "长" * 5000}, *_rows(2)])
    got = read("x.jsonl", tmp_path)
    assert [a.id for a in got.articles] == ["x:r0", "x:r1"]
    assert got.problems[0][0] == "x.jsonl line 1" and "longer than" in got.problems[0][1]


def test_fields_yaml_maps_other_column_names(tmp_path):
    (tmp_path / "fields.yaml").write_text("text: 稿件正文\ndate: [录入日期]\n", encoding="utf-8")
    write_jsonl(tmp_path / "db.jsonl", [{"稿件正文": "市图书馆新馆周六开馆，藏书一百二十万册，设有二十四小时自助借还区。",
                                          "录入日期": "2024-09-07", "标题": "市图书馆新馆开馆"}])
    a, = read("db.jsonl", tmp_path, tmp_path).articles
    assert (a.title, a.date) == ("市图书馆新馆开馆", "2024-09-07")
    assert a.id.startswith("db:c")  # no id, no url: identity from the content


@pytest.mark.parametrize(("name", "data", "reason"), [
    ("empty.rss", b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>',
     "a feed with no entries"),
    ("broken.xml", b"<rss><channel><item><title>x</tit", "not a valid RSS/Atom feed"),
    ("login.html", b"<html><head><title>Log in</title></head><body><form><input name=u></form></body></html>",
     "no article text"),
    ("big5.csv", "標題,內文\n測試,這是一篇繁體中文的文章內容。\n".encode("big5"), "neither UTF-8 nor GBK"),
    ("binary.html", b"\x00\x01\x02" * 100, "binary"),
])
def test_bad_files_raise_a_reason_naming_the_file(tmp_path, name, data, reason):
    (tmp_path / name).write_bytes(data)
    with pytest.raises(ArticleError) as e:
        read(name, tmp_path)
    assert reason in e.value.reason and name in str(e.value)


def _arts(index: Path) -> dict[str, dict]:
    gen = index / (index / "CURRENT").read_text().strip()
    return {a["id"]: a for a in storage.read_jsonl(gen / "articles.jsonl")}


def test_build_reads_every_format_and_rebuilds_only_the_changed_row(tmp_path, hash_settings):
    import shutil

    seeds = tmp_path / "seeds"
    shutil.copytree(FIX, seeds)
    write_jsonl(seeds / "port.jsonl", _rows(50))
    settings = hash_settings(seeds, tmp_path / "index")
    first = build(settings)
    ids = set(_arts(settings.index))
    assert {"wechat_article", "outlet_page", "xinhua_feed:binhai-20240715-1130", "export_gbk:hb-0311-01",
            "science_feed:tag_science.harbour.example.com_2023_heat-pumps", "port:r49"} <= ids
    assert first.articles == 2 + 2 + 2 + 2 + 50
    assert ("export_gbk.csv row 4" in dict(first.skipped)) and ("xinhua_feed.rss entry 3" in dict(first.skipped))
    assert check(settings).ok and build(settings).unchanged  # row problems do not make the index look stale

    rows = _rows(50)
    rows[7]["content"] = "港务局更正：7号泊位调整推迟一个月执行，具体时间另行通知，请各船公司留意后续公告。"
    del rows[20]
    write_jsonl(seeds / "port.jsonl", rows)
    second = build(settings)
    assert second.embedded == 1  # only the changed row's passage
    arts = _arts(settings.index)
    assert "port:r20" not in arts and arts["port:r7"]["paragraphs"] == [rows[7]["content"]]
    assert second.articles == first.articles - 1


@pytest.mark.slow
def test_strict_build_fails_on_skipped_rows(tmp_path, run_qa, clean_env):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    write_jsonl(seeds / "a.jsonl", [*_rows(3), {"id": "empty", "text": ""}])
    args = ("build", "--seeds", str(seeds), "--index", str(tmp_path / "index"), "--model", "hash", "--quiet")
    assert run_qa(*args, env=clean_env).returncode == 0
    strict = run_qa(*args, "--strict", env=clean_env)
    assert strict.returncode == 1 and "a.jsonl line 4" in strict.stderr


def test_export_dates_without_a_year_are_not_guessed():
    from qa.sources.common import iso_date

    assert iso_date("07-24 09:50") is None and iso_date("08/16  13:50") is None
    assert iso_date("Mon, 15 Jul 2024 10:00:00 GMT") == "2024-07-15"
    assert iso_date("15 July 2024") == iso_date("July 15, 2024 10:00") == "2024-07-15"
    assert iso_date("2024年7月15日 星期一") == "2024-07-15"
