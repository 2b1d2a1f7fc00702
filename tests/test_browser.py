"""The chat page in a real browser: Debian's chromium driven by Playwright, against `python app.py` on a free port.

One app start for the module (a tmp index: the seed article plus a hostile article whose title and text
carry <script>/onerror payloads). Screenshots go to tests/screenshots/; a 1280x800 Chinese answer is copied
to docs/screenshot.png when QA_UPDATE_SCREENSHOT=1.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import qa
from qa import Settings

from .serving import running_app

ROOT = Path(__file__).resolve().parent.parent
SEED = "000_e0ddd22777e12010.txt"
CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "tests" / "screenshots"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
HOSTILE = """---
title: "<script>window.__pwned=1</script>城市马拉松<img src=x onerror=\\"window.__pwned=2\\">"
source: "<svg onload=window.__pwned=3>体育报"
url: "javascript:window.__pwned=4"
date: 2024-03-10
---

本届城市马拉松比赛共有三万名选手参加<script>window.__pwned=5</script>，赛道全长四十二公里。

男子组冠军的成绩是两小时十分<img src=x onerror="window.__pwned=6">，创造了赛会纪录。
"""

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed")]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser")
    seeds = tmp / "seeds"
    seeds.mkdir()
    shutil.copy(ROOT / "seeds" / SEED, seeds / SEED)
    shutil.copy(ROOT / "seeds" / "examples.yaml", seeds / "examples.yaml")
    (seeds / "001_hostile.md").write_text(HOSTILE, encoding="utf-8")
    index = tmp / "index"
    qa.build(Settings.load(seeds=seeds, index=index))
    with running_app(index, seeds) as (url, _, _):
        yield url


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def session(browser, app_url):
    """One page for the conversation tests, recording every request it makes."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("websocket", lambda ws: requests.append(ws.url))
    page.goto(app_url, wait_until="load")
    page.wait_for_selector("#qa-input textarea", timeout=60_000)
    yield page, requests
    context.close()


LATEST_1 = "#qa-cards .qa-latest .qa-card[data-n='1']"


def ask(page, question: str, answers_before: int) -> None:
    box = page.locator("#qa-input textarea")
    box.fill(question)
    box.press("Enter")
    page.wait_for_function(
        "n => document.querySelectorAll('#qa-chat .qa-lead, #qa-chat .qa-abstain').length > n",
        arg=answers_before, timeout=60_000)
    page.wait_for_selector("#qa-cards .qa-card", timeout=30_000)
    page.wait_for_timeout(300)  # let the cards panel settle before reading or screenshotting it


def test_chinese_question_cites_paragraph_1_with_highlight(session):
    page, _ = session
    ask(page, "联合国大会哪天通过了决议？", 0)
    chat = page.locator("#qa-chat").inner_text()
    assert "以下是文章原文" in chat and "7月1日" in chat
    card = page.locator(LATEST_1)
    assert card.get_attribute("open") is not None
    assert "¶1" in card.locator(":scope > summary").inner_text()
    marks = card.locator("mark.qa-ev")
    assert marks.count() >= 1 and "7月1日" in marks.first.inner_text()
    page.screenshot(path=str(SHOTS / "zh-1280x800.png"))
    if os.environ.get("QA_UPDATE_SCREENSHOT"):  # a test run must not change tracked files by default
        (ROOT / "docs").mkdir(exist_ok=True)
        shutil.copy(SHOTS / "zh-1280x800.png", ROOT / "docs" / "screenshot.png")


def test_english_question_cites_paragraph_4(session):
    page, _ = session
    ask(page, "What did China propose about AI risks in 2018?", 1)
    last = page.locator("#qa-chat .qa-lead").last.inner_text()
    assert "In the articles' own words" in last
    card = page.locator(LATEST_1)
    assert "¶4" in card.locator(":scope > summary").inner_text()
    assert "2018" in card.locator("mark.qa-ev").first.inner_text()
    assert "Searched for" in page.locator("#qa-chat").inner_text()
    page.screenshot(path=str(SHOTS / "en-1280x800.png"))


def test_a_marker_in_an_earlier_answer_opens_that_answers_card(session):
    page, _ = session
    # The first answer (the date question, ¶1) is no longer the latest: its cards sit folded below.
    page.locator("#qa-chat a.qa-marker").first.click()
    target = page.locator("#qa-chat a.qa-marker").first.get_attribute("href")
    page.wait_for_function(f"document.querySelector({target!r}).open === true", timeout=5_000)
    card = page.locator(target)
    assert "¶1" in card.locator(":scope > summary").inner_text()
    assert page.locator("#qa-cards details.qa-earlier").get_attribute("open") is not None


def test_clicking_a_marker_opens_its_card(session):
    page, _ = session
    # fold card 1 by hand, then click the last answer's marker [1]
    page.evaluate(f"document.querySelector({LATEST_1!r}).open = false")
    assert page.locator(LATEST_1).get_attribute("open") is None
    page.locator("#qa-chat a.qa-marker").last.click()
    page.wait_for_function(f"document.querySelector({LATEST_1!r}).open === true", timeout=5_000)
    assert "qa-flash" in (page.locator(LATEST_1).get_attribute("class") or "")


def test_out_of_scope_question_says_not_in_the_articles(session):
    page, _ = session
    ask(page, "今天天气怎么样？", 2)
    last = page.locator("#qa-chat .qa-abstain").last.inner_text()
    assert "这些文章没有回答" in last
    cards = page.locator("#qa-cards .qa-latest .qa-card")
    assert cards.count() >= 1
    assert all(cards.nth(i).get_attribute("open") is None for i in range(cards.count()))
    assert "最接近的段落" in page.locator("#qa-cards").inner_text()
    ask(page, "How do I bake sourdough bread?", 3)
    assert "The articles do not answer" in page.locator("#qa-chat .qa-abstain").last.inner_text()


def test_hostile_article_runs_no_script(session):
    page, _ = session
    ask(page, "城市马拉松比赛有多少名选手参加？", 4)
    cards = page.locator("#qa-cards").inner_html()
    assert "马拉松" in page.locator("#qa-cards").inner_text()
    for i in range(page.locator("#qa-cards details").count()):  # render every folded part too
        page.locator("#qa-cards details").nth(i).evaluate("d => d.open = true")
    page.wait_for_timeout(500)
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator(".qa-cards script, .qa-cards img, .qa-cards svg, .qa-cards iframe, #qa-chat script").count() == 0
    assert "javascript:" not in cards
    assert "<svg onload=" in page.locator("#qa-cards").inner_text()  # what survives article cleaning shows as text
    page.screenshot(path=str(SHOTS / "hostile-1280x800.png"))


def test_no_request_left_localhost(session):
    _, requests = session
    assert requests
    outside = [u for u in requests if urlsplit(u).scheme in ("http", "https", "ws", "wss")
               and urlsplit(u).hostname not in ("127.0.0.1",)]
    assert not outside, outside


def test_narrow_window_is_usable(browser, app_url):
    context = browser.new_context(viewport={"width": 420, "height": 900}, locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(app_url, wait_until="load")
        page.wait_for_selector("#qa-input textarea", timeout=60_000)
        ask(page, "联合国大会哪天通过了决议？", 0)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 420 + 1, f"the page scrolls sideways: {width}px wide"
        box = page.locator("#qa-input textarea").bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 421
        page.screenshot(path=str(SHOTS / "zh-420x900.png"), full_page=True)
    finally:
        context.close()
