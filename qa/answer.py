"""Question (+ history) -> Answer: the articles' own sentences with [n] markers, or an honest "not found".

No generative model: the answer is 1-3 evidence sentences quoted from the top passages, each
followed by the marker of the passage it comes from. Follow-up questions borrow the previous
question's words for the search, and the reply says what was searched.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass, field

from . import storage
from .config import Settings
from .embedding import load_embedder, sentence_embedder
from .evidence import KEYWORD_SUPPORT, Sentence, SentenceScorer, in_scope, keyword_overlap, select, signals
from .replies import phrase
from .search import Filters, Hit, Retriever
from .text import is_chinese, query_tokens

_FOLLOWUP_ZH = re.compile(r"^(那|那么|还有|另外|而且|并且|然后)|它|他们|她们|它们|这个|那个|这些|那些|该|其|此|呢[？?]?$")
_FOLLOWUP_EN = re.compile(r"^(and|what about|how about|also|then|so)\b|\b(it|its|they|them|their|this|that|these|those|he|she|his|her)\b", re.I)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass
class Answer:
    question: str
    searched_for: str
    hits: list[Hit]
    evidence: list[Sentence]
    abstained: bool
    language: str  # a language code (qa.replies.language_of): the reply follows the question
    relevance: float | None = None  # best dense score minus the off-topic background's best (the margin)
    notice: str | None = None  # e.g. the question was cut to the length limit
    context_used: bool = False  # the search joined earlier context to the question ("Searched for" shows)
    # Written answers (qa/written.py): the model's checked text; `evidence` then holds the spans supporting it.
    generated: bool = False
    model: str | None = None
    written: str | None = None
    sentences: list[dict] = field(default_factory=list)  # [{"text", "citations": [n], "supported"}]

    def cited(self) -> list[int]:
        """Hit indexes that the answer cites, in marker order ([1] is the first cited hit)."""
        return list(dict.fromkeys(s.hit_index for s in self.evidence))

    def answer_text(self) -> str:
        if not self.question.strip():
            return phrase("type_question", self.language)
        if self.generated and self.written:
            return self.written
        if self.abstained or not self.evidence:
            return phrase("not_found", self.language)
        sep = "" if self.language in ("zh", "ja") else " "
        parts = [f"{s.text}[{s.hit_index + 1}]" for s in self.evidence]
        return phrase("lead", self.language) + sep + sep.join(parts)

    def as_json(self) -> dict:
        spans: dict[int, list[list[int]]] = {}
        for s in self.evidence:
            spans.setdefault(s.hit_index, []).append([s.start, s.end])
        results = [{**h.as_json(), "evidence": spans.get(i, [])} for i, h in enumerate(self.hits)]
        return {"question": self.question, "results": results, "answer": self.answer_text(),
                "abstained": self.abstained, "searched_for": self.searched_for,
                "evidence": [{"citation": s.hit_index + 1, "chunk_id": self.hits[s.hit_index].chunk_id,
                              "text": s.text, "start": s.start, "end": s.end} for s in self.evidence],
                "language": self.language, "relevance": None if self.relevance is None else round(self.relevance, 4),
                "notice": self.notice, "generated": self.generated, "model": self.model, "sentences": self.sentences}


def clean_question(question: str, limit: int) -> tuple[str, str | None]:
    """Strip control characters and outer space; cut an over-long question with a notice."""
    q = _CONTROL.sub(" ", unicodedata.normalize("NFC", question or "")).strip()
    if len(q) > limit:
        return q[:limit], f"The question was cut to its first {limit} characters."
    return q, None


def searched_for(question: str, history: list[str]) -> str:
    """The text to search: the question, plus the previous question when this one leans on it."""
    if not history:
        return question
    prev = history[-1]
    zh = is_chinese(question)
    short = len(question) <= (12 if zh else 40)
    leans = bool(_FOLLOWUP_ZH.search(question) if zh else _FOLLOWUP_EN.search(question))
    if leans or (short and len(query_tokens(question)) <= 3):
        return f"{prev} {question}"
    return question


@dataclass
class Asker:
    """Owns the retriever; reloads the index when a build publishes a new generation."""

    settings: Settings
    retriever: Retriever
    scorer: SentenceScorer
    generation: str
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def open(cls, settings: Settings) -> Asker:
        from .text import load_userdict

        load_userdict(settings.userdict_path())
        stored = storage.load(settings.index)
        embedder = load_embedder(settings.model)
        return cls(settings, Retriever(stored, embedder), SentenceScorer(embedder, sentences=sentence_embedder(embedder)),
                   stored.folder.name)

    def warm(self) -> None:
        """Do once what the first question would otherwise wait for: jieba's dictionary, OpenCC,
        the background vectors, a query embedding and evidence scoring; and map the index's pages in."""
        self.retriever.prefault()
        self.ask("联合国新闻 news")

    def refresh(self) -> bool:
        """Pick up a newer generation if one was published (cheap: one small file read)."""
        gen = storage.current_generation(self.settings.index)
        if gen is None or gen.name == self.generation:
            return False
        with self._lock:
            if gen.name != self.generation:
                stored = storage.load(self.settings.index)
                retriever = Retriever(stored, self.retriever.embedder)
                retriever.prefault()
                self.retriever = retriever
                self.generation = stored.folder.name
        return True

    def ask(self, question: str, history: list[str] | None = None, k: int | None = None,
            mode: str | None = None, filters: Filters | None = None) -> Answer:
        q, notice = clean_question(question, self.settings.max_question_chars)
        lang = "zh" if is_chinese(q) or not q else "en"
        if not q or not query_tokens(q) and not re.search(r"\w", q):
            return Answer(q, "", [], [], True, lang, None, notice)
        query = searched_for(q, [clean_question(h, self.settings.max_question_chars)[0] for h in history or []])
        retriever = self.retriever
        mode = mode or self.settings.mode
        qvec = retriever.embed_query(query) if mode != "keyword" else None
        stats: dict = {}
        hits = retriever.search(query, k or self.settings.k, mode, filters, query_vector=qvec, stats=stats)
        if not hits:
            return Answer(q, query, [], [], True, lang, None, notice, context_used=query != q)
        idf = retriever.index.keywords.idf(query_tokens(query))
        sig = signals(query, qvec, hits, self.scorer if qvec is not None else None, idf, retriever.index,
                      dense_top=stats.get("dense_top"))
        relevance = sig.margin
        ok = in_scope(sig, lang, mode)
        if not ok and query != q:
            ok = self._follow_up_in_scope(q, query[:len(query) - len(q)].strip(), hits, mode, filters)
        if not ok:
            return Answer(q, query, hits, [], True, lang, relevance, notice, context_used=query != q)
        top = hits[:3]
        evidence = select(query, qvec, [h.text for h in top], self.scorer if qvec is not None else None, idf)
        return Answer(q, query, hits, evidence, not evidence, lang, relevance, notice, context_used=query != q)

    def _follow_up_in_scope(self, question: str, previous: str, hits: list[Hit], mode: str,
                            filters: Filters | None) -> bool:
        """A follow-up's joined query has a diluted margin ("那它是哪天通过的？" drags it down). It is in scope
        when the previous question was, and the follow-up's own words occur in the passages found (so
        "那特朗普的关税政策呢？" after an in-scope question still abstains)."""
        idf = self.retriever.index.keywords.idf(query_tokens(question))
        own = max((keyword_overlap(question, h.text, idf) for h in hits[:3]), default=0.0)
        if own < KEYWORD_SUPPORT / 2:
            return False
        qvec = self.retriever.embed_query(previous) if mode != "keyword" else None
        stats: dict = {}
        prev_hits = self.retriever.search(previous, len(hits), mode, filters, query_vector=qvec, stats=stats)
        pidf = self.retriever.index.keywords.idf(query_tokens(previous))
        sig = signals(previous, qvec, prev_hits, self.scorer if qvec is not None else None, pidf,
                      self.retriever.index, dense_top=stats.get("dense_top"))
        return in_scope(sig, "zh" if is_chinese(previous) else "en", mode)
