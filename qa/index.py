"""`qa build` and `qa check`: seeds folder -> a complete, atomic, incremental index generation.

Incremental: an article whose path and bytes are unchanged keeps its chunks, tokens and vectors;
any chunk whose text was embedded before (by the same model) keeps its vector; only the rest is
embedded, in length-sorted batches, each saved under `.work/` as it finishes (resume after a crash).
"""

from __future__ import annotations

import contextlib
import hashlib
import platform
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

from . import dense, storage, store, syndication
from .articles import Article
from .chunking import chunk_article
from .config import Settings
from .diskfull import disk_full_error, is_disk_full
from .embedding import Embedder, load_embedder, same_model
from .errors import ArticleError, IndexError_, SeedsError
from .keywords import KeywordIndex, TokenTable, TokenTableBuilder
from .records import Columns
from .seedfiles import read_capped, regular_file, seed_files
from .sources import file_digest, read_file, streamed
from .text import load_userdict, read_userdict, tokens_many
from .vectorcache import VectorCache, model_key

PARSER_VERSION = 1
TOKENIZER = "jieba.cut_for_search+opencc-t2s+nfkc+lower"
BATCH = 32
TOKEN_WINDOW = 5000  # passages tokenised at a time: ~60 MB of token strings; one forked pool each (~0.1 s)

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class BuildReport:
    index_dir: Path
    articles: int = 0
    chunks: int = 0
    embedded: int = 0
    reused: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (path, same content as path)
    notes: list[tuple[str, str]] = field(default_factory=list)  # (path, what was ignored): indexed anyway
    seconds: float = 0.0
    index_kind: str = "flat"
    unchanged: bool = False  # nothing to do: the live index already matches
    copies: int = 0  # syndicated copies folded into their original (not indexed again)
    fold_seconds: float = 0.0


def settings_identity(settings: Settings) -> dict:
    userdict = settings.userdict_path()
    return {
        "max_chunk_chars": settings.max_chunk_chars, "min_chunk_chars": settings.min_chunk_chars,
        "parser_version": PARSER_VERSION, "tokenizer": TOKENIZER,
        "userdict_sha256": hashlib.sha256(read_userdict(userdict)).hexdigest()[:16] if userdict else None,
    }


def _previous(index_dir: Path, model: dict, ident: dict):
    """The live generation when it was built with the same model and settings, else None."""
    prev = storage.load_previous(index_dir)
    if prev is None:
        return None
    same = prev.manifest.get("model") == model and prev.manifest.get("settings") == ident
    return prev if same else None


def build(settings: Settings, embedder: Embedder | None = None, progress: Progress | None = None) -> BuildReport:
    """Build or update the index (local files, or Milvus: qa/store/milvus_build.py). A full disk is one `IndexError_` line: the unfinished generation and
    `.work/` are removed (the previous index stays live), and how much that freed is named."""
    if settings.store != "local" and store.kind(settings.store) != "local":  # Milvus: qa/store/milvus_build.py
        from .store.milvus_build import build as build_milvus

        return build_milvus(settings, embedder, progress)
    try:
        return _build(settings, embedder, progress)
    except (OSError, RuntimeError) as e:
        if not (getattr(e, "qa_disk_full", False) or is_disk_full(e, settings.index)):
            raise
        raise disk_full_error(settings.index, e) from None


def _build(settings: Settings, embedder: Embedder | None, progress: Progress | None) -> BuildReport:
    t0 = time.perf_counter()
    files = seed_files(settings.seeds)
    load_userdict(settings.userdict_path())
    embedder = embedder or load_embedder(settings.model)
    model, ident = embedder.identity(), settings_identity(settings)
    report = BuildReport(settings.index)
    with storage.build_lock(settings.index), _Warmup(embedder) as warmup:
        storage.clean_up(settings.index)
        prev = _previous(settings.index, model, ident)
        prev_chunks: dict[str, list[dict]] = {}
        prev_rows: dict[str, int] = {}
        if prev:
            for row, c in enumerate(prev.chunks):
                prev_chunks.setdefault(c["article_id"], []).append(c)
                prev_rows.setdefault(c["hash"], row)
        prev_tokens = prev.tokens if prev else None
        token_rows = prev_rows if prev_tokens is not None else {}  # an older format's tokens are cut again
        prev_files = prev.manifest.get("files", {}) if prev else {}
        prev_problems = prev.manifest.get("row_problems", {}) if prev else {}
        prev_by_path: dict[str, list[dict]] = {}  # a feed or export holds many articles
        for a in (prev.articles.values() if prev else ()):
            prev_by_path.setdefault(a["path"], []).append(a)
        row_problems: dict[str, list[list[str]]] = {}

        articles: list[dict] = []
        chunks: list[dict] = []
        token_plan: list[int | None] = []  # per chunk: the previous table's row with its tokens, or None: cut it
        by_hash: dict[str, dict] = {}
        manifest_files: dict[str, str] = {}
        for n, path in enumerate(files, 1):
            rel = path.relative_to(settings.seeds).as_posix()
            if progress:
                progress("read", n, len(files))
            try:
                if streamed(path):  # exports are streamed row by row (no size cap), still only regular files inside
                    raw, digest = None, file_digest(regular_file(path, settings.seeds, settings.follow_links))
                else:
                    raw = read_capped(path, settings.seeds, settings.follow_links)
                    digest = hashlib.sha256(raw).hexdigest()
            except ArticleError as e:
                report.skipped.append((rel, e.reason))
                continue
            except OSError as e:
                report.skipped.append((rel, f"cannot be read ({e.strerror or e}): check the file"))
                continue
            manifest_files[rel] = digest
            if digest in by_hash:  # identical content: index once, remember both paths
                by_hash[digest]["paths"].append(rel)
                report.duplicates.append((rel, by_hash[digest]["path"]))
                continue
            if prev_files.get(rel) == digest and rel in prev_by_path:  # unchanged file: all its articles kept
                found = [(dict(a), prev_chunks.get(a["id"]) or _chunk_records(_stored_article(a), settings))
                         for a in prev_by_path[rel]]  # (a syndicated copy kept no passages: cut it again)
                problems = [tuple(p) for p in prev_problems.get(rel, [])]
            else:
                try:
                    got = read_file(path, rel, lambda p: read_capped(p, settings.seeds, settings.follow_links),
                                    settings.seeds, raw, digest)
                except ArticleError as e:
                    report.skipped.append((rel, e.reason))
                    continue
                found = [(_article_record(a), _chunk_records(a, settings)) for a in got.articles]
                problems = got.problems
                if any(c["hash"] not in prev_rows for _, cs in found for c in cs):
                    warmup.start()  # the model loads while the rest is read and tokenised
            if problems:  # bad rows or entries inside a file that still gave articles
                report.skipped += problems
                row_problems[rel] = [list(p) for p in problems]
            for record, new_chunks in found:
                record["paths"] = [rel]
                report.notes += [(rel, p) for p in record.get("problems", [])]
                by_hash.setdefault(digest, record)
                articles.append(record)
                chunks += new_chunks
                token_plan += [token_rows.get(c["hash"]) for c in new_chunks]
        t_fold = time.perf_counter()
        folded = syndication.fold(articles)  # syndicated copies: indexed once, listed on the original
        if folded:
            keep = [i for i, c in enumerate(chunks) if c["article_id"] not in folded]
            chunks, token_plan = [chunks[i] for i in keep], [token_plan[i] for i in keep]
        report.copies, report.fold_seconds = len(folded), time.perf_counter() - t_fold
        if not chunks:
            raise SeedsError(f"none of the {len(files)} files in {settings.seeds} has article text "
                             f"(first problem: {report.skipped[0][0]}: {report.skipped[0][1]})" if report.skipped
                             else f"no article text in {settings.seeds}")

        report.articles, report.chunks = len(articles), len(chunks)
        if prev and prev.current_format and prev.manifest.get("files") == manifest_files and [
                (s["path"], s["reason"]) for s in prev.manifest.get("skipped", [])] == report.skipped:
            report.reused, report.unchanged = len(chunks), True
            report.index_kind = prev.manifest.get("index_kind", "flat")
            report.seconds = time.perf_counter() - t0
            return report
        table = _token_table(chunks, token_plan, prev_tokens, progress)
        vectors = _vectors(chunks, embedder, prev, prev_rows, settings.index / ".work" / model_key(model),
                           report, progress)
        report.index_kind = dense.choose_kind(len(chunks))
        if progress:
            progress("write", 0, 1)  # (no bar for a total of 1: it names the stage for memory benchmarks)
        gen = storage.new_generation(settings.index)
        try:
            _write(gen, articles, chunks, table, vectors, report.index_kind)
            report.seconds = time.perf_counter() - t0
            manifest = _manifest(model, ident, report, manifest_files)
            manifest["file_sizes"] = storage.file_sizes(gen)
            manifest["row_problems"] = row_problems
            storage.write_json(gen / "manifest.json", manifest)
            storage.publish(settings.index, gen)
        except BaseException as e:
            if is_disk_full(e, gen):
                e.qa_disk_full = True  # type: ignore[attr-defined] - asked again below, after gen is gone
            live = None
            with contextlib.suppress(IndexError_):
                live = storage.current_generation(settings.index)
            if live is None or live.name != gen.name:  # once CURRENT names it, it is the index: keep it
                shutil.rmtree(gen, ignore_errors=True)
            raise
        shutil.rmtree(settings.index / ".work", ignore_errors=True)
    return report


class _Warmup:
    """Loads the model in a thread as soon as the build knows it will embed something: loading it
    (~1 s) then overlaps reading, jieba's start-up and tokenising instead of following them."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="qa-model-warmup")
            self._thread.start()

    def _run(self) -> None:
        # a failure here is raised again, with its context, by the build's own embedding call
        with contextlib.suppress(Exception):
            self._embedder.embed_documents(["预热"])

    def __enter__(self) -> _Warmup:
        return self

    def __exit__(self, *exc) -> None:
        if self._thread is not None:
            self._thread.join()


def _article_record(a: Article) -> dict:
    return {"id": a.id, "path": a.path, "title": a.title, "source": a.source, "date": a.date, "url": a.url,
            "authors": list(a.authors), "origin": a.origin, "meta": a.meta, "content_hash": a.content_hash,
            "paragraphs": list(a.paragraphs), **({"problems": list(a.problems)} if a.problems else {})}


def _stored_article(r: dict) -> Article:
    return Article(id=r["id"], path=r["path"], title=r["title"], paragraphs=tuple(r["paragraphs"]))


def _chunk_records(a: Article, settings: Settings) -> list[dict]:
    return [{"id": c.id, "article_id": c.article_id, "paragraphs": list(c.paragraphs), "start": c.start,
             "end": c.end, "text": c.text, "hash": c.hash}
            for c in chunk_article(a, settings.max_chunk_chars, settings.min_chunk_chars)]


def _vectors(chunks, embedder, prev, prev_rows, work: Path, report: BuildReport, progress) -> np.ndarray:
    out = np.zeros((len(chunks), embedder.dim), np.float32)
    prev_vectors = prev.vectors if prev else None
    cache = VectorCache(work, embedder.dim)
    todo: dict[str, list[int]] = {}
    for i, c in enumerate(chunks):
        if c["hash"] in prev_rows:
            out[i] = prev_vectors[prev_rows[c["hash"]]]
            report.reused += 1
        elif (cached := cache.get(c["hash"])) is not None:
            out[i] = cached
            report.reused += 1
        else:
            todo.setdefault(c["hash"], []).append(i)
    # Similar lengths in a batch waste less padding; each finished batch is saved for resume.
    order = sorted(todo, key=lambda h: len(chunks[todo[h][0]]["text"]))
    done = 0
    for b in range(0, len(order), BATCH):
        batch = order[b:b + BATCH]
        vecs = embedder.embed_documents([chunks[todo[h][0]]["text"] for h in batch])
        cache.add(batch, vecs)
        for h, v in zip(batch, vecs):
            out[todo[h]] = v
        done += len(batch)
        report.embedded += sum(len(todo[h]) for h in batch)
        if progress:
            progress("embed", done, len(order))
    return out


def _token_table(chunks: list[dict], plan: list[int | None], prev: TokenTable | None, progress) -> TokenTable:
    """Reused passages take their token ids from the previous table; the rest are cut here (on every core
    when there are many), TOKEN_WINDOW passages at a time: a token list as Python strings costs ~15 times
    its ids, so cutting the whole archive at once held over a gigabyte at 100k passages."""
    todo = [i for i, row in enumerate(plan) if row is None]
    cut = _cut_windows(chunks, todo, progress)
    builder = TokenTableBuilder(prev)
    for row in plan:
        if row is None:
            builder.add(next(cut))
        else:
            builder.add_previous(row)
    return builder.finish()


def _cut_windows(chunks: list[dict], todo: list[int], progress) -> Iterator[list[str]]:
    for w in range(0, len(todo), TOKEN_WINDOW):
        part = todo[w:w + TOKEN_WINDOW]
        report = (lambda stage, done, total, w=w: progress(stage, w + done, len(todo))) if progress else None
        yield from tokens_many([chunks[i]["text"] for i in part], report)


def _write(gen: Path, articles, chunks, table: TokenTable, vectors: np.ndarray, kind: str) -> None:
    storage.write_jsonl(gen / "articles.jsonl", articles)
    storage.write_jsonl(gen / "chunks.jsonl", chunks)
    Columns.from_records(chunks, articles).save(gen / "columns.npz")
    table.save(gen / "tokens")
    np.save(gen / "vectors.npy", vectors, allow_pickle=False)
    dense.save(dense.build(vectors, kind), gen / "index.faiss")
    KeywordIndex.build(table).save(gen / "bm25")


def _versions() -> dict:
    out = {"python": platform.python_version()}
    for pkg in ("newsqa", "faiss-cpu", "bm25s", "jieba", "numpy", "opencc-python-reimplemented"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def _manifest(model: dict, ident: dict, report: BuildReport, files: dict[str, str]) -> dict:
    return {
        "format_version": storage.FORMAT_VERSION, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "model": model, "normalized": True, "metric": "inner_product", "index_kind": report.index_kind,
        "index_params": dense.params(report.index_kind, report.chunks), "settings": ident, "files": files, "skipped": [{"path": p, "reason": r} for p, r in report.skipped],
        "notes": [{"path": p, "note": r} for p, r in report.notes],
        "counts": {"articles": report.articles, "chunks": report.chunks, "skipped": len(report.skipped),
                   "duplicates": len(report.duplicates), "embedded": report.embedded, "reused": report.reused},
        "build_seconds": round(report.seconds, 3), "versions": _versions(),
    }


@dataclass
class CheckResult:
    ok: bool
    problems: list[str]
    manifest: dict | None = None


def check(settings: Settings) -> CheckResult:
    """Does the index match the articles, the settings and the model? Reads files, loads no model."""
    if settings.store != "local" and store.kind(settings.store) != "local":
        from .store.milvus_check import check as check_milvus

        return check_milvus(settings)
    try:
        _, manifest = storage.read_manifest(settings.index)
    except IndexError_ as e:
        return CheckResult(False, [str(e)])
    problems = []
    built_with = manifest.get("model", {}).get("model")
    if not same_model(built_with, settings.model):
        problems.append(f"index was built with model {built_with!r}, settings ask for {settings.model!r}")
    if manifest.get("settings") != settings_identity(settings):
        problems.append("chunking, tokenizer or user dictionary settings changed since the build")
    try:
        current = {p.relative_to(settings.seeds).as_posix(): p for p in seed_files(settings.seeds)}
    except SeedsError as e:
        return CheckResult(False, [str(e)], manifest)
    indexed = dict(manifest.get("files", {}))
    inside = {p[0] for ps in manifest.get("row_problems", {}).values() for p in ps}  # rows, not files
    skipped = {s["path"] for s in manifest.get("skipped", [])} - inside
    added = [p for p in current if p not in indexed and p not in skipped]
    removed = [p for p in set(indexed) | skipped if p not in current]
    changed = [p for p, f in current.items() if p in indexed and _digest(f, settings) != indexed[p]]
    for label, paths in (("new", added), ("changed", changed), ("deleted", removed)):
        if paths:
            problems.append(f"{len(paths)} {label} article file(s) since the build, e.g. {sorted(paths)[0]}")
    return CheckResult(not problems, problems, manifest)


def _digest(path: Path, settings: Settings) -> str | None:
    try:
        if streamed(path):
            return file_digest(regular_file(path, settings.seeds, settings.follow_links))  # an export can be 1 GB
        return hashlib.sha256(read_capped(path, settings.seeds, settings.follow_links)).hexdigest()
    except (ArticleError, OSError):
        return None
