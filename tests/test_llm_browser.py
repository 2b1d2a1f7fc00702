"""The page with a written-answer model, in chromium: tokens stream into the bubble, then the checked answer
replaces it. The model is tests/chatserver.py's "held" script: it stops half-way until the test releases it,
so the test sees the partial bubble without any timing assumption. Also the HTML of written answers."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import qa
from qa import Settings
from qa.answer import Answer
from qa.render import streaming_html, written_html

from .chatserver import ChatServer
from .serving import running_app
from .test_browser import ARGS, CHROMIUM, SEED, SHOTS

ROOT = Path(__file__).resolve().parent.parent


def test_written_html_escapes_model_text_and_names_a_remote_host():
    ans = Answer("q", "q", [], [], False, "en", generated=True, model="m<x>", written="w",
                 sentences=[{"text": "<script>alert(1)</script> kept.", "citations": [1], "supported": True},
                            {"text": "dropped sentence.", "citations": [1], "supported": False}])
    html = written_html(ans, 2, "m<x>", "api.example.com", local=False)
    assert "<script>" not in html and "&lt;script&gt;" in html and "dropped sentence" not in html
    assert 'href="#qa-cite-2-1"' in html and "m&lt;x&gt;" in html
    assert "sent to api.example.com" in html
    assert "sent to" not in written_html(ans, 2, "m", "127.0.0.1:11434", local=True)
    assert "&lt;b&gt;" in streaming_html("<b>partial", "m", "h")


@pytest.mark.slow
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed")
def test_tokens_stream_into_the_bubble_then_the_checked_answer_replaces_it(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    shutil.copy(ROOT / "seeds" / SEED, seeds / SEED)
    index = tmp_path / "index"
    qa.build(Settings.load(seeds=seeds, index=index))
    with ChatServer() as server:
        env = {"QA_LLM_URL": server.url, "QA_LLM_MODEL": "held", "QA_LLM_FIRST_TOKEN_S": "90"}
        with running_app(index, seeds, extra_env=env) as (url, _, _), sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="zh-CN")
                page.goto(url, wait_until="load")
                page.wait_for_selector("#qa-input textarea", timeout=60_000)
                host = server.url.split("//")[1].split("/")[0]
                assert f"answers written by held at {host}" in page.locator("#qa-status").inner_text()
                box = page.locator("#qa-input textarea")
                box.fill("联合国大会哪天通过了决议？")
                box.press("Enter")
                page.wait_for_selector("#qa-chat .qa-streaming", timeout=60_000)
                partial = page.locator("#qa-chat .qa-streaming").inner_text()
                assert partial.strip("▍ ") and "Writing with held" in page.locator("#qa-chat").inner_text()
                assert page.locator("#qa-chat .qa-written").count() == 0
                page.screenshot(path=str(SHOTS / "written-streaming.png"))
                server.release.set()
                page.wait_for_selector("#qa-chat .qa-written", timeout=60_000)
                page.wait_for_function("!document.querySelector('#qa-chat .qa-streaming')", timeout=30_000)
                final = page.locator("#qa-chat .qa-written").inner_text()
                assert final.startswith(partial.strip("▍ ")[:5]) and "[1]" in final
                assert f"Written by held at {host}" in page.locator("#qa-chat").inner_text()
                assert "were sent to" not in page.locator("#qa-chat").inner_text()  # the host is local
                page.locator("#qa-chat .qa-written a.qa-marker").first.click()
                card = page.locator("#qa-cards .qa-latest .qa-card[data-n='1']")
                page.wait_for_function("document.querySelector(\"#qa-cards .qa-latest .qa-card[data-n='1']\").open")
                assert card.locator("mark.qa-ev").count() >= 1
                page.screenshot(path=str(SHOTS / "written-final.png"))
            finally:
                browser.close()
