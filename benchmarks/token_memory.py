"""Memory a build keeps after tokenising, token lists versus encoded blocks (benchmarks/README.md,
"Build memory at 1.75M passages").

    python benchmarks/token_memory.py [--passages 40000] [--mode lists|blocks]

Passages: lines of ../shared/eval/news-corpus longer than 20 characters. `lists`: token lists from
qa.text.tokens_many added one by one (the build before 2026-12-07); `blocks`: qa.text.tokens_encoded fed
to the builder (the build now). Prints RSS before and after, and pymalloc's arenas (sys._debugmallocstats
in a forked child): arenas in use and the bytes free inside them (the holes).
"""

from __future__ import annotations

import argparse
import gc
import gzip
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa import text as tx  # noqa: E402
from qa.tokentable import TokenTableBuilder  # noqa: E402

CORPUS = ROOT.parent / "shared" / "eval" / "news-corpus" / "corpus.jsonl.gz"


def rss() -> int:
    return int(open("/proc/self/statm").read().split()[1]) * 4096 // 2**20


def arenas() -> str:
    r, w = os.pipe()
    if (pid := os.fork()) == 0:
        os.dup2(w, 2)
        sys._debugmallocstats()
        os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    out = b""
    while chunk := os.read(r, 1 << 16):
        out += chunk
    lines = out.decode().splitlines()
    cur = next(x for x in lines if "arenas allocated current" in x).split("=")[1].strip()
    free = next(x for x in lines if "bytes in available blocks" in x).split("=")[1].strip()
    return f"arenas {cur}, free in them {free} bytes"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--passages", type=int, default=40_000)
    ap.add_argument("--mode", choices=["lists", "blocks"], default="blocks")
    args = ap.parse_args()
    texts: list[str] = []
    with gzip.open(CORPUS, "rt", encoding="utf-8") as f:
        for line in f:
            texts += [p for p in json.loads(line)["text"].split("\n") if len(p.strip()) > 20]
            if len(texts) >= args.passages:
                break
    texts = texts[:args.passages]
    tx.tokens_many(texts[:3000])
    gc.collect()
    before = rss()
    print(f"warm: RSS {before} MB, {arenas()}", flush=True)
    t = time.perf_counter()
    b = TokenTableBuilder()
    for w in range(0, len(texts), 5000):  # qa/index.py TOKEN_WINDOW
        part = texts[w:w + 5000]
        if args.mode == "lists":
            for toks in tx.tokens_many(part):
                b.add(toks)
        else:
            for block in tx.tokens_encoded(part):
                b.feed(*block)
            for _ in part:
                b.add_new()
    gc.collect()
    print(f"{args.mode}: RSS {rss()} MB (+{rss() - before}), {arenas()}, {len(b._vocab)} words, "
          f"{time.perf_counter() - t:.0f} s", flush=True)


if __name__ == "__main__":
    main()
