"""The Milvus build reads every format through the local build's readers (qa/sources) and folds
syndicated copies the same way (qa/store/milvus_read.py): over one folder of pages, feeds, exports and
.md files, `qa build --store x.db` (Milvus Lite, embedded) indexes the same articles, passages and copy
marks as the local store; a copy arriving later rewrites its original's card, and its leaving too."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from qa import store
from qa.index import build, check

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")
pytestmark = pytest.mark.slow

ARCHIVES = Path(__file__).resolve().parent / "fixtures" / "archives"
WIRE = ("新华社北京7月28日电 国家统计局28日发布数据，上半年全国规模以上工业企业实现利润总额3.3万亿元，同比下降16.8%。"
        "其中，6月份利润同比下降8.3%，降幅比5月份收窄4.3个百分点。统计局工业司首席统计师表示，工业企业利润恢复态势持续。")
EDITED = ("（来源：江城日报）国家统计局28日发布数据，上半年全国规模以上工业企业实现利润总额3.3万亿元，同比下降16.8%。"
          "其中，6月份利润同比下降8.3%，降幅比5月份收窄4.3个百分点。统计局工业司首席统计师表示，工业企业利润恢复态势持续。")
LATE = ("（晚报讯）国家统计局28日发布数据，上半年全国规模以上工业企业实现利润总额3.3万亿元，同比下降16.8%。"
        "其中，6月份利润同比下降8.3%，降幅比5月份收窄4.3个百分点。统计局工业司首席统计师表示，工业企业利润恢复态势持续。")
FIELDS = ("title", "source", "date", "url", "paragraphs", "copies", "copy_of")


def _seeds(folder: Path, write_article) -> None:
    shutil.copytree(ARCHIVES, folder)
    write_article(folder, "xinhua.md", "上半年工业企业利润降幅收窄", [WIRE], source="新华社", date="2023-07-28")
    rows = [{"id": "jc-1", "title": "工业企业利润降幅收窄", "text": EDITED, "source": "江城日报", "date": "2023-07-29",
             "url": "https://jc.example.cn/1"},
            {"id": "jc-2", "title": "旧稿", "text": "这一行会被同编号的后一行替换。" * 8, "source": "江城日报"},
            {"id": "jc-2", "title": "高温预警", "text": "市气象台28日发布高温橙色预警，预计未来三天最高气温将达到38摄氏度以上。",
             "source": "江城日报", "date": "2023-07-28"},
            {"id": "jc-3", "title": "没有正文"}]
    (folder / "export.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def _records(settings, ids) -> dict[str, dict]:
    s = store.load(settings)
    return {i: {k: s.articles[i].get(k) for k in FIELDS} for i in ids}


@pytest.fixture
def lite(tmp_path, monkeypatch):
    from qa.store import milvus

    db = str(tmp_path / "formats.db")
    yield db
    milvus.forget(db)


def test_lite_build_reads_every_format_and_folds_copies_like_the_local_build(tmp_path, write_article, hash_settings,
                                                                            lite):
    seeds = tmp_path / "seeds"
    _seeds(seeds, write_article)
    local = hash_settings(seeds, tmp_path / "index", cache=tmp_path / "cache")
    milvus = hash_settings(seeds, tmp_path / "index", store=lite, cache=tmp_path / "cache")
    a, b = build(local), build(milvus)
    assert a.copies == b.copies == 1
    assert (a.articles, a.chunks) == (b.articles, b.chunks) and a.articles > 10
    assert sorted(a.skipped) == sorted(b.skipped) and any("jc-3" in where or "row 4" in where for where, _ in b.skipped)
    ids = list(store.load(local).articles)
    assert len(ids) == a.articles
    want = _records(local, ids)
    assert _records(milvus, ids) == want
    copy = next(i for i, r in want.items() if r["copy_of"])
    original = want[copy]["copy_of"]
    assert want[original]["copies"] == [{"article_id": copy, "source": "江城日报", "date": "2023-07-29",
                                         "url": "https://jc.example.cn/1"}]
    assert [r["title"] for r in want.values() if r["source"] == "江城日报" and "预警" in r["title"]] == ["高温预警"]
    assert not any(r["title"] == "旧稿" for r in want.values())
    assert build(milvus).unchanged
    assert check(milvus).ok, check(milvus).problems
    (seeds / "export.jsonl").unlink()
    result = check(milvus)
    assert not result.ok and any("export.jsonl" in p for p in result.problems)


def test_a_copy_arriving_later_rewrites_the_original_in_lite(tmp_path, write_article, hash_settings, lite):
    seeds = tmp_path / "seeds"
    write_article(seeds, "xinhua.md", "上半年工业企业利润降幅收窄", [WIRE], source="新华社", date="2023-07-28")
    write_article(seeds, "other.md", "高温预警", ["市气象台28日发布高温橙色预警，预计未来三天最高气温将达到38摄氏度以上，"
                                              "请市民注意防暑降温，减少午后户外活动，老人和儿童尤其要注意补充水分。"],
                  source="江城日报", date="2023-07-28")
    settings = hash_settings(seeds, tmp_path / "index", store=lite, cache=tmp_path / "cache")
    assert build(settings).copies == 0
    assert _records(settings, ["xinhua"])["xinhua"]["copies"] is None
    write_article(seeds, "late.md", "利润降幅收窄", [LATE], source="晚报", date="2023-07-30")
    report = build(settings)
    assert (report.copies, report.articles, report.chunks) == (1, 3, 2)
    got = _records(settings, ["xinhua", "late"])
    assert got["xinhua"]["copies"] == [{"article_id": "late", "source": "晚报", "date": "2023-07-30", "url": None}]
    assert got["late"]["copy_of"] == "xinhua"
    (seeds / "late.md").unlink()
    report = build(settings)
    assert (report.copies, report.articles, report.chunks) == (0, 2, 2)
    assert _records(settings, ["xinhua"])["xinhua"]["copies"] is None
