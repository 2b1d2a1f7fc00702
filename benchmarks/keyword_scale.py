"""The keyword half of retrieval at 100k and 1M passages: BM25 scores + top-50, one question at a time.

    .venv/bin/python benchmarks/keyword_scale.py [--real 100000] [--sizes 100000,1000000] [--no-write]

scale.py measures the dense half (FAISS) up to 1M passages; this measures the other half of
`Retriever.search` on the same corpus: jieba on the question, `KeywordIndex.scores` over every passage
and the top-50 partition (what search hands to fusion). The real passages of news-corpus are tokenised
once (cached as a TokenTable); sizes above them repeat the real passages (so document frequencies grow
with the copies and the score matrix has the size a real 1M corpus of such passages would have).
Questions: the first sentences of 200 articles that are not in the set.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import newsdata as nd  # noqa: E402
from benchmarks.speed import load_avg, pct  # noqa: E402

CANDIDATES = 50


def real_table(eval_dir: Path, cache: Path, count: int, log):
    from qa.text import tokens_many
    from qa.tokentable import TokenTable

    folder = cache / f"keyword-scale-tokens-{count}"
    if (folder / "vocab.json").is_file():
        return TokenTable.load(folder)
    _, passages = nd.articles_for_passages(eval_dir, count)
    log(f"tokenising {len(passages):,} real passages (once; cached in {folder})")
    table = TokenTable.from_lists(tokens_many([t for _, t in passages]))
    table.save(folder)
    return table


def tiled(table, n: int):
    """The first n passages of the real table repeated as often as needed."""
    from qa.tokentable import TokenTable

    real = len(table)
    reps, rest = divmod(n, real)
    lengths = np.diff(table.offsets)
    lengths = np.concatenate([np.tile(lengths, reps), lengths[:rest]])
    ids = np.concatenate([np.tile(np.asarray(table.ids), reps), np.asarray(table.ids)[: table.offsets[rest]]])
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return TokenTable(ids, offsets, table.vocab)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--eval", type=Path, default=nd.DEFAULT_EVAL)
    ap.add_argument("--cache", type=Path, default=nd.DEFAULT_CACHE)
    ap.add_argument("--real", type=int, default=100_000)
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--questions", type=int, default=200)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    from benchmarks.machine import machine, publish
    from qa.keywords import KeywordIndex
    from qa.text import query_tokens, sentences

    def log(msg: str) -> None:
        print(msg, flush=True)

    start_load = load_avg()
    table = real_table(args.eval, args.cache, args.real, log)
    questions = [next((s for s, _, _ in sentences(a["text"])), a["text"])[:60]
                 for a in nd.articles(args.eval, args.questions, skip=60_000)]
    rows = []
    for n in [int(s) for s in args.sizes.split(",")]:
        t0 = time.perf_counter()
        index = KeywordIndex.build(tiled(table, n))
        build_s = time.perf_counter() - t0
        index.prefault()
        for q in questions[:10]:
            index.scores(query_tokens(q))
        times = []
        for q in questions:
            query_tokens.cache_clear()
            t0 = time.perf_counter()
            scores = index.scores(query_tokens(q))
            np.argpartition(-scores, min(CANDIDATES, len(scores) - 1))[:CANDIDATES]
            times.append((time.perf_counter() - t0) * 1000)
        rows.append((n, build_s, pct(times, 50), pct(times, 95)))
        log(f"[{n:,}] BM25 built in {build_s:.1f} s; question: p50 {rows[-1][2]:.1f} ms, p95 {rows[-1][3]:.1f} ms")
        del index
    lines = [f"Measured by `benchmarks/keyword_scale.py` on {machine()}; load {start_load} -> {load_avg()}. "
             f"{len(table):,} real news-corpus passages tokenised with jieba; larger sizes repeat them. "
             f"{len(questions)} questions (first sentences of articles not in the set), one at a time: jieba on "
             f"the question, BM25 scores of every passage, top-{CANDIDATES}.", "",
             "| passages | BM25 build (from token ids) | question p50 | question p95 |", "|---|---|---|---|"]
    lines += [f"| {n:,} | {b:.1f} s | {p50:.1f} ms | {p95:.1f} ms |" for n, b, p50, p95 in rows]
    text = "\n".join(lines)
    publish("keyword-scale", "### The keyword half at scale", text, write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
