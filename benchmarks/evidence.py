"""Evidence sentences: which sentence scorer finds the answer, and what it costs per question.

    .venv/bin/python benchmarks/evidence.py [--eval ../shared/eval] [--sample 150] [--no-write]

`Asker.ask` quotes 1-3 sentences of the top 3 passages (`qa/evidence.py` `select`: 0.6 x the sentence's
cosine to the question + 0.4 x keyword overlap). The cosines need every candidate sentence embedded at
question time. Variants, on real questions with known answers (../shared/eval; xquad-en2zh uses its
Chinese answers), all over the same hybrid search with the default model:
  full      sentences embedded with the default model (e5-small+use-m3): what shipped first;
  use-m3    sentences and the question embedded with use-m3 alone (the combined model's fast part);
  keywords  no sentence embedding (keyword overlap alone).
"found" = an answer string occurs in the quoted sentences; "in passages" = it occurs in the top 3 passages
at all (the ceiling of any scorer). Time = `select` per question with nothing cached (the app's LRU only
helps when the same passages are quoted again).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa import evidence as ev  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.embedding import load_embedder  # noqa: E402
from qa.evaluate import corpus_retriever, read_jsonl  # noqa: E402
from qa.text import query_tokens  # noqa: E402

SETS = (("xquad-zh", "xquad-zh", "answers"), ("cmrc2018-trial", "cmrc2018-trial", "answers"),
        ("xquad-en2zh", "xquad-zh", "answers_zh"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--eval", type=Path, default=ROOT.parent / "shared" / "eval")
    ap.add_argument("--sample", type=int, default=150, help="questions per set (fixed random sample)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    if not (args.eval / "xquad-zh").is_dir():
        print(f"no eval sets at {args.eval}: pass --eval", file=sys.stderr)
        return 2
    from benchmarks.machine import machine, publish

    settings = Settings.load()
    full = load_embedder(settings.model)
    fast = load_embedder("use-m3")
    rows = []
    for name, corpus_name, key in SETS:
        corpus = read_jsonl(args.eval / corpus_name / "corpus.jsonl", ("id", "text"))
        retriever, _ = corpus_retriever(corpus, full, settings.cache)
        queries = read_jsonl(args.eval / name / "queries.jsonl", ("question",))
        queries = random.Random(11).sample(queries, min(args.sample, len(queries)))
        models = {"full": full, "use-m3": fast, "keywords": None}
        found = {v: 0 for v in models}
        times: dict[str, list[float]] = {v: [] for v in models}
        ceiling = 0
        for q in queries:
            answers = [a for a in q.get(key) or q.get("answers") or [] if a]
            hits = retriever.search(q["question"], 5, "hybrid")[:3]
            texts = [h.text for h in hits]
            ceiling += any(a in t for a in answers for t in texts)
            idf = retriever.index.keywords.idf(query_tokens(q["question"]))
            for variant, model in models.items():
                # a new scorer per question: no sentence vector cached, as for a question over new passages
                scorer = ev.SentenceScorer(model) if model is not None else None
                t0 = time.perf_counter()
                if variant == "full":
                    qvec = full.embed_queries([q["question"]])[0]
                elif variant == "use-m3":
                    qvec = fast.embed_queries([q["question"]])[0]
                else:
                    qvec = None
                chosen = ev.select(q["question"], qvec, texts, scorer, idf)
                times[variant].append((time.perf_counter() - t0) * 1000)
                quoted = " ".join(s.text for s in chosen)
                found[variant] += any(a in quoted for a in answers)
        n = len(queries)
        rows.append((name, n, ceiling / n, {v: found[v] / n for v in models},
                     {v: statistics.median(times[v]) for v in models}))
        print(name, n, ceiling / n, rows[-1][3], rows[-1][4], flush=True)

    lines = [f"Measured by `benchmarks/evidence.py` on {machine()}; {args.sample} questions per set (fixed sample), "
             f"default model `{settings.model}` for the search; top 3 passages quoted from. found = an answer "
             "string is inside the quoted sentences; time = median ms per question for `select` including the "
             "question's embedding by that scorer, with no sentence vector cached (a question over passages not "
             "quoted before; the app's LRU makes repeats cheaper).", "",
             "| set | questions | answer in top 3 passages | found: full | found: use-m3 | found: keywords | "
             "ms: full | ms: use-m3 | ms: keywords |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, n, ceil, f, t in rows:
        lines.append(f"| {name} | {n} | {ceil:.3f} | {f['full']:.3f} | {f['use-m3']:.3f} | {f['keywords']:.3f} | "
                     f"{t['full']:.0f} | {t['use-m3']:.1f} | {t['keywords']:.1f} |")
    text = "\n".join(lines)
    publish("evidence", "## Evidence sentences: which scorer", text, write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
