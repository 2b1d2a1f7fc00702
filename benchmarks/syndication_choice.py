"""Simhash vs MinHash for syndicated copies, measured (issue 11.5): groups found, precision on the 50
hand-checked pairs of benchmarks/syndication_pairs.jsonl, and time, over the same 5-gram shingles.

    nice -n 10 .venv/bin/python benchmarks/syndication_choice.py --articles 10000 --write

Groups and seconds: each method's copy_groups over the first N news-corpus articles, best of `--repeat`
(both run in the same process, one after the other). Precision: each hand-checked pair is called a copy
when the method says so for the two texts alone (MinHash: estimated Jaccard >= THRESHOLD; simhash:
Hamming distance <= d); precision = same-story pairs among those called, and "found" = same-story pairs
called, out of the 48 same-story ones.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.machine import machine, publish  # noqa: E402
from benchmarks.syndication import PAIRS, load  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "eval" / "news-corpus" / "corpus.jsonl.gz")
    ap.add_argument("--articles", type=int, default=10000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    if not args.corpus.is_file():
        sys.exit(f"{args.corpus} not found: it sits in ../shared/eval beside the checkout")
    import numpy as np

    from benchmarks import simhash
    from qa import syndication

    pairs = [json.loads(x) for x in PAIRS.read_text(encoding="utf-8").splitlines() if x.strip()]
    want = {p[k] for p in pairs for k in ("original", "copy")}
    rows = load(args.corpus)
    text_of = {r["id"]: r["text"] for r in rows if r["id"] in want}
    texts = [r["text"] for r in rows[:args.articles]]
    del rows
    left = [text_of[p["original"]] for p in pairs]
    right = [text_of[p["copy"]] for p in pairs]
    same = np.array([bool(p["same_story"]) for p in pairs])

    methods = [("MinHash LSH, 64 permutations, Jaccard ≥ 0.7 (shipped)", syndication.copy_groups,
                lambda: (syndication.signatures(left) == syndication.signatures(right)).mean(axis=1) >= syndication.THRESHOLD)]
    for d in (3, 6):
        methods.append((f"simhash 64-bit, Hamming ≤ {d}", lambda t, d=d: simhash.copy_groups(t, distance=d),
                        lambda d=d: simhash._popcount(simhash.fingerprints(left) ^ simhash.fingerprints(right)) <= d))
    lines = [f"| method | groups | copies | seconds (best of {args.repeat}) | pairs called copies | precision "
             "| same-story pairs found |", "|---|---:|---:|---:|---:|---:|---:|"]
    for name, groups_of, called_of in methods:
        best = float("inf")
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            groups = groups_of(texts)
            best = min(best, time.perf_counter() - t0)
        called = called_of()
        hits = int((called & same).sum())
        lines.append(f"| {name} | {len(groups):,} | {sum(map(len, groups.values())):,} | {best:.1f} | {int(called.sum())} "
                     f"| {hits}/{int(called.sum())} = {hits / max(1, called.sum()):.2f} | {hits}/{int(same.sum())} |")
        print(lines[-1], flush=True)
    publish("syndication-choice", "### Syndicated copies: simhash vs MinHash (benchmarks/syndication_choice.py)",
            f"First {args.articles:,} news-corpus articles; the 50 hand-checked pairs; {machine()}.\n\n" + "\n".join(lines)
            + f"\n\n`nice -n 10 .venv/bin/python benchmarks/syndication_choice.py --articles {args.articles}`", args.write)


if __name__ == "__main__":
    main()
