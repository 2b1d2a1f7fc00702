"""What a question carries besides its meaning: its script, and its anchors.

- `script`: the writing system of most of its letters. The combined model weighs its parts per script
  (`qa.embedding.QUERY_WEIGHTS`): the two models are not equally good in every language, and a script is
  a cheap, exact stand-in for the language group (Cyrillic, Arabic, Devanagari, Latin, Chinese, other).
- `anchors`: numbers (years, counts, dates) and Latin-script names in a question that is not itself in
  Latin script (or is, over Chinese articles): words that must match literally whatever the language.
  "Qu'a proposé la Chine en 2018 sur l'IA ?" shares nothing with the Chinese article but "2018".
- `searched_literally`: the anchors, and for an English question its words in Chinese (qa/translate.py, from
  CC-CEDICT): xquad-en2zh hybrid MRR@10 .865 -> .886 on the sample of benchmarks/languages.py. The search
  itself (`anchor_scores`) reads them as `literal_groups`: one group per anchor or English word. Only English:
  the dictionary is English-Chinese, and German or Spanish words read as English found wrong passages.

>>> script("Wie viele Punkte?"), script("Сколько очков?"), script("中方反对什么？"), script("2018")
('latin', 'cyrillic', 'zh', 'other')
>>> anchors("Qu'a proposé la Chine en 2018 sur l'IA ?")
('2018', 'ia')
>>> anchors("Какая команда выиграла Super Bowl 50?"), anchors("Which team won the NFL's Super Bowl 50?")
(('super', 'bowl', '50'), ('nfl', '50'))
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np

from .text import fold, is_chinese, query_tokens

_SCRIPTS = {
    "latin": re.compile(r"[A-Za-z\u00c0-\u024f]"),
    "cyrillic": re.compile(r"[\u0400-\u04ff]"),
    "arabic": re.compile(r"[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]"),
    "devanagari": re.compile(r"[\u0900-\u097f]"),
    "greek": re.compile(r"[\u0370-\u03ff]"),
    "thai": re.compile(r"[\u0e00-\u0e7f]"),
    "hangul": re.compile(r"[\uac00-\ud7af\u1100-\u11ff]"),
    "kana": re.compile(r"[\u3040-\u30ff]"),
}
_LATIN_WORD = re.compile(r"[a-z][a-z0-9]*(?:[-'][a-z0-9]+)*")


def script(text: str) -> str:
    """'zh' when the question reads as Chinese (qa.text.is_chinese), else the script with most letters;
    'other' when it has no letters of a known script."""
    if re.search(r"[\u3400-\u9fff]", text) and is_chinese(text) and not _SCRIPTS["kana"].search(text) \
            and not _SCRIPTS["hangul"].search(text):
        return "zh"
    counts = {name: len(p.findall(text)) for name, p in _SCRIPTS.items()}
    best = max(counts, key=counts.get)
    return best if counts[best] else "other"


def anchors(question: str) -> tuple[str, ...]:
    """The question's keyword tokens (qa.text.query_tokens) that must match literally: numbers, and Latin
    words when the question is in another script (or all in capitals: NFL, BBC). None for a Chinese question:
    its keyword side sees every word already. Whether they occur in the articles is the keyword index's
    business (BM25 scores them by their IDF)."""
    kind = script(question)
    if kind == "zh":
        return ()
    caps = {w.lower() for w in re.findall(r"\b[A-Z][A-Z0-9]+\b", unicodedata.normalize("NFKC", question))}
    out = []
    for t in dict.fromkeys(query_tokens(question)):
        if any(c.isdigit() for c in t) or (_LATIN_WORD.fullmatch(t) and len(t) >= 2 and (kind != "latin" or t in caps)):
            out.append(t)
    return tuple(out)


def searched_literally(question: str) -> tuple[str, ...]:
    """The keyword tokens matched literally besides the question's own: its anchors and, for an English
    question, the Chinese words of its English words (qa/translate.py)."""
    toks = list(anchors(question))
    if script(question) == "latin":
        from .replies import language_of
        from .translate import terms

        if language_of(question) == "en":
            toks += [t for word in terms(question) for t in query_tokens(word)]
    return tuple(dict.fromkeys(toks))


def confirmed_literally(question: str, passages: list[str]) -> tuple[str, ...]:
    """The question's literal tokens (`searched_literally`) that occur in one of `passages` (the dense side's
    best): the dictionary gives every sense of a word, the passages the meaning ranks first tell which one the
    articles use (benchmarks/feedback.py)."""
    texts = [fold(p) for p in passages]
    return tuple(t for t in searched_literally(question) if any(t in x for x in texts))


def literal_groups(question: str) -> tuple[tuple[tuple[str, ...], ...], ...]:
    """The literal search as groups of alternatives: each anchor alone, and for an English question each English
    word's Chinese senses (qa/translate.py groups), every sense as its keyword tokens. A group scores by its
    best alternative, so a word with ten senses counts once (xquad-en2zh full set .897 -> .901 with up to ten
    senses; summing them, more senses did not help: benchmarks/feedback.py)."""
    out: list[tuple[tuple[str, ...], ...]] = [((a,),) for a in anchors(question)]
    if script(question) == "latin":
        from .replies import language_of
        from .translate import groups

        if language_of(question) == "en":
            for group in groups(question):
                alts = tuple(dict.fromkeys(tuple(query_tokens(w)) for w in group))
                out.append(tuple(a for a in alts if a))
    return tuple(g for g in out if g)


def anchor_scores(keywords, question: str, allowed=None, n: int = 50) -> dict[int, float]:
    """BM25 top-n of the question's literal search alone (`literal_groups`: each group by its best alternative,
    summed over groups; row -> score > 0); empty when it has none. `keywords` is a store (qa/store:
    `keyword(text, tokens, n, filters)`, `allowed` then being its Filters) or a local keyword index
    (`scores(tokens, mask)`, `allowed` a mask)."""
    found = literal_groups(question)
    if not found:
        return {}
    if hasattr(keywords, "keyword"):
        total: dict[int, float] = {}
        for group in found:
            best: dict[int, float] = {}
            for toks in group:
                for row, s in keywords.keyword(" ".join(toks), list(toks), n, allowed).items():
                    best[row] = max(best.get(row, 0.0), s)
            for row, s in best.items():
                total[row] = total.get(row, 0.0) + s
        return dict(sorted(total.items(), key=lambda x: (-x[1], x[0]))[:n])
    scores = None
    for group in found:
        best_arr = np.max(np.vstack([keywords.scores(list(toks), allowed) for toks in group]), axis=0)
        scores = best_arr if scores is None else scores + best_arr
    if scores is None or not len(scores):
        return {}
    top = np.argpartition(-scores, min(n, len(scores) - 1))[:n]
    return {int(r): float(scores[r]) for r in top if scores[r] > 0}


def keywords_apply(question: str) -> bool:
    """Whether the whole question's keywords can match Chinese articles: not for a question in Latin, Cyrillic,
    Arabic, Devanagari or another non-Han script, whose words are never in them (jieba cuts Cyrillic into single
    letters); its numbers and Latin names still count, as anchors. Japanese keeps its kanji."""
    return script(question) in ("zh", "kana")


_ASKS_NUMBER = re.compile(
    r"\b(how (many|much|long|old|far|large|big|tall)|what (year|percentage|percent|date|number)|when|in which year|"
    r"wie (viele|viel|lange|alt)|wann|cu[aá]nt[oa]s?|cu[aá]ndo|combien|quand|сколько|когда)\b|"
    r"多少|几[个年月天次岁名位]|哪一?年|何时|什么时候|哪天", re.I)


def asks_number(question: str) -> bool:
    """Whether the question asks for a count, amount or time (its answer sentence will hold a digit)."""
    return bool(_ASKS_NUMBER.search(question))
