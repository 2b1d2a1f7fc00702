"""Questions about time (qa/timeexpr.py): MRR@10 with and without the time hook, per eval set.

    nice -n 10 .venv/bin/python benchmarks/timeexpr.py --mode keyword --limit 800
    nice -n 10 .venv/bin/python benchmarks/timeexpr.py --model e5-small+use-m3 --mode hybrid --write

Each set's corpus is loaded once (passage vectors from the `qa eval` cache); the questions are a fixed
random sample (seed 0) of `--limit` per set, the whole set when `--limit 0`. "off" asks every question
with `timeexpr.parse` returning None (what search did before); "on" is the shipped hook, chronoqa's
questions asked on their `question_date`. Per temporal type for chronoqa.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path
from unittest import mock

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.machine import machine, publish  # noqa: E402

SETS = ("chronoqa", "cmrc2018-trial", "drcd-test", "xquad-zh", "xquad-en2zh")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--eval", type=Path, default=REPO.parent / "shared" / "eval")
    ap.add_argument("--model", default="use-m3")
    ap.add_argument("--mode", default="hybrid")
    ap.add_argument("--limit", type=int, default=600)
    ap.add_argument("--sets", nargs="*", default=list(SETS))
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()

    from qa import syndication, timeexpr
    from qa.config import Settings
    from qa.embedding import load_embedder
    from qa.evaluate import corpus_retriever, evaluate, read_jsonl

    settings = Settings.load(model=args.model)
    embedder = None if args.mode == "keyword" else load_embedder(args.model)
    rows = []
    for name in args.sets:
        folder = args.eval / name
        if not (folder / "corpus.jsonl").is_file():
            print(f"{name}: not found under {args.eval}, skipped", file=sys.stderr)
            continue
        corpus = read_jsonl(folder / "corpus.jsonl", ("id", "text"))
        queries = read_jsonl(folder / "queries.jsonl", ("id", "question", "gold_ids"))
        if args.limit and len(queries) > args.limit:
            queries = random.Random(0).sample(queries, args.limit)
        retriever, _ = corpus_retriever(corpus, embedder, settings.cache)
        with mock.patch.object(timeexpr, "parse", return_value=None), \
                mock.patch.object(syndication, "diversify", side_effect=lambda ranked, *a, **kw: ranked):
            off = evaluate(retriever, queries, 10, args.mode)
        on = evaluate(retriever, queries, 10, args.mode)
        groups = {"all": queries}
        if name == "chronoqa":
            for q in queries:
                groups.setdefault(q.get("temporal_type", "?"), []).append(q)
        for label, qs in groups.items():
            ids = {q["id"] for q in qs}
            mrr = [sum(_rr(r, q) for r, q in zip(res.runs, queries) if q["id"] in ids) / len(qs) for res in (off, on)]
            rows.append(f"| {name} | {label} | {len(qs)} | {mrr[0]:.3f} | {mrr[1]:.3f} | {mrr[1] - mrr[0]:+.3f} |")
        print(rows[-1], file=sys.stderr)
    text = (f"{args.mode}, model {args.model if embedder else '(keyword only)'}, "
            f"{args.limit or 'all'} questions a set (random, seed 0); {machine()}\n\n"
            "| set | questions | n | MRR@10 off | MRR@10 on | change |\n|---|---|---|---|---|---|\n" + "\n".join(rows))
    publish(f"timeexpr-{args.mode}-{args.model if embedder else 'keyword'}",
            f"### Questions about time: {args.mode}, {args.model if embedder else 'keyword only'}", text, args.write)


def _rr(run: dict, q: dict) -> float:
    gold = {str(g) for g in q["gold_ids"]}
    return next((1 / (i + 1) for i, c in enumerate(run["ranked"][:10]) if c in gold), 0.0)


if __name__ == "__main__":
    main()
