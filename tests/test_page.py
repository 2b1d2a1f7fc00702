"""The page's handlers without a browser: a broken index shows a banner with the fix, questions get a
sentence instead of a traceback, and article file names cannot steer where the index is written."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from qa import Settings, build, storage

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "seeds" / "000_e0ddd22777e12010.txt"


def test_broken_index_shows_a_banner_with_the_fix_and_answers_with_it(tmp_path: Path) -> None:
    import app

    (tmp_path / "seeds").mkdir()
    shutil.copy(SEED, tmp_path / "seeds")
    settings = Settings.load(seeds=tmp_path / "seeds", index=tmp_path / "index", model="hash")
    build(settings)
    gen = storage.current_generation(settings.index)
    with open(gen / "index.faiss", "r+b") as f:
        f.truncate(100)
    page = app.Page(settings)
    banner = page.status()
    assert 'class="qa-banner"' in banner and "qa build" in banner and "index.faiss" in banner
    chat, cards, *_ = page.respond("联合国大会哪天通过了决议？", [], [], [], 5, "hybrid", "", "", "")
    reply = chat[-1]["content"]
    assert "qa build" in reply and "Traceback" not in reply
    assert cards == {"__type__": "update"}  # gr.skip(): the panel keeps what it showed


def test_missing_index_banner_then_recovers_after_build(tmp_path: Path) -> None:
    import app

    (tmp_path / "seeds").mkdir()
    shutil.copy(SEED, tmp_path / "seeds")
    settings = Settings.load(seeds=tmp_path / "seeds", index=tmp_path / "index", model="hash")
    page = app.Page(settings)
    assert "no index at" in page.status() and "qa build" in page.status()
    build(settings)
    chat, cards, *_ = page.respond("联合国大会哪天通过了决议？", [], [], [], 3, "keyword", "", "", "")
    assert 'class="qa-card"' in cards and 'qa-banner' not in page.status()


def test_article_file_names_cannot_steer_where_the_index_is_written(tmp_path: Path) -> None:
    seeds, index = tmp_path / "seeds", tmp_path / "out" / "index"
    (seeds / "sub" / "..x").mkdir(parents=True)
    names = ["..md.md", "sub/..x/../../evil.md", "-rf .md", "CURRENT.md", "gen-1.md", "manifest.json.md", "空 格.md"]
    body = "---\ntitle: 名字\n---\n\n这是一篇用来测试文件名的文章，内容本身并不重要。\n"
    for i, name in enumerate(names):
        target = seeds / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(body.replace("名字", f"名字{i}"), encoding="utf-8")
    before = {p for p in tmp_path.rglob("*") if not p.is_relative_to(index)}
    report = build(Settings.load(seeds=seeds, index=index, model="hash"))
    after = {p for p in tmp_path.rglob("*") if not p.is_relative_to(index)}
    assert after - before == {tmp_path / "out"}  # only the index folder's parent was created
    # every file is indexed once, except hidden ones ("..md.md"), which are skipped by design
    assert report.articles == len({(seeds / n).resolve() for n in names if not Path(n).name.startswith(".")})
    written = {p.name for p in index.iterdir()}
    assert written <= {"CURRENT", ".lock"} | {p.name for p in index.glob("gen-*")}
    assert not any(Path(os.path.commonpath([p, index])) != index for p in index.rglob("*"))
