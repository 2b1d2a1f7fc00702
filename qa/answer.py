"""Question (+ history) -> Answer: the articles' own sentences with [n] markers, or an honest "not found".

No generative model: the answer is 1-3 evidence sentences quoted from the top passages, each
followed by the marker of the passage it comes from. Whether a follow-up is searched with the earlier
question is decided in qa/conversation.py; the reply then says what was searched. The reply's own words
follow the question's language (qa/replies.py).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass, field

from . import translate
from .config import Settings
from .conversation import decide
from .embedding import load_embedder, sentence_embedder
from .evidence import Sentence, SentenceScorer, select
from .replies import language_of, phrase, preload
from .search import Filters, Hit, Retriever
from .text import query_tokens

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


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
    time_range: str | None = None  # the dates a time expression in the question stood for (qa/timeexpr.py)
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
                "notice": self.notice, "context_used": self.context_used, "time_range": self.time_range,
                "generated": self.generated, "model": self.model, "sentences": self.sentences}


def clean_question(question: str, limit: int) -> tuple[str, bool]:
    """NFC; control characters become spaces; format characters (Unicode Cf: zero-width spaces and joiners,
    BOMs, bidi overrides) are removed, as they only hide words from the search; outer space stripped; then cut
    to `limit` characters. Returns the text and whether it was cut."""
    raw = question if isinstance(question, str) else ""
    q = unicodedata.normalize("NFC", raw[: limit * 2 + 64])  # bounded work however long the input
    q = _CONTROL.sub(" ", q)
    q = "".join(c for c in q if unicodedata.category(c) != "Cf").strip()
    if len(q) > limit or len(raw) > limit * 2 + 64:
        return q[:limit].strip(), True
    return q, False


def clean_history(history: list[str] | None, items: int, limit: int) -> tuple[list[str], bool]:
    """The last `items` non-empty earlier questions, each cleaned and cut to `limit`; and whether any was
    dropped or cut (the search only ever uses the last one or two, but each costs cleaning)."""
    history = list(history or [])
    raw = [h for h in history[-(items * 2):] if isinstance(h, str)]  # a cheap bound before cleaning
    cleaned = [clean_question(h, limit) for h in raw]
    kept = [q for q, _ in cleaned if q]
    cut = len(history) > items * 2 or any(c for _, c in cleaned) or len(kept) > items
    return kept[-items:], cut


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
        from . import store
        from .text import load_userdict

        load_userdict(settings.userdict_path())
        stored = store.load(settings)
        embedder = load_embedder(settings.model)
        retriever = Retriever(stored, embedder)
        return cls(settings, retriever, SentenceScorer(embedder, sentences=sentence_embedder(embedder)),
                   retriever.store.generation())

    def warm(self) -> None:
        """Do once what the first question would otherwise wait for: jieba's dictionary, OpenCC,
        the background vectors, a query embedding and evidence scoring; and map the index's pages in."""
        self.retriever.prefault()
        preload()
        # the CC-CEDICT glosses for English questions take seconds to read: in the background, once
        threading.Thread(target=translate.dictionary, daemon=True, name="qa-glosses").start()
        self.ask("联合国新闻 news")

    def refresh(self) -> bool:
        """Pick up a newer generation if one was published (cheap: one small file read)."""
        from . import store

        gen = store.current(self.settings)
        if gen is None or gen == self.generation:
            return False
        with self._lock:
            if gen != self.generation:
                retriever = Retriever(store.load(self.settings), self.retriever.embedder)
                retriever.prefault()
                self.retriever = retriever
                self.generation = retriever.store.generation()
        return True

    def ask(self, question: str, history: list[str] | None = None, k: int | None = None,
            mode: str | None = None, filters: Filters | None = None) -> Answer:
        st = self.settings
        q, cut = clean_question(question, st.max_question_chars)
        lang = language_of(q)
        notices = [phrase("question_cut", lang, limit=st.max_question_chars)] if cut else []
        earlier, history_cut = clean_history(history, st.max_history_items, st.max_history_chars)
        if history_cut:
            notices.append(phrase("history_cut", lang, count=st.max_history_items, limit=st.max_history_chars))
        notice = " ".join(notices) or None
        if not q or not query_tokens(q) and not re.search(r"\w", q):
            return Answer(q, q, [], [], True, lang, None, notice)
        mode = mode or st.mode
        decision = decide(self.retriever, self.scorer, q, lang, earlier, k or st.k, mode, filters,
                          today=st.today_date())
        chosen, used = decision.chosen, decision.context_used
        shown = chosen.query if used else q
        when = chosen.time.label() if chosen.time is not None else None  # a time the question named
        if when:
            shown = f"{shown} ({when})"
        relevance = chosen.signals.margin if chosen.signals is not None else None
        if not chosen.hits or not chosen.in_scope:
            return Answer(q, shown, chosen.hits, [], True, lang, relevance, notice,
                          context_used=used, time_range=when)
        idf = self.retriever.store.idf(query_tokens(chosen.query))
        qvec = chosen.vector
        evidence = select(chosen.query, qvec, [h.text for h in chosen.hits[:3]],
                          self.scorer if qvec is not None else None, idf)
        return Answer(q, shown, chosen.hits, evidence, not evidence, lang, relevance, notice,
                          context_used=used, time_range=when)
