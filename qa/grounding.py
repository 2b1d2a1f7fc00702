"""Check a written answer sentence by sentence against the passages it cites.

    >>> [(c.text, c.citations, c.invalid) for c in claims("决议于7月1日通过。[1]它得到支持[2][9]。", 2)]
    [('决议于7月1日通过。', (1,), ()), ('它得到支持。', (2,), (9,))]

A sentence is supported when all of these hold:
  1. it carries at least one marker [n] of a passage that was given (markers naming no passage are dropped);
  2. its facts occur in the passages it cites: every number (Arabic, Chinese or English words, with 万/亿/
     million scales, dates included) and every name (jieba's person/place/organisation tags in Chinese; Latin
     acronyms and alphanumerics in any language; capitalised words when the cited passage is Latin script;
     capitalised phrases of a Latin sentence over Chinese passages matched across scripts, qa/crossnames.py,
     at NAME_SIMILARITY), except names and numbers the asker's question already holds; each number in a cited
     sentence within NEAR of the best one (a passage holds many numbers);
  3. it means what a cited passage says: the best cosine between the sentence and the cited passages' sentences
     (one or two in a row) reaches SIMILARITY for its language pair, with the sentence model the answer path uses
     (qa.embedding.sentence_embedder: use-m3 in the default model, cross-lingual);
  4. no uncited passage given with it fits it clearly better (MISCITED): a sentence copied from [2] and marked [1]; a
     passage lacking the sentence's numbers or names is no such rival.
The thresholds come from benchmarks/grounding_fit.py over benchmarks/grounding.py's labelled sentences from the eval
sets (benchmarks/README.md).
The cited passages' sentences that support a kept sentence are returned as spans for the cards' highlights.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from .text import cjk_ratio, fold, sentences

# Fitted by benchmarks/grounding_fit.py on half the labelled sentences of benchmarks/grounding.py, with a flag budget
# chosen by cross-validation inside that half (tables in benchmarks/README.md). The similarity
# values are floors kept against invented sentences with no number or name (the fit would go lower: numbers, names
# and the rival rule catch the measured cases); the fit chooses the other thresholds with these floors in place.
SIMILARITY = {"same": 0.30, "cross": 0.20}  # sentence vs its best cited passage sentence(s)
# A number must be in a cited sentence (or pair) whose similarity to the claim is within this of the best one: a
# passage holds many numbers, and a changed year often lands on another year of the same passage.
NEAR = {"same": 0.20, "cross": 0.10}
MISCITED = {"same": 0.16, "cross": 0.10}  # an uncited given passage beats the cited ones by this much: miscited
# A Latin-script name in a sentence over Chinese passages must match a word or run of words of a cited passage
# at least this well (qa/crossnames.py; literal occurrences score 1).
NAME_SIMILARITY = {"same": -1.0, "cross": 0.50}
# ... or sound like one at least this well (qa/soundalike.py: consonant skeletons, 尤金·法马 for Eugene Fama).
SOUNDALIKE = {"same": 9.0, "cross": 0.9}
# The rival rule (MISCITED) counts only a rival passage that holds the sentence's numbers and names too, its names
# matched at least this nearly as well as in the cited passages: a passage of the same article that says much the
# same but lacks the name the sentence gives is no better source for it.
RIVAL_HOLDS_SLACK = 0.05
# A cited passage is Latin script (its capitalised words looked up literally) when fewer than this share of its letters
# are Chinese: a Chinese passage quoting Internet2, Qwest and Level 3 Communications is 47 % Chinese by letter count,
# as a Latin letter carries far less than a Chinese character, and writes United States as 美国.
LATIN_PASSAGE = 0.2

_MARKER = re.compile(r"\s*[\[【［]\s*(\d{1,3}(?:\s*[,，、]\s*\d{1,3})*)\s*[\]】］]")
_WORD = re.compile(r"\w")
_INITIAL = re.compile(r"(?:^|\s)(?:(?:[A-Z]\.)*[A-Z]|Mr|Mrs|Ms|Dr|St|Jr|No|U\.S|al|vs|e\.g|i\.e|approx|ca|Rev|Prof|"
                      r"Gen|Gov|Sen|Rep|Col|Capt|Lt|Sgt|Mt|Ft|Fr)\.$")
# A question or exclamation quoted inside a sentence: the splitter ends a sentence at ?" / !", but a piece
# opening with a lower-case Latin letter after one goes on the sentence before ('He asked "Why?" and left.').
_QUOTED_END = re.compile(r"[?!？！][\"'”’)）]*$")
_CONTINUES = re.compile(r"^[\"'“‘(]*[a-z]")
# A Latin full stop followed by a lower-case word is an abbreviation, not a sentence end ("the y. pestis reached",
# "approx. five"): an English sentence opens with a capital.
_LATIN_STOP = re.compile(r"[A-Za-z]\.[\"'”’)）]*$")
_ARABIC = re.compile(r"\d+(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")
_CN_NUM = re.compile(r"[零〇一二两三四五六七八九十百千万亿]+")
_CN_UNIT = re.compile(r"^\s*([万亿]|百万|千万)")
_EN_SCALE = re.compile(r"^\s*(thousand|million|billion|trillion)\b", re.I)
_CLASSIFIER = set("次个名位人年月日天岁倍项家条件届所座场分秒支队枚只")
_EN_WORDS = {w: i for i, w in enumerate(["zero", "_", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"])}
_MONTHS = {m: i for i, m in enumerate(["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"], 1)}
_SCALES = {"万": 1e4, "亿": 1e8, "百万": 1e6, "千万": 1e7, "thousand": 1e3, "million": 1e6, "billion": 1e9,
           "trillion": 1e12}
_LATIN_NAME = re.compile(r"(?<![A-Za-z\d])(?:[A-Z]{2,}[A-Za-z]*|[A-Za-z]+-?\d+[A-Za-z\d]*)(?![A-Za-z\d])")
_CAPITAL = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]{2,}\b")
_NAME_FLAGS = {"nr", "nrt", "nrfg", "ns", "nt"}


@dataclass(frozen=True)
class Claim:
    text: str  # the sentence without its markers
    citations: tuple[int, ...]  # valid markers, 1-based, in order
    invalid: tuple[int, ...] = ()  # markers naming no given passage (removed)


@dataclass(frozen=True)
class Verdict:
    text: str
    citations: tuple[int, ...]
    supported: bool
    reason: str | None  # why not, one short phrase
    similarity: float
    rival: float = 0.0  # best uncited given passage's similarity minus `similarity` (rule 4)
    spans: tuple[tuple[int, int, int], ...] = ()  # (passage index 0-based, start, end) supporting it
    name_support: float = 1.0  # the weakest Latin name's best match in the cited Chinese passages (rule 2)
    names: tuple[tuple[str, float, float], ...] = ()  # each such name: (name, cosine, sound-alike score)
    number_gap: float = 0.0  # how far below `similarity` the best cited sentence holding its farthest number is
    rival_holds: bool = True  # the best uncited passage holds the sentence's numbers and names too (rule 4)

    def display(self) -> str:
        """The sentence with its markers after it, as the answer shows it."""
        return self.text + "".join(f"[{n}]" for n in self.citations)

    def as_json(self) -> dict:
        return {"text": self.text, "citations": list(self.citations), "supported": self.supported}


def claims(answer: str, n_passages: int) -> list[Claim]:
    """Split a written answer into sentences, each with the markers that follow (or sit inside) it."""
    plain, marks = [], []  # text without markers; (position in plain text, numbers)
    pos = 0
    for m in _MARKER.finditer(answer):
        plain.append(answer[pos:m.start()])
        nums = [int(x) for x in re.split(r"\s*[,，、]\s*", m.group(1))]
        marks.append((sum(map(len, plain)), nums))
        pos = m.end()
        if answer[m.start() - 1:m.start()] in (".", "!", "?") and answer[pos:pos + 1].isalnum():
            plain.append(" ")  # "July 1.[1]The ..." is two sentences once the marker is gone
    plain.append(answer[pos:])
    text = "".join(plain)
    spans = [(s, a, b) for s, a, b in sentences(text)]
    out: list[list] = []
    for s, a, _ in spans:
        if out and (_INITIAL.search(out[-1][0])  # "Y. pestis", "Mr. Li": not a sentence end
                    or (_QUOTED_END.search(out[-1][0]) or _LATIN_STOP.search(out[-1][0])) and _CONTINUES.match(s)):
            out[-1][0] += " " + s
        elif _WORD.search(s) or not out:
            out.append([s, a, []])
        else:  # lone punctuation: part of the sentence before
            out[-1][0] += s
    for p, nums in marks:
        owner = next((o for o in reversed(out) if o[1] < p), out[0] if out else None)
        if owner is not None:
            owner[2].extend(nums)
    result = []
    for s, _, nums in out:
        if not _WORD.search(s):
            continue
        nums = list(dict.fromkeys(nums))
        result.append(Claim(s.strip(), tuple(n for n in nums if 1 <= n <= n_passages),
                            tuple(n for n in nums if not 1 <= n <= n_passages)))
    return result


def _cn_value(s: str) -> float | None:
    digits = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
    units = {"十": 10, "百": 100, "千": 1000}
    total, section, num = 0.0, 0.0, None
    for ch in s:
        if ch in digits:
            num = digits[ch] if num is None else num * 10 + digits[ch]  # "二〇二四" reads as digits
        elif ch in units:
            section += (1 if num is None else num) * units[ch]
            num = None
        elif ch in ("万", "亿"):
            total = (total + section + (num or 0)) * _SCALES[ch]
            section, num = 0.0, None
    value = total + section + (num or 0)
    return value if value or "零" in s or "〇" in s else None


def numbers(text: str, strict: bool = False) -> set[float]:
    """Numeric values in a text: Arabic, Chinese numerals, English number words, month names before a day,
    each also times a following scale (150万 -> 150 and 1,500,000). `strict` (the sentence side) reads a
    Chinese numeral only when it is 2+ characters or followed by a classifier: "统一" is not the number 1."""
    return set().union(*mentions(text, strict))


def mentions(text: str, strict: bool = False) -> list[list[float]]:
    """Each number written in a text, as the values it may stand for (the one written first): "66 million" is {66, 66,000,000} and is
    found in a passage holding either (6600万 reads as 6600 and 66,000,000)."""
    out: list[list[float]] = []
    t = fold(text)
    for m in _ARABIC.finditer(t):
        v = float(m.group(0).replace(",", ""))
        values = [v]
        if t[m.end():m.end() + 1] == "s" and len(m.group(0)) == 4:  # the 1990s = 90年代
            values.append(v % 100)
        rest = t[m.end():]
        unit = _CN_UNIT.match(rest) or _EN_SCALE.match(rest)
        if unit:
            values.append(v * _SCALES[unit.group(1).lower()])
        out.append(values)
    for m in _CN_NUM.finditer(t):
        run = m.group(0)
        if strict and len(run) < 2 and t[m.end():m.end() + 1] not in _CLASSIFIER:
            continue
        if run in ("万", "亿", "千万", "百万") or (strict and run in ("万一",)):
            continue
        v = _cn_value(run)
        if v is not None:
            values = [v]
            if run[-1] in "万亿" and run[:-1]:
                base = _cn_value(run[:-1])
                if base is not None:
                    values.append(base)
            out.append(values)
    for m in re.finditer(r"\b([a-z]+)\b", t):
        w = m.group(1)
        if w in _EN_WORDS and _EN_WORDS[w] >= 3:  # "one of", "two of" are idiom more often than a count
            scale = _EN_SCALE.match(t[m.end():])
            out.append([float(_EN_WORDS[w])] + ([_EN_WORDS[w] * _SCALES[scale.group(1).lower()]] if scale else []))
        elif w in _MONTHS and re.match(r"\s*\d", t[m.end():]) or w in _MONTHS and re.search(r"\d\s*$", t[:m.start()]):
            out.append([float(_MONTHS[w])])
    return out


def names(text: str, latin_passage: bool, cross: bool = False) -> list[str]:
    """Names the cited passage must contain (folded): see the module docstring, rule 2. Across languages only
    Latin names with digits (GPT-4, G20, COVID-19) are looked for: "UK" becomes 英国, and a lower-case word with
    digits is translated ("oxygen-18" is 氧-18; its digits are still checked as a number)."""
    found = [m.group(0) for m in _LATIN_NAME.finditer(text)
             if not cross or re.search(r"\d", m.group(0)) and not re.match(r"[a-z]{3,}-?\d", m.group(0))]
    if latin_passage:
        found += [m.group(0) for m in _CAPITAL.finditer(text)]
    if cjk_ratio(text) > 0:
        from .text import _jieba_module

        _jieba_module()
        import jieba.posseg as pseg

        found += [w.word for w in pseg.lcut(text) if w.flag in _NAME_FLAGS and len(w.word) >= 2]
    return list(dict.fromkeys(fold(n) for n in found))


def _units(passage: str) -> list[tuple[str, int, int]]:
    """A passage's sentences and each pair of neighbours (a claim may join two)."""
    sents = [(s, a, b) for s, a, b in sentences(passage) if _WORD.search(s)]
    pairs = [(passage[a:d], a, d) for (_, a, _), (_, _, d) in zip(sents, sents[1:])]
    return sents + pairs or [(passage, 0, len(passage))]


class _Vectors:
    """Sentence vectors by (model, text), a bounded LRU behind a lock: the same passages come back question after
    question, and the page's askers run on several threads."""

    def __init__(self, capacity: int = 20000) -> None:
        self._data: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._capacity = capacity

    def __call__(self, model, texts: list[str]) -> np.ndarray:
        name = getattr(model, "name", str(id(model)))
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if (name, t) not in self._data]
        fresh = dict(zip(missing, model.embed_documents(missing))) if missing else {}
        with self._lock:
            for t, v in fresh.items():
                self._data[(name, t)] = v
            while len(self._data) > self._capacity:
                self._data.popitem(last=False)
            return np.stack([fresh[t] if t in fresh else self._data[(name, t)] for t in texts])


vectors = _Vectors()


def check(answer: str, passages: list[str], model, refuse: tuple[str, ...] = (), asked: str = "") -> list[Verdict]:
    """Verdicts for every sentence of `answer` against `passages` ([1] is passages[0]). `model` embeds sentences
    (documents side; normalised vectors). A sentence holding any of `refuse` (e.g. lines of the system prompt,
    folded) is unsupported whatever it cites."""
    cs = claims(answer, len(passages))
    if not cs:
        return []
    units = [_units(p) for p in passages]
    texts = [c.text for c in cs] + [u for us in units for u, _, _ in us]
    vecs = vectors(model, texts)
    cvecs, rest = vecs[:len(cs)], vecs[len(cs):]
    uvecs, at = [], 0
    for us in units:
        uvecs.append(rest[at:at + len(us)])
        at += len(us)
    folded = [fold(p) for p in passages]
    nums = [numbers(p) for p in passages]
    out = []
    for c, v in zip(cs, cvecs):
        best = [float((u @ v).max()) if len(u) else 0.0 for u in uvecs]
        out.append(_verdict(c, v, best, passages, folded, nums, units, uvecs, refuse, model, fold(asked)))
    return out


def _verdict(c: Claim, v: np.ndarray, best: list[float], passages: list[str], folded: list[str],
             nums: list[set[float]], units, uvecs, refuse: tuple[str, ...], model, asked: str) -> Verdict:
    cited = [n - 1 for n in c.citations]
    sim = max((best[i] for i in cited), default=0.0)

    others = [best[i] for i in range(len(passages)) if i not in cited]
    rival = max(others) - sim if others and cited else 0.0

    def no(reason: str) -> Verdict:
        return Verdict(c.text, c.citations, False, reason, sim, rival, name_support=name_support, names=matched,
                       number_gap=gap, rival_holds=holds)

    name_support, matched, gap, holds = 1.0, (), 0.0, True  # rebound below as the rules measure them

    if not cited:
        return no("cites no given passage")
    fc = fold(c.text)
    if any(r and r in fc for r in refuse):
        return no("repeats the instructions")
    latin = max(cjk_ratio(passages[i]) for i in cited) < LATIN_PASSAGE
    same = (cjk_ratio(c.text) >= 0.5) == (not latin)
    pair = "same" if same else "cross"
    have = set().union(*(nums[i] for i in cited))
    held = numbers(asked)  # numbers of the asker's question are the asker's premise, not the model's claim
    scored: list[tuple[float, set[float]]] = []  # (similarity to the claim, numbers) of each cited sentence or pair
    checked: list[list[float]] = []  # the sentence's own numbers (not the asker's)
    for values in mentions(c.text, strict=True):
        if any(value in held for value in values):
            continue
        checked.append(values)
        if not any(_same_number(value, h) for value in values for h in have):
            return no(f"number {values[0]:g} is not in {_marks(cited)}")
        if not scored:
            scored = [(float(uvecs[i][j] @ v), numbers(units[i][j][0])) for i in cited for j in range(len(units[i]))]
        # the numbers of the sentences it is closest to, not of the whole passage (a passage has many)
        holding = max((s for s, ns in scored if any(_same_number(x, h) for x in values for h in ns)), default=-1.0)
        gap = max(gap, sim - holding)
        if gap > NEAR[pair]:
            return no(f"number {values[0]:g} is not in {_marks(cited)} near what it says")
    literal = names(c.text, latin, cross=not same)
    for name in literal:
        if not any(name in folded[i] for i in cited):
            return no(f"{name!r} is not in {_marks(cited)}")
    found: list = []
    rival_at = int(np.argmax([best[i] if i not in cited else -9 for i in range(len(passages))])) if others else -1
    if not same and not latin:  # Latin names over Chinese passages: matched across the script gap
        from . import crossnames

        new = [n for n in crossnames.phrases(c.text)  # the asker's own names are not the model's claims
               if not re.search(rf"(?<!\w){re.escape(fold(n))}(?!\w)", asked)]
        found = crossnames.support(new, [passages[i] for i in cited], model, vectors)
        if new and rival_at >= 0 and rival > -RIVAL_HOLDS_SLACK:  # the rival passage's hold on the same names
            theirs = crossnames.support(new, [passages[rival_at]], model, vectors)
            holds = all(t[1] >= f[1] - RIVAL_HOLDS_SLACK for t, f in zip(theirs, found))
        matched = tuple((n, score, sound) for n, score, _, sound in found)
        if found:  # a name that sounds like a word of the passage is there whatever its vectors say
            weakest = min(found, key=lambda f: 1.0 if f[3] >= SOUNDALIKE[pair] else f[1])
            name_support = 1.0 if weakest[3] >= SOUNDALIKE[pair] else weakest[1]
            if name_support < NAME_SIMILARITY[pair]:
                return no(f"{weakest[0]!r} is not in {_marks(cited)} (closest {weakest[2]!r}, {name_support:.2f})")
    if sim < SIMILARITY[pair]:
        return no(f"{_marks(cited)} does not say this (similarity {sim:.2f})")
    if rival_at >= 0:  # a passage lacking the sentence's numbers or names does not say it better
        holds = holds and all(any(_same_number(x, h) for x in values for h in nums[rival_at]) for values in checked)
        holds = holds and all(name in folded[rival_at] for name in literal)
    if rival > MISCITED[pair] and holds:
        return no(f"passage [{rival_at + 1}] says this, not {_marks(cited)}")
    spans = []
    for i in cited:
        scores = uvecs[i] @ v
        j = int(np.argmax(scores))
        if scores[j] >= sim - 0.05:
            _, a, b = units[i][j]
            spans.append((i, a, b))
    return Verdict(c.text, c.citations, True, None, sim, rival, tuple(spans), name_support, matched, gap, holds)


def _same_number(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(b))


def _marks(indexes: list[int]) -> str:
    return "".join(f"[{i + 1}]" for i in indexes)
