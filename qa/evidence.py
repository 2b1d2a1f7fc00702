"""Pick the sentences of the top passages that answer the question, and judge relevance at all.

Sentences are scored against the question by the embedding model (cosine) and by keyword overlap
(IDF-weighted share of the question's tokens the sentence contains). Relevance ("is this in the
articles at all?") compares the best passage with a fixed background of off-topic sentences: e5
cosines bunch at 0.7-0.9 for anything, so only a relative margin separates in-scope from not.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from .text import fold, query_tokens, sentences

# Generic sentences in several languages, none about anything an article would report in depth.
BACKGROUND = (
    "今天天气怎么样？", "我想学做红烧肉，需要哪些材料？", "周末去哪里玩比较好？", "这部电影好看吗？",
    "如何减肥最有效？", "猫为什么喜欢晒太阳？", "推荐几本好看的小说。", "我的手机充不进电怎么办？",
    "What is the weather like today?", "How do I bake sourdough bread at home?",
    "Which football team won the match last night?", "Can you recommend a good movie?",
    "How do I fix a flat bicycle tyre?", "What is the best way to learn the guitar?",
    "Why is the sky blue?", "Where can I buy cheap flights to Paris?",
    "¿Cuál es la mejor receta de paella?", "Quel temps fait-il à Paris demain ?",
    "Wie spät ist es in Tokio?", "今日の天気はどうですか？", "오늘 날씨 어때요?",
    "Сколько стоит билет на поезд?", "Hello, how are you?", "Tell me a joke.",
)

# Calibrated with benchmarks/abstention.py (see benchmarks/README.md): margin below this -> abstain,
# unless the keyword side matched most of the question in one passage.
MARGIN_THRESHOLD = 0.0
KEYWORD_SUPPORT = 0.6


@dataclass(frozen=True)
class Sentence:
    hit_index: int  # index into the hits list
    text: str
    start: int  # span inside the hit's passage text
    end: int
    score: float


class SentenceScorer:
    """Scores sentences with a small LRU of sentence vectors (repeated passages cost nothing)."""

    def __init__(self, embedder, capacity: int = 4096) -> None:
        self.embedder = embedder
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._capacity = capacity
        self._background: np.ndarray | None = None

    def vectors(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            for t, v in zip(missing, self.embedder.embed_documents(missing)):
                self._cache[t] = v
                if len(self._cache) > self._capacity:
                    self._cache.popitem(last=False)
        for t in texts:
            self._cache.move_to_end(t)
        return np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, self.embedder.dim))

    def background_max(self, qvec: np.ndarray) -> float:
        if self._background is None:
            self._background = self.embedder.embed_documents(list(BACKGROUND))
        return float((self._background @ qvec).max())


def keyword_overlap(question: str, text: str, idf: dict[str, float]) -> float:
    """IDF-weighted share of the question's tokens that appear in `text` (0..1)."""
    toks = [t for t in dict.fromkeys(query_tokens(question)) if len(t) > 1 or not t.isascii()]
    if not toks:
        return 0.0
    folded = fold(text)
    weight = {t: idf.get(t, 1.0) for t in toks}
    total = sum(weight.values())
    return sum(w for t, w in weight.items() if t in folded) / total if total else 0.0


def select(question: str, qvec: np.ndarray | None, passages: list[str], scorer: SentenceScorer | None,
           idf: dict[str, float], max_sentences: int = 3) -> list[Sentence]:
    """Best 1-3 sentences over the passages, in passage order then text order."""
    cands = [(i, s, a, b) for i, p in enumerate(passages) for s, a, b in sentences(p) if len(s) >= 4]
    if not cands:
        return []
    kw = np.array([keyword_overlap(question, s, idf) for _, s, _, _ in cands])
    if qvec is not None and scorer is not None:
        cos = scorer.vectors([s for _, s, _, _ in cands]) @ qvec
        spread = cos.max() - cos.min()
        dense = (cos - cos.min()) / spread if spread > 1e-6 else np.ones_like(cos)
        score = 0.6 * dense + 0.4 * kw
    else:
        score = kw
    # Earlier passages ranked higher by retrieval: a small prior keeps the answer near card [1].
    score = score - 0.05 * np.array([i for i, _, _, _ in cands])
    best = float(score.max())
    order = [j for j in np.argsort(-score) if score[j] >= best - 0.15][:max_sentences]
    chosen = sorted(order, key=lambda j: (cands[j][0], cands[j][2]))
    return [Sentence(cands[j][0], cands[j][1], cands[j][2], cands[j][3], float(score[j])) for j in chosen]
