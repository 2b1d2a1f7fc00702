"""`qa build` and `qa check` into Milvus: incremental, streamed in bounded batches, never half visible.

How a build publishes (readers see only what the one-row manifest says, `milvus.visible`):
  1. finish what a killed build left: rows of articles the manifest retires are deleted, then the
     manifest is rewritten without them; rows newer than `published` (never published) are deleted.
  2. every new or changed article is written with `gen = published + 1`: invisible to readers.
     Unchanged articles (same path, same bytes) keep their rows untouched.
  3. one upsert of the manifest: `published = gen`, `retired = [changed and deleted articles]`.
     From that instant readers see the new rows and not the old rows of those articles: every article
     flips whole, and a kill before this point leaves the previous state exactly as it was.
  4. the retired rows are deleted and the manifest rewritten without them (a kill here: step 1 next time).
When more than RETIRE_MAX articles change, or the model, settings or server kind change, the build
writes a new epoch's collections instead and the manifest switches to them (like a collection alias;
Milvus Lite has none), then the old epoch's collections are dropped.

Vectors come from, in order: the live rows with the same passage hash, the local index's generation
(`--index`, same model: moving a local index embeds nothing), the vector cache shared with `qa eval`
(~/.cache/newsqa/eval), and only then the model. Memory holds one batch of articles at a time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Iterator
from importlib import metadata

import numpy as np

from .. import storage
from ..buildread import article_record, chunk_records
from ..config import Settings
from ..embedding import Embedder, load_embedder
from ..errors import ArticleError, SeedsError
from ..index import BuildReport, Progress, seed_files, settings_identity
from ..text import load_userdict, tokens_many
from . import milvus as mv
from .milvus_read import _add_article, _catalogue, _file_articles, _live_files, _marks_digest, _scan

FORMAT = mv.FORMAT  # 2: articles of every format (qa/sources), copies folded (`marks`); 3: BM25 `terms`
RETIRE_MAX = 1000  # more changed articles than this: a new epoch (keeps the manifest row small)
BATCH_CHUNKS = 2048  # >= qa.text.tokens_many's parallel threshold: a batch's terms are cut on every core


def _schemas(c, dim: int, bm25: bool):
    from pymilvus import DataType, Function, FunctionType

    p = c.create_schema(auto_id=False, enable_dynamic_field=False)
    p.add_field("row", DataType.INT64, is_primary=True)
    p.add_field("gen", DataType.INT64)
    p.add_field("article_id", DataType.VARCHAR, max_length=512)
    p.add_field("source", DataType.VARCHAR, max_length=1024)
    p.add_field("date", DataType.VARCHAR, max_length=16)
    p.add_field("hash", DataType.VARCHAR, max_length=64)
    p.add_field("chunk", DataType.VARCHAR, max_length=65535)
    p.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    pi = c.prepare_index_params()
    pi.add_index("vector", index_type="HNSW", metric_type="IP", params={"params": dict(mv.HNSW)})
    if bm25:
        # `terms`: the passage's qa.text.tokens (jieba cut_for_search of the folded text, this process's
        # user dictionary), cut here on every core; Milvus only splits them at spaces (milvus.analyzer).
        lite = mv.version(c)[0].startswith("milvus_lite")
        p.add_field("terms", DataType.VARCHAR, max_length=65535, enable_analyzer=True,
                    analyzer_params=mv.analyzer(lite))
        p.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        p.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["terms"],
                                output_field_names=["sparse"]))
        pi.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                     params={"params": dict(mv.BM25_PARAMS)})  # nested, or Lite drops them
    a = c.create_schema(auto_id=False, enable_dynamic_field=False)
    a.add_field("key", DataType.VARCHAR, is_primary=True, max_length=600)
    a.add_field("article_id", DataType.VARCHAR, max_length=512)
    a.add_field("gen", DataType.INT64)
    a.add_field("part", DataType.INT64)
    a.add_field("chunks", DataType.INT64)
    a.add_field("path", DataType.VARCHAR, max_length=4096)
    a.add_field("content_hash", DataType.VARCHAR, max_length=64)
    a.add_field("paths", DataType.VARCHAR, max_length=65535)
    a.add_field("source", DataType.VARCHAR, max_length=1024)
    a.add_field("data", DataType.VARCHAR, max_length=65535)
    a.add_field("marks", DataType.VARCHAR, max_length=64)  # its copy marks' digest: a changed fold rewrites it
    a.add_field("_v", DataType.FLOAT_VECTOR, dim=2)  # Milvus 2.3 wants a vector field in every collection
    ai = c.prepare_index_params()
    ai.add_index("_v", index_type="FLAT", metric_type="L2")
    return (p, pi), (a, ai)


def _same_format(old: dict, bm25: bool) -> bool:
    """Can a build add to this index? Format 3 changed only the BM25 field: a dense-only index of format 2
    (a server before 2.5) is kept, a keyword one is rebuilt (a new epoch, its vectors reused)."""
    fmt = old.get("format")
    return fmt == FORMAT or (fmt == 2 and not bm25 and not old.get("bm25"))


def _ensure_meta(c) -> str:
    from pymilvus import DataType

    name = f"{mv.prefix()}_meta"
    if not c.has_collection(name):
        s = c.create_schema(auto_id=False, enable_dynamic_field=False)
        s.add_field("key", DataType.VARCHAR, is_primary=True, max_length=64)
        s.add_field("data", DataType.VARCHAR, max_length=65535)
        s.add_field("_v", DataType.FLOAT_VECTOR, dim=2)
        i = c.prepare_index_params()
        i.add_index("_v", index_type="FLAT", metric_type="L2")
        c.create_collection(name, schema=s, index_params=i, consistency_level="Strong")
    c.load_collection(name)
    return name


def grace(c) -> None:
    """On a server, let rows written (or deleted) age past Bounded/Session staleness before a manifest
    row makes readers rely on them (milvus.py, "Consistency"). Milvus Lite is consistent at once."""
    if not mv.version(c)[0].startswith("milvus_lite"):
        time.sleep(mv.GRACE_SECONDS)


def _publish(c, manifest: dict) -> None:
    """The one write that changes what readers see."""
    data = json.dumps(manifest, ensure_ascii=False)
    c.upsert(f"{mv.prefix()}_meta", [{"key": "manifest", "data": data, "_v": [0.0, 0.0]}])
    c.flush(f"{mv.prefix()}_meta")


def _finish(c, manifest: dict) -> dict:
    """Delete retired and never-published rows (steps 1 and 4 of the module docstring)."""
    p = int(manifest["published"])
    for name in manifest["collections"].values():
        c.delete(name, filter=f"gen > {p}")
        if manifest.get("retired"):
            c.delete(name, filter=f"article_id in {json.dumps(manifest['retired'], ensure_ascii=False)} "
                                  f"and gen < {p}")
    if manifest.get("retired"):
        manifest = {**manifest, "retired": []}
        grace(c)
        _publish(c, manifest)
    return manifest


def _live_articles(c, manifest: dict) -> dict[tuple[str, str], dict]:
    """(path, content hash) -> the live article's id, paths, passage count, source."""
    out = {}
    it = c.query_iterator(manifest["collections"]["articles"], batch_size=1000,
                          filter=f"part == 0 and {mv.visible(manifest)}",
                          output_fields=["article_id", "path", "content_hash", "paths", "chunks", "source"])
    while batch := it.next():
        for r in batch:
            out[(r["path"], r["content_hash"])] = r
    it.close()
    return out


class _Vectors:
    """Passage vectors by text hash, from the sources listed in the module docstring."""

    def __init__(self, c, settings: Settings, embedder: Embedder, old: dict | None, ident: dict) -> None:
        self._c, self._settings, self._embedder, self._old = c, settings, embedder, old
        prev = storage.previous_vectors(settings.index) if settings.index.exists() else None  # hashes, no text
        same = prev is not None and prev[0].get("model") == embedder.identity()
        self._local_vectors = prev[2] if same else None
        self._local_rows = prev[1] if same else {}
        self.embedded = 0

    def get(self, items: list[tuple[str, str]]) -> np.ndarray:
        from ..evaluate import cached_documents

        out: dict[str, np.ndarray] = {}
        hashes = list(dict.fromkeys(h for h, _ in items))
        if self._old is not None and hashes:
            got = self._c.query(self._old["collections"]["passages"], output_fields=["hash", "vector"],
                                filter=f"hash in {json.dumps(hashes)} and {mv.visible(self._old)}")
            out.update({g["hash"]: np.asarray(g["vector"], np.float32) for g in got})
        for h in hashes:
            if h not in out and h in self._local_rows:
                out[h] = np.asarray(self._local_vectors[self._local_rows[h]], np.float32)
        todo = [(h, t) for h, t in dict(items).items() if h not in out]
        if todo:
            counted = [0]
            vecs = cached_documents(self._embedder, todo, self._settings.cache / "eval",
                                    lambda stage, done, total: counted.__setitem__(0, total))
            self.embedded += counted[0]
            out.update({h: v for (h, _), v in zip(todo, vecs)})
        return np.stack([out[h] for h, _ in items]) if items else np.zeros((0, self._embedder.dim), np.float32)


def build(settings: Settings, embedder: Embedder | None = None, progress: Progress | None = None) -> BuildReport:
    t0 = time.perf_counter()
    spec = settings.store
    files = seed_files(settings.seeds)
    load_userdict(settings.userdict_path())
    embedder = embedder or load_embedder(settings.model)
    model, ident = embedder.identity(), settings_identity(settings)
    report = BuildReport(spec)  # type: ignore[arg-type] - printed as where the index was written
    lock_dir = settings.cache / "locks" / hashlib.sha256(spec.encode()).hexdigest()[:16]
    with storage.build_lock(lock_dir), _errors(spec):
        return _build(mv.client(spec), spec, settings, embedder, model, ident, files, report, progress, t0)


@contextlib.contextmanager
def _errors(spec: str) -> Iterator[None]:
    """Milvus and connection failures as one-line QAErrors (others, e.g. a bug, stay tracebacks)."""
    from pymilvus.exceptions import MilvusException

    try:
        yield
    except (MilvusException, ConnectionError) as e:
        raise mv.explain(e, spec) from None


def settle(c, name: str, seconds: float = 120) -> None:
    """Flush, then make the index real before publishing. Milvus Lite builds indexes in the background
    while describe_index already says Finished (searches are brute force meanwhile): release + load makes
    it build now. Reloading while its background writer still writes an index file fails now and then
    ("read error ... Resource temporarily unavailable", seen in tests), so the load is tried again."""
    from pymilvus.exceptions import MilvusException

    c.flush(name)
    deadline = time.monotonic() + seconds
    for attempt in range(5):
        try:
            c.release_collection(name)
            c.load_collection(name)
            return
        except MilvusException:
            if attempt == 4 or time.monotonic() > deadline:
                raise
            time.sleep(1 + attempt)


def _load(c, manifest: dict) -> None:
    for name in manifest["collections"].values():  # load state is not persisted (Lite): always load
        c.load_collection(name)


def _build(c, spec, settings, embedder, model, ident, files, report, progress, t0) -> BuildReport:
    server_version, bm25 = mv.version(c)
    _ensure_meta(c)
    old = mv.read_manifest(c, spec)
    if old is not None:
        _load(c, old)
        old = _finish(c, old)
    same = old is not None and _same_format(old, bm25) and old["model"] == model and \
        old["settings"] == ident and old.get("bm25") == bm25
    groups = _scan(files, settings.seeds, report, settings.follow_links)
    cat = _catalogue(settings, groups, report, progress)
    t_fold = time.perf_counter()
    marks = cat.fold()
    report.copies = sum("copy_of" in m for m in marks.values())
    report.fold_seconds = time.perf_counter() - t_fold
    now_ids: dict[str, dict[str, str]] = {}  # file hash -> {article id: marks digest}
    for it in cat.items:
        if cat.latest[(it["file"], it["id"])] == it["pos"]:
            now_ids.setdefault(it["file"], {})[it["id"]] = _marks_digest(marks.get(it["id"], {}))
    live = _live_files(c, old) if same else {}
    kept = {key: rows for key, rows in live.items() if key[1] in groups and key[0] == groups[key[1]][0]
            and json.loads(rows[0]["paths"]) == groups[key[1]]  # same bytes, same paths, same copy marks
            and {r["article_id"]: r["marks"] for r in rows} == now_ids.get(key[1])}
    retired = sorted({r["article_id"] for rows in live.values() for r in rows}
                     - {r["article_id"] for rows in kept.values() for r in rows})
    new_epoch = not same or len(retired) > RETIRE_MAX
    if new_epoch:
        epoch, gen, kept = (old["epoch"] + 1 if old else 1), 1, {}
        for name in c.list_collections():  # a killed rebuild's collections
            if name.startswith((f"{mv.prefix()}_p", f"{mv.prefix()}_a")) and \
                    (old is None or name not in old["collections"].values()):
                c.drop_collection(name)
        collections = {"passages": f"{mv.prefix()}_p{epoch}", "articles": f"{mv.prefix()}_a{epoch}"}
        (ps, pi), (as_, ai) = _schemas(c, embedder.dim, bm25)
        c.create_collection(collections["passages"], schema=ps, index_params=pi, consistency_level="Strong")
        c.create_collection(collections["articles"], schema=as_, index_params=ai, consistency_level="Strong")
    else:
        epoch, gen, collections = old["epoch"], int(old["published"]) + 1, old["collections"]
    # a passage's vector depends on its text and the model only: a new FORMAT or chunk setting reuses them
    vectors = _Vectors(c, settings, embedder, old if old is not None and old["model"] == model else None, ident)
    kept_rows = [r for rows in kept.values() for r in rows]
    sources = {r["source"] for r in kept_rows if r["source"]}
    n_chunks, n_articles, seq = sum(int(r["chunks"]) for r in kept_rows), len(kept_rows), 0
    batch_chunks: list[tuple[dict, dict]] = []
    batch_articles: list[dict] = []

    def flush_batch() -> None:
        nonlocal seq
        if batch_chunks:
            vecs = vectors.get([(ch["hash"], ch["text"]) for ch, _ in batch_chunks])
            toks = tokens_many([ch["text"] for ch, _ in batch_chunks]) if bm25 else [None] * len(batch_chunks)
            rows = []
            for (ch, art), v, tk in zip(batch_chunks, vecs, toks):
                row = {"row": (gen << 32) + seq, "gen": gen, "article_id": ch["article_id"],
                       "source": art.get("source") or "", "date": art.get("date") or "", "hash": ch["hash"],
                       "chunk": json.dumps(ch, ensure_ascii=False), "vector": v.tolist()}
                if bm25:
                    row["terms"] = mv.terms(tk)
                rows.append(row)
                seq += 1
            c.insert(collections["passages"], rows)
        if batch_articles:
            c.insert(collections["articles"], batch_articles)
        batch_chunks.clear()
        batch_articles.clear()

    for n, (digest, paths) in enumerate(groups.items(), 1):
        if progress:
            progress("read", n, len(groups))
        if (paths[0], digest) in kept:
            continue
        try:
            for pos, article in _file_articles(settings, paths[0]):
                if isinstance(article, ArticleError) or cat.latest.get((digest, article.id)) != pos:
                    continue  # a bad row (in the summary already) or one a later row replaces
                record = article_record(article)
                record.update(marks.get(article.id, {}))
                chunks = [] if "copy_of" in record else chunk_records(article, settings)  # a copy: no passages
                _add_article(batch_articles, record, chunks, paths, digest, gen)
                batch_chunks += [(ch, record) for ch in chunks]
                n_chunks, n_articles = n_chunks + len(chunks), n_articles + 1
                if record.get("source"):
                    sources.add(record["source"])
                if len(batch_chunks) >= BATCH_CHUNKS or len(batch_articles) >= BATCH_CHUNKS:
                    flush_batch()
                    if progress:
                        progress("embed", n, len(groups))
        except ArticleError as e:  # changed since the first read: the summary says so, the build goes on
            report.skipped.append((paths[0], e.reason))
    flush_batch()
    if old is not None and not new_epoch and not retired and n_articles == len(kept_rows):
        report.articles, report.chunks = n_articles, n_chunks  # nothing new, nothing gone: publish nothing
        report.reused, report.unchanged, report.index_kind = n_chunks, True, "milvus-hnsw"
        report.seconds = time.perf_counter() - t0
        return report
    if not n_chunks:
        raise SeedsError(f"none of the {len(files)} files in {settings.seeds} has article text")
    for name in collections.values():
        settle(c, name)
    report.articles, report.chunks, report.embedded = n_articles, n_chunks, vectors.embedded
    report.reused, report.index_kind = n_chunks - vectors.embedded, "milvus-hnsw"
    report.seconds = time.perf_counter() - t0
    manifest = {"format": FORMAT, "epoch": epoch, "published": gen, "retired": [] if new_epoch else retired,
                "collections": collections, "model": model, "settings": ident, "bm25": bm25,
                "server_version": server_version, "sources": sorted(sources),
                "counts": {"articles": n_articles, "chunks": n_chunks, "skipped": len(report.skipped),
                           "duplicates": len(report.duplicates), "embedded": report.embedded},
                "skipped": [list(s) for s in report.skipped[:200]], "index_kind": "milvus-hnsw",
                "index_params": {**mv.HNSW, "ef_search": mv.EF_SEARCH}, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "build_seconds": round(report.seconds, 3), "versions": _versions()}
    grace(c)
    _publish(c, manifest)
    if new_epoch and old is not None:
        for name in old["collections"].values():
            c.drop_collection(name)
    _finish(c, manifest)
    return report


def _versions() -> dict:
    out = {}
    for pkg in ("newsqa", "pymilvus", "milvus-lite", "jieba"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out
