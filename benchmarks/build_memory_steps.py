"""Where a local build's memory goes, step by step (issue 13.10): RSS and RssAnon before and after
each step of `qa.index.build` (fold, token table, vectors, each file written, FAISS, BM25).

    nice -n 10 .venv/bin/python benchmarks/build_memory_steps.py --seeds DIR [--flat-max 1000] [--write]

DIR: a seeds folder, e.g. one written by benchmarks/build_memory.py (`--seeds DIR` keeps it). The build
runs in this process with `hash-512`; `--flat-max` lowers dense.FLAT_MAX so that a small folder gets the
HNSW index of a big one. Steps are wrapped by name, so the numbers are what each step left allocated
("after") and the step's own peak is at most the next "before" plus its temporaries (VmHWM column).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.machine import machine, publish  # noqa: E402

ROWS: list[tuple[str, dict]] = []


def status() -> dict:
    with open("/proc/self/status") as f:
        return {x.split(":")[0]: int(x.split()[1]) // 1024 for x in f if x.startswith(("VmRSS", "RssAnon", "VmHWM"))}


def wrap(owner, name: str, label: str, method: bool = False) -> None:
    fn = getattr(owner, name).__func__ if method else getattr(owner, name)

    def step(*a, **k):
        ROWS.append((f"before {label}", status()))
        out = fn(*a, **k)
        ROWS.append((f"after {label}", status()))
        return out

    setattr(owner, name, classmethod(step) if method else step)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=Path, required=True)
    ap.add_argument("--flat-max", type=int, default=None)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    from qa import buildwrite, dense, keywords, storage
    from qa.config import Settings
    from qa.index import build

    if args.flat_max is not None:
        dense.FLAT_MAX = args.flat_max
    for owner, name, label in ((buildwrite, "fold", "fold"), (buildwrite, "token_table", "token table (jieba)"),
                               (buildwrite, "vectors", "vectors"), (storage, "write_jsonl", "write jsonl"),
                               (dense, "build", "FAISS build"), (dense, "save", "FAISS save")):
        wrap(owner, name, label)
    wrap(keywords.KeywordIndex, "build", "BM25 build", method=True)
    ROWS.append(("start", status()))
    load = Path("/proc/loadavg").read_text().split()[0]
    with tempfile.TemporaryDirectory(prefix="build-steps-") as tmp:
        t = time.perf_counter()
        r = build(Settings.load(seeds=args.seeds, index=Path(tmp) / "index", model="hash-512"))
        seconds = time.perf_counter() - t
    ROWS.append(("done", status()))
    lines = ["| step | RSS MB | RssAnon MB | peak so far (VmHWM) MB |", "|---|---:|---:|---:|"]
    lines += [f"| {label} | {s['VmRSS']:,} | {s['RssAnon']:,} | {s['VmHWM']:,} |" for label, s in ROWS]
    publish("build-memory-steps", "### A local build's memory step by step (benchmarks/build_memory_steps.py)",
            f"{machine()}, load {load}; {r.chunks:,} passages of {r.articles:,} articles, `hash-512`, "
            f"{r.index_kind} index (FLAT_MAX {dense.FLAT_MAX:,}), {seconds:.0f} s.\n\n" + "\n".join(lines), args.write)


if __name__ == "__main__":
    main()
