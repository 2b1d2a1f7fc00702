"""Pick the sentences of the top passages that answer the question, and judge relevance at all.

Sentences are scored against the question by the embedding model (cosine) and by keyword overlap
(IDF-weighted share of the question's tokens the sentence contains). Relevance ("is this in the
articles at all?") cannot use raw cosines (e5 bunches them at 0.7-0.9 for anything), only relative ones:
  margin  the best passage's cosine minus the best cosine to a fixed background of off-topic sentences
  gap     the best passage's cosine minus the GAP_RANK-th best cosine over the corpus and the Chinese
          background sentences together: an answerable question has one passage that stands out, an
          unanswerable one a flat top list (the background keeps a small corpus from being its own reference)
  bm25    the corpus's top BM25 score divided by the sum of the question's token IDFs (unseen words count
          at the highest IDF): how much of the question the best keyword match covers (Chinese only)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .query import asks_number, keywords_apply, searched_literally
from .sentencevectors import SHARED, SentenceVectors
from .text import MIN_SENTENCE, fold, query_tokens, sentences

if TYPE_CHECKING:
    from .store.base import Store

# Generic sentences in several languages, none about anything an article would report in depth. The Chinese
# ones (BACKGROUND_ZH) also pad the reference list of the gap signal.
BACKGROUND_ZH = (
    "今天天气怎么样？", "我想学做红烧肉，需要哪些材料？", "周末去哪里玩比较好？", "这部电影好看吗？",
    "如何减肥最有效？", "猫为什么喜欢晒太阳？", "推荐几本好看的小说。", "我的手机充不进电怎么办？",
)
BACKGROUND = BACKGROUND_ZH + (
    "What is the weather like today?", "How do I bake sourdough bread at home?",
    "Which football team won the match last night?", "Can you recommend a good movie?",
    "How do I fix a flat bicycle tyre?", "What is the best way to learn the guitar?",
    "Why is the sky blue?", "Where can I buy cheap flights to Paris?",
    "¿Cuál es la mejor receta de paella?", "Quel temps fait-il à Paris demain ?",
    "Wie spät ist es in Tokio?", "今日の天気はどうですか？", "오늘 날씨 어때요?",
    "Сколько стоит билет на поезд?", "Hello, how are you?", "Tell me a joke.",
)
GAP_RANK = 20

# Fitted by benchmarks/abstention.py (logistic regression on one half of its questions, reported on the other
# half; numbers in benchmarks/README.md, "## Abstention"). In scope when, for the question's language,
#   RULE[lang]["bias"] + sum(RULE[lang][name] * signal[name]) >= 0
# An English question over the (Chinese) articles has no keyword overlap and smaller cosines, hence its own
# rule. Keyword mode (no dense side): in scope when support >= KEYWORD_SUPPORT.
RULE = {
    "zh": {"margin": 57.962, "gap": 109.982, "bm25": 27.766, "bias": -14.268},
    "en": {"margin": 11.751, "gap": 122.559, "bm25": 0.0, "bias": -6.269},
}
KEYWORD_SUPPORT = 0.65

# Quoting for a question whose words are never in Chinese text (English, Russian ... over Chinese articles):
# its literal tokens (qa/query.py searched_literally) stand in for its keywords, the dense side counts a little
# less, and a question asking for a number lifts sentences with a digit. benchmarks/evidence_sweep.py, chosen on
# the dev half: English answers quoted .750/.737 -> .770/.776 (dev/test); Chinese questions unchanged.
CROSS_DENSE_WEIGHT = 0.5
CROSS_NUMBER_BOOST = 0.2
# Such a question's sentence cosines also use the combined model's other part (e5-small beside use-m3): this share
# of e5's cosine plus the rest of use-m3's. benchmarks/evidence_both.py, chosen on the dev half: English answers
# quoted .770/.776 -> .824/.809 (dev/test) with fewer sentences quoted; costs e5 sentence vectors (~0.5 s an answer
# over passages not quoted before). Chinese questions keep use-m3 alone.
CROSS_SECOND_SHARE = 0.75


@dataclass(frozen=True)
class Signals:
    margin: float | None  # None without a dense side (keyword mode)
    gap: float | None
    bm25: float  # 0..~1
    support: float  # best IDF-weighted keyword overlap among the top 3 passages (keyword mode, follow-ups)

    def score(self, language: str) -> float | None:
        """The rule's value (>= 0: in scope); None without a dense side."""
        if self.margin is None or self.gap is None:
            return None
        w = RULE[language if language in RULE else "en"]
        return w["bias"] + w["margin"] * self.margin + w["gap"] * self.gap + w["bm25"] * self.bm25


@dataclass(frozen=True)
class Sentence:
    hit_index: int  # index into the hits list
    text: str
    start: int  # span inside the hit's passage text
    end: int
    score: float


class SentenceScorer:
    """Scores sentences with a small LRU of sentence vectors (repeated passages cost nothing).

    `embedder` is the index's model (the off-topic background is compared with the search's question
    vector); `sentences`, when given, embeds the sentences and the question for evidence instead
    (`qa.embedding.sentence_embedder`: a fast part of a combined model). The combined model's other part, when
    there is exactly one, is `second` (`second_cosines`: for questions over articles in another language)."""

    def __init__(self, embedder, capacity: int | None = None, sentences=None) -> None:
        self.embedder = embedder
        self.sentence_model = sentences or embedder
        others = [p for p in getattr(embedder, "parts", ()) if p is not self.sentence_model]
        self.second = others[0] if sentences is not None and len(others) == 1 else None
        # the process's sentence vectors (shared with the search's re-scoring), or a private LRU of `capacity`
        self.store = SHARED if capacity is None else SentenceVectors(capacity)
        self._background: np.ndarray | None = None

    def question_vector(self, question: str, qvec: np.ndarray) -> np.ndarray:
        """The question as the sentence vectors see it: the search's own vector, or the sentence model's."""
        if self.sentence_model is self.embedder:
            return qvec
        return self.sentence_model.embed_queries([question])[0]

    def vectors(self, texts: list[str]) -> np.ndarray:
        return self.store.get(self.sentence_model, texts)

    def second_cosines(self, question: str, texts: list[str]) -> np.ndarray | None:
        """The sentences' cosines to the question by `second` (None without one)."""
        if self.second is None:
            return None
        return self.store.get(self.second, texts) @ self.second.embed_queries([question])[0]

    def background(self, qvec: np.ndarray) -> np.ndarray:
        """Cosines of the question with BACKGROUND (its first len(BACKGROUND_ZH) are the Chinese ones)."""
        if self._background is None:
            self._background = self.embedder.embed_documents(list(BACKGROUND))
        return self._background @ qvec

    def background_max(self, qvec: np.ndarray) -> float:
        return float(self.background(qvec).max())


def keyword_overlap(question: str, text: str, idf: dict[str, float]) -> float:
    """IDF-weighted share of the question's tokens that appear in `text` (0..1)."""
    toks = [t for t in dict.fromkeys(query_tokens(question)) if len(t) > 1 or not t.isascii()]
    if not toks:
        return 0.0
    folded = fold(text)
    weight = {t: idf.get(t, 1.0) for t in toks}
    total = sum(weight.values())
    return sum(w for t, w in weight.items() if t in folded) / total if total else 0.0


def signals(query: str, qvec: np.ndarray | None, hits: list, scorer: SentenceScorer | None,
            idf: dict[str, float], store: Store | None = None, dense_top: list[float] | None = None) -> Signals:
    """The relevance signals of a search (see the module docstring). `hits` are the search's hits (with
    `dense_score`, `keyword_score`, `text`); `store` the one searched (`Retriever.store`), for the
    corpus-wide top dense scores and the BM25 top score when the hits lack one. `dense_top`, the search's
    own best dense scores when the caller has them, saves the one top-GAP_RANK dense search this otherwise
    costs."""
    support = max((keyword_overlap(query, h.text, idf) for h in hits[:3]), default=0.0)
    toks = [t for t in dict.fromkeys(query_tokens(query)) if t]
    bm25 = 0.0
    if toks and store is not None:
        kw = [h.keyword_score for h in hits if h.keyword_score is not None]
        top = max(kw) if kw else store.best_keyword(toks)
        unseen = math.log(1.0 + (len(store) + 0.5) / 0.5)
        bm25 = top / sum(idf.get(t, unseen) for t in toks)
    best = max((h.dense_score for h in hits if h.dense_score is not None), default=None)
    if qvec is None or scorer is None or best is None:
        return Signals(None, None, float(bm25), float(support))
    bg = scorer.background(qvec)
    margin = best - float(bg.max())
    reference = [float(c) for c in bg[:len(BACKGROUND_ZH)]]
    if dense_top is not None:
        reference += [float(d) for d in dense_top[:GAP_RANK]]
    elif store is not None:
        reference += store.dense(qvec, GAP_RANK)[0].tolist()
    else:
        reference += [h.dense_score for h in hits if h.dense_score is not None]
    reference = sorted(set(reference), reverse=True)
    gap = best - reference[min(GAP_RANK, len(reference)) - 1]
    return Signals(float(margin), float(gap), float(bm25), float(support))


def in_scope(sig: Signals, language: str, mode: str = "hybrid") -> bool:
    """Whether the articles speak to the question at all (else: abstain)."""
    score = None if mode == "keyword" else sig.score(language)
    if score is None:
        return sig.support >= KEYWORD_SUPPORT
    return score >= 0


def select(question: str, qvec: np.ndarray | None, passages: list[str], scorer: SentenceScorer | None,
           idf: dict[str, float], max_sentences: int = 3, dense_weight: float | None = None,
           prior: float = 0.05, band: float = 0.15, number_boost: float | None = None,
           literal: bool | None = None, second_share: float | None = None) -> list[Sentence]:
    """Best 1-3 sentences over the passages, in passage order then text order: those scoring within `band`
    of the best, where score = dense_weight x scaled cosine + (1 - dense_weight) x keyword overlap - prior x
    the passage's rank. The cosine is the scorer's, mixed with `second_share` of its second model's when it has
    one (CROSS_SECOND_SHARE for a question whose words are never in the sentences, else 0)."""
    cross = not keywords_apply(question)  # its words are never in the (Chinese) sentences
    if second_share is None:
        second_share = CROSS_SECOND_SHARE if cross else 0.0
    if dense_weight is None:
        dense_weight = CROSS_DENSE_WEIGHT if cross else 0.6
    if number_boost is None:
        number_boost = CROSS_NUMBER_BOOST if cross else 0.0
    if literal is None:
        literal = cross
    cands = [(i, s, a, b) for i, p in enumerate(passages) for s, a, b in sentences(p) if len(s) >= MIN_SENTENCE]
    if not cands:
        return []
    kw = np.array([keyword_overlap(question, s, idf) for _, s, _, _ in cands])
    if literal:  # numbers, Latin names and an English question's words in Chinese stand in for its keywords
        toks = searched_literally(question)
        if toks:
            lit = np.array([sum(t in fold(s) for t in toks) / len(toks) for _, s, _, _ in cands])
            kw = np.maximum(kw, lit)
    if qvec is not None and scorer is not None:
        texts = [s for _, s, _, _ in cands]
        cos = scorer.vectors(texts) @ scorer.question_vector(question, qvec)
        second = scorer.second_cosines(question, texts) if second_share and hasattr(scorer, "second_cosines") \
            else None
        if second is not None:
            cos = second_share * second + (1 - second_share) * cos
        spread = cos.max() - cos.min()
        dense = (cos - cos.min()) / spread if spread > 1e-6 else np.ones_like(cos)
        score = dense_weight * dense + (1 - dense_weight) * kw
    else:
        score = kw
    if number_boost and asks_number(question):  # "how many", "when", "多少": the answer sentence has a digit
        score = score + number_boost * np.array([any(c.isdigit() for c in s) for _, s, _, _ in cands])
    # Earlier passages ranked higher by retrieval: a small prior keeps the answer near card [1].
    score = score - prior * np.array([i for i, _, _, _ in cands])
    best = float(score.max())
    order = [j for j in np.argsort(-score) if score[j] >= best - band][:max_sentences]
    chosen = sorted(order, key=lambda j: (cands[j][0], cands[j][2]))
    return [Sentence(cands[j][0], cands[j][1], cands[j][2], cands[j][3], float(score[j])) for j in chosen]
