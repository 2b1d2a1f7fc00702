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

import numpy as np

from .errors import ArticleError, SeedsError
from .seedfiles import MAX_USERDICT_BYTES, decode, read_capped

# A sentence ends at one of these, plus any closing quotes/brackets right after it.
_SENT_END = re.compile(r"[。！？；!?;…]+[”’」』）)\]\"']*|\.(?=\s|$)[”’」』）)\]\"']*")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")
_WORDLIKE = re.compile(r"\w", re.UNICODE)

_lock = threading.Lock()
_converter = None
_t2s_changes: frozenset[str] | None = None  # every character of a t2s dictionary key that maps to something else
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


def _changing_chars(converter) -> frozenset[str]:
    """A set holding at least one character of every t2s dictionary key that maps to something else.

    Such an entry can only match a text that contains all of its key, so a text with none of these
    characters converts to itself (every possible match is an identity entry): the slow pure-Python
    conversion is skipped exactly. Single traditional characters go in first; a phrase adds one of its
    own characters only when none is there yet. Empty set = unknown dictionary layout: convert every text.
    """
    entries: list[tuple[str, str]] = []

    def walk(item) -> None:
        if isinstance(item, list):
            for sub in item:
                walk(sub)
        elif isinstance(item, tuple) and len(item) == 3 and isinstance(item[2], dict):
            entries.extend((k, v) for k, v in item[2].items() if k != v)
        else:
            raise TypeError(type(item))

    try:
        converter.convert("")  # loads the dictionaries
        walk(converter._dict_chain_data)
    except Exception:  # noqa: BLE001 - another opencc build: fall back to converting every text
        return frozenset()
    chars = {k for k, _ in entries if len(k) == 1}
    for k, v in entries:
        if len(k) > 1 and chars.isdisjoint(k):
            first = v.split(" ")[0]
            differing = [a for a, b in zip(k, first) if a != b] if len(first) == len(k) else []
            chars.add(differing[0] if differing else k[-1])
    return frozenset(chars)


def fold(text: str) -> str:
    """Full-width -> half-width, traditional -> simplified, lower case (for matching only)."""
    global _t2s_changes
    text = unicodedata.normalize("NFKC", text)
    if _CJK.search(text):
        converter = _t2s()
        if _t2s_changes is None:
            _t2s_changes = _changing_chars(converter)
        if not _t2s_changes or not _t2s_changes.isdisjoint(text):
            text = converter.convert(text)
    return text.lower()


MIN_SENTENCE = 4  # characters: shorter pieces ("对。", "一、") are not quoted or scored as sentences of their own


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
            import io

            try:
                _jieba.load_userdict(io.StringIO(userdict_text(userdict)))
            except ValueError as e:  # a frequency too long to be a number, and the like
                raise SeedsError(f"{userdict}: not a jieba user dictionary ({e}): one word per line, "
                                 "optionally followed by a frequency and a tag") from None
            _userdict_loaded.add(str(userdict))
    return _jieba


def read_userdict(path: Path) -> bytes:
    """The user dictionary's bytes, read as a capped regular file (never a FIFO or a device). A link is
    followed: the user named this file (QA_USERDICT) or put it in the seeds folder."""
    import os

    try:
        return read_capped(Path(os.path.realpath(path)), limit=MAX_USERDICT_BYTES, what="a user dictionary")
    except ArticleError as e:
        raise SeedsError(f"user dictionary {e}") from None


def userdict_text(path: Path) -> str:
    """The user dictionary decoded like an article (UTF-8, UTF-16 with BOM, GB18030/GBK). Anything
    else raises `SeedsError`: one line naming the file and the fix, in `qa build`, `qa ask` and the app."""
    try:
        return decode(read_userdict(path), path)
    except ArticleError as e:
        raise SeedsError(f"user dictionary {e}") from None


def load_userdict(path: Path | None) -> None:
    """Teach jieba names it splits wrongly (one word per line, optional frequency and tag)."""
    if path is not None:
        _jieba_module(path)


def tokens(text: str) -> list[str]:
    """Keyword tokens: folded text cut by jieba for search; punctuation and spaces dropped."""
    jieba = _jieba_module()
    return [t for t in jieba.cut_for_search(fold(text)) if _WORDLIKE.search(t)]


def tokens_many(texts: list[str], progress=None) -> list[list[str]]:
    """`tokens` of many texts; a large batch is cut on every core (forked workers, same results in order)."""
    out: list[list[str]] = []
    for part in _blocks(texts, _tokens_block, progress):
        out += part
    return out


def tokens_encoded(texts: list[str], progress=None) -> Iterator[tuple[list[str], np.ndarray, np.ndarray]]:
    """`tokens` of many texts, a block of texts at a time, as (the block's distinct words, every token as
    an index into them, each text's token count).

    What a build keeps are ids, and as token lists the parent unpickled and freed one string per token:
    the surviving vocabulary left pymalloc's arenas full of holes it never gave back (benchmarks/
    token_memory.py, 40k lines: 253 arenas, 152 MB free in them). A block's distinct words are a few times
    fewer strings (98 arenas, 3 MB free).
    """
    yield from _blocks(texts, _encoded_block, progress)


def _blocks(texts: list[str], work, progress) -> Iterator:
    """work(block) over blocks of 256 texts, in order; many texts are cut on every core.

    jieba and opencc are pure Python and hold the GIL, so threads would not help. Workers are forked
    after jieba (and any user dictionary) is loaded here, and run nothing but tokenising.
    """
    import multiprocessing as mp
    import os

    workers, step = min(os.cpu_count() or 1, 8), 256
    parts = [texts[i:i + step] for i in range(0, len(texts), step)]
    done = 0
    if len(texts) < 2000 or workers < 2 or "fork" not in mp.get_all_start_methods():
        for part in parts:
            yield work(part)
            done += len(part)
            if progress:
                progress("tokenise", done, len(texts))
        return
    _jieba_module()
    fold("預熱")  # dictionaries loaded before the fork, shared by the workers
    with mp.get_context("fork").Pool(workers) as pool:
        for part, out in zip(parts, pool.imap(work, parts)):
            yield out
            done += len(part)
            if progress:
                progress("tokenise", done, len(texts))


def _tokens_block(texts: list[str]) -> list[list[str]]:
    return [tokens(t) for t in texts]


def _encoded_block(texts: list[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
    index: dict[str, int] = {}
    lists = [tokens(t) for t in texts]
    ids = np.fromiter((index.setdefault(w, len(index)) for toks in lists for w in toks), np.int32,
                      sum(map(len, lists)))
    return list(index), ids, np.fromiter(map(len, lists), np.int64, len(lists))


@lru_cache(maxsize=4096)
def query_tokens(text: str) -> tuple[str, ...]:
    """`tokens` for a question, cached: the same question costs one segmentation."""
    return tuple(tokens(text))
