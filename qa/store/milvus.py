"""The Milvus store: Milvus Lite (`PATH.db`, embedded) or a Milvus server (`http://HOST:PORT`).

Collections (prefix `newsqa`, or QA_MILVUS_COLLECTION):

    <prefix>_meta        one row, key "manifest": the live manifest (model, settings, generation, epoch)
    <prefix>_p<epoch>    passages: row (pk), gen, article_id, source, date, chunk (JSON), hash, vector,
                         and where the server has BM25 (Lite, Milvus >= 2.5): folded text -> sparse (BM25)
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

import contextlib
import json
import logging
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from pathlib import Path

import numpy as np

from ..errors import IndexError_, InputError, QAError
from ..keywords import K1
from ..text import fold
from . import kind as store_kind
from .base import DenseHits, Store

PREFIX_ENV, TOKEN_ENV = "QA_MILVUS_COLLECTION", "QA_MILVUS_TOKEN"
PART_CHARS = 16_000  # an article record's JSON per row: <= 64k bytes in UTF-8 (VARCHAR limit 65535)
HNSW = {"M": 32, "efConstruction": 80}  # as qa/dense.py; nested under "params" (Lite drops flat ones)
EF_SEARCH = 1024
BM25_SINCE = (2, 5)
ARTICLE_CACHE = 4096  # articles kept per store object (one generation)
CONNECT_SECONDS = 20
READ_CONSISTENCY = "Session"
GRACE_SECONDS = 6.0  # a busy server (or Lite loading jieba) can take seconds to accept
_clients: dict[str, object] = {}
_prefix: ContextVar[str | None] = ContextVar("milvus_prefix", default=None)


def prefix() -> str:
    return _prefix.get() or os.environ.get(PREFIX_ENV) or "newsqa"


@contextlib.contextmanager
def collections(name: str) -> Iterator[None]:
    """Use the collections named `name` instead of the configured prefix (inside this block): `qa eval`
    keeps its corpus beside the app's index, never in place of it."""
    token = _prefix.set(name)
    try:
        yield
    finally:
        _prefix.reset(token)


def _fix_build(spec: str) -> str:
    return f"run `qa build --store {spec}`"


def client(spec: str):
    """One client per store per process (a Lite `.db` admits one process, and opening it twice here
    would fight over its lock). Connection failures become one-line errors with the fix."""
    if spec in _clients:
        return _clients[spec]
    # grpc's C core prints connection chatter (e.g. GOAWAY "too_many_pings" from Milvus Lite's server)
    # straight to stderr; errors reach the user through the one-line messages below instead.
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    from pymilvus import MilvusClient

    # pymilvus logs every failed call with a traceback; the error raised here says it in one line.
    logging.getLogger("pymilvus").setLevel(logging.CRITICAL)

    try:
        if store_kind(spec) == "lite":
            Path(spec).parent.mkdir(parents=True, exist_ok=True)
            _check_lite_lock(Path(spec))
            c = MilvusClient(str(spec))
        else:
            c = MilvusClient(uri=spec, token=os.environ.get(TOKEN_ENV, ""), timeout=CONNECT_SECONDS)
        c.get_server_version()
    except Exception as e:  # noqa: BLE001 - pymilvus raises MilvusException, grpc and OS errors alike
        raise explain(e, spec) from None
    _clients[spec] = c
    return c


def _check_lite_lock(db: Path) -> None:
    """Milvus Lite locks its folder for one process; opening a locked one fails in a background thread
    with a traceback and a vague error, so the lock is tried (and let go) here first."""
    import fcntl

    lock = db / "LOCK"  # milvus_lite.db.LOCK_FILENAME
    if not lock.is_file():
        return
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
    except OSError:
        raise IndexError_(f"{db} is open in another process (Milvus Lite admits one at a time): stop it "
                          "(the app or a build), or serve the .db with `milvus-lite server` and use its URI") from None
    finally:
        os.close(fd)


def forget(spec: str) -> None:
    """Close this process's client of `spec`; for a Lite `.db`, also stop its embedded server, which
    holds the folder's lock until then (the next open, here or in another process, may then lock it)."""
    c = _clients.pop(spec, None)
    if c is not None:
        with contextlib.suppress(Exception):  # closing a broken connection must not hide the first error
            c.close()
        if spec.rstrip("/").endswith(".db"):
            with contextlib.suppress(Exception):
                from milvus_lite.server_manager import server_manager_instance

                server_manager_instance.release_server(spec)


@contextlib.contextmanager
def errors(spec: str) -> Iterator[None]:
    """Milvus and connection failures inside the block as one-line QAErrors naming `spec` and the fix."""
    from pymilvus.exceptions import MilvusException

    try:
        yield
    except (MilvusException, ConnectionError) as e:
        raise explain(e, spec) from None


def _details(e: BaseException) -> str:
    """The first useful words of an error and its causes (pymilvus wraps grpc's, sometimes emptily)."""
    parts, seen = [], 0
    x: BaseException | None = e
    while x is not None and seen < 5:
        detail = x.details() if callable(getattr(x, "details", None)) else None
        text = detail or getattr(x, "message", None) or str(x)
        if text and text.strip() and text.strip() not in parts:
            parts.append(text.strip().splitlines()[0][:200])
        x, seen = x.__cause__ or x.__context__, seen + 1
    return "; ".join(parts) or type(e).__name__


def explain(e: Exception, spec: str) -> QAError:
    """A pymilvus/grpc failure as one line naming the store and the fix."""
    text = _details(e)
    low = text.lower()
    if any(w in low for w in ("auth", "credential", "password", "token", "unauthenticated", "permission")):
        return InputError(f"Milvus at {spec} refused the credentials ({text}): set {TOKEN_ENV} to "
                          "user:password or an API key the server accepts")
    if store_kind(spec) == "lite" and any(w in low for w in ("lock", "another process", "in use", "busy")):
        return IndexError_(f"{spec} is open in another process (Milvus Lite admits one at a time): stop it "
                           "(the app or a build), or serve the .db with `milvus-lite server` and use its URI")
    if any(w in low for w in ("connect", "unavailable", "deadline", "timeout", "timed out", "refused", "dns")):
        return IndexError_(f"cannot reach Milvus at {spec} ({text}): start the server, or fix --store / QA_STORE")
    return IndexError_(f"Milvus at {spec} failed ({text}): check the server, or {_fix_build(spec)}")


def version(c) -> tuple[str, bool]:
    """The server's version string and whether it has BM25 (Milvus Lite: yes; a server: from 2.5)."""
    raw = str(c.get_server_version())
    if raw.startswith("milvus_lite"):
        return raw, True
    m = re.search(r"(\d+)\.(\d+)", raw)
    return raw, bool(m) and (int(m.group(1)), int(m.group(2))) >= BM25_SINCE


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


def folded(text: str) -> str:
    """What BM25 indexes and is asked: traditional -> simplified, width and case folded (as the local
    store's tokens), punctuation to spaces (the local store drops punctuation tokens)."""
    return re.sub(r"[^\w]+", " ", fold(text)).strip()


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
        text = folded(question)
        if expr is None or not text or not tokens:
            return {}
        res = self._call(self._c.search, self._p, data=[text], anns_field="sparse", limit=n, filter=expr,
                         output_fields=["row"], search_params={"metric_type": "BM25"})
        # Lite returns BM25 negated (a distance); both include (k1 + 1), which bm25s (Lucene) leaves out.
        return {int(h["entity"]["row"]): abs(float(h["distance"])) / (K1 + 1) for h in (res[0] if res else [])}

    def _terms(self, tokens: Sequence[str]) -> dict[str, tuple[bool, float]]:
        """Per distinct token: does it occur, and an IDF estimate. Milvus does not expose document
        frequencies, so one batched search asks each token alone for its top 10: the median score of
        those (a passage with the word once, of about average length, scores IDF exactly) estimates it."""
        self._need_bm25()
        todo = [t for t in dict.fromkeys(tokens) if t and t not in self._idf_cache]
        if todo:
            res = self._call(self._c.search, self._p, data=[folded(t) or t for t in todo], anns_field="sparse",
                             limit=10, filter=self._visible, output_fields=["row"],
                             search_params={"metric_type": "BM25"})
            for t, hits in zip(todo, res):
                scores = [abs(float(h["distance"])) for h in hits]
                self._idf_cache[t] = (bool(scores), float(np.median(scores)) if scores else 0.0)
        return {t: self._idf_cache[t] for t in dict.fromkeys(tokens) if t}

    def coverage(self, tokens: Sequence[str]) -> float:
        terms = self._terms(tokens)
        return sum(seen for seen, _ in terms.values()) / len(terms) if terms else 0.0

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

