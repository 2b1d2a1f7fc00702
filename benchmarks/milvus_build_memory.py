"""Peak RSS of `qa build` into each store as the archive grows (issue 13 item 10).

    python benchmarks/milvus_build_memory.py [--sizes 2000,8000] [--stores local,lite]

Articles: the first N of ../shared/eval/news-corpus (real 2023 Chinese news), written as .txt files;
model `hash` (no model memory, no embedding time: what is measured is the build's own memory). Each build
runs as its own `qa build` process; its peak RSS is the child's ru_maxrss.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.machine import machine, publish  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "eval" / "news-corpus" / "corpus.jsonl.gz"


def write_seeds(folder: Path, n: int) -> None:
    folder.mkdir(parents=True)
    with gzip.open(CORPUS, "rt", encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i >= n:
                break
            row = json.loads(line)
            (folder / f"{i:06d}.txt").write_text(f"{row.get('title') or i}\n\n{row['text']}\n", encoding="utf-8")


def peak_build(seeds: Path, store: str, index: Path, cache: Path) -> tuple[float, float, str]:
    """(peak RSS MB, seconds, summary line) of one `qa build` child process."""
    env = {**os.environ, "QA_MILVUS_COLLECTION": "mem", "QA_CACHE": str(cache)}
    code = ("import resource, sys; from qa.cli import main; rc = main(sys.argv[1:]); "
            "print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); sys.exit(rc)")
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", code, "build", "--quiet", "--seeds", str(seeds), "--index", str(index),
                        "--store", store, "--model", "hash"], capture_output=True, text=True, env=env, cwd=ROOT)
    secs = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"build into {store} failed: {r.stderr[-500:]}")
    peak = next(int(x.split()[1]) for x in r.stderr.splitlines() if x.startswith("PEAK")) / 1024
    return peak, secs, r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="2000,8000")
    ap.add_argument("--stores", default="local,lite")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="build-memory-") as tmp:
        for n in map(int, args.sizes.split(",")):
            seeds = Path(tmp) / f"seeds-{n}"
            write_seeds(seeds, n)
            for store in args.stores.split(","):
                spec = "local" if store == "local" else str(Path(tmp) / f"mem-{n}.db")
                peak, secs, line = peak_build(seeds, spec, Path(tmp) / f"index-{n}", Path(tmp) / f"cache-{n}-{store}")
                rows.append((n, store, peak, secs, line))
                print(rows[-1], flush=True)
    lines = ["| articles | store | peak build RSS MB | seconds | summary |", "|---:|---|---:|---:|---|"]
    lines += [f"| {n:,} | {s} | {p:.0f} | {t:.0f} | {line} |" for n, s, p, t, line in rows]
    text = (f"`qa build --model hash` of the first N news-corpus articles, one process per build. "
            f"Machine: {machine()} (shared with other jobs: seconds are not comparable).\n\n" + "\n".join(lines))
    publish("milvus-build-memory", "## Build memory as the archive grows (benchmarks/milvus_build_memory.py)",
            text, not args.no_write)


if __name__ == "__main__":
    main()
