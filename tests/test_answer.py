"""qa/answer.py + qa/evidence.py with the real default model (e5-small+use-m3) and a real FAISS index over the seed article."""

from __future__ import annotations

import json
import shutil
import unicodedata
from pathlib import Path

import pytest

import qa
from qa import Asker, Settings
from qa.answer import Answer, clean_history, clean_question
from qa.config import DEFAULT_MODEL
from qa.evidence import in_scope
from qa.render import cards_html, reply_html
from qa.replies import phrase

ROOT = Path(__file__).resolve().parent.parent
SEED = "000_e0ddd22777e12010.txt"
DATE_Q = "联合国大会哪天通过了决议？"
AI_2018_Q = "What did China propose about AI risks in 2018?"


@pytest.fixture(scope="module")
def asker(tmp_path_factory) -> Asker:
    tmp = tmp_path_factory.mktemp("answer")
    seeds = tmp / "seeds"
    seeds.mkdir()
    shutil.copy(ROOT / "seeds" / SEED, seeds / SEED)
    shutil.copy(ROOT / "seeds" / "examples.yaml", seeds / "examples.yaml")
    settings = Settings.load(seeds=seeds, index=tmp / "index", model=DEFAULT_MODEL)
    qa.build(settings)
    return Asker.open(settings)


def cited_hit(ans: Answer, n: int = 0):
    return ans.hits[ans.evidence[n].hit_index]


# --- evidence selection ----------------------------------------------------------------------------------------

@pytest.mark.slow
def test_date_question_picks_the_sentence_with_the_date(asker):
    ans = asker.ask(DATE_Q)
    assert not ans.abstained
    assert ans.language == "zh"
    first = ans.evidence[0]
    assert first.text.startswith("第78届联合国大会7月1日")
    assert ans.hits[first.hit_index].paragraph == 1
    assert first.hit_index == 0  # the answer's first marker is card [1]
    # the span points into the passage text
    assert ans.hits[first.hit_index].text[first.start:first.end] == first.text
    assert ans.answer_text().startswith("以下是文章原文：第78届联合国大会7月1日")
    assert "[1]" in ans.answer_text()


@pytest.mark.slow
def test_english_question_picks_the_2018_sentence(asker):
    ans = asker.ask(AI_2018_Q)
    assert not ans.abstained
    assert ans.language == "en"
    texts = [s.text for s in ans.evidence]
    assert any(t.startswith("早在2018年，中方就提出要加强人工智能发展的潜在风险研判") for t in texts), texts
    assert ans.hits[0].paragraph == 4
    best = max(ans.evidence, key=lambda s: s.score)
    assert "2018" in best.text
    # reply in English, quoting the Chinese original
    assert ans.answer_text().startswith("In the articles' own words:")
    assert "2018年" in ans.answer_text()


@pytest.mark.slow
def test_evidence_is_one_to_three_sentences_in_passage_order(asker):
    for q in (DATE_Q, AI_2018_Q, "中方在联合国框架内主张什么？"):
        ans = asker.ask(q)
        assert 1 <= len(ans.evidence) <= 3, q
        order = [(s.hit_index, s.start) for s in ans.evidence]
        assert order == sorted(order), q


@pytest.mark.parametrize("question,lang", [("联合国大会哪天通过了决议？", "zh"), ("中方主张什么？", "zh"),
                                           ("When was the resolution adopted?", "en"),
                                           ("How does the resolution help developing countries?", "en"),
                                           ("How do I bake sourdough bread?", "en")])
@pytest.mark.slow
def test_reply_language_follows_the_question(asker, question, lang):
    ans = asker.ask(question)
    assert ans.language == lang
    text = ans.answer_text()
    if lang == "zh":
        assert text.startswith(("以下是文章原文", "这些文章没有回答"))
        assert "检索内容" not in reply_html(ans)  # shown only when earlier context joined the search
    else:
        assert text.startswith(("In the articles' own words", "The articles do not answer"))
        assert "Searched for" not in reply_html(ans)


# --- follow-ups ------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_chinese_follow_up_uses_the_previous_question(asker):
    alone = asker.ask("那它是哪天通过的？")
    ans = asker.ask("那它是哪天通过的？", ["中国在联合国大会提出了什么决议？"])
    assert ans.question == "那它是哪天通过的？"
    assert ans.context_used and ans.searched_for == "中国在联合国大会提出了什么决议？ 那它是哪天通过的？"
    assert not alone.context_used and alone.searched_for == "那它是哪天通过的？"
    assert not ans.abstained
    assert any("7月1日" in s.text for s in ans.evidence)
    html = reply_html(ans)
    assert "检索内容：" in html and "中国在联合国大会提出了什么决议" in html
    assert ans.as_json()["searched_for"] == ans.searched_for


@pytest.mark.slow
def test_off_topic_follow_up_still_abstains(asker):
    ans = asker.ask("那特朗普的关税政策呢？", [DATE_Q])
    assert ans.abstained and not ans.evidence
    assert not ans.context_used and ans.searched_for == ans.question


# --- bad input never raises ------------------------------------------------------------------------------------

BAD = ["", "   \t\n  ", "？？？!!!...", "。，、；：", "\x00\x01\x02联合国\x1b[31m\x7f", "😀🎉🤖", "😀 联合国大会 😀",
       "'; DROP TABLE articles; --", "1 OR 1=1; SELECT * FROM chunks", "<script>alert(1)</script>",
       "<img src=x onerror=alert(1)>", "{{7*7}} ${jndi:ldap://x}", "\u202e\u200b\ufeff", "a" * 3, "的",
       "**bold** [x](javascript:alert(1)) # heading\n\n> quote `code`",  # markdown injection
       "ዛሬ የአየር ሁኔታ እንዴት ነው?", "ད་རིང་གནམ་གཤིས་ག་འདྲ་འདུག", "nuqneH, qaStaH nuq?",  # languages the model barely knows
       "联合国 UN 決議 résolution ООН 2024年7月1日?"]  # mixed scripts


@pytest.mark.slow
@pytest.mark.parametrize("question", BAD)
def test_bad_questions_return_an_answer(asker, question):
    ans = asker.ask(question, [question, ""])
    assert isinstance(ans, Answer)
    json.dumps(ans.as_json(), ensure_ascii=False)
    reply_html(ans)
    cards_html(ans, asker.retriever.index.articles)
    assert not any(c in ans.question for c in "\x00\x01\x1b\x7f")
    assert not any(unicodedata.category(c) in ("Cc", "Cf") and c not in "\n\t" for c in ans.question)
    if not ans.question.strip():
        assert ans.abstained and ans.answer_text() == phrase("type_question", ans.language)


@pytest.mark.slow
def test_punctuation_and_emoji_only_abstain(asker):
    for q in ("", "   ", "？？？!!!...", "😀🎉🤖"):
        ans = asker.ask(q)
        assert ans.abstained and not ans.evidence, q


@pytest.mark.slow
def test_huge_question_is_cut_with_a_notice(asker):
    limit = asker.settings.max_question_chars
    ans = asker.ask("联合国大会哪天通过了决议？" * 8000)  # ~100k characters
    assert len(ans.question) == limit
    assert ans.notice == phrase("question_cut", "zh", limit=limit) and str(limit) in ans.notice
    assert ans.as_json()["notice"] == ans.notice
    assert str(limit) in reply_html(ans)
    en = asker.ask("When was the resolution adopted? " * 100)
    assert en.notice == phrase("question_cut", "en", limit=limit)


@pytest.mark.slow
def test_long_or_many_history_items_are_capped_with_a_notice(asker):
    st = asker.settings
    ans = asker.ask("那它是哪天通过的？", ["中国在联合国大会提出了什么决议？"] * (st.max_history_items * 50))
    assert ans.notice == phrase("history_cut", "zh", count=st.max_history_items, limit=st.max_history_chars)
    long = asker.ask("那它是哪天通过的？", ["决议" * 10_000])
    assert long.notice and len(long.searched_for) < st.max_history_chars + len(long.question) + 2
    assert asker.ask(DATE_Q, [DATE_Q] * 3).notice is None


def test_clean_question_strips_control_and_format_characters():
    q, cut = clean_question("\x00联合国\x07大会\x1f ", 100)
    assert q == "联合国 大会" and not cut
    # zero-width space, joiner, BOM, bidi override: removed, so the words are whole again (issue 12.12)
    q, cut = clean_question("联\u200b合\u200d国\ufeff大会\u202e哪天通过了决议？", 100)
    assert q == "联合国大会哪天通过了决议？" and not cut
    q, cut = clean_question("x" * 150, 100)
    assert len(q) == 100 and cut
    q, cut = clean_question("x" * 10_000_000, 100)  # bounded work: only the head is normalised
    assert len(q) == 100 and cut


def test_clean_history_keeps_the_last_items_and_cuts_each():
    kept, cut = clean_history(["a", "", "b", "c"], 2, 10)
    assert kept == ["b", "c"] and cut
    kept, cut = clean_history(["x" * 50, "y"], 5, 10)
    assert kept == ["x" * 10, "y"] and cut
    kept, cut = clean_history(["a", 3, None, "b"], 5, 10)  # not text: ignored
    assert kept == ["a", "b"] and not cut
    assert clean_history(None, 5, 10) == ([], False)


@pytest.mark.slow
def test_zero_width_characters_do_not_flip_an_answer(asker):
    plain = asker.ask(DATE_Q)
    hidden = asker.ask("\u200b".join(DATE_Q))
    assert hidden.question == DATE_Q
    assert not hidden.abstained and hidden.evidence == plain.evidence


# --- abstention ------------------------------------------------------------------------------------------------

OFF_TOPIC = ["今天天气怎么样？", "How do I bake sourdough bread?", "特朗普的关税政策是什么？", "美国总统是谁？",
             "What are Trump's tariff policies?", "What is the capital of France?", "苹果公司发布了什么新手机？"]


@pytest.mark.slow
@pytest.mark.parametrize("question", OFF_TOPIC)
def test_off_topic_questions_abstain(asker, question):
    ans = asker.ask(question)
    assert ans.abstained, (question, ans.relevance, [s.text for s in ans.evidence])
    assert not ans.evidence
    assert ans.hits  # the closest passages are still shown, folded
    assert "qa-marker" not in reply_html(ans)
    data = ans.as_json()
    assert data["abstained"] is True and data["evidence"] == [] and all(r["evidence"] == [] for r in data["results"])


@pytest.mark.slow
@pytest.mark.parametrize("question", ["联合国大会哪天通过了决议？", "中方在联合国框架内主张什么？",
                                      "What did China propose about AI risks in 2018?",
                                      "Which documents on AI governance has China put forward?",
                                      # abstained under the previous margin-only rule (benchmarks/README.md)
                                      "人工智能带来了哪些问题？", "When did the UN General Assembly adopt the resolution?",
                                      "What problems does artificial intelligence cause?"])
def test_example_questions_are_answered(asker, question):
    ans = asker.ask(question)
    assert not ans.abstained, (question, ans.relevance)
    assert ans.evidence


def test_in_scope_rule_per_language_and_keyword_mode():
    from qa.evidence import KEYWORD_SUPPORT, RULE, Signals

    # every signal pushes towards answering; English questions over Chinese articles have no keyword side
    assert all(w[k] > 0 for w in RULE.values() for k in ("margin", "gap"))
    assert RULE["zh"]["bm25"] > 0 and RULE["en"]["bm25"] == 0
    # a passage that stands out from the corpus and the background: in scope; a flat top list: not
    assert in_scope(Signals(0.10, 0.08, 0.4, 0.8), "zh")
    assert in_scope(Signals(0.06, 0.08, 0.0, 0.0), "en")
    assert not in_scope(Signals(0.0, 0.01, 0.0, 0.0), "zh")
    assert not in_scope(Signals(-0.05, 0.02, 0.0, 0.0), "en")
    assert not in_scope(Signals(0.03, 0.02, 0.1, 0.2), "zh")
    # the score is the linear rule: just below the cut-off, keyword evidence tips a Chinese question over
    w = RULE["zh"]
    margin, gap = 0.05, 0.05
    bm25 = -(w["bias"] + w["margin"] * margin + w["gap"] * gap) / w["bm25"]
    assert Signals(margin, gap, bm25, 0.0).score("zh") == pytest.approx(0.0, abs=1e-9)
    assert in_scope(Signals(margin, gap, bm25 + 0.01, 0.0), "zh")
    assert not in_scope(Signals(margin, gap, bm25 - 0.01, 0.0), "zh")
    # another question language uses the cross-lingual rule
    assert Signals(0.05, 0.05, 0.3, 0.0).score("fr") == Signals(0.05, 0.05, 0.3, 0.0).score("en")
    # no dense side: keyword support decides; keyword mode: the support threshold alone
    assert in_scope(Signals(None, None, 0.0, KEYWORD_SUPPORT), "zh")
    assert not in_scope(Signals(None, None, 1.0, KEYWORD_SUPPORT - 0.01), "zh")
    assert in_scope(Signals(0.5, 0.5, 1.0, KEYWORD_SUPPORT), "zh", "keyword")
    assert not in_scope(Signals(0.5, 0.5, 1.0, KEYWORD_SUPPORT - 0.01), "zh", "keyword")


@pytest.mark.slow
def test_signals_separate_the_article_from_off_topic(asker):
    from qa.evidence import signals
    from qa.text import query_tokens

    def sig(q):
        r = asker.retriever
        v = r.embed_query(q)
        hits = r.search(q, 5, "hybrid", query_vector=v)
        return signals(q, v, hits, asker.scorer, r.store.idf(query_tokens(q)), r.store)

    on, off = sig(DATE_Q), sig("今天天气怎么样？")
    assert on.margin > off.margin and on.gap > off.gap and on.bm25 > off.bm25
    assert 0 <= off.bm25 <= on.bm25 <= 1.5
    en_on, en_off = sig(AI_2018_Q), sig("How do I bake sourdough bread?")
    assert en_on.gap > en_off.gap and en_on.margin > en_off.margin


@pytest.mark.slow
def test_answer_json_carries_the_evidence_spans(asker):
    data = asker.ask(DATE_Q).as_json()
    assert set(data) >= {"question", "results", "answer", "abstained", "searched_for", "evidence"}
    ev = data["evidence"][0]
    result = data["results"][ev["citation"] - 1]
    assert result["text"][ev["start"]:ev["end"]] == ev["text"]
    assert [ev["start"], ev["end"]] in result["evidence"]


def test_evidence_sentences_use_the_combined_models_fast_part():
    from qa.embedding import load_embedder, sentence_embedder

    combined = load_embedder("e5-small+use-m3")
    assert sentence_embedder(combined) is load_embedder("use-m3")
    assert sentence_embedder(load_embedder("hash")) is load_embedder("hash")


def test_a_separate_sentence_model_embeds_the_question_itself():
    # 256-d search vectors, 64-d sentence vectors: scoring with the search's vector would not even multiply
    from qa.embedding import load_embedder
    from qa.evidence import SentenceScorer, select

    search, sentences = load_embedder("hash"), load_embedder("hash-64")
    scorer = SentenceScorer(search, sentences=sentences)
    question = "联合国大会通过了什么决议？"
    passages = ["联合国大会协商一致通过了中国提出的决议。会议持续了三天。", "今天天气晴朗，气温二十度。"]
    chosen = select(question, search.embed_queries([question])[0], passages, scorer, {})
    assert chosen and chosen[0].hit_index == 0 and "决议" in chosen[0].text
    assert scorer.vectors(["会议持续了三天。"]).shape == (1, 64)
