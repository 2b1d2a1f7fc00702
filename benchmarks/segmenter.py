"""jieba against a compiled segmenter (jieba-rs through `rjieba`) on real news passages.

    .venv/bin/pip install rjieba      # not a dependency of newsqa: only for this measurement
    .venv/bin/python benchmarks/segmenter.py [--passages 6000] [--no-write]

jieba's `cut_for_search` (pure Python) is two thirds of a build's non-model work and the reason newsqa
builds slower than txtai (peers section). This measures what a compiled segmenter would save, and how
often it cuts a passage differently (a different cut changes BM25, so the quality tables would have to
be measured again before switching).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import newsdata as nd  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--eval", type=Path, default=nd.DEFAULT_EVAL)
    ap.add_argument("--passages", type=int, default=6000)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    try:
        import rjieba
    except ImportError:
        print("rjieba is not installed: `.venv/bin/pip install rjieba` to run this comparison", file=sys.stderr)
        return 2
    import jieba

    from benchmarks.machine import machine, publish

    arts = nd.articles(args.eval, args.passages // 2)
    texts = [t for n, a in enumerate(arts) for _, t in nd.chunk_texts(a, n)][: args.passages]
    jieba.initialize()
    list(jieba.cut_for_search("预热"))
    rjieba.cut_for_search("预热")
    t0 = time.perf_counter()
    ours = [list(jieba.cut_for_search(t)) for t in texts]
    t_jieba = time.perf_counter() - t0
    t0 = time.perf_counter()
    theirs = [rjieba.cut_for_search(t) for t in texts]
    t_rust = time.perf_counter() - t0
    same = sum(a == b for a, b in zip(ours, theirs)) / len(texts)
    text = (f"Measured by `benchmarks/segmenter.py` on {machine()}: `cut_for_search` on {len(texts):,} real news "
            f"passages (news-corpus, one core). jieba {t_jieba:.2f} s ({1000 * t_jieba / len(texts):.2f} ms a "
            f"passage), rjieba (jieba-rs) {t_rust:.2f} s: {t_jieba / t_rust:.1f}x faster; the two cut "
            f"{100 * same:.1f} % of the passages identically.")
    publish("segmenter", "### Segmenter: jieba and a compiled alternative", text, write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
