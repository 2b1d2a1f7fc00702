"""Does a Chinese word sound like a Latin-script name? Transliterated names (Eugene Fama = 尤金·法马, Hadrian = 哈德良,
Kawann Short = 卡万·肖特) are where the sentence model is weakest (cosine 0.39-0.49, no better than a wrong name),
while their sounds agree: both sides are reduced to a skeleton of consonant classes (vowels dropped, b/p, d/t, g/k,
l/r, s/z/x, j/q/zh/ch, f/v/w merged, as transliteration merges them: v is 维/瓦/文 as often as 夫/弗), the Chinese
side through its pinyin (pypinyin), and compared with difflib's ratio. A name's generic head is translated while
its specific part is transliterated (Saffir-Simpson Scale = 萨福尔-辛普森等级, Mississippi River = 密西西比河), so
the specific part alone is compared too (`specific`).

    >>> key_en("Eugene Fama"), key_zh("尤金·法马")
    ('JNFM', 'JNFM')
    >>> round(score("Hadrian", ["哈德良"]), 2), round(score("Dallas", ["威尔"]), 2)
    (1.0, 0.25)
    >>> specific("Saffir-Simpson Scale"), specific("Brookhaven")
    ('Saffir-Simpson', 'Brookhaven')

Skeletons shorter than MIN_KEY score 0: two or three consonants match some word of any passage by chance. So a
second skeleton keeps the vowels too (three classes: a, e/i/y, o/u; pinyin medials dropped, xiao -> xao), which gives
a short name enough to compare (Manning = 曼宁: MNG alone is too short, MaNiN is not); a name's score is the better
of the two (benchmarks/grounding_names.py).

    >>> vowel_keys("Manning"), vowel_key_zh("曼宁")
    ({'MaNiN'}, 'MaNiN')
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher
from functools import lru_cache

MIN_KEY = 4
_EN_GROUPS = [("sch", "S"), ("sh", "S"), ("ch", "J"), ("ph", "F"), ("th", "D"), ("ck", "G"), ("qu", "GW"), ("x", "GS"),
              ("ge", "Je"), ("gi", "Ji"), ("gy", "Jy"), ("ce", "Se"), ("ci", "Si"), ("cy", "Sy")]
_PINYIN_GROUPS = [("zh", "J"), ("ch", "J"), ("sh", "S"), ("ng", "N"), ("j", "J"), ("q", "J"), ("x", "S"), ("z", "S"),
                  ("c", "S"), ("s", "S"), ("r", "L")]
_CLASS = {"b": "B", "p": "B", "d": "D", "t": "D", "g": "G", "k": "G", "c": "G", "q": "G", "j": "J", "z": "S", "s": "S",
          "f": "F", "v": "F", "w": "F", "l": "L", "r": "L", "m": "M", "n": "N", "h": "H"}
_HAN = re.compile(r"[\u4e00-\u9fff]")


# Heads that a Chinese rendering translates rather than transliterates (河, 大学, 等级, 理论).
_GENERIC_WORDS = """Scale Theory River University College School Institute Academy Street Road Avenue Boulevard
Square Park Bridge Lake Mountain Mountains Island Islands Bay Sea Ocean Valley Desert Forest Basin Canal County City
State Province Republic Kingdom Empire Dynasty Church Cathedral Temple Palace Castle Tower Museum Gallery Library
Hospital Theatre Theater Stadium Station Airport Hall House Building Center Centre Company Corporation Group
Association Society Club League Cup Award Awards Prize Act Law Treaty Party War Council Committee Commission Agency
Department Ministry Court Army Navy Festival Games"""
_GENERIC = frozenset(_GENERIC_WORDS.split())


def specific(name: str) -> str:
    """The name without its generic head words (the part a transliteration renders by sound)."""
    words = [w for w in name.split() if w.strip(".,") not in _GENERIC]
    return " ".join(words) or name


def _skeleton(s: str, classes: dict[str, str] | None = None) -> str:
    classes = _CLASS if classes is None else classes
    out: list[str] = []
    for ch in s:
        c = ch if ch.isupper() else classes.get(ch, "")
        if c and (not out or out[-1] != c):
            out.append(c)
    return "".join(out)


def key_en(name: str, coda_r: bool = True) -> str:
    s = re.sub(r"[^a-z]", "", name.lower())
    s = re.sub(r"m(?![aeiouy])", "n", s)  # a Chinese syllable ends in n, never m: Simpson 辛普森, Abraham 亚伯拉罕
    if not coda_r:  # an r closing a syllable is mostly not written: Percy 珀西, Pittard 皮塔德 (but Carl 卡尔)
        s = re.sub(r"(?<=[aeiouy])r+(?![aeiouy])", "", s)
    for a, b in _EN_GROUPS:
        s = s.replace(a, b)
    return _skeleton(s)


def keys_en(name: str) -> set[str]:
    """The name's skeletons with and without its syllable-final r's."""
    return {key_en(name), key_en(name, coda_r=False)}


@lru_cache(maxsize=65536)
def key_zh(text: str) -> str:
    try:
        from pypinyin import Style, lazy_pinyin
    except ImportError:  # without pypinyin nothing sounds alike: the vectors alone decide
        return ""
    syllables = []
    for syl in lazy_pinyin("".join(_HAN.findall(text)), style=Style.NORMAL):
        syl = "r" if syl == "er" else syl  # 尔 in transliterations is an r/l
        for a, b in _PINYIN_GROUPS:
            syl = syl.replace(a, b)
        syllables.append(syl)
    return _skeleton("".join(syllables))


def score(name: str, words: list[str], vowels: bool = True) -> float:
    """The best ratio between the name's skeleton and any of `words`' (Chinese words or runs of words); with
    `vowels`, the better of that and the vowel skeletons' (`vowel_score`)."""
    names = {name, specific(name)}
    best = max(_score(key, words) for n in names for key in keys_en(n))
    return max(best, vowel_score(name, words)) if vowels else best


# The vowel skeleton: vowels in three classes beside the consonant classes.
_VOWEL_CLASS = {**_CLASS, "a": "a", "e": "i", "i": "i", "y": "i", "o": "u", "u": "u"}
_VOWEL_EN = [("sch", "S"), ("sh", "S"), ("ch", "J"), ("ph", "F"), ("th", "D"), ("ck", "G"), ("qu", "GW"),
             ("x", "GS"), ("ng", "N"), ("ce", "Se"), ("ci", "Si"), ("cy", "Sy")]
_MEDIAL = re.compile(r"^([a-z]*?)[iu](?=[aeo])")  # the i of xiao, the u of guo: rarely written in English


def _vowel_skeleton(s: str) -> str:
    return _skeleton(s, _VOWEL_CLASS)


def vowel_keys(name: str) -> set[str]:
    """The name's vowel skeletons, with and without its syllable-final r's."""
    s = re.sub(r"[^a-z]", "", name.lower())
    s = re.sub(r"m(?![aeiouy])", "n", s)
    out = set()
    for t in (s, re.sub(r"(?<=[aeiouy])r+(?![aeiouy])", "", s)):
        t = re.sub(r"e$", "", t) if len(t) > 3 else t  # a silent final e
        for a, b in _VOWEL_EN:
            t = t.replace(a, b)
        out.add(_vowel_skeleton(t))
    return out


@lru_cache(maxsize=65536)
def vowel_key_zh(text: str) -> str:
    try:
        from pypinyin import Style, lazy_pinyin
    except ImportError:
        return ""
    syllables = []
    for syl in lazy_pinyin("".join(_HAN.findall(text)), style=Style.NORMAL):
        syl = "r" if syl == "er" else _MEDIAL.sub(r"\1", syl)
        for a, b in _PINYIN_GROUPS:
            syl = syl.replace(a, b)
        syllables.append(syl)
    return _vowel_skeleton("".join(syllables))


def vowel_score(name: str, words: list[str]) -> float:
    """The best ratio between the name's vowel skeletons and `words`' (skeletons under MIN_KEY score 0)."""
    keys = {key for n in {name, specific(name)} for key in vowel_keys(n)}
    return _best(keys, {vowel_key_zh(w) for w in words if _HAN.search(w)})


def _score(key: str, words: list[str]) -> float:
    return _best({key}, {key_zh(w) for w in words if _HAN.search(w)})


def _best(keys: set[str], skeletons: set[str]) -> float:
    """The best difflib ratio between any of `keys` (MIN_KEY classes or more) and any of `skeletons`."""
    best = 0.0
    m = SequenceMatcher(None, autojunk=False)
    for key in keys:
        if len(key) < MIN_KEY:
            continue
        m.set_seq2(key)
        for k in skeletons:
            if k and abs(len(k) - len(key)) <= len(key):
                m.set_seq1(k)
                if m.quick_ratio() > best:
                    best = max(best, m.ratio())
    return best
