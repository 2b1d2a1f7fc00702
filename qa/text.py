"""Text normalisation for matching, sentence splitting with spans, and keyword tokens.

Normalisation is for *matching only*: what the user sees stays as written.

>>> fold("ＡＩ換臉，ＧＰＴ－４")
'ai换脸,gpt-4'
>>> [s for s, _, _ in sentences("第一句。第二句！“第三句？”末尾")]
['第一句。', '第二句！', '“第三句？”', '末尾']
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

# A sentence ends at one of these, plus any closing quotes/brackets right after it.
_SENT_END = re.compile(r"[。！？；!?;…]+[”’」』）)\]\"']*|\.(?=\s|$)[”’」』）)\]\"']*")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")
_WORDLIKE = re.compile(r"\w", re.UNICODE)

_lock = threading.Lock()
_converter = None
_jieba = None
_userdict_loaded: set[str] = set()


def _t2s():
    global _converter
    if _converter is None:
        with _lock:
            if _converter is None:
                import opencc

                _converter = opencc.OpenCC("t2s")
    return _converter


def fold(text: str) -> str:
    """Full-width -> half-width, traditional -> simplified, lower case (for matching only)."""
    text = unicodedata.normalize("NFKC", text)
    if _CJK.search(text):
        text = _t2s().convert(text)
    return text.lower()


def sentences(text: str) -> Iterator[tuple[str, int, int]]:
    """Yield (sentence, start, end) with `text[start:end] == sentence`, whitespace trimmed."""
    start = 0
    for m in _SENT_END.finditer(text):
        yield from _trimmed(text, start, m.end())
        start = m.end()
    yield from _trimmed(text, start, len(text))


def _trimmed(text: str, start: int, end: int) -> Iterator[tuple[str, int, int]]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        yield text[start:end], start, end


def is_chinese(text: str) -> bool:
    """True when CJK characters outnumber Latin letters (decides reply language and fusion)."""
    return len(_CJK.findall(text)) >= max(1, len(_LATIN.findall(text)) // 4)


def cjk_ratio(text: str) -> float:
    letters = len(_CJK.findall(text)) + len(_LATIN.findall(text))
    return len(_CJK.findall(text)) / letters if letters else 0.0


def _jieba_module(userdict: Path | None = None):
    global _jieba
    with _lock:
        if _jieba is None:
            import logging

            import jieba

            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
            _jieba = jieba
        if userdict is not None and str(userdict) not in _userdict_loaded:
            _jieba.load_userdict(str(userdict))
            _userdict_loaded.add(str(userdict))
    return _jieba


def load_userdict(path: Path | None) -> None:
    """Teach jieba names it splits wrongly (one word per line, optional frequency and tag)."""
    if path is not None:
        _jieba_module(path)


def tokens(text: str) -> list[str]:
    """Keyword tokens: folded text cut by jieba for search; punctuation and spaces dropped."""
    jieba = _jieba_module()
    return [t for t in jieba.cut_for_search(fold(text)) if _WORDLIKE.search(t)]


@lru_cache(maxsize=4096)
def query_tokens(text: str) -> tuple[str, ...]:
    """`tokens` for a question, cached: the same question costs one segmentation."""
    return tuple(tokens(text))
