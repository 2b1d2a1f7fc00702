"""RSS peak per sub-step of a local build (benchmarks/README.md "Build memory at 1M").

    python benchmarks/build_substeps.py SEEDS INDEX   # e.g. seeds written by benchmarks/build_memory.py

Wraps the functions the build calls (read, fold, token table, vectors, FAISS, BM25 ...) and samples
VmRSS / RssAnon every 0.1 s; prints each step's start, end and peak (MB), then all peaks as JSON.
Model hash-512: no model memory, so what is measured is the build's own.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, os.environ.get("CODE", str(Path(__file__).resolve().parent.parent)))

import qa.buildwrite as bw  # noqa: E402
import qa.dense as dn  # noqa: E402
import qa.index as ix  # noqa: E402
import qa.keywords as kw  # noqa: E402
import qa.tokentable as tt  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.embedding import load_embedder  # noqa: E402

current = ["start"]
peaks: dict[str, list[int]] = {}


def rss() -> tuple[int, int]:
    with open("/proc/self/status") as f:
        d = {x.split(":")[0]: int(x.split()[1]) for x in f if x.startswith(("VmRSS:", "RssAnon:"))}
    return d["VmRSS"] // 1024, d["RssAnon"] // 1024


def sampler() -> None:
    while True:
        r, a = rss()
        p = peaks.setdefault(current[0], [0, 0])
        p[0], p[1] = max(p[0], r), max(p[1], a)
        time.sleep(0.1)


def wrap(owner, name: str, label: str) -> None:
    f = getattr(owner, name)

    def step(*a, **k):
        before, t = current[0], time.time()
        current[0] = label
        print(f"{time.strftime('%H:%M:%S')} >{label} {rss()}", flush=True)
        try:
            return f(*a, **k)
        finally:
            print(f"{time.strftime('%H:%M:%S')} <{label} {rss()} peak {peaks.get(label)} {time.time() - t:.0f}s",
                  flush=True)
            current[0] = before + "+"

    setattr(owner, name, step)


def main() -> None:
    threading.Thread(target=sampler, daemon=True).start()
    for owner, name, label in ((ix.Reader, "read", "read"), (bw, "fold", "fold"), (bw, "token_table", "token_table"),
                               (tt.TokenTableBuilder, "finish", "tt_finish"), (bw, "vectors", "vectors"),
                               (bw, "write", "write"), (bw.storage, "write_jsonl", "write_jsonl"),
                               (tt.TokenTable, "save", "tt_save"), (dn, "build", "faiss_build"),
                               (dn, "save", "faiss_save"), (kw, "_bm25_matrix", "bm25_matrix"),
                               (kw.KeywordIndex, "save", "bm25_save")):
        wrap(owner, name, label)
    settings = Settings(seeds=Path(sys.argv[1]), index=Path(sys.argv[2]), model="hash-512")
    report = ix.build(settings, load_embedder("hash-512"))
    print("chunks", report.chunks, "peaks", json.dumps(peaks), flush=True)


if __name__ == "__main__":
    main()
