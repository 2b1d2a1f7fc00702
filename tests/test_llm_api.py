"""`/ask` with a written-answer model configured, over real HTTP end to end: `python app.py` on a free port with
QA_LLM_URL pointing at tests/chatserver.py, called through gradio_client. The server's `script` switches the
model's behaviour between calls, so one running app covers a faithful model, an invented sentence and a failing
server."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import qa
from qa import Settings

from .chatserver import INVENTED_ZH, ChatServer
from .serving import running_app

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
SEED = "000_e0ddd22777e12010.txt"
QUESTION = "联合国大会哪天通过了加强人工智能能力建设国际合作决议？"
KEY = "sk-api-test-NEVER-SHOWN-7731"


@pytest.fixture(scope="module")
def chat():
    with ChatServer(slow_s=3.0) as s:
        yield s


@pytest.fixture(scope="module")
def app(tmp_path_factory, chat):
    tmp = tmp_path_factory.mktemp("llm-api")
    seeds = tmp / "seeds"
    seeds.mkdir()
    shutil.copy(ROOT / "seeds" / SEED, seeds / SEED)
    qa.build(Settings.load(seeds=seeds, index=tmp / "index"))
    env = {"QA_LLM_URL": chat.url, "QA_LLM_MODEL": "qwen-test", "QA_LLM_KEY": KEY,
           "QA_LLM_FIRST_TOKEN_S": "30", "QA_LLM_TIMEOUT_S": "60"}
    with running_app(tmp / "index", seeds, extra_env=env) as (url, _, log):
        yield url, log


@pytest.fixture(scope="module")
def client(app):
    gradio_client = pytest.importorskip("gradio_client")
    return gradio_client.Client(app[0], verbose=False)


def ask(client, chat, script: str) -> dict:
    chat.script = script
    try:
        return client.predict(QUESTION, api_name="/ask")
    finally:
        chat.script = None


def test_ask_returns_the_checked_written_answer(client, chat, app):
    before = len(chat.requests)
    data = ask(client, chat, "faithful")
    assert data.get("error") is None
    assert data["generated"] is True and data["model"] == "qwen-test" and data["notice"] is None
    assert data["sentences"] and all(s.keys() == {"text", "citations", "supported"} for s in data["sentences"])
    assert all(s["supported"] for s in data["sentences"]) and data["sentences"][0]["citations"] == [1]
    assert "[1]" in data["answer"] and not data["answer"].startswith("以下是文章原文")
    assert all(s["text"].rstrip("。") in data["answer"] for s in data["sentences"])
    assert "7月1日" in data["answer"]  # the faithful script quotes the first passage's first sentence
    assert data["evidence"] and all(e["citation"] >= 1 for e in data["evidence"])
    # the model got the question and the fenced passages, with the key from the environment
    sent = chat.requests[before:]
    assert len(sent) == 1 and sent[0]["model"] == "qwen-test" and sent[0]["stream"] is True
    assert QUESTION in sent[0]["messages"][-1]["content"] and "<<<passage 1 " in sent[0]["messages"][-1]["content"]
    assert chat.authorizations[before] == f"Bearer {KEY}"
    assert KEY not in str(data) and KEY not in app[1].read_text(encoding="utf-8", errors="replace")


def test_an_invented_sentence_is_removed_from_the_answer(client, chat):
    data = ask(client, chat, "invented")
    assert data["generated"] is True
    assert INVENTED_ZH.rstrip("。") not in data["answer"]
    removed = [s for s in data["sentences"] if not s["supported"]]
    assert len(removed) == 1 and "人工智能税" in removed[0]["text"]
    assert "removed" in data["notice"]


def test_a_failing_server_gives_the_quoted_answer_with_the_notice(client, chat):
    quoted_before = ask(client, chat, "http-500")
    assert quoted_before["generated"] is False and quoted_before["model"] is None
    assert quoted_before["sentences"] == []
    assert quoted_before["answer"].startswith("以下是文章原文") and "7月1日" in quoted_before["answer"]
    notice = quoted_before["notice"]
    assert "HTTP 500" in notice and "quoted from the articles" in notice and "\n" not in notice
    assert quoted_before.get("error") is None and quoted_before["results"]
