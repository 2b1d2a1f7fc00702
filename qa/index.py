"""`qa build` and `qa check`: seeds folder -> a complete, atomic, incremental index generation.

Incremental: an article whose path and bytes are unchanged keeps its chunks, tokens and vectors;
any chunk whose text was embedded before (by the same model) keeps its vector; only the rest is
embedded, in length-sorted batches, each saved under `.work/` as it finishes (resume after a crash).

Memory does not grow with the archive's text: the reading pass (qa/buildread.py) spills every article
and passage to `.work/spill/` as it is read (qa/buildspill.py) and keeps a few columns per article;
syndicated copies are folded from signatures; token ids, vectors (written into a file, not a list) and
the generation's files are then made by streaming the spills back (qa/buildwrite.py). What still grows
is what the index itself holds: vectors and the FAISS index, token ids, BM25, the columns.
"""

from __future__ import annotations

import contextlib
import hashlib
import platform
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

from . import buildwrite, dense, storage, store
from .buildread import Catalogue, Reader
from .buildspill import Spill
from .config import Settings
from .diskfull import disk_full_error, is_disk_full
from .embedding import Embedder, load_embedder, same_model
from .errors import ArticleError, IndexError_, SeedsError
from .previous import Reuse, load_reuse
from .seedfiles import seed_digest, seed_files
from .text import load_userdict, read_userdict
from .vectorcache import model_key

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


def _previous(index_dir: Path, model: dict, ident: dict) -> Reuse | None:
    """The live generation when it was built with the same model and settings, else None."""
    prev = load_reuse(index_dir)
    if prev is None:
        return None
    same = prev.manifest.get("model") == model and prev.manifest.get("settings") == ident
    if not same:
        prev.close()
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
    work = settings.index / ".work"
    with storage.build_lock(settings.index), _Warmup(embedder) as warmup:
        storage.clean_up(settings.index)
        shutil.rmtree(work / "spill", ignore_errors=True)  # a killed build's rows (its embedded batches stay)
        prev = _previous(settings.index, model, ident)
        try:
            with Spill(work / "spill" / "articles.jsonl") as articles, Spill(work / "spill" / "passages.jsonl") as passages:
                cat = Reader(settings, prev, report, articles, passages, warmup.start).read(files, progress)
                t_fold = time.perf_counter()
                plan = buildwrite.fold(cat)  # syndicated copies: indexed once, listed on the original
                report.copies, report.fold_seconds = len(plan.folded), time.perf_counter() - t_fold
                if not len(plan.final):
                    raise SeedsError(f"none of the {len(files)} files in {settings.seeds} has article text "
                                     f"(first problem: {report.skipped[0][0]}: {report.skipped[0][1]})"
                                     if report.skipped else f"no article text in {settings.seeds}")
                report.articles, report.chunks = len(cat), len(plan.final)
                if prev and prev.current_format and prev.manifest.get("files") == cat.files and [
                        (s["path"], s["reason"]) for s in prev.manifest.get("skipped", [])] == report.skipped:
                    report.reused, report.unchanged = len(plan.final), True
                    report.index_kind = prev.manifest.get("index_kind", "flat")
                else:
                    _generation(settings, embedder, prev, cat, plan, articles, passages, report, progress, t0)
        finally:
            if prev:
                prev.close()
            shutil.rmtree(work / "spill", ignore_errors=True)  # (embedded batches stay for a resume)
        report.seconds = time.perf_counter() - t0
        # also when unchanged: a build killed after its swap left batches that no resume will need
        shutil.rmtree(work, ignore_errors=True)
    return report


def _generation(settings: Settings, embedder: Embedder, prev: Reuse | None, cat: Catalogue, plan: buildwrite.Plan,
                articles: Spill, passages: Spill, report: BuildReport, progress: Progress | None, t0: float) -> None:
    """Token ids, vectors and the files of a new generation, published atomically."""
    reuse_rows = np.array(cat.prev_rows, np.int64)[plan.final]  # per passage: the live row with its text, or -1
    work = settings.index / ".work"
    table = buildwrite.token_table(passages, plan.final, reuse_rows, prev.tokens if prev else None,
                                   TOKEN_WINDOW, progress, work / "tokens")
    model = embedder.identity()
    buildwrite.vectors(work / "vectors.npy", passages, plan.final, reuse_rows, prev, embedder,
                       work / model_key(model), report, BATCH, progress)
    report.index_kind = dense.choose_kind(len(plan.final))
    if progress:
        progress("write", 0, 1)  # (no bar for a total of 1: it names the stage for memory benchmarks)
    gen = storage.new_generation(settings.index)
    try:
        buildwrite.write(gen, cat, plan, articles, passages, table, work / "tokens", work / "vectors.npy",
                         report.index_kind)
        report.seconds = time.perf_counter() - t0
        manifest = _manifest(model, settings_identity(settings), report, cat.files)
        manifest["file_sizes"] = storage.file_sizes(gen)
        manifest["row_problems"] = cat.row_problems
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
        return seed_digest(path, settings.seeds, settings.follow_links)[1]  # an export can be 1 GB: streamed
    except ArticleError:
        return None
