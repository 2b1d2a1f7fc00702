"""Crash safety of publishing, a full disk, and a tampered index (issue 12, items 14, 15, 18).

Publishing has deterministic fault points (`storage._after`): a build is made to raise, or is SIGKILLed,
right after each step, and the last complete index must then load and answer."""

from __future__ import annotations

import errno
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa import Asker, IndexError_, Settings, build, storage
from qa.index import check
from qa.vectorcache import VectorCache

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "seeds" / "000_e0ddd22777e12010.txt"
NEW = "---\ntitle: 新到的文章\ndate: 2024-08-01\n---\n\n长江大桥今天完成了年度检修，车辆恢复通行，交通部门表示一切正常。\n"
STEPS = storage.PUBLISH_STEPS


class Fault(Exception):
    pass


def _old_index(tmp_path: Path) -> tuple[Settings, str]:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    shutil.copy(SEED, seeds)
    s = Settings.load(seeds=seeds, index=tmp_path / "index", model="hash")
    build(s)
    (seeds / "new.md").write_text(NEW, encoding="utf-8")
    return s, storage.current_generation(s.index).name


def _answers(s: Settings) -> set[str]:
    """Load the live index from scratch and ask; the titles it can answer from."""
    asker = Asker.open(s)
    titles = {h.title for h in asker.ask("长江大桥检修 联合国 人工智能", k=10, mode="keyword").hits}
    assert titles
    return titles


@pytest.mark.parametrize("step", STEPS)
def test_raise_after_each_publish_step_leaves_the_last_complete_index(tmp_path: Path, step: str,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    s, old = _old_index(tmp_path)
    pointer: dict[str, str] = {}

    def fault(at: str) -> None:
        pointer[at] = (s.index / "CURRENT").read_text()
        if at == step:
            raise Fault(at)

    monkeypatch.setattr(storage, "_after", fault)
    with pytest.raises(Fault):
        build(s)
    # CURRENT changes at the rename and nowhere else (not written in place, not before the files are flushed)
    for at, name in pointer.items():
        assert (name == old) == (STEPS.index(at) < STEPS.index("rename")), (at, name)
    live = storage.current_generation(s.index)
    published = STEPS.index(step) >= STEPS.index("rename")
    assert (live.name != old) == published
    assert live.is_dir() and (s.index / old).is_dir() == (STEPS.index(step) < STEPS.index("old removed"))
    assert ("新到的文章" in _answers(s)) == published
    monkeypatch.undo()
    build(s)
    assert "新到的文章" in _answers(s)
    assert len(list(s.index.glob("gen-*"))) == 1 and check(s).ok


KILLER = """
import os, signal, sys
from qa import storage
step = sys.argv[1]
storage._after = lambda at: at == step and os.kill(os.getpid(), signal.SIGKILL)
from qa.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.slow
@pytest.mark.parametrize("step", STEPS)
def test_sigkill_after_each_publish_step_leaves_the_last_complete_index(tmp_path: Path, step: str) -> None:
    s, old = _old_index(tmp_path)
    args = ["build", "--seeds", str(s.seeds), "--index", str(s.index), "--model", "hash", "--quiet"]
    killed = subprocess.run([sys.executable, "-c", KILLER, step, *args], capture_output=True, text=True, cwd=ROOT)
    assert killed.returncode == -9, killed.stderr  # the kill landed at that step, during the build
    published = STEPS.index(step) >= STEPS.index("rename")
    assert (storage.current_generation(s.index).name != old) == published
    assert ("新到的文章" in _answers(s)) == published
    build(s)  # the next build clears what the killed one left
    assert "新到的文章" in _answers(s) and len(list(s.index.glob("gen-*"))) == 1


# --- item 14: a full disk ------------------------------------------------------------------------------

def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device", str(args[0]) if args else None)


@pytest.mark.parametrize("where", ["passages", "vector cache", "faiss"])
def test_full_disk_is_one_error_and_leaves_no_work_behind(tmp_path: Path, where: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    s, old = _old_index(tmp_path)
    for i in range(40):  # enough new passages for several embedding batches
        (s.seeds / f"n{i}.md").write_text(NEW.replace("年度检修", f"第{i}次检修"), encoding="utf-8")
    if where == "passages":
        monkeypatch.setattr(storage, "write_jsonl", _enospc)
    elif where == "vector cache":
        real_add, calls = VectorCache.add, []

        def add(self, hashes, vectors, **kw):
            calls.append(1)
            if len(calls) > 1:  # the first batch is saved, the disk fills during the second
                _enospc(self.folder)
            real_add(self, hashes, vectors, **kw)

        monkeypatch.setattr(VectorCache, "add", add)
    else:
        from qa import dense

        def save(index, path):  # what faiss 1.x raises (seen on a full tmpfs)
            raise RuntimeError(f"Error in void faiss::write_index(...): 'ret == (size * 4)' failed: write error "
                               f"in {path}: 389075 != 621568 (No space left on device)")

        monkeypatch.setattr(dense, "save", save)
    with pytest.raises(IndexError_) as err:
        build(s)
    message = str(err.value)
    assert "disk is full" in message and "qa build" in message and "\n" not in message
    if where == "vector cache":
        assert "removed" in message and "MB" in message
    assert not (s.index / ".work").exists()
    assert [g.name for g in s.index.glob("gen-*")] == [old]
    assert "新到的文章" not in _answers(s)  # the previous index, whole


DISKFULL = """
import errno, sys
from qa import storage
def full(*a, **k):
    raise OSError(errno.ENOSPC, "No space left on device", str(a[0]))
storage.write_jsonl = full
from qa.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_full_disk_in_the_cli_is_one_line_and_exit_2(tmp_path: Path) -> None:
    s, _ = _old_index(tmp_path)
    args = ["build", "--seeds", str(s.seeds), "--index", str(s.index), "--model", "hash"]
    out = subprocess.run([sys.executable, "-c", DISKFULL, *args], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines() == [out.stderr.strip()] and "disk is full" in out.stderr


@pytest.mark.slow
def test_a_real_full_filesystem(tmp_path: Path) -> None:
    """A 3 MB tmpfs holds the index; the rebuild does not fit. Needs root (mount); skipped otherwise."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    try:
        seeds = tmp_path / "seeds"
        seeds.mkdir()
        shutil.copy(SEED, seeds)
        s = Settings.load(seeds=seeds, index=mnt / "index", model="hash")
        build(s)
        for i in range(600):  # fails in np.save, whose OSError has no errno ("155392 requested and 18400 written")
            unique = " ".join(hashlib.sha256(f"{i}-{j}".encode()).hexdigest() for j in range(10))  # no copies
            (seeds / f"n{i}.md").write_text(NEW.replace("年度检修", f"第{i}次检修，{unique}，" + "各方评价不一，" * 10),
                                            encoding="utf-8")
        args = ["build", "--seeds", str(seeds), "--index", str(s.index), "--model", "hash", "--quiet"]
        out = subprocess.run([sys.executable, "-m", "qa.cli", *args], capture_output=True, text=True, cwd=ROOT)
        assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
        assert "disk is full" in out.stderr and len(out.stderr.strip().splitlines()) == 1
        assert not (s.index / ".work").exists() and len(list(s.index.glob("gen-*"))) == 1
        assert "新到的文章" not in _answers(s)
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


# --- item 15: a tampered index -------------------------------------------------------------------------

def _manifest(s: Settings) -> tuple[Path, dict]:
    gen = storage.current_generation(s.index)
    return gen, json.loads((gen / "manifest.json").read_text())


@pytest.mark.parametrize("how", ["a list", "model null", "model without dim", "counts a list",
                                 "sizes outside", "sizes absolute", "skipped garbage"])
def test_tampered_manifest_is_refused_with_the_fix(tmp_path: Path, how: str) -> None:
    s, _ = _old_index(tmp_path)
    gen, m = _manifest(s)
    if how == "a list":
        m = [m]
    elif how == "model null":
        m["model"] = None
    elif how == "model without dim":
        del m["model"]["dim"]
    elif how == "counts a list":
        m["counts"] = [1, 2]
    elif how in ("sizes outside", "sizes absolute"):
        secret = tmp_path / "secret"
        secret.write_bytes(b"x" * 17)
        m["file_sizes"]["../../secret" if how == "sizes outside" else str(secret)] = 17  # would match if stat'ed
    else:
        m["skipped"] = ["x.md"]
    (gen / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(IndexError_) as err:
        storage.load(s.index)
    assert "qa build" in str(err.value) and "manifest.json" in str(err.value)
    if how.startswith("sizes"):
        assert "outside the index" in str(err.value)
    assert storage.load_previous(s.index) is None  # a build does not reuse it
    out = subprocess.run([sys.executable, "-m", "qa.cli", "ask", "决议", "--index", str(s.index), "--model", "hash"],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 2 and out.stderr.startswith("error:") and "Traceback" not in out.stderr
    build(s)  # and the fix works
    assert "新到的文章" in _answers(s)


@pytest.mark.parametrize("keep_header", [False, True])
@pytest.mark.parametrize("name", ["data.csc.index.npy", "indices.csc.index.npy", "indptr.csc.index.npy",
                                  "vocab.index.json", "params.index.json"])
def test_same_size_garbage_in_the_keyword_files_is_refused_or_harmless(tmp_path: Path, name: str,
                                                                       keep_header: bool) -> None:
    s, _ = _old_index(tmp_path)
    path = storage.current_generation(s.index) / "bm25" / name
    raw = path.read_bytes()
    rng = np.random.default_rng(len(raw))
    head = 128 if keep_header and name.endswith(".npy") else 0
    path.write_bytes(raw[:head] + rng.integers(0, 256, len(raw) - head, dtype=np.uint8).tobytes())
    try:
        asker = Asker.open(s)
    except IndexError_ as e:
        assert "qa build" in str(e) and "bm25" in str(e)
        return
    for mode in ("keyword", "hybrid"):  # loaded: then questions must work (scores may be nonsense)
        asker.ask("联合国大会决议人工智能", k=5, mode=mode)
