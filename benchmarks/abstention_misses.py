"""English questions the rule turns away: was the top passage right? (issue 9.4, English false abstention)

benchmarks/abstention.py counts every in-domain question that gets "not in the articles" as a false abstention.
Here the same English sample (xquad-en2zh over the 240 xquad-zh passages, the same fixed sample and halves) is
split by whether the search's top passage is the question's own: an abstention over a wrong top passage turns
away a question the quoted answer would have got wrong anyway (the quotes come from the top passages), while one
over the right passage is a real loss. Also: how the shipped rule's score ranks right vs wrong top passages.

    .venv/bin/python benchmarks/abstention_misses.py [--sample 300] [--write]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import abstention as ab  # noqa: E402
from benchmarks.machine import machine, publish  # noqa: E402
from qa import Settings  # noqa: E402
from qa import evidence as ev  # noqa: E402
from qa.embedding import load_embedder  # noqa: E402
from qa.evaluate import corpus_retriever, read_jsonl  # noqa: E402
from qa.text import query_tokens  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--eval", type=Path, default=ROOT.parent / "shared" / "eval")
    ap.add_argument("--sample", type=int, default=300)
    ap.add_argument("--model", default="e5-small+use-m3")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    if not (args.eval / "xquad-en2zh").is_dir():
        sys.exit(f"{args.eval / 'xquad-en2zh'} is missing")
    rng = random.Random(7)  # the draws of benchmarks/abstention.py, in its order
    ab.sample(args.eval / "xquad-zh" / "queries.jsonl", args.sample, rng)
    questions = ab.sample(args.eval / "xquad-en2zh" / "queries.jsonl", args.sample, rng)
    gold = {r["question"]: set(r["gold_ids"]) for r in read_jsonl(args.eval / "xquad-en2zh" / "queries.jsonl",
                                                                     ("question", "gold_ids"))}
    embedder = load_embedder(args.model)
    scorer = ev.SentenceScorer(embedder)
    corpus = read_jsonl(args.eval / "xquad-zh" / "corpus.jsonl", ("id", "text"))
    retriever, _ = corpus_retriever(corpus, embedder, Settings.load().cache)  # the eval vector cache
    rows = []
    for q, v in zip(questions, embedder.embed_queries(questions)):
        hits = retriever.search(q, 5, "hybrid", query_vector=v)
        sig = ev.signals(q, v, hits, scorer, retriever.store.idf(query_tokens(q)), retriever.store)
        ids = [h.chunk_id for h in hits]
        rows.append({"half": int(hashlib.sha1(q.encode()).hexdigest(), 16) % 2,  # benchmarks/abstention.py's
                     "top": bool(ids) and ids[0] in gold[q], "score": sig.score("en"),
                     "answered": ev.in_scope(sig, "en")})
    lines = ["| half | questions | turned away | … top passage right (a real loss) | … top passage wrong | "
             "answered with the top passage wrong | AUC of the rule's score, top right vs wrong |",
             "|---|---|---|---|---|---|---|"]
    for label, sel in (("held-out", 1), ("fit", 0), ("all", None)):
        rs = [r for r in rows if sel is None or r["half"] == sel]
        away = [r for r in rs if not r["answered"]]
        right = [r["score"] for r in rs if r["top"]]
        wrong = [r["score"] for r in rs if not r["top"]]
        a, b = np.array(right)[:, None], np.array(wrong)[None, :]
        auc = float((a > b).mean() + 0.5 * (a == b).mean()) if right and wrong else float("nan")
        n = len(rs)
        lines.append(f"| {label} | {n} | {len(away) / n:.1%} ({len(away)}) | "
                     f"{sum(r['top'] for r in away) / n:.1%} ({sum(r['top'] for r in away)}) | "
                     f"{sum(not r['top'] for r in away) / n:.1%} ({sum(not r['top'] for r in away)}) | "
                     f"{sum(r['answered'] and not r['top'] for r in rs) / n:.1%} | {auc:.3f} |")
    text = (f"{machine()}; model {args.model}; xquad-en2zh over the 240 xquad-zh passages, benchmarks/abstention.py's "
            f"fixed sample of {args.sample} and its halves (held-out: the half it reports); hybrid search, top 5, the "
            f"rule in qa/evidence.py. Script: benchmarks/abstention_misses.py.\n\n" + "\n".join(lines))
    publish("abstention-misses", "### English questions turned away: was the top passage right? (issue 9.4)", text,
            args.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
