"""Questions in any language: script groups, literal anchors, and (slow, real models) the seed's 2018 case and
fusion that holds on the shared eval set with the default model."""

from __future__ import annotations

import random
import shutil

import pytest

from qa import fusion
from qa.embedding import QUERY_WEIGHTS, query_group
from qa.query import anchors, script


@pytest.mark.parametrize(("text", "kind"), [
    ("What did China propose in 2018?", "latin"), ("Qu'a proposé la Chine ?", "latin"),
    ("Что предложил Китай?", "cyrillic"), ("ماذا اقترحت الصين؟", "arabic"), ("चीन ने क्या प्रस्ताव दिया?", "devanagari"),
    ("中方反对什么？", "zh"), ("聯合國大會哪天通過了決議？", "zh"), ("日本の提案は何ですか？", "kana"), ("2018?", "other"),
])
def test_script_of_a_question(text, kind):
    assert script(text) == kind


def test_query_groups_of_the_default_model():
    groups = QUERY_WEIGHTS["e5-small+use-m3"]
    assert query_group("中方反对什么？", groups) == "zh" and groups["zh"] == (1.0, 0.0)
    assert query_group("चीन ने क्या प्रस्ताव दिया?", groups) == "devanagari" and groups["devanagari"][1] == 0.0
    assert query_group("日本の提案は何ですか？", groups) == "other"  # no weights of its own: the default mix


def test_anchors_are_numbers_and_foreign_latin_names():
    assert anchors("Qu'a proposé la Chine en 2018 sur l'IA ?") == ("2018", "ia")
    assert anchors("What did China propose in 2018?") == ("2018",)  # ordinary English words are not anchors
    assert anchors("Какая команда выиграла Super Bowl 50?") == ("super", "bowl", "50")
    assert anchors("中方在2018年提出了什么？") == ()  # a Chinese question's keywords already see everything


# --- slow: real models ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def seed_asker(tmp_path_factory, project_root):
    from qa import Settings, build
    from qa.answer import Asker
    from qa.embedding import load_embedder

    root = tmp_path_factory.mktemp("seed")
    seeds = root / "seeds"
    seeds.mkdir()
    shutil.copy(project_root / "seeds" / "000_e0ddd22777e12010.txt", seeds)
    settings = Settings.load(seeds=seeds, index=root / "index", cache=root / "cache")
    build(settings, load_embedder(settings.model))
    return Asker.open(settings)


@pytest.mark.slow
@pytest.mark.parametrize("question", ["Qu'a proposé la Chine en 2018 sur l'IA ?",
                                      "¿Qué propuso China en 2018 sobre la IA?",
                                      "What did China propose about AI risks in 2018?"])
def test_a_year_in_the_question_quotes_the_paragraph_that_has_it(seed_asker, question):
    """Issue 9: the French question quoted ¶3 (no 2018); the paragraph saying "早在2018年" was card [2]."""
    answer = seed_asker.ask(question)
    assert not answer.abstained
    assert answer.hits[0].paragraph == 4 and "2018" in answer.hits[0].text
    assert any("2018" in s.text for s in answer.evidence)


@pytest.mark.slow
def test_hybrid_holds_against_both_parts_on_english_over_chinese(eval_dir):
    """benchmarks/fusion_models.py in small: hybrid >= max(keyword, dense) - 0.005 with the default model on 300
    English questions over the Chinese XQuAD passages (80 are too few: one question moves MRR by .0125)."""
    if not (eval_dir / "xquad-en2zh" / "queries.jsonl").is_file():
        pytest.skip(f"no shared eval sets at {eval_dir}")
    from qa.config import Settings
    from qa.embedding import load_embedder
    from qa.evaluate import corpus_retriever, read_jsonl

    settings = Settings.load()
    corpus = read_jsonl(eval_dir / "xquad-zh" / "corpus.jsonl", ("id", "text"))
    queries = random.Random(9).sample(read_jsonl(eval_dir / "xquad-en2zh" / "queries.jsonl",
                                                 ("id", "question", "gold_ids")), 300)
    retriever, _ = corpus_retriever(corpus, load_embedder(settings.model), settings.cache)
    texts = [q["question"] for q in queries]
    vectors = [v for b in range(0, len(texts), 32) for v in retriever.embedder.embed_queries(texts[b:b + 32])]
    mrr = {}
    for mode in ("keyword", "dense", "hybrid"):
        total = 0.0
        for q, v in zip(queries, vectors):
            ranked = [h.chunk_id for h in retriever.search(q["question"], 10, mode, query_vector=v)]
            total += next((1 / (i + 1) for i, c in enumerate(ranked) if c in set(q["gold_ids"])), 0.0)
        mrr[mode] = total / len(queries)
    assert mrr["hybrid"] >= max(mrr["keyword"], mrr["dense"]) - 0.005, mrr
    assert mrr["dense"] > 0.7 and mrr["keyword"] < 0.3, mrr  # the set is what it claims: dense must cross languages
    assert fusion.profile(settings.model)["margin_scale"] == fusion.MARGIN_SCALE
