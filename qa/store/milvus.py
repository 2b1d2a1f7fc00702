"""The Milvus store: Milvus Lite (`PATH.db`, embedded) or a Milvus server (`http://HOST:PORT`).

Collections (prefix `newsqa`, or QA_MILVUS_COLLECTION):

    <prefix>_meta        one row, key "manifest": the live manifest (model, settings, generation, epoch)
    <prefix>_p<epoch>    passages: row (pk), gen, article_id, source, date, chunk (JSON), hash, vector,
                         and where the server has BM25 (Lite, Milvus >= 2.5): terms -> sparse (BM25)
    <prefix>_a<epoch>    articles: one row per 16k characters of the record's JSON, keyed gen:id:part

`qa eval` writes its corpus under `<prefix>_eval` (`collections`), beside the app's index.

What readers see is decided by the manifest alone, one row replaced in one upsert (see
`milvus_build.py` for how a build uses it): a row is visible when `gen <= published` and its article is
not in `retired` with an older gen. A full rebuild (new model or settings) writes a new epoch's
collections and the manifest switches to them, so a build killed at any point leaves the last published
state searchable, and a reader never sees an article half replaced.

Consistency: a Strong read on a server waits for the next time tick, 200-400 ms per request (measured on
the 2.3.5 server), so readers use Session (their own process's writes, e.g. `qa serve` building first,
are visible; another process's after the server's time-tick lag). Builds on a server therefore wait
GRACE_SECONDS (more than Milvus's 5 s gracefulTime) after writing rows and before each manifest row
that makes them count, so any reader that sees a manifest also sees the rows it names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import IndexError_
from ..keywords import K1, B
from .base import DenseHits, Store
from .milvus_connect import (  # noqa: F401 - re-exported: callers use milvus.client, milvus.explain, ...
    BM25_SINCE,
    PREFIX_ENV,
    TOKEN_ENV,
    _fix_build,
    client,
    collections,
    errors,
    explain,
    forget,
    prefix,
    version,
)

PART_CHARS = 16_000  # an article record's JSON per row: <= 64k bytes in UTF-8 (VARCHAR limit 65535)
HNSW = {"M": 32, "efConstruction": 80}  # as qa/dense.py; nested under "params" (Lite drops flat ones)
EF_SEARCH = 1024
ARTICLE_CACHE = 4096  # articles kept per store object (one generation)
READ_CONSISTENCY = "Session"
GRACE_SECONDS = 6.0  # a busy server can take seconds to accept
# 3: BM25 over `terms`, the passage's keyword tokens (qa.text.tokens: this process's jieba with the user
#    dictionary, cut on every core) written out, so Milvus only splits on spaces; 2: Milvus ran jieba itself
#    (in Lite: in the inserting process, ~35 rows/s). Dense-only indexes (no BM25) are the same in 2 and 3.
FORMAT = 3
BM25_PARAMS = {"bm25_k1": K1, "bm25_b": B}  # as the local store (bm25s); Lite's own default k1 is 1.5
TERMS_BYTES = 65_000  # VARCHAR max_length is 65535 bytes
_PLAIN, _PLAIN_RUN = re.compile(r"[^\W_]"), re.compile(r"[^\W_]+")


def read_manifest(c, spec: str, consistency: str = "Strong") -> dict | None:
    name = f"{prefix()}_meta"
    try:
        if not c.has_collection(name):
            return None
        c.load_collection(name)  # load state is not persisted (Lite): always load
        rows = c.query(name, filter='key == "manifest"', output_fields=["data"], consistency_level=consistency)
    except Exception as e:  # noqa: BLE001
        raise explain(e, spec) from None
    return json.loads(rows[0]["data"]) if rows else None


def live_generation(spec: str) -> str | None:
    m = read_manifest(client(spec), spec, READ_CONSISTENCY)
    return f"e{m['epoch']}-g{m['published']}" if m else None


def visible(manifest: dict) -> str:
    """The filter every read adds: published rows, minus the retired rows of replaced articles."""
    p = int(manifest["published"])
    expr = f"gen <= {p}"
    if manifest.get("retired"):
        expr += f" and not (article_id in {json.dumps(manifest['retired'], ensure_ascii=False)} and gen < {p})"
    return expr


def term(token: str) -> str:
    """A keyword token as one run of word characters: Lite's `standard` analyzer keeps `\\w+` runs (lower-
    cased), a server's `whitespace` analyzer splits on spaces only, so every other character (and `_`, and
    one that lower-casing changes) is written `_<hex>_`. One-to-one: two tokens match in Milvus exactly
    when they are equal, e.g. jieba's "gpt-4" stays one term ("gpt_2d_4"), as in the local store."""
    if _PLAIN_RUN.fullmatch(token) and token.lower() == token:  # nearly every token
        return token
    return "".join(ch if _PLAIN.match(ch) and ch.lower() == ch else f"_{ord(ch):x}_" for ch in token)


def terms(tokens: Sequence[str]) -> str:
    """What BM25 indexes (a passage's `qa.text.tokens`) or is asked (a question's distinct tokens: the
    local store counts a repeated question token once, Milvus once per occurrence)."""
    out = " ".join(term(t) for t in tokens if t)
    if len(out.encode()) > TERMS_BYTES:  # a passage far over max_chunk_chars: keep whole terms that fit
        out = out.encode()[:TERMS_BYTES].decode(errors="ignore").rsplit(" ", 1)[0]
    return out


def analyzer(lite: bool) -> dict:
    """The BM25 field's analyzer: Lite 3.2.2 knows only `standard` and `jieba` (no `whitespace`); on the
    pre-written terms its `standard` (`\\w+`) splits exactly at the spaces. A server: `whitespace`."""
    return {"tokenizer": "standard" if lite else "whitespace"}


def _check_format(manifest: dict, spec: str) -> None:
    """Refuse an index whose keyword side this version cannot ask (built before pre-tokenised terms)."""
    fmt = int(manifest.get("format") or 1)
    if fmt > FORMAT:
        raise IndexError_(f"the index in Milvus at {spec} was written by a newer newsqa (format {fmt}, this one "
                          f"reads {FORMAT}): upgrade newsqa, or {_fix_build(spec)} to rebuild it")
    if fmt < FORMAT and manifest.get("bm25"):
        raise IndexError_(f"the index in Milvus at {spec} uses the old keyword format {fmt} (Milvus cut the words; "
                          f"now newsqa does): {_fix_build(spec)} to rebuild it (vectors are reused, none embedded)")


class MilvusStore(Store):
    def __init__(self, spec: str, c, manifest: dict) -> None:
        self.label, self._c, self.manifest = spec, c, manifest
        self._p, self._a = manifest["collections"]["passages"], manifest["collections"]["articles"]
        self._visible = visible(manifest)
        self._idf_cache: dict[str, tuple[bool, float]] = {}
        self._article_cache: dict[str, dict] = {}

    @classmethod
    def open(cls, spec: str) -> MilvusStore:
        c = client(spec)
        manifest = read_manifest(c, spec, READ_CONSISTENCY)
        if manifest is None:
            raise IndexError_(f"no newsqa index ({prefix()}_meta) in Milvus at {spec}: {_fix_build(spec)}")
        _check_format(manifest, spec)
        try:
            for name in manifest["collections"].values():
                c.load_collection(name)
        except Exception as e:  # noqa: BLE001
            raise explain(e, spec) from None
        return cls(spec, c, manifest)

    def _call(self, fn, *args, **kw):
        try:
            return fn(*args, consistency_level=READ_CONSISTENCY, **kw)
        except Exception as e:  # noqa: BLE001
            raise explain(e, self.label) from None

    def __len__(self) -> int:
        return int(self.manifest["counts"]["chunks"])

    def generation(self) -> str:
        return f"e{self.manifest['epoch']}-g{self.manifest['published']}"

    def _filter(self, filters) -> str | None:
        """Filters pushed down as an expression; None when they keep nothing. The outlet is matched
        here against the index's outlets (substring, case-insensitive, as the local store) and sent as
        `source in [...]`: Milvus 2.3 has no infix LIKE."""
        expr = self._visible
        if filters is None or not filters.active():
            return expr
        if filters.source:
            want = filters.source.casefold()
            names = [s for s in self.manifest.get("sources", []) if want in s.casefold()]
            if not names:
                return None
            expr += f" and source in {json.dumps(names, ensure_ascii=False)}"
        if filters.since:
            expr += f' and date != "" and date >= "{filters.since}"'
        if filters.until:
            expr += f' and date != "" and date <= "{filters.until}"'
        return expr

    def dense(self, vector: np.ndarray, n: int, filters=None) -> DenseHits:
        expr = self._filter(filters)
        if expr is None or n <= 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        res = self._call(self._c.search, self._p, data=[np.asarray(vector, np.float32).tolist()],
                         anns_field="vector", limit=n, filter=expr, output_fields=["row"],
                         search_params={"metric_type": "IP", "params": {"ef": max(EF_SEARCH, n)}})
        hits = res[0] if res else []
        return (np.array([h["distance"] for h in hits], np.float32),
                np.array([h["entity"]["row"] for h in hits], np.int64))

    @property
    def has_keywords(self) -> bool:
        return bool(self.manifest.get("bm25"))

    def _need_bm25(self) -> None:
        if not self.has_keywords:
            raise IndexError_(f"Milvus at {self.label} is version {self.manifest.get('server_version')}, which has "
                              "no BM25: keyword and hybrid search need Milvus 2.5 or newer (or Milvus Lite); "
                              "use --mode dense, or upgrade the server and run `qa build` again")

    def keyword(self, question: str, tokens: Sequence[str], n: int, filters=None) -> dict[int, float]:
        self._need_bm25()
        expr = self._filter(filters)
        text = terms(list(dict.fromkeys(tokens)))
        if expr is None or not text:
            return {}
        res = self._call(self._c.search, self._p, data=[text], anns_field="sparse", limit=n, filter=expr,
                         output_fields=["row"], search_params={"metric_type": "BM25"})
        # Lite returns BM25 negated (a distance); both include (k1 + 1), which bm25s (Lucene) leaves out.
        # Same tokens, k1, b and IDF formula as the local store: equal scores while IDF spans one segment.
        return {int(h["entity"]["row"]): abs(float(h["distance"])) / (K1 + 1) for h in (res[0] if res else [])}

    def _terms(self, tokens: Sequence[str]) -> dict[str, tuple[bool, float]]:
        """Per distinct token: does it occur, and an IDF estimate. Milvus does not expose document
        frequencies, so one batched search asks each token alone for its top 10: the median score of
        those (a passage with the word once, of about average length, scores IDF exactly) estimates it."""
        self._need_bm25()
        todo = [t for t in dict.fromkeys(tokens) if t and t not in self._idf_cache]
        if todo:
            res = self._call(self._c.search, self._p, data=[terms([t]) for t in todo], anns_field="sparse",
                             limit=10, filter=self._visible, output_fields=["row"],
                             search_params={"metric_type": "BM25"})
            for t, hits in zip(todo, res):
                scores = [abs(float(h["distance"])) for h in hits]
                self._idf_cache[t] = (bool(scores), float(np.median(scores)) if scores else 0.0)
        return {t: self._idf_cache[t] for t in dict.fromkeys(tokens) if t}

    def coverage(self, tokens: Sequence[str]) -> float:
        got = self._terms(tokens)
        return sum(seen for seen, _ in got.values()) / len(got) if got else 0.0

    def idf(self, tokens: Sequence[str]) -> dict[str, float]:
        if not self.has_keywords:
            return {}
        return {t: v for t, (seen, v) in self._terms(tokens).items() if seen}

    def _by_row(self, rows: Sequence[int], field: str) -> dict[int, object]:
        got = self._call(self._c.query, self._p, filter=f"row in {[int(r) for r in rows]}",
                         output_fields=["row", field])
        by_row = {int(g["row"]): g[field] for g in got}
        missing = [r for r in rows if int(r) not in by_row]
        if missing:
            raise IndexError_(f"Milvus at {self.label} lost passage rows {missing[:3]} during a search: ask again")
        return by_row

    def passages(self, rows: Sequence[int]) -> list[dict]:
        if not len(rows):
            return []
        by_row = {r: json.loads(c) for r, c in self._by_row(rows, "chunk").items()}
        self._fetch_articles({c["article_id"] for c in by_row.values()})  # the hits' articles: one query
        return [by_row[int(r)] for r in rows]

    def vectors(self, rows: Sequence[int]) -> np.ndarray:
        if not len(rows):
            return np.zeros((0, int(self.manifest.get("model", {}).get("dim") or 0)), np.float32)
        by_row = self._by_row(rows, "vector")
        return np.array([by_row[int(r)] for r in rows], np.float32)

    def _fetch_articles(self, ids: set[str]) -> None:
        """Read articles into the cache. A store object serves one generation, whose rows never change,
        so the cache needs no invalidation; it is only bounded."""
        todo = sorted(i for i in ids if i not in self._article_cache)
        if not todo:
            return
        got = self._call(self._c.query, self._a, filter=f"article_id in {json.dumps(todo, ensure_ascii=False)} "
                         f"and {self._visible}", output_fields=["article_id", "part", "data"])
        parts: dict[str, list] = {}
        for g in got:
            parts.setdefault(g["article_id"], []).append(g)
        if len(self._article_cache) + len(parts) > ARTICLE_CACHE:
            self._article_cache.clear()
        for aid, ps in parts.items():
            self._article_cache[aid] = json.loads("".join(g["data"] for g in sorted(ps, key=lambda g: g["part"])))

    @property
    def articles(self) -> Mapping[str, dict]:
        return _Articles(self)

    def article(self, article_id: str) -> dict:
        self._fetch_articles({article_id})
        if article_id not in self._article_cache:
            raise KeyError(article_id)
        return self._article_cache[article_id]

    def close(self) -> None:
        forget(self.label)


class _Articles(Mapping):
    def __init__(self, store: MilvusStore) -> None:
        self._s = store

    def __getitem__(self, article_id: str) -> dict:
        return self._s.article(article_id)

    def __iter__(self):
        raise TypeError("a Milvus store does not list its articles: look one up by id")

    def __len__(self) -> int:
        return int(self._s.manifest["counts"]["articles"])

