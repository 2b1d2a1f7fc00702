"""The on-disk index: generations, the CURRENT pointer, the manifest, the build lock, loading.

    embeddings/
      CURRENT              name of the live generation; replaced atomically (os.replace)
      gen-<time>-<pid>/    one complete index: manifest.json (written last), index.faiss,
                           vectors.npy, chunks.jsonl, articles.jsonl, columns.npz, tokens/, bm25/
      .lock                held by a running build
      .work/               embedded batches of an unfinished build (resume)

A build writes a new generation beside the live one and swaps CURRENT at the end, so a crash at
any point leaves the previous index whole. Nothing here is pickled: JSON, .npy and FAISS files only.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .errors import IndexError_, IndexLockedError
from .records import ArticleRows, Columns, JsonlRows

FORMAT_VERSION = 2  # 2: passages' tokens as ids (tokens/) instead of tokens.txt
FILES = ("manifest.json", "index.faiss", "vectors.npy", "chunks.jsonl", "articles.jsonl", "columns.npz",
         "tokens/ids.npy", "tokens/offsets.npy", "tokens/vocab.json")


def _fix(index_dir: Path) -> str:
    return f"run `qa build --index {index_dir}`" if str(index_dir) != "embeddings" else "run `qa build`"


@contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """One build per index folder at a time; the OS drops the lock if the process dies."""
    index_dir.mkdir(parents=True, exist_ok=True)
    path = index_dir / ".lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
            raise IndexLockedError(f"{index_dir}: another `qa build` (pid {holder}) is writing this index: "
                                   "wait for it to finish, then run your build again") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)


def current_generation(index_dir: Path) -> Path | None:
    try:
        name = (index_dir / "CURRENT").read_text().strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    if not name.startswith("gen-") or "/" in name or ".." in name:
        raise IndexError_(f"{index_dir / 'CURRENT'} is damaged (says {name[:40]!r}): {_fix(index_dir)}")
    return index_dir / name


def new_generation(index_dir: Path) -> Path:
    gen = index_dir / f"gen-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    gen.mkdir(parents=True)
    return gen


def _after(step: str) -> None:
    """A fault point, a no-op: tests replace it to raise or SIGKILL after each step of `publish`
    (tests/test_publish.py), and check that the last complete index still loads and answers."""


PUBLISH_STEPS = ("generation written", "fsync", "pointer written", "rename", "directory synced", "old removed")


def publish(index_dir: Path, gen: Path) -> None:
    """Make `gen` live: flush its files, swap CURRENT, then remove older generations.

    The order is the crash safety: until the rename, CURRENT names the old generation (whole); after
    it, the new one (flushed before). Old generations go only once the new one is live."""
    _after("generation written")
    for f in gen.rglob("*"):
        if f.is_file():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
    _after("fsync")
    tmp = index_dir / "CURRENT.tmp"
    with open(tmp, "w") as fh:
        fh.write(gen.name)
        fh.flush()
        os.fsync(fh.fileno())
    _after("pointer written")
    os.replace(tmp, index_dir / "CURRENT")
    _after("rename")
    dir_fd = os.open(index_dir, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    _after("directory synced")
    remove_stale(index_dir, keep=gen)
    _after("old removed")


def remove_stale(index_dir: Path, keep: Path | None) -> None:
    """Delete generations that are not live (left by finished or crashed builds)."""
    for old in index_dir.glob("gen-*"):
        if old.is_dir() and (keep is None or old.name != keep.name):
            shutil.rmtree(old, ignore_errors=True)


def clean_up(index_dir: Path) -> None:
    """Under the build lock: remove generations a killed build left (before or after its swap). Only when
    CURRENT names a generation that exists; otherwise nothing is deleted (it may be all that is left)."""
    try:
        live = current_generation(index_dir)
    except IndexError_:
        return
    if live is not None and live.is_dir():
        remove_stale(index_dir, keep=live)


def write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def write_jsonl(path: Path, rows: Iterable[dict]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@dataclass
class StoredIndex:
    """A loaded generation, ready to search. Passages and articles are read from disk row by row
    (`qa/records.py`); `columns` holds what search needs of all of them."""

    folder: Path
    manifest: dict
    chunks: Sequence[dict]
    articles: Mapping[str, dict]
    faiss_index: object
    keywords: object  # KeywordIndex
    columns: Columns


def read_manifest(index_dir: Path) -> tuple[Path, dict]:
    """The live generation and its manifest, checked for presence and format version."""
    if not index_dir.exists():
        raise IndexError_(f"no index at {index_dir}: {_fix(index_dir)}")
    gen = current_generation(index_dir)
    if gen is None:
        raise IndexError_(f"no index at {index_dir} (no CURRENT file): {_fix(index_dir)}")
    try:
        manifest = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexError_(f"{gen}: manifest.json is missing, the index is incomplete: {_fix(index_dir)}") from None
    except (ValueError, OSError) as e:
        raise IndexError_(f"{gen / 'manifest.json'} is unreadable ({e}): {_fix(index_dir)}") from None
    if not isinstance(manifest, dict):
        raise IndexError_(f"{gen / 'manifest.json'} is damaged (not a JSON object): {_fix(index_dir)}")
    version = manifest.get("format_version")
    if not isinstance(version, int):
        raise IndexError_(f"{gen / 'manifest.json'} has no format version: {_fix(index_dir)}")
    if version > FORMAT_VERSION:
        raise IndexError_(f"{index_dir} was written by a newer newsqa (format {version}, this one reads "
                          f"{FORMAT_VERSION}): upgrade newsqa, or {_fix(index_dir)} to rebuild it")
    if version < FORMAT_VERSION:
        raise IndexError_(f"{index_dir} uses the old index format {version}: {_fix(index_dir)}")
    problem = manifest_problem(manifest)
    if problem:
        raise IndexError_(f"{gen / 'manifest.json'} is damaged ({problem}): {_fix(index_dir)}")
    return gen, manifest


def manifest_problem(manifest: dict) -> str | None:
    """What is wrong with the shape of a manifest that parsed as JSON, or None. The manifest is read
    from disk, so its parts are checked before use: `model: null` or a list raised AttributeError, and
    `../` names in `file_sizes` were stat'ed outside the index."""
    model, counts, sizes = manifest.get("model"), manifest.get("counts"), manifest.get("file_sizes", {})
    if not isinstance(model, dict) or not isinstance(model.get("model"), str) or not _count(model.get("dim")):
        return "`model` must say the model's name and dimension"
    if not isinstance(counts, dict) or not all(_count(counts.get(k)) for k in ("chunks", "articles")):
        return "`counts` must give the number of passages and articles"
    if not isinstance(sizes, dict) or not all(_count(v) for v in sizes.values()):
        return "`file_sizes` must map file names to sizes"
    outside = [name for name in sizes if not _inside(name)]
    if outside:
        return f"`file_sizes` names a file outside the index: {outside[0][:60]!r}"
    for key, kind in (("files", dict), ("skipped", list), ("settings", dict)):
        if key in manifest and not isinstance(manifest[key], kind):
            return f"`{key}` must be a JSON {'object' if kind is dict else 'list'}"
    if not all(isinstance(x, dict) and isinstance(x.get("path"), str) and isinstance(x.get("reason"), str)
               for x in manifest.get("skipped", [])):
        return "`skipped` must list {path, reason} objects"
    return None


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _inside(name: object) -> bool:
    """A relative name that stays inside its generation folder (no `..`, not absolute, no drive)."""
    if not isinstance(name, str) or not name or "\\" in name or "\x00" in name:
        return False
    parts = PurePosixPath(name).parts
    return not PurePosixPath(name).is_absolute() and ".." not in parts and parts[0] not in ("", ".")


def file_sizes(gen: Path) -> dict[str, int]:
    """Size of every file of a generation: a truncated file is caught before FAISS maps it."""
    return {f.relative_to(gen).as_posix(): f.stat().st_size for f in sorted(gen.rglob("*"))
            if f.is_file() and f.name != "manifest.json"}


def load(index_dir: Path) -> StoredIndex:
    """Load and cross-check the live generation; anything inconsistent is refused, never half-loaded."""
    from . import dense
    from .keywords import KeywordIndex

    gen, manifest = read_manifest(index_dir)
    for name in FILES:
        if not (gen / name).is_file():
            raise IndexError_(f"{gen / name} is missing, the index is incomplete: {_fix(index_dir)}")
    for name, size in manifest.get("file_sizes", {}).items():
        actual = (gen / name).stat().st_size if (gen / name).is_file() else None
        if actual != size:
            state = "is missing" if actual is None else f"has {actual} bytes, the manifest says {size}"
            raise IndexError_(f"{gen / name} {state}: the index is damaged: {_fix(index_dir)}")
    fix = _fix(index_dir)
    try:
        columns = Columns.load(gen / "columns.npz")
        chunks = JsonlRows(gen / "chunks.jsonl", fix)
        article_rows = JsonlRows(gen / "articles.jsonl", fix)
        articles = ArticleRows(article_rows, columns.article_ids.tolist())
    except (ValueError, KeyError, OSError) as e:
        raise IndexError_(f"{gen}: the passage or article files are damaged ({e}): {fix}") from None
    try:
        faiss_index = dense.load(gen / "index.faiss")
    except Exception as e:  # noqa: BLE001 - FAISS raises RuntimeError/others for truncated files
        raise IndexError_(f"{gen / 'index.faiss'} cannot be read ({str(e).splitlines()[0][:120]}): "
                          f"{_fix(index_dir)}") from None
    try:
        keywords = KeywordIndex.load(gen / "bm25")
    except Exception as e:  # noqa: BLE001 - bm25s raises several kinds for damaged files
        raise IndexError_(f"{gen / 'bm25'} cannot be read ({e}): {_fix(index_dir)}") from None
    n = manifest.get("counts", {}).get("chunks")
    sizes = {"manifest": n, "chunks.jsonl": len(chunks), "index.faiss": faiss_index.ntotal,
             "bm25": keywords.num_docs, "columns.npz": len(columns.article_of)}
    if len(set(sizes.values())) != 1:
        detail = ", ".join(f"{k} {v}" for k, v in sizes.items())
        raise IndexError_(f"{gen}: parts of the index disagree on the number of passages ({detail}): "
                          f"{_fix(index_dir)}")
    if faiss_index.d != manifest.get("model", {}).get("dim"):
        raise IndexError_(f"{gen}: vectors have dimension {faiss_index.d} but the manifest says "
                          f"{manifest.get('model', {}).get('dim')}: {_fix(index_dir)}")
    n_articles = manifest.get("counts", {}).get("articles")
    if not n_articles == len(article_rows) == len(columns.article_ids):
        raise IndexError_(f"{gen}: articles.jsonl has {len(article_rows)} articles, columns.npz "
                          f"{len(columns.article_ids)}, the manifest {n_articles}: {fix}")
    return StoredIndex(gen, manifest, chunks, articles, faiss_index, keywords, columns)


# What a build reuses of the live generation lives in qa/previous.py (kept importable from here).
from .previous import Previous, load_previous, previous_vectors  # noqa: E402, F401
