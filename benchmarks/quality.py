"""Retrieval quality: keyword, dense and hybrid on every eval set, as a table in benchmarks/README.md.

    .venv/bin/python benchmarks/quality.py                  # all five sets, all questions
    .venv/bin/python benchmarks/quality.py --limit 200      # quick look (first 200 questions a set)

One process loads each corpus once (passage vectors come from the on-disk cache written by
`qa eval`, so "build s" is the in-memory index build from cached vectors: tokenising, BM25, FAISS)
and scores the three modes over it. The table goes between the markers
<!-- quality:start --> and <!-- quality:end --> of benchmarks/README.md (created when missing).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.machine import machine  # noqa: E402  (one description of the machine for every table)

SETS = ("cmrc2018-trial", "drcd-test", "xquad-zh", "xquad-en2zh", "chronoqa")
MODES = ("keyword", "dense", "hybrid")
START, END = "<!-- quality:start -->", "<!-- quality:end -->"
TARGETS = {"cmrc2018-trial": 0.98, "drcd-test": 0.97, "xquad-zh": 0.96, "xquad-en2zh": 0.85, "chronoqa": 0.97}


def seed_latency(index_dir: Path, seeds: Path, model: str, questions: list[str]) -> dict:
    """p50/p95 of Retriever.search (hybrid, k=5) and of a full Asker.ask on the built seed index."""
    from qa.answer import Asker
    from qa.config import Settings

    asker = Asker.open(Settings.load(index=index_dir, seeds=seeds, model=model))
    asker.ask(questions[0])  # warm-up: jieba dictionary, first embedding call
    search, ask, embed, rest = [], [], [], []
    for q in questions:
        t = time.perf_counter()
        asker.retriever.search(q, 5, "hybrid")
        search.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        vec = asker.retriever.embed_query(q)
        t1 = time.perf_counter()
        asker.retriever.search(q, 5, "hybrid", query_vector=vec)
        embed.append((t1 - t) * 1000)
        rest.append((time.perf_counter() - t1) * 1000)
        t = time.perf_counter()
        asker.ask(q)
        ask.append((time.perf_counter() - t) * 1000)

    def pct(xs, p):
        return statistics.quantiles(xs, n=100)[p - 1] if len(xs) > 1 else xs[0]

    return {"chunks": len(asker.retriever), "questions": len(questions),
            "search_p50": statistics.median(search), "search_p95": pct(search, 95),
            "ask_p50": statistics.median(ask), "ask_p95": pct(ask, 95),
            "embed_p50": statistics.median(embed), "no_embed_p50": statistics.median(rest)}


def run(eval_dir: Path, model: str, limit: int | None, sets: list[str]) -> list[dict]:
    from qa.config import Settings
    from qa.embedding import load_embedder
    from qa.evaluate import corpus_retriever, evaluate, read_jsonl

    settings = Settings.load(model=model)
    embedder = load_embedder(settings.model)
    rows = []
    for name in sets:
        corpus = read_jsonl(eval_dir / name / "corpus.jsonl", ("id", "text"))
        queries = read_jsonl(eval_dir / name / "queries.jsonl", ("id", "question", "gold_ids"))[:limit]
        retriever, build_s = corpus_retriever(corpus, embedder, settings.cache)
        for mode in MODES:
            t = time.perf_counter()
            m = evaluate(retriever, queries, 10, mode).metrics
            m.update(set=name, passages=len(corpus), build_s=build_s, model=settings.model,
                     wall_s=time.perf_counter() - t, limit=limit, date=dt.date.today().isoformat(),
                     machine=machine().rsplit(", ", 1)[0])  # the date is its own key
            rows.append(m)
            print(json.dumps(m), file=sys.stderr, flush=True)
    return rows


def subset(rows: list[dict]) -> str:
    limited = sorted({f"{m['set']} (first {m['limit']})" for m in rows if m.get("limit")})
    return ("all questions of every set except " + ", ".join(limited) + ", a fixed subset: the first questions "
            "of queries.jsonl" if limited else "all questions of every set")


def provenance(rows: list[dict]) -> str:
    """When and where each set was measured: a set re-run alone must not make the others look re-run."""
    groups: dict[tuple[str, str], list[str]] = {}
    for m in rows:
        sets = groups.setdefault((m.get("date", "?"), m.get("machine", "an unrecorded machine")), [])
        if m["set"] not in sets:
            sets.append(m["set"])
    if len(groups) == 1:
        (date, where), = groups
        return f"{date} on {where}"
    return "; ".join(f"{', '.join(sets)} on {date}, {where}" for (date, where), sets in groups.items())


def table(rows: list[dict], model: str, limit: int | None, seed: dict | None, total_s: float) -> str:
    out = [START, "",
           f"Measured {provenance(rows)}; model `{model}`; "
           f"{subset(rows)}; "
           f"k=10; this run took {total_s / 60:.1f} min. Reproduce: `make bench-quality` "
           "(or `.venv/bin/python benchmarks/quality.py`). Sets re-run alone keep the other sets' rows from "
           "benchmarks/quality-results.json (each row's date is there).", "",
           "| set | passages | questions | mode | Hit@1 | Hit@5 | Recall@10 | MRR@10 | nDCG@10 | p50 ms | p95 ms | build s |",
           "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    by_set: dict[str, dict[str, dict]] = {}
    for m in rows:
        by_set.setdefault(m["set"], {})[m["mode"]] = m
    for name, modes in by_set.items():
        best = max(modes["keyword"]["mrr@10"], modes["dense"]["mrr@10"])
        for mode in MODES:
            m = modes[mode]
            mrr = f"{m['mrr@10']:.3f}"
            if mode == "hybrid":
                mrr = f"**{mrr}**"
            out.append(f"| {name} | {m['passages']} | {m['queries']} | {mode} | {m['hit@1']:.3f} | {m['hit@5']:.3f} | "
                       f"{m['recall@10']:.3f} | {mrr} | {m['ndcg@10']:.3f} | {m['latency_ms_p50']:.1f} | "
                       f"{m['latency_ms_p95']:.1f} | {m['build_s']:.1f} |")
        h = modes["hybrid"]["mrr@10"]
        by_set[name]["_verdict"] = {"hybrid_minus_best": h - best, "target": TARGETS.get(name), "hybrid": h}
    out += ["", "Targets (issue 3, MRR@10): hybrid ≥ max(keyword, dense) − 0.005, and the per-set floor.", "",
            "| set | hybrid MRR@10 | − best single mode | floor | met? |", "|---|---:|---:|---:|---|"]
    for name, modes in by_set.items():
        v = modes["_verdict"]
        ok = v["hybrid_minus_best"] >= -0.005 and (v["target"] is None or v["hybrid"] >= v["target"])
        out.append(f"| {name} | {v['hybrid']:.3f} | {v['hybrid_minus_best']:+.3f} | "
                   f"{v['target'] if v['target'] is not None else '—'} | {'yes' if ok else '**no**'} |")
    out += ["", "Notes:",
            "- Latency is per question with the index loaded, including the question's embedding (dense and "
            "hybrid, ~10 ms of e5-small) and BM25 over the whole set; keyword mode embeds nothing. The machine "
            "has 2 cores shared with other jobs while this ran, so timings are noisy (p95 especially).",
            "- build s: in-memory index from *cached* passage vectors (tokenise + BM25 + FAISS + cache load). "
            "Embedding the passages the first time is far slower; see \"Build cost\" below."]
    if ";" in provenance(rows):
        out.append("- The sets were measured on different days and machines (header): compare latency and build "
                   "time only between rows of one machine; the quality columns do not depend on the machine.")
    if seed:
        out.append(f"- Seed index (`embeddings/`, {seed['chunks']} chunks), {seed['questions']} questions, hybrid, "
                   f"k=5: `Retriever.search` p50 {seed['search_p50']:.1f} ms (p95 {seed['search_p95']:.1f}); "
                   f"full `Asker.ask` (search + evidence sentences) p50 {seed['ask_p50']:.1f} ms "
                   f"(p95 {seed['ask_p95']:.1f}). Of the search, embedding the question took p50 {seed['embed_p50']:.1f} ms "
                   f"and BM25 + FAISS + fusion p50 {seed['no_embed_p50']:.2f} ms. Target: search p50 < 25 ms "
                   "(DESIGN.md §2 measured e5-small at ~12 ms a query on an idle machine).")
    out += ["", END]
    return "\n".join(out)


def write(readme: Path, block: str) -> None:
    if readme.exists():
        text = readme.read_text(encoding="utf-8")
    else:
        text = "# Benchmarks\n\n## Retrieval quality\n\n" + START + "\n" + END + "\n"
    if START in text and END in text:
        text = re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    elif "## Retrieval quality" in text:
        text = text.replace("## Retrieval quality\n", "## Retrieval quality\n\n" + block + "\n", 1)
    else:
        text = text.rstrip() + "\n\n## Retrieval quality\n\n" + block + "\n"
    readme.write_text(text, encoding="utf-8")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--eval-dir", type=Path, default=REPO.parent / "shared" / "eval")
    ap.add_argument("--model", default=None, help="embedding model (default: QA_MODEL or e5-small)")
    ap.add_argument("--limit", type=int, help="only the first N questions of each set (a quick run)")
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--readme", type=Path, default=REPO / "benchmarks" / "README.md")
    ap.add_argument("--seed-index", type=Path, default=REPO / "embeddings")
    ap.add_argument("--results", type=Path, default=REPO / "benchmarks" / "quality-results.json",
                    help="raw metrics of every set (JSON); sets not re-run now are kept from here when the "
                         "model matches, so one set can be re-measured alone")
    ap.add_argument("--no-write", action="store_true", help="print the table, leave the README alone")
    args = ap.parse_args()
    from qa.config import Settings
    from qa.errors import QAError

    model = Settings.load(model=args.model).model
    t0 = time.perf_counter()
    sets = args.sets.split(",")
    rows = run(args.eval_dir, model, args.limit, sets)
    if args.results.exists():
        old = json.loads(args.results.read_text())
        if old.get("model") == model:
            rows = [m for m in old["rows"] if m["set"] not in sets] + rows
    rows.sort(key=lambda m: (SETS.index(m["set"]) if m["set"] in SETS else 99, MODES.index(m["mode"])))
    seed = None
    if (args.seed_index / "CURRENT").exists():
        qs = [json.loads(x)["question"] for x in
              (args.eval_dir / "chronoqa" / "queries.jsonl").read_text(encoding="utf-8").splitlines()[:60]]
        qs += [x[2:].strip() for x in (REPO / "seeds" / "examples.yaml").read_text(encoding="utf-8").splitlines()
               if x.startswith("- ")] if (REPO / "seeds" / "examples.yaml").exists() else []
        try:
            seed = seed_latency(args.seed_index, REPO / "seeds", model, qs)
        except QAError as e:  # e.g. the seed index was built with another model
            print(f"seed index latency skipped: {e}", file=sys.stderr)
    block = table(rows, model, args.limit, seed, time.perf_counter() - t0)
    print(block)
    if not args.no_write:
        args.results.write_text(json.dumps({"model": model, "limit": args.limit, "rows": rows, "seed": seed},
                                           indent=1) + "\n")
        write(args.readme, block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
