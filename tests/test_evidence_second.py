"""Evidence sentences of a question over articles in another language also use the combined model's second part
(qa/evidence.py CROSS_SECOND_SHARE; benchmarks/evidence_both.py)."""

from __future__ import annotations

import numpy as np

from qa.embedding import Combined, load_embedder, sentence_embedder
from qa.evidence import CROSS_SECOND_SHARE, SentenceScorer, select

PASSAGES = ["联合国大会通过了一项决议。会议在纽约举行。", "会议持续了三天。"]


class Pick:
    """A model that likes one sentence: cosine 1 for it and for every question, 0 for the others."""

    def __init__(self, name: str, liked: str) -> None:
        self.name, self.dim, self.liked = name, 2, liked

    def embed_documents(self, texts):
        return np.array([[1.0, 0.0] if t == self.liked else [0.0, 1.0] for t in texts], np.float32)

    def embed_queries(self, texts):
        return np.array([[1.0, 0.0]] * len(texts), np.float32)


def scorer() -> SentenceScorer:
    first, second = Pick("first", "会议在纽约举行。"), Pick("second", "联合国大会通过了一项决议。")
    return SentenceScorer(Combined([second, first], [1.0, 1.0]), sentences=first, capacity=100)  # its own store


def test_the_second_part_is_the_combined_model_part_that_does_not_score_sentences():
    s = scorer()
    assert s.second is not None and s.second.name == "second"
    assert SentenceScorer(load_embedder("hash")).second is None  # one model: nothing to mix
    combined = load_embedder("e5-small+use-m3")  # the default: use-m3 scores, e5-small is the second part
    assert SentenceScorer(combined, sentences=sentence_embedder(combined)).second is load_embedder("e5-small")


def test_an_english_question_mixes_in_the_second_part_and_a_chinese_one_does_not():
    q_en, q_zh = "What did the General Assembly adopt?", "联合国大会通过了什么？"
    kw = {"literal": False, "number_boost": 0.0, "max_sentences": 1, "prior": 0.0}
    s = scorer()
    alone = select(q_en, np.zeros(2), PASSAGES, s, {}, second_share=0.0, **kw)
    assert [x.text for x in alone] == ["会议在纽约举行。"] and not s.store.held(s.second)  # not even embedded
    mixed = select(q_en, np.zeros(2), PASSAGES, s, {}, **kw)  # the default share for a cross-language question
    assert CROSS_SECOND_SHARE > 0.5 and [x.text for x in mixed] == ["联合国大会通过了一项决议。"]
    assert s.store.held(s.second) == {"联合国大会通过了一项决议。", "会议在纽约举行。", "会议持续了三天。"}
    fresh = scorer()
    select(q_zh, np.zeros(2), PASSAGES, fresh, {}, **kw)
    assert not fresh.store.held(fresh.second)  # a Chinese question keeps the fast part alone
