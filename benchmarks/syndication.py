"""Syndicated copies (qa/syndication.py) on ../shared/eval/news-corpus (68k real 2023 articles).

    nice -n 10 .venv/bin/python benchmarks/syndication.py --pairs        # groups + sample 50 pairs to check
    nice -n 10 .venv/bin/python benchmarks/syndication.py --build 10000 --write

1. Groups: `copy_groups` over every article's text; how many groups and copies, and the seconds it took.
2. Precision: 50 (original, copy) pairs drawn at random (seed 0) are kept in
   benchmarks/syndication_pairs.jsonl with the start of both texts; each was read by hand and labelled
   `same_story` true/false. Precision = true / labelled.
3. Build overhead: `qa build` with the `hash` model (cheap: no neural embedding, so the ratio is the
   worst case) over the first N articles written as one JSONL export; the fold step's seconds
   (BuildReport.fold_seconds) against the rest of the build (BuildReport.seconds − fold_seconds).
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.machine import machine, publish  # noqa: E402

PAIRS = Path(__file__).resolve().parent / "syndication_pairs.jsonl"


def load(path: Path, limit: int | None = None) -> list[dict]:
    rows = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            rows.append(json.loads(line))
            if limit and len(rows) >= limit:
                break
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "eval" / "news-corpus" / "corpus.jsonl.gz")
    ap.add_argument("--pairs", action="store_true", help="(re)draw the 50 pairs to check by hand")
    ap.add_argument("--build", type=int, default=0, help="measure the build overhead on the first N articles")
    ap.add_argument("--build-only", action="store_true", help="only the build overhead (own README section)")
    ap.add_argument("--runs", type=int, default=3, help="fresh builds for the overhead; the median ratio is reported")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    if not args.corpus.is_file():
        sys.exit(f"{args.corpus} not found: it sits in ../shared/eval beside the checkout")

    import numpy as np

    from qa.syndication import copy_groups, signatures

    if args.build_only:
        rows = load(args.corpus, args.build)
        line = build_overhead(rows, args.build, args.runs)
        publish("syndication-build", "### Syndicated copies: build overhead", f"- {line}\n\n{machine()}; "
                f"`nice -n 10 .venv/bin/python benchmarks/syndication.py --build {args.build} --build-only --runs {args.runs}`", args.write)
        return
    rows = load(args.corpus)
    texts = [r["text"] for r in rows]
    t0 = time.perf_counter()
    groups = copy_groups(texts)
    group_s = time.perf_counter() - t0
    copies = sum(len(c) for c in groups.values())
    sizes = np.array([len(c) + 1 for c in groups.values()])
    lines = [f"news-corpus: {len(texts):,} articles; {len(groups):,} groups of near-duplicates holding "
             f"{copies:,} copies ({copies / len(texts):.1%} of the articles not indexed again); group size median "
             f"{int(np.median(sizes))}, max {sizes.max()}; found in {group_s:.0f} s"]

    pairs = [(o, c) for o, cs in groups.items() for c in cs]
    if args.pairs or not PAIRS.exists():
        sample = random.Random(0).sample(pairs, 50)
        sigs = signatures([texts[i] for p in sample for i in p])
        with open(PAIRS, "w", encoding="utf-8") as f:
            for n, (o, c) in enumerate(sample):
                f.write(json.dumps({"original": rows[o]["id"], "copy": rows[c]["id"],
                                    "estimated_jaccard": round(float(np.mean(sigs[2 * n] == sigs[2 * n + 1])), 3),
                                    "original_text": texts[o][:160], "copy_text": texts[c][:160],
                                    "same_story": None}, ensure_ascii=False) + "\n")
    labelled = [json.loads(x) for x in PAIRS.read_text(encoding="utf-8").splitlines() if x.strip()]
    judged = [p for p in labelled if p["same_story"] is not None]
    if judged:
        ok = sum(p["same_story"] for p in judged)
        current = {(rows[o]["id"], rows[c]["id"]) for o, c in pairs}
        still = [p for p in judged if (p["original"], p["copy"]) in current]
        lines.append(f"precision on {len(judged)} hand-checked pairs (benchmarks/syndication_pairs.jsonl): "
                     f"{ok}/{len(judged)} = {ok / len(judged):.2f}; {len(still)} of them are pairs of the current "
                     f"settings ({sum(p['same_story'] for p in still)} of those the same story)")

    if args.build:
        lines.append(build_overhead(rows, args.build, args.runs))
    publish("syndication", "### Syndicated copies (news-corpus)", "\n".join(f"- {x}" for x in lines)
            + f"\n\n{machine()}; `nice -n 10 .venv/bin/python benchmarks/syndication.py --build {args.build}`",
            args.write)


def build_overhead(rows: list[dict], n: int, runs: int = 1) -> str:
    """fold seconds / the rest of the same build, in each of `runs` fresh builds; the median ratio
    (both sides of a ratio run on the same loaded machine at the same moment)."""
    import statistics

    from qa.config import Settings
    from qa.embedding import load_embedder
    from qa.index import build

    tmp = Path(tempfile.mkdtemp(prefix="qa-synd-"))
    try:
        (tmp / "seeds").mkdir()
        with open(tmp / "seeds" / "news.jsonl", "w", encoding="utf-8") as f:
            for r in rows[:n]:
                f.write(json.dumps({"id": r["id"], "title": r.get("title"), "text": r["text"]}, ensure_ascii=False) + "\n")
        done = []
        for run in range(runs):
            settings = Settings.load(seeds=tmp / "seeds", index=tmp / f"index{run}", model="hash")
            report = build(settings, load_embedder("hash"))
            rest = report.seconds - report.fold_seconds
            done.append((report.fold_seconds / rest, report.fold_seconds, rest))
            print(f"run {run + 1}: fold {report.fold_seconds:.2f} s, rest {rest:.1f} s, {done[-1][0]:.2%}", flush=True)
        ratio = statistics.median(r for r, _, _ in done)
        return (f"build overhead, first {n:,} articles as one JSONL export, `hash` model, {runs} fresh builds: fold / rest of "
                f"the build = {ratio:.1%} median ({', '.join(f'{f:.1f} s / {r:.0f} s' for _, f, r in done)}; "
                f"{report.copies} copies folded, {report.chunks:,} passages indexed)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
