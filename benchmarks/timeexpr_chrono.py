"""chronoqa (and the Chinese sets, as a guard) with the default model, as `qa eval --mode hybrid` scores them,
on a tuning half and a held-out half of the questions (issue 11.6).

    nice -n 10 .venv/bin/python benchmarks/timeexpr_chrono.py --label this-branch --write
    nice -n 10 .venv/bin/python benchmarks/timeexpr_chrono.py --code /tmp/base --label main   # another tree

The question vectors are embedded once per model and set and kept in `<cache>/eval/questions-<model>-<set>.npz`
(the default model embeds a few questions a second on the shared machine); the search then runs exactly as
`qa eval` runs it (`qa.evaluate.evaluate`, each chronoqa question on its `question_date`), with the cached
vector in place of embedding the question again. Halves by a stable hash of the question id: md5 even =
tuning ("tune"), odd = held out ("held"). Per-question reciprocal ranks go to
`benchmarks/timeexpr_chrono-<label>.json`, so two trees compare question by question (`--compare A B`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SETS = ("chronoqa", "xquad-zh", "cmrc2018-trial", "drcd-test")


def half(qid: str) -> str:
    return "tune" if int(hashlib.md5(qid.encode()).hexdigest(), 16) % 2 == 0 else "held"


def question_vectors(embedder, questions: list[str], path: Path):
    import numpy as np

    if path.is_file():
        got = np.load(path, allow_pickle=False)
        if list(got["questions"]) == questions:
            return dict(zip(questions, got["vectors"]))
    vecs = []
    for i in range(0, len(questions), 32):
        vecs.append(embedder.embed_queries(questions[i:i + 32]))
        print(f"embedded {min(i + 32, len(questions))}/{len(questions)}", file=sys.stderr, flush=True)
    arr = np.vstack(vecs).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, questions=np.array(questions), vectors=arr)
    return dict(zip(questions, arr))


def timed(queries: list[dict], other: Path) -> list[dict]:
    """The questions in which this tree's or `other` tree's qa/timeexpr.py finds a time: on every other question
    search runs no time code in either tree, so both rank it the same and only these can change."""
    import importlib.util

    from qa import timeexpr
    from qa.evaluate import _date

    spec = importlib.util.spec_from_file_location("other_timeexpr", other / "qa" / "timeexpr.py")
    theirs = importlib.util.module_from_spec(spec)
    sys.modules["other_timeexpr"] = theirs
    spec.loader.exec_module(theirs)
    out = []
    for q in queries:
        today = _date(q.get("question_date"))
        if timeexpr.parse(q["question"], today) is not None or theirs.parse(q["question"], today) is not None:
            out.append(q)
    return out


def run_set(name: str, folder: Path, model: str, other: Path | None = None) -> tuple[dict[str, float], int]:
    """question id -> reciprocal rank at 10, as `qa eval --mode hybrid` ranks, and the set's size. With `other`,
    only the questions either tree's time parser reads (`timed`)."""
    from qa.config import Settings
    from qa.embedding import load_embedder
    from qa.evaluate import corpus_retriever, evaluate, read_jsonl
    from qa.vectorcache import model_key

    settings = Settings.load(model=model)
    embedder = load_embedder(model)
    corpus = read_jsonl(folder / "corpus.jsonl", ("id", "text"))
    queries = read_jsonl(folder / "queries.jsonl", ("id", "question", "gold_ids"))
    total = len(queries)
    if other:
        queries = timed(queries, other)
    retriever, _ = corpus_retriever(corpus, embedder, settings.cache)
    questions = list(dict.fromkeys(q["question"] for q in queries))
    vecs = question_vectors(embedder, questions,
                            settings.cache / "eval" / f"questions-{model_key(embedder.identity())}-{name}.npz")
    # the cached vector, else embedded now (search also embeds parts of a question: "X当天，Y…" searches Y alone)
    retriever.embed_query = lambda text: vecs[text] if text in vecs else embedder.embed_queries([text])[0]
    res = evaluate(retriever, queries, 10, "hybrid")
    out = {}
    for q, run in zip(queries, res.runs):
        gold = {str(g) for g in q["gold_ids"]}
        out[q["id"]] = next((1 / (i + 1) for i, c in enumerate(run["ranked"][:10]) if c in gold), 0.0)
    return out, total


def summary(rr: dict[str, float]) -> dict[str, tuple[int, float, float]]:
    """half -> (questions, MRR@10, Hit@1)."""
    out = {}
    for label in ("tune", "held", "all"):
        xs = [v for k, v in rr.items() if label == "all" or half(k) == label]
        out[label] = (len(xs), sum(xs) / len(xs), sum(v == 1.0 for v in xs) / len(xs))
    return out


def moved(a: dict[str, float], b: dict[str, float], ids) -> str:
    return f"{sum(b[i] > a[i] for i in ids)} / {sum(b[i] < a[i] for i in ids)}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--eval", type=Path, default=REPO.parent / "shared" / "eval")
    ap.add_argument("--model", default="e5-small+use-m3")
    ap.add_argument("--sets", nargs="*", default=list(SETS))
    ap.add_argument("--code", type=Path, help="import qa from this tree (e.g. `git archive main` unpacked)")
    ap.add_argument("--label", default="this-branch")
    ap.add_argument("--timed-vs", type=Path, help="another tree: only the questions either tree reads a time in")
    ap.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"), help="two labels already run: the table")
    ap.add_argument("--section", default="timeexpr-chrono", help="README marker --compare writes between")
    ap.add_argument("--title", default="### chronoqa ≥ .96: time expressions, tuned on half the questions (issue 11.6)")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    sys.path.insert(0, str(args.code.resolve() if args.code else REPO))
    sys.path.insert(1, str(REPO))
    from benchmarks.machine import machine, publish

    if args.compare:
        a, b = (json.loads((REPO / "benchmarks" / f"timeexpr_chrono-{x}.json").read_text()) for x in args.compare)
        lines = [f"| set | half | questions | MRR@10 {args.compare[0]} | MRR@10 {args.compare[1]} | change | "
                 f"Hit@1 {args.compare[0]} | Hit@1 {args.compare[1]} | questions ranked better / worse |",
                 "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
        for name in b["sets"]:
            if name not in a["sets"]:
                continue
            if name in b.get("timed_vs", ()) or name in a.get("timed_vs", ()):
                ids = set(a["sets"][name]) & set(b["sets"][name])
                delta = sum(b["sets"][name][i] - a["sets"][name][i] for i in ids)
                lines.append(f"| {name} | questions naming a time (of {b['totals'][name]}) | {len(ids)} | "
                             f"{sum(a['sets'][name][i] for i in ids) / len(ids):.4f} | "
                             f"{sum(b['sets'][name][i] for i in ids) / len(ids):.4f} | "
                             f"{delta / len(ids):+.4f} (whole set {delta / b['totals'][name]:+.4f}) | | | "
                             f"{moved(a['sets'][name], b['sets'][name], ids)} |")
                continue
            sa, sb = summary(a["sets"][name]), summary(b["sets"][name])
            for h in ("tune", "held", "all"):
                lines.append(f"| {name} | {h} | {sb[h][0]} | {sa[h][1]:.4f} | {sb[h][1]:.4f} | "
                             f"{sb[h][1] - sa[h][1]:+.4f} | {sa[h][2]:.3f} | {sb[h][2]:.3f} | "
                             f"{moved(a['sets'][name], b['sets'][name], [i for i in b['sets'][name] if h in ('all', half(i))])} |")
        text = (f"{a['machine']} ({args.compare[0]}); {b['machine']} ({args.compare[1]}); model {b['model']}, "
                "hybrid, local store, every question (chronoqa's on its question_date)\n\n" + "\n".join(lines) +
                f"\n\n`nice -n 10 .venv/bin/python benchmarks/timeexpr_chrono.py --compare {' '.join(args.compare)}`")
        extra = "" if args.section == "timeexpr-chrono" else f" --section {args.section} --title '{args.title}'"
        text = text[:-1] + extra + "`"
        publish(args.section, args.title, text, args.write)
        return
    import os

    load = os.getloadavg()
    result = {"model": args.model, "machine": f"{machine()}, load {load[0]:.1f}", "sets": {}}
    for name in args.sets:
        folder = args.eval / name
        if not (folder / "queries.jsonl").is_file():
            print(f"{name}: not found under {args.eval}, skipped", file=sys.stderr)
            continue
        result["sets"][name], result.setdefault("totals", {})[name] = run_set(name, folder, args.model, args.timed_vs)
        if args.timed_vs:
            result.setdefault("timed_vs", []).append(name)
        s = summary(result["sets"][name])
        print(name, {k: (n, round(m, 4), round(h, 4)) for k, (n, m, h) in s.items()}, flush=True)
    if args.write:
        path = REPO / "benchmarks" / f"timeexpr_chrono-{args.label}.json"
        if path.is_file():  # another run of the same tree (other sets): merged, this run's sets replaced
            before = json.loads(path.read_text())
            for key in ("sets", "totals"):
                result[key] = {**before.get(key, {}), **result.get(key, {})}
            result["timed_vs"] = sorted(set(before.get("timed_vs", [])) - set(args.sets) | set(result.get("timed_vs", [])))
            result["machine"] = f"{before['machine']}; {result['machine']}"
        path.write_text(json.dumps(result, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
