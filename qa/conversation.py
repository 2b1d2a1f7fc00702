"""Follow-ups decided, not guessed: search a question alone and, when there is history, with its context.

The context is the previous question (and the one before it when the previous leaned on it in turn). What the
previous answer cited is the context's own search's best-quoted passage (`cited_row`: recomputed from the
history, so any server answers the same). With vectors (dense/hybrid), the joined search is kept when the
question alone lands near that passage (benchmarks/followups.py measures the rule on a follow-up set built from
the eval sets, `benchmarks/followups.jsonl`, fitted on its dev half):
  near = the question alone's cosine to the cited passage minus its best passage cosine (0: the cited passage
         is its own top passage; an unrelated question is 0.05-0.2 below)
  joined when near >= NEAR_LEAN for a question that leans on what came before (a pronoun or an opener such as
  "那", "它", "and what about"), near >= NEAR otherwise, and, for a Chinese question, at least COVERAGE_FLOOR of
  its own words occur in the articles (so an off-topic "那特朗普的关税政策呢？" still abstains; COVERAGE_EXACT
  is enough when the question alone lands on the cited passage itself, near >= NEAR_EXACT: a pronoun-heavy
  "那它的铁路网每年有多少乘客?" has few words of its own, and its own search already found what was cited), and the
  joined search is in scope or the question is within FORCE_NEAR of the cited passage: then it is answered
  even though its own relevance score is low, being about a passage the conversation already found (English
  questions over Chinese articles score low: the abstention rule alone turned away most English follow-ups).
A leaning question a little further (NEAR_LOOSE) also follows when it is near in units of its own dense spread
(Z_LOOSE: an English question's cosines to Chinese passages bunch closer than a Chinese one's).
The wording is a prior, never enough alone: a leaning question far from the cited passage is searched alone.
Numbers are hard evidence: a question whose own numbers (a year, an amount) occur in its own top passage but
not in the cited one is about its own passage ("…en 2018…" after a question on another paragraph) and is
searched alone.
Keyword mode (no vectors) keeps the older rule (`choose`): the question's own words found in the joined passages,
and the joined search's keyword support clearly above the question's own.
Cost: up to two extra searches (the joined one and the context's own), each with one query vector.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

from .evidence import KEYWORD_SUPPORT, SentenceScorer, Signals, in_scope, keyword_overlap, select, signals
from .replies import language_of
from .search import Filters, Hit, Retriever
from .text import query_tokens

# Fitted on the dev half of benchmarks/followups.jsonl (benchmarks/followups.py; numbers in benchmarks/README.md).
NEAR = -0.005
NEAR_LEAN = -0.035
COVERAGE_FLOOR = 0.8
NEAR_EXACT = -0.005  # the question alone lands on the cited passage itself (within this of its own best) ...
COVERAGE_EXACT = 0.6  # ... then this share of its own words in the articles is enough
FORCE_NEAR = -1.0  # the joined search is answered although its own score is low only this near (-1: always)
# A leaning question a little further than NEAR_LEAN (within NEAR_LOOSE) still follows up when its nearness is at
# least Z_LOOSE in units of its own top-50 dense spread (cosines bunch differently per language and model; the
# spread is scale-free). benchmarks/followups_scale.py, chosen on the dev half.
NEAR_LOOSE = -0.045
Z_LOOSE = -4.0
# The rule before the cited passage was used (kept for keyword mode and as the benchmark's comparison).
JOIN_MARGIN = 12.0
LEAN_MARGIN = 1.0
OWN_FLOOR = -0.08
OLD_COVERAGE_FLOOR = 0.8
CONTEXT_CHARS = 200  # at most this much earlier text joins the question (the newest end of it)

_LEANS = {
    "zh": re.compile(r"^(那|那么|还有|另外|而且|并且|然后|此外)|它|他们|她们|它们|这个|那个|这些|那些|该|其|此|呢[？?]?$"),
    "ja": re.compile(r"^(では|じゃあ|それで|それから|また)|それ|これ|あれ|その|この|彼|彼女"),
    "ko": re.compile(r"^(그럼|그러면|그리고|또)|그것|이것|그들|그녀|그의"),
    # "that" only as a demonstrative (at the start, after a preposition, a form of be/do, a wh-word or a
    # conjunction: "after that", "was that law"): after a noun or a verb it is a relative pronoun or a
    # complementizer ("the law that passed", "evidence indicates that ...") and refers to nothing earlier
    "en": re.compile(r"^(and|what about|how about|also|then|so)\b|\b(it|its|they|them|their|this|these|those|"
                     r"he|she|his|her)\b|(?:^|\b(?:of|in|on|at|from|to|for|with|by|about|after|before|during|since|"
                     r"is|was|are|were|be|been|did|does|do|and|but|or|what|when|where|why|how|who|which)\s+)that\b",
                     re.I),
    "fr": re.compile(r"^(et|alors|puis|aussi)\b|\b(il|elle|ils|elles|le|la|les|lui|leur|ce|cela|ça)\b", re.I),
    "de": re.compile(r"^(und|dann|also|auch)\b|\b(es|er|sie|ihm|ihr|ihn|dies|diese|dieser|das)\b", re.I),
    "es": re.compile(r"^(y|entonces|también)\b|\b(él|ella|ellos|ellas|lo|la|los|las|le|les|eso|esto)\b", re.I),
    "pt": re.compile(r"^(e|então|também)\b|\b(ele|ela|eles|elas|o|a|os|as|isso|isto|dele|dela)\b", re.I),
    "ru": re.compile(r"^(а|и|тогда|также)\b|\b(он|она|оно|они|его|её|их|это|этот|эта)\b", re.I),
    "ar": re.compile(r"^(و|ثم|إذن)|(هو|هي|هم|ذلك|هذا|هذه)"),
}


def leans(question: str, language: str) -> bool:
    """A prior only: the question's wording suggests it refers to what came before."""
    pattern = _LEANS.get(language, _LEANS["en"])
    return bool(pattern.search(question))


def context_of(history: list[str], language: str) -> str:
    """The earlier text a follow-up is searched with: the previous question, and the one before it when
    the previous one leaned on it too (a chain "A? 那它…? 那它的…?"), newest CONTEXT_CHARS characters."""
    if not history:
        return ""
    parts = [history[-1]]
    if len(history) > 1 and leans(history[-1], language):
        parts.insert(0, history[-2])
    return " ".join(parts)[-CONTEXT_CHARS:].strip()


@dataclass(frozen=True)
class Search:
    """One search and its relevance signals."""

    query: str
    vector: np.ndarray | None
    hits: list[Hit]
    signals: Signals | None  # None when nothing was found
    score: float | None  # the in-scope rule's value (None: keyword mode or nothing found)
    in_scope: bool
    time: object = None  # the question's TimeScope (qa/timeexpr.py) when it names a time
    spread: float | None = None  # standard deviation of its top-50 dense cosines (None: keyword mode)


@dataclass(frozen=True)
class Decision:
    chosen: Search
    context_used: bool
    alone: Search
    joined: Search | None
    reason: str  # why, in a few words (benchmarks and debugging)


def run_search(retriever: Retriever, scorer: SentenceScorer | None, query: str, language: str, k: int, mode: str,
               filters: Filters | None, today=None) -> Search:
    qvec = retriever.embed_query(query) if mode != "keyword" else None
    stats: dict = {}
    hits = retriever.search(query, k, mode, filters, query_vector=qvec, stats=stats, today=today)
    if not hits:
        return Search(query, qvec, [], None, None, False, stats.get("time"), _spread(stats))
    idf = retriever.store.idf(query_tokens(query))
    sig = signals(query, qvec, hits, scorer if qvec is not None else None, idf, retriever.store,
                  dense_top=stats.get("dense_top"))
    score = None if mode == "keyword" else sig.score(language)
    return Search(query, qvec, hits, sig, score, in_scope(sig, language, mode), stats.get("time"), _spread(stats))


def _spread(stats: dict) -> float | None:
    top = stats.get("dense_top")
    return float(np.std(top[:50])) if top is not None and len(top) > 1 else None


def own_relevance(retriever: Retriever, scorer: SentenceScorer | None, alone: Search, joined: Search) -> float | None:
    """How much the question alone relates to the joined search's top passage: its cosine to that passage
    minus its best cosine to the off-topic background (the evidence margin's units). None without vectors."""
    if alone.vector is None or scorer is None or not joined.hits:
        return None
    passage = retriever.store.vectors([joined.hits[0].row])[0]
    return float(passage @ alone.vector) - scorer.background_max(alone.vector)


def _own_words_found(retriever: Retriever, question: str, hits: list[Hit]) -> bool:
    """Keyword mode (no vectors): the question's own words occur in the passages found."""
    idf = retriever.store.idf(query_tokens(question))
    own = max((keyword_overlap(question, h.text, idf) for h in hits[:3]), default=0.0)
    return own >= KEYWORD_SUPPORT / 2


# Question words and the words a follow-up leans with: a small archive may lack them, and they say nothing
# about whether the question's topic is in the articles.
_FUNCTION_ZH = frozenset(
    ["什么", "哪", "哪天", "哪里", "哪儿", "哪个", "哪些", "哪位", "哪年", "哪一年", "谁", "多少", "几", "何时", "为什么", "为何", "怎么", "怎样", "如何", "吗", "呢", "是否", "何", "那", "那么", "还有", "另外", "然后", "此外", "它", "它们", "他", "她", "他们", "她们", "这", "这个", "那个", "这些", "那些", "该", "其", "此"])


def coverage(retriever: Retriever, question: str, language: str) -> float | None:
    """Share of a Chinese question's own words (not its question words or pronouns) that occur anywhere in
    the (mostly Chinese) articles; None for other languages, whose words the keyword side cannot see, and for
    a store without one (Milvus before 2.5)."""
    toks = [t for t in query_tokens(question) if (len(t) > 1 or not t.isascii()) and t not in _FUNCTION_ZH]
    if language != "zh" or not toks or not retriever.store.has_keywords:
        return None
    return retriever.store.coverage(toks)


def own_ok(own: float | None, cover: float | None, own_floor: float = OWN_FLOOR,
           coverage_floor: float = OLD_COVERAGE_FLOOR) -> bool:
    """The question's own words belong to the articles (see the module docstring)."""
    return own is not None and own > own_floor and (cover is None or cover >= coverage_floor)


def _relevance(s: Search) -> float:
    if s.score is not None:
        return s.score
    return s.signals.support if s.signals is not None else 0.0


def choose(alone: Search, joined: Search, leaning: bool, own: bool, mode: str,
           join_margin: float = JOIN_MARGIN, lean_margin: float = LEAN_MARGIN) -> tuple[bool, str]:
    """The rule of the module docstring on two finished searches: (use the joined search?, why).
    `own`: whether the question's own words belong to the articles (`own_ok`; keyword mode: found in the
    joined passages)."""
    if not joined.in_scope:
        return False, "joined out of scope"
    if not alone.in_scope:
        if leaning and own:
            return True, "alone out of scope, joined in scope, the question leans on the context"
        return False, "alone out of scope, and the question does not lean on the context or is unrelated to it"
    margin = lean_margin if leaning else join_margin
    if mode == "keyword":
        margin = 0.1 if leaning else 0.3  # support is a 0..1 share of the question's words
    if _relevance(joined) - _relevance(alone) > margin:
        return True, "joined clearly more relevant"
    return False, "alone in scope"


def cited_row(retriever: Retriever, scorer: SentenceScorer | None, context: Search) -> int | None:
    """What the previous answer cited: the passage of the best-scoring sentence quoted from the context's own
    search (its top passage when nothing is quoted); None when that search found nothing."""
    if not context.hits:
        return None
    best = None
    if context.vector is not None and scorer is not None:
        idf = retriever.store.idf(query_tokens(context.query))
        quoted = select(context.query, context.vector, [h.text for h in context.hits[:3]], scorer, idf)
        best = max(quoted, key=lambda s: s.score, default=None)
    return int(context.hits[best.hit_index if best is not None else 0].row)


def nearness(retriever: Retriever, alone: Search, row: int | None) -> float | None:
    """The question alone's cosine to passage `row` minus its best passage cosine (<= 0 when `row` is among the
    searched passages); None without vectors."""
    best = max((h.dense_score for h in alone.hits if h.dense_score is not None), default=None)
    if alone.vector is None or row is None or best is None:
        return None
    return float(retriever.store.vectors([int(row)])[0] @ alone.vector) - best


def follows(near: float | None, leaning: bool, cover: float | None, near_floor: float = NEAR,
            near_lean: float = NEAR_LEAN, coverage_floor: float = COVERAGE_FLOOR, near_exact: float = NEAR_EXACT,
            coverage_exact: float = COVERAGE_EXACT, spread: float | None = None) -> bool:
    """The rule of the module docstring: the question is about the passage the previous answer cited. `spread`: the
    standard deviation of the question alone's top-50 dense cosines (NEAR_LOOSE / Z_LOOSE)."""
    if near is None:
        return False
    words = cover is None or cover >= coverage_floor or (near >= near_exact and cover >= coverage_exact)
    loose = leaning and bool(spread) and near / spread >= Z_LOOSE and near >= NEAR_LOOSE
    return (near >= (near_lean if leaning else near_floor) or loose) and words


_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def own_numbers(question: str, alone: Search, previous: Search, cited: int | None) -> bool:
    """The question's numbers are all in its own top passage and some are missing from the cited passage
    (which is among the previous question's own hits)."""
    numbers = set(_NUMBER.findall(question))
    if not numbers or cited is None or not alone.hits or int(alone.hits[0].row) == cited:
        return False
    top = alone.hits[0].text
    cited_text = next((h.text for h in previous.hits if int(h.row) == cited), None)
    if cited_text is None:
        return False
    return all(n in top for n in numbers) and any(n not in cited_text for n in numbers)


def decide(retriever: Retriever, scorer: SentenceScorer | None, question: str, language: str, history: list[str],
           k: int, mode: str, filters: Filters | None = None, today=None) -> Decision:
    """Search the question alone and, with history, joined to its context; keep what the signals favour."""
    alone = run_search(retriever, scorer, question, language, k, mode, filters, today)
    context = context_of(history, language)
    if not context or context == question:
        return Decision(alone, False, alone, None, "no history")
    joined = run_search(retriever, scorer, f"{context} {question}", language, k, mode, filters, today)
    leaning = leans(question, language)
    if mode == "keyword" or alone.vector is None:
        own = bool(joined.in_scope and not alone.in_scope and _own_words_found(retriever, question, joined.hits))
        use, reason = choose(alone, joined, leaning, own, mode)
        return Decision(joined if use else alone, use, alone, joined, reason)
    previous = run_search(retriever, scorer, context, language_of(context), k, mode, filters, today)
    cited = cited_row(retriever, scorer, previous)
    near = nearness(retriever, alone, cited)
    if not follows(near, leaning, coverage(retriever, question, language), spread=alone.spread) or \
            not (joined.in_scope or near >= FORCE_NEAR):
        return Decision(alone, False, alone, joined, "the question alone is far from what the previous answer cited")
    if own_numbers(question, alone, previous, cited):
        return Decision(alone, False, alone, joined, "the question's own numbers are in its own passage")
    if not joined.in_scope and joined.hits:
        joined = replace(joined, in_scope=True)  # a follow-up on a passage the conversation already found
    return Decision(joined, True, alone, joined, "the question alone lands near what the previous answer cited")
