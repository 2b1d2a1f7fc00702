"""The chat page in a real browser: Debian's chromium driven by Playwright, against `python app.py` on a free port.

One app start for the module (a tmp index: the seed article plus a hostile article whose title and text
carry <script>/onerror payloads). Screenshots go to tests/screenshots/; a 1280x800 Chinese answer is copied
to docs/screenshot.png when QA_UPDATE_SCREENSHOT=1.
"""

from __future__ import annotations

import os
import re
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
title: "<script>window.__pwned=1</script>城市马拉松\u202egnp.exe<img src=x onerror=\\"window.__pwned=2\\">"
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


def open_page(browser, app_url, width: int, height: int):
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app_url.rstrip("/"))
    page = context.new_page()
    page.goto(app_url, wait_until="load")
    page.wait_for_selector("#qa-input textarea", timeout=60_000)
    return context, page


@pytest.fixture(scope="module")
def session(browser, app_url):
    """One page for the conversation tests, recording every request it makes."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    context, page = open_page(browser, app_url, 1280, 800)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("websocket", lambda ws: requests.append(ws.url))
    yield page, requests
    context.close()


LATEST_1 = "#qa-cards .qa-latest .qa-card[data-n='1']"
BOTS = "#qa-chat [data-testid='bot']"
USERS = "#qa-chat [data-testid='user']"


def answers(page) -> int:
    return page.locator(BOTS).count()


def ask(page, question: str, answers_before: int | None = None) -> None:
    before = answers(page) if answers_before is None else answers_before
    box = page.locator("#qa-input textarea")
    box.fill(question)
    box.press("Enter")
    page.wait_for_function(f"n => document.querySelectorAll({BOTS!r}).length > n", arg=before, timeout=60_000)
    page.wait_for_selector("#qa-cards .qa-card", timeout=30_000)
    page.wait_for_timeout(300)  # let the cards panel settle before reading or screenshotting it


def test_chinese_question_cites_paragraph_1_with_highlight(session):
    page, _ = session
    assert page.locator("#qa-input textarea").get_attribute("maxlength") == str(Settings().max_question_chars)
    ask(page, "联合国大会哪天通过了决议？", 0)
    chat = page.locator("#qa-chat").inner_text()
    assert "以下是文章原文" in chat and "7月1日" in chat
    card = page.locator(LATEST_1)
    assert card.get_attribute("open") is not None
    assert "¶1" in card.locator(":scope > summary").inner_text()
    marks = card.locator("mark.qa-ev")
    assert marks.count() >= 1 and "7月1日" in marks.first.inner_text()
    # keyword marks fall on the passage's words: 广大 / 会员国, not 广**大会**员国
    text = card.locator(".qa-text")
    assert "广大会员国" in text.inner_text()
    assert all(b != "大会" or "联合国" in text.inner_html() for b in text.locator("b.qa-kw").all_inner_texts())
    assert '广<b class="qa-kw">大会' not in text.inner_html()
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


def test_clicking_a_marker_opens_its_card_and_its_ring_is_not_clipped(session):
    page, _ = session
    page.evaluate(f"document.querySelector({LATEST_1!r}).open = false")
    assert page.locator(LATEST_1).get_attribute("open") is None
    page.locator("#qa-chat a.qa-marker").last.click()
    page.wait_for_function(f"document.querySelector({LATEST_1!r}).open === true", timeout=5_000)
    card = page.locator(LATEST_1)
    assert "qa-flash" in (card.get_attribute("class") or "")
    box, panel = card.bounding_box(), page.locator("#qa-cards").bounding_box()
    assert box["x"] - panel["x"] >= 3 and panel["x"] + panel["width"] - (box["x"] + box["width"]) >= 3
    page.screenshot(path=str(SHOTS / "flash-1280x800.png"))


def test_three_turns_in_two_languages(session):
    page, _ = session
    ask(page, "中方在联合国框架内主张什么？", 2)
    assert answers(page) == 3 and page.locator("#qa-cards .qa-turn").count() == 2
    page.set_viewport_size({"width": 1280, "height": 1100})  # the chat grows with the window: all three turns
    page.wait_for_timeout(500)
    page.locator("#qa-chat [role='log']").evaluate("e => e.scrollTop = 0")
    page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / "conversation-1280x1100.png"))
    page.set_viewport_size({"width": 1280, "height": 800})
    if os.environ.get("QA_UPDATE_SCREENSHOT"):
        shutil.copy(SHOTS / "conversation-1280x1100.png", ROOT / "docs" / "conversation.png")


def test_user_text_is_not_escaped_twice(session):
    page, _ = session
    question = "Qu'a proposé la Chine en 2018 sur l'IA ? <b>&amp;</b> #1"
    ask(page, question, 3)
    assert page.locator(USERS).last.inner_text().strip() == question
    assert "&#x27;" not in page.locator("#qa-chat").inner_text()


def test_copy_gives_plain_text_with_markers(session):
    page, _ = session
    answer = page.locator("#qa-chat .message-row.bot-row").first
    answer.hover()
    answer.locator("xpath=following-sibling::div[contains(@class,'message-buttons')][1]//button").first.click()
    page.wait_for_timeout(300)
    copied = page.evaluate("navigator.clipboard.readText()")
    assert "以下是文章原文" in copied and "7月1日" in copied and "[1]" in copied
    assert "<" not in copied and "qa-marker" not in copied and "&#" not in copied


def test_aria_labels_are_plain_text(session):
    page, _ = session
    bots = page.eval_on_selector_all(BOTS, "els => els.map(e => e.getAttribute('aria-label'))")
    users = page.eval_on_selector_all(USERS, "els => els.map(e => e.getAttribute('aria-label'))")
    assert len(bots) == len(users) == 4
    for label in bots:  # Gradio's own label was the answer's HTML source (the asker's own "<b>" may be quoted)
        assert label and not re.search(r"<(p|a|span|mark|div)\b", label) and "class=" not in label, label
        assert "&#" not in label, label
    assert "[1]" in bots[0] and "7月1日" in bots[0]
    assert users[3].endswith("Qu'a proposé la Chine en 2018 sur l'IA ? <b>&amp;</b> #1")  # the text as typed
    assert not [u for u in users if "\\" in u or "&#" in u]


def test_a_marker_in_an_earlier_answer_opens_only_its_own_card(session):
    page, _ = session
    first = page.locator("#qa-chat a.qa-marker").first
    target = first.get_attribute("href")
    first.click()
    page.wait_for_function(f"document.querySelector({target!r}).open === true", timeout=5_000)
    assert "¶1" in page.locator(target).locator(":scope > summary").inner_text()
    open_turns = page.locator("#qa-cards details.qa-turn[open]")
    assert open_turns.count() == 1 and open_turns.locator(target).count() == 1
    assert page.locator("#qa-cards .qa-earlier details.qa-card[open]").count() == 1
    # the second answer's marker now: the first turn folds again, the second opens
    second = page.locator("#qa-chat .message-row.bot-row").nth(1).locator("a.qa-marker").first
    target2 = second.get_attribute("href")
    second.click()
    page.wait_for_function(f"document.querySelector({target2!r}).open === true", timeout=5_000)
    assert page.locator("#qa-cards details.qa-turn[open]").count() == 1
    assert page.locator(target).is_visible() is False


def test_folded_cards_of_one_article_differ(session):
    page, _ = session
    snippets = page.locator("#qa-cards .qa-latest .qa-card .qa-snippet").all_inner_texts()
    assert len(snippets) >= 3 and all(snippets) and len(set(snippets)) == len(snippets), snippets


def test_an_empty_question_changes_nothing(session):
    page, _ = session
    before_chat = page.locator("#qa-chat").inner_html()
    before_panel = page.locator("#qa-cards").inner_html()
    box = page.locator("#qa-input textarea")
    box.fill("")
    box.press("Enter")
    page.locator("#qa-send").click()
    box.fill("   ")
    page.locator("#qa-send").click()
    page.wait_for_timeout(1500)
    assert page.locator(USERS).count() == 4 and answers(page) == 4
    assert page.locator("#qa-cards").inner_html() == before_panel
    assert page.locator("#qa-chat .message-row").count() == before_chat.count("message-row bubble")


def test_out_of_scope_question_says_not_in_the_articles(session):
    page, _ = session
    ask(page, "今天天气怎么样？", 4)
    last = page.locator("#qa-chat .qa-abstain").last.inner_text()
    assert "这些文章没有回答" in last
    cards = page.locator("#qa-cards .qa-latest .qa-card")
    assert cards.count() >= 1
    assert all(cards.nth(i).get_attribute("open") is None for i in range(cards.count()))
    assert "最接近的段落" in page.locator("#qa-cards").inner_text()
    ask(page, "How do I bake sourdough bread?", 5)
    assert "The articles do not answer" in page.locator("#qa-chat .qa-abstain").last.inner_text()


def test_hostile_article_runs_no_script_and_cannot_reorder_text(session):
    page, _ = session
    ask(page, "城市马拉松比赛有多少名选手参加？", 6)
    cards = page.locator("#qa-cards").inner_html()
    assert "马拉松" in page.locator("#qa-cards").inner_text()
    for i in range(page.locator("#qa-cards details").count()):  # render every folded part too
        page.locator("#qa-cards details").nth(i).evaluate("d => d.open = true")
    page.wait_for_timeout(500)
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator(".qa-cards script, .qa-cards img, .qa-cards svg, .qa-cards iframe, #qa-chat script").count() == 0
    assert "javascript:" not in cards
    assert "<svg onload=" in page.locator("#qa-cards").inner_text()  # what survives article cleaning shows as text
    assert "\u202e" not in page.locator("#qa-cards").inner_text() and "gnp.exe" in page.locator("#qa-cards").inner_text()
    page.screenshot(path=str(SHOTS / "hostile-1280x800.png"))


def test_labels_are_plain_words_in_both_languages(session):
    page, _ = session
    page.get_by_text("Settings · 设置").click()
    page.wait_for_timeout(300)
    text = page.locator("body").inner_text()
    for label in ("Both · 两者", "Meaning · 语义", "Exact words · 字词", "Search by · 检索方式",
                  "From date · 起始日期", "To date · 截止日期", "New conversation · 新对话"):
        assert label in text, label
    assert "hybrid" not in text and "Since" not in text
    footer = page.locator("footer")
    visible_dots = [d for d in footer.locator(".divider").all() if d.is_visible()]
    assert not visible_dots and not footer.inner_text().strip().endswith("·")
    assert "2 articles" in page.locator("#qa-status").inner_text()


def test_the_chats_clear_icon_starts_a_new_conversation(session):
    page, _ = session
    assert page.locator("#qa-cards .qa-card").count() > 0
    page.locator("#qa-chat button[aria-label='清空对话'], #qa-chat button[aria-label='Clear']").first.click()
    page.wait_for_function("document.querySelector('#qa-cards').innerText.includes('引用将显示在这里')", timeout=10_000)
    assert answers(page) == 0
    ask(page, "那它是哪天通过的？", 0)  # would have searched the cleared conversation's question
    assert page.locator("#qa-cards .qa-earlier").count() == 0
    assert "检索内容" not in page.locator("#qa-chat").inner_text()


def test_the_new_conversation_button_resets_everything(session):
    page, _ = session
    ask(page, "联合国大会哪天通过了决议？", 1)
    assert page.locator("#qa-cards .qa-earlier").count() == 1
    page.locator("#qa-new").click()
    page.wait_for_function("document.querySelector('#qa-cards').innerText.includes('引用将显示在这里')", timeout=10_000)
    assert answers(page) == 0
    ask(page, "那它是哪天通过的？", 0)
    assert page.locator("#qa-cards .qa-earlier").count() == 0 and "检索内容" not in page.locator("#qa-chat").inner_text()


def test_no_request_left_localhost(session):
    _, requests = session
    assert requests
    outside = [u for u in requests if urlsplit(u).scheme in ("http", "https", "ws", "wss")
               and urlsplit(u).hostname not in ("127.0.0.1",)]
    assert not outside, outside


@pytest.mark.parametrize("width", [390, 420])
def test_phone_width_citations_beside_the_answer_and_a_way_back(browser, app_url, width):
    context, page = open_page(browser, app_url, width, 844)
    try:
        ask(page, "联合国大会哪天通过了决议？", 0)
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        assert scroll_width <= width + 1, f"the page scrolls sideways: {scroll_width}px wide"
        box = page.locator("#qa-input textarea").bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width + 1
        # the citations come before the examples and settings
        assert page.locator("#qa-cards").bounding_box()["y"] < page.locator("#qa-extras").bounding_box()["y"]
        page.screenshot(path=str(SHOTS / f"zh-{width}x844.png"), full_page=True)
        marker = page.locator("#qa-chat a.qa-marker").first
        marker.click()
        sheet = page.locator("#qa-sheet")
        sheet.wait_for(state="visible", timeout=5_000)
        assert "¶1" in sheet.inner_text() and "7月1日" in sheet.inner_text()
        m, s = marker.bounding_box(), sheet.bounding_box()
        assert m["y"] >= 0 and m["y"] + m["height"] <= s["y"], (m, s)  # the answer stays in view above the card
        page.screenshot(path=str(SHOTS / f"sheet-{width}x844.png"))
        sheet.locator(".qa-back").click()
        sheet.wait_for(state="hidden", timeout=5_000)
        m = marker.bounding_box()
        assert 0 <= m["y"] <= 844
    finally:
        context.close()
