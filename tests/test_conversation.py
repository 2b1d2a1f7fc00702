"""qa/conversation.py: a follow-up is searched with its context exactly when the signals say it helps.

The rule itself on hand-made searches (fast), then the seed article with the real default model and a real
FAISS index (slow): the issue's seed examples, off-topic follow-ups, clearing, and the cost bound.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import qa
from qa import Asker, Settings
from qa.config import DEFAULT_MODEL
from qa.conversation import (
    CONTEXT_CHARS,
    COVERAGE_EXACT,
    COVERAGE_FLOOR,
    JOIN_MARGIN,
    LEAN_MARGIN,
    NEAR,
    NEAR_EXACT,
    NEAR_LEAN,
    OLD_COVERAGE_FLOOR,
    OWN_FLOOR,
    Search,
    choose,
    context_of,
    follows,
    leans,
    own_ok,
)
from qa.render import reply_html

ROOT = Path(__file__).resolve().parent.parent
SEED = "000_e0ddd22777e12010.txt"
DATE_Q = "联合国大会哪天通过了决议？"


def search(score: float | None, in_scope: bool) -> Search:
    return Search("q", None, [], None, score, in_scope)


# --- the rule ----------------------------------------------------------------------------------------------------

def test_leaning_words_are_a_prior_per_language():
    assert leans("那它是哪天通过的？", "zh") and leans("它的作用呢？", "zh")
    assert not leans("中方反对什么？", "zh")
    assert leans("And what about developing countries?", "en") and leans("When was it adopted?", "en")
    assert not leans("What did China propose about AI risks in 2018?", "en")
    assert leans("それはいつ可決されたの？", "ja") and leans("Et quand a-t-elle été adoptée ?", "fr")


def test_english_that_leans_only_as_a_demonstrative():
    # a relative pronoun or a complementizer refers to nothing earlier: such a question is not a follow-up by wording
    assert not leans("Evidence indicates that Cydippids are not what?", "en")
    assert not leans("Who is the Costa Rican President that went to Harvard?", "en")
    # a demonstrative does: at the start, after a preposition, a form of be or a wh-word
    assert leans("What happened after that?", "en") and leans("When was that law passed?", "en")
    assert leans("That treaty was signed when?", "en")


def test_context_is_the_previous_question_and_its_own_antecedent():
    assert context_of([], "zh") == ""
    assert context_of(["A是什么？", DATE_Q], "zh") == DATE_Q
    # the previous question leaned on the one before it: both are the context
    assert context_of([DATE_Q, "那它是谁提出的？"], "zh") == f"{DATE_Q} 那它是谁提出的？"
    assert len(context_of(["长" * 5000], "zh")) <= CONTEXT_CHARS


def test_a_follow_up_is_a_question_near_what_the_previous_answer_cited():
    # the cited passage is the question's own top passage (near 0): a follow-up, leaning or not
    assert follows(0.0, True, None) and follows(0.0, False, None)
    # a little below its top: only a question that leans on the context (the wording is a prior)
    assert NEAR_LEAN < NEAR
    assert follows(NEAR_LEAN + 0.001, True, None) and not follows(NEAR_LEAN + 0.001, False, None)
    # far from it (an unrelated question is 0.05-0.2 below): never, whatever the wording
    assert not follows(NEAR_LEAN - 0.001, True, None) and not follows(-0.2, True, 1.0)
    # a Chinese question whose own words are not in the articles (an off-topic "那…呢？") stays alone
    between = (NEAR_EXACT + NEAR_LEAN) / 2
    assert follows(between, True, COVERAGE_FLOOR) and not follows(between, True, COVERAGE_FLOOR - 0.01)
    # ... unless it lands on the cited passage itself: then a pronoun-heavy question with fewer words of its own
    # ("那它的铁路网每年有多少乘客?") still follows up, but one with hardly any of its words in the articles does not
    assert NEAR_LEAN < NEAR_EXACT and COVERAGE_EXACT < COVERAGE_FLOOR
    assert follows(NEAR_EXACT, True, COVERAGE_EXACT) and follows(0.0, False, COVERAGE_EXACT)
    assert not follows(NEAR_EXACT - 0.001, True, COVERAGE_EXACT) and not follows(0.0, True, COVERAGE_EXACT - 0.01)
    # no vectors (keyword mode): the older rule decides
    assert not follows(None, True, 1.0)


def test_choose_keeps_the_context_only_when_the_signals_favour_it():  # keyword mode, and the old rule
    a_in, a_out = search(1.0, True), search(-2.0, False)
    # the joined search out of scope: never
    assert choose(a_in, search(-1.0, False), True, True, "hybrid")[0] is False
    assert choose(a_out, search(-1.0, False), True, True, "hybrid")[0] is False
    # alone out of scope, joined in scope: when the question leans on the context and its own words belong to
    # the articles; the wording alone is not enough, nor are the words alone
    assert choose(a_out, search(0.5, True), True, True, "hybrid")[0] is True
    assert choose(a_out, search(0.5, True), True, False, "hybrid")[0] is False
    assert choose(a_out, search(0.5, True), False, True, "hybrid")[0] is False
    # both in scope: the joined search must be clearly more relevant; less so when the question leans
    assert choose(a_in, search(1.0 + JOIN_MARGIN + 0.1, True), False, False, "hybrid")[0] is True
    assert choose(a_in, search(1.0 + JOIN_MARGIN - 0.1, True), False, False, "hybrid")[0] is False
    assert choose(a_in, search(1.0 + LEAN_MARGIN + 0.1, True), True, False, "hybrid")[0] is True
    assert choose(a_in, search(1.0 + LEAN_MARGIN - 0.1, True), True, False, "hybrid")[0] is False
    assert LEAN_MARGIN <= JOIN_MARGIN


def test_own_words_need_the_dense_relation_and_for_chinese_the_coverage():
    assert own_ok(OWN_FLOOR + 0.01, None) and own_ok(OWN_FLOOR + 0.01, OLD_COVERAGE_FLOOR)
    assert not own_ok(OWN_FLOOR - 0.01, 1.0)
    assert not own_ok(OWN_FLOOR + 0.01, OLD_COVERAGE_FLOOR - 0.01)
    assert not own_ok(None, 1.0)


# --- the real model over the seed article ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def asker(tmp_path_factory) -> Asker:
    tmp = tmp_path_factory.mktemp("conversation")
    seeds = tmp / "seeds"
    seeds.mkdir()
    shutil.copy(ROOT / "seeds" / SEED, seeds / SEED)
    settings = Settings.load(seeds=seeds, index=tmp / "index", model=DEFAULT_MODEL)
    qa.build(settings)
    return Asker.open(settings)


@pytest.mark.slow
def test_topic_change_is_searched_alone(asker):
    # the seed example: glued onto the weather question this said "not answered"
    first = asker.ask("今天上海天气怎么样？")
    assert first.abstained
    ans = asker.ask("中方反对什么？", ["今天上海天气怎么样？"])
    assert not ans.context_used and ans.searched_for == "中方反对什么？"
    assert not ans.abstained
    assert ans.hits[ans.evidence[0].hit_index].paragraph == 5
    assert any("反对" in s.text for s in ans.evidence)
    assert "检索内容" not in reply_html(ans)
    assert ans.as_json()["context_used"] is False


@pytest.mark.slow
def test_follow_up_is_searched_with_the_previous_question(asker):
    alone = asker.ask("那它是哪天通过的？")
    assert not alone.context_used and alone.searched_for == "那它是哪天通过的？"
    ans = asker.ask("那它是哪天通过的？", ["中国在联合国大会提出了什么决议？"])
    assert ans.context_used
    assert ans.searched_for == "中国在联合国大会提出了什么决议？ 那它是哪天通过的？"
    assert not ans.abstained and any("7月1日" in s.text for s in ans.evidence)
    assert "检索内容：" in reply_html(ans)
    data = ans.as_json()
    assert data["context_used"] is True and data["searched_for"] == ans.searched_for


@pytest.mark.slow
def test_english_follow_up_is_searched_with_the_previous_question(asker):
    ans = asker.ask("When was it adopted?", ["Which resolution did China propose at the UN?"])
    assert ans.context_used and ans.language == "en"
    assert ans.searched_for == "Which resolution did China propose at the UN? When was it adopted?"
    assert not ans.abstained and "Searched for: " in reply_html(ans)


@pytest.mark.slow
def test_after_clearing_there_is_no_history(asker):
    # the issue: after the chat was cleared, the next question searched the cleared conversation's question
    ans = asker.ask("那它是哪天通过的？", [])
    assert not ans.context_used and ans.searched_for == ans.question


@pytest.mark.slow
def test_off_topic_follow_up_still_abstains_without_context(asker):
    ans = asker.ask("那特朗普的关税政策呢？", [DATE_Q])
    assert ans.abstained and not ans.evidence
    assert not ans.context_used and ans.searched_for == ans.question


@pytest.mark.slow
def test_self_contained_next_question_keeps_its_own_search(asker):
    ans = asker.ask("What did China propose about AI risks in 2018?", [DATE_Q])
    assert not ans.context_used
    assert any("2018" in s.text for s in ans.evidence)


@pytest.mark.slow
def test_a_number_of_its_own_keeps_a_question_on_its_own_passage(asker):
    # joined to the previous question (whose cited paragraph it lands near) this quoted that paragraph
    # again; its "2018" is in its own top passage and not in the cited one
    ans = asker.ask("Qu'a proposé la Chine en 2018 sur l'IA ?", ["中方在联合国框架内主张什么？"])
    assert not ans.context_used and ans.searched_for == ans.question
    assert any("2018" in s.text for s in ans.evidence)


@pytest.mark.slow
def test_at_most_two_extra_searches_and_one_vector_each(asker, monkeypatch):
    r = asker.retriever
    calls = {"search": 0, "embed": 0}
    search, embed = r.search, r.embed_query

    def counted_search(*a, **kw):
        calls["search"] += 1
        assert kw.get("query_vector") is not None  # the signals reuse the search's own vector
        return search(*a, **kw)

    def counted_embed(*a, **kw):
        calls["embed"] += 1
        return embed(*a, **kw)

    monkeypatch.setattr(r, "search", counted_search)
    monkeypatch.setattr(r, "embed_query", counted_embed)
    # alone, joined, and the previous question's own search (what the previous answer cited)
    asker.ask("那它是哪天通过的？", ["今天上海天气怎么样？", "中国在联合国大会提出了什么决议？"] * 10)
    assert calls == {"search": 3, "embed": 3}
    calls.update(search=0, embed=0)
    asker.ask("中方反对什么？")
    assert calls == {"search": 1, "embed": 1}


@pytest.mark.slow
def test_reply_words_follow_the_question_language(asker):
    ja = asker.ask("日本の提案は何ですか？")
    assert ja.language == "ja" and ja.answer_text().startswith(("記事の原文より", "記事にはこの質問への答えがありません"))
    fr = asker.ask("Qu'a proposé la Chine sur l'IA ?")
    assert fr.language == "fr" and fr.answer_text().startswith(("Selon les articles", "Les articles ne répondent"))
