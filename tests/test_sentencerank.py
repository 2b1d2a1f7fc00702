"""qa/sentencerank.py: a cross-lingual question's top passages re-scored by their best sentence (issue 9.4)."""

from __future__ import annotations

import numpy as np
import pytest

from qa.sentencerank import SentenceRanker, applies, passage_sentences


class TableEmbedder:
    """Vectors from a table (unit vectors along named axes), counting what it embeds."""

    name = "table"
    dim = 3

    def __init__(self, table: dict[str, np.ndarray]) -> None:
        self.table = table
        self.embedded: list[str] = []

    def embed_documents(self, texts):
        self.embedded += list(texts)
        return np.stack([self.table[t] for t in texts]).astype(np.float32)


X, Y, Z = np.eye(3, dtype=np.float32)
MIXED = "关于天气的一句话。这里是答案所在的句子。"  # one sentence on the question (X), one not (Y)
TABLE = {"关于天气的一句话。": Y, "这里是答案所在的句子。": X, "一段只谈别的事情的话。": Z, "又一段别的话。": Z}


def test_the_top_passages_mix_in_their_best_sentence_and_the_rest_keep_one_scale():
    texts = {0: MIXED, 1: "一段只谈别的事情的话。", 2: "又一段别的话。"}
    ranker = SentenceRanker(TableEmbedder(TABLE), top=2, share=0.5)
    dense = {0: 0.50, 1: 0.60, 2: 0.40}
    out = ranker.rescore(X, dense, lambda rows: [texts[r] for r in rows])
    # rows 1 and 0 are the top 2: row 0's best sentence is X (cosine 1), row 1's is Z (0)
    assert out[0] == pytest.approx(0.5 * 0.50 + 0.5 * 1.0)
    assert out[1] == pytest.approx(0.5 * 0.60 + 0.5 * 0.0)
    shift = ((out[0] - 0.50) + (out[1] - 0.60)) / 2
    assert out[2] == pytest.approx(0.40 + shift)  # below the top: moved by their mean change, order kept
    assert max(out, key=out.get) == 0  # the passage holding the answer sentence now leads


def test_sentence_vectors_are_embedded_once_per_passage():
    emb = TableEmbedder(TABLE)
    ranker = SentenceRanker(emb, top=10, share=0.5)
    for _ in range(3):
        ranker.rescore(X, {0: 0.5}, lambda rows: [MIXED])
    assert emb.embedded == ["关于天气的一句话。", "这里是答案所在的句子。"]


def test_a_share_of_zero_or_no_candidates_changes_nothing():
    ranker = SentenceRanker(TableEmbedder(TABLE), share=0.0)
    assert ranker.rescore(X, {0: 0.5, 1: 0.2}, lambda rows: [MIXED] * len(rows)) == {0: 0.5, 1: 0.2}
    assert SentenceRanker(TableEmbedder(TABLE)).rescore(X, {}, lambda rows: []) == {}


def test_short_pieces_are_not_sentences_and_a_passage_without_any_is_itself():
    assert passage_sentences("对。这里是答案所在的句子。") == ["这里是答案所在的句子。"]
    assert passage_sentences("好。") == ["好。"]


def test_only_measured_models_get_it():
    assert applies("e5-small+use-m3") and applies("e5-small")
    assert not applies("hash") and not applies("use-m3")


def test_the_evidence_step_reuses_the_sentence_vectors_of_the_re_scoring():
    """An English question's quoted sentences are scored with e5 too (qa/evidence.py CROSS_SECOND_SHARE): the
    sentences the search already embedded for its re-scoring are not embedded again."""
    from qa.embedding import Combined
    from qa.evidence import SentenceScorer

    e5, use = TableEmbedder(TABLE), TableEmbedder(TABLE)
    e5.embed_queries = use.embed_queries = lambda texts: np.stack([X for _ in texts])
    combined = Combined([e5, use], [0.9, 0.1])
    SentenceRanker(combined).rescore(np.concatenate([X, X]), {0: 0.5}, lambda rows: [MIXED])
    assert e5.embedded == use.embedded == ["关于天气的一句话。", "这里是答案所在的句子。"]
    scorer = SentenceScorer(combined, sentences=use)
    assert scorer.second is e5
    scorer.vectors(["这里是答案所在的句子。"])
    assert scorer.second_cosines("Where is the answer?", ["这里是答案所在的句子。"]).tolist() == [1.0]
    assert len(e5.embedded) == len(use.embedded) == 2  # nothing embedded again


class Axis:
    """Words as axes: a text's vector counts 答案 ("answer") and 别的 ("something else"); every question is the
    answer axis. Enough to make a passage whose one sentence is the answer rank below a blurrier one."""

    name, dim = "axis", 3

    def identity(self) -> dict:
        return {"model": self.name, "dim": self.dim}

    def embed_documents(self, texts):
        v = np.array([[t.count("答案"), t.count("别的"), 0.01] for t in texts], np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    def embed_queries(self, texts):
        return np.array([[1.0, 0.0, 0.0]] * len(texts), np.float32)


def test_the_search_re_scores_only_a_question_in_another_language_and_hits_keep_their_own_cosines(
        tmp_path, monkeypatch):
    from qa import sentencerank
    from qa.evaluate import corpus_retriever

    monkeypatch.setattr(sentencerank, "MODELS", (*sentencerank.MODELS, "axis"))
    corpus = [{"id": "one-sentence", "text": "答案就在这里。别的别的。别的事情。"},  # passage cosine .32, one sentence 1.0
              {"id": "blurred", "text": "答案和别的别的混在一起。"}]  # .45 as a whole and as its one sentence
    retriever, _ = corpus_retriever(corpus, Axis(), tmp_path / "cache")
    english = retriever.search("Where is the answer?", 2, "dense")
    assert [h.chunk_id for h in english] == ["one-sentence", "blurred"]
    assert english[0].dense_score == pytest.approx(1 / np.sqrt(1 + 9 + 1e-4), abs=1e-3)  # its own cosine, not mixed
    chinese = retriever.search("答案在哪里？", 2, "dense")  # its words can be in the articles: not re-scored
    assert [h.chunk_id for h in chinese] == ["blurred", "one-sentence"]


def test_a_search_reads_its_passages_from_the_store_once(tmp_path, monkeypatch):
    # on a server every read is a round trip: the re-scoring's passages and the hits' are read in one call each,
    # and a passage the re-scoring read is not read again for its hit
    from qa import sentencerank
    from qa.evaluate import corpus_retriever

    monkeypatch.setattr(sentencerank, "MODELS", (*sentencerank.MODELS, "axis"))
    filler = ["".join(chr(0x4E00 + 40 * i + j) for j in range(30)) for i in range(12)]  # no two alike
    corpus = [{"id": f"p{i}", "text": f"答案就在这里。{filler[i]}。" + "别的事情。" * i} for i in range(12)]
    retriever, _ = corpus_retriever(corpus, Axis(), tmp_path / "cache")
    calls: list[list[int]] = []
    real = retriever.store.passages
    monkeypatch.setattr(retriever.store, "passages", lambda rows: calls.append(list(rows)) or real(rows))
    hits = retriever.search("Where is the answer?", 5, "hybrid")
    assert len(hits) == 5 and len(calls) == 1 and len(calls[0]) == sentencerank.TOP  # the hits were among them
    calls.clear()
    assert len(retriever.search("答案在哪里？", 5, "hybrid")) == 5 and len(calls) == 1  # not re-scored: one read
