"""The named Gradio endpoint /ask, called with gradio_client against `python app.py` on a free port."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import qa
from qa import Settings

from .serving import running_app

ROOT = Path(__file__).resolve().parent.parent
SEED = "000_e0ddd22777e12010.txt"
RESULT_KEYS = {"rank", "chunk_id", "article_id", "title", "source", "date", "url", "paragraph", "text", "score",
               "evidence"}
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    gradio_client = pytest.importorskip("gradio_client")
    tmp = tmp_path_factory.mktemp("api")
    seeds = tmp / "seeds"
    seeds.mkdir()
    shutil.copy(ROOT / "seeds" / SEED, seeds / SEED)
    shutil.copy(ROOT / "seeds" / "examples.yaml", seeds / "examples.yaml")
    qa.build(Settings.load(seeds=seeds, index=tmp / "index"))
    with running_app(tmp / "index", seeds) as (url, _, _):
        yield gradio_client.Client(url, verbose=False)


def test_ask_returns_the_json_object(client):
    data = client.predict("联合国大会哪天通过了决议？", api_name="/ask")
    assert {"question", "results", "answer", "abstained", "searched_for", "evidence"} <= set(data)
    assert data["question"] == "联合国大会哪天通过了决议？"
    assert data["abstained"] is False
    assert data["results"] and all(set(r) >= RESULT_KEYS for r in data["results"])
    assert [r["rank"] for r in data["results"]] == list(range(1, len(data["results"]) + 1))
    first = data["results"][0]
    assert first["paragraph"] == 1 and first["evidence"]
    start, end = first["evidence"][0]
    assert "7月1日" in first["text"][start:end]
    assert data["evidence"][0]["citation"] == 1 and "7月1日" in data["evidence"][0]["text"]
    assert data["answer"].startswith("以下是文章原文")


def test_ask_with_history_searches_with_the_previous_question(client):
    data = client.predict("那它是哪天通过的？", ["联合国大会哪天通过了决议？"], api_name="/ask")
    assert data["searched_for"] == "联合国大会哪天通过了决议？ 那它是哪天通过的？"
    assert data["abstained"] is False


def test_ask_out_of_scope_abstains(client):
    data = client.predict("How do I bake sourdough bread?", api_name="/ask")
    assert data["abstained"] is True and data["evidence"] == []
    assert data["answer"].startswith("The articles do not answer")
    assert all(r["evidence"] == [] for r in data["results"])


def test_ask_empty_question_does_not_fail(client):
    data = client.predict("", api_name="/ask")
    assert data["abstained"] is True and data["results"] == []
