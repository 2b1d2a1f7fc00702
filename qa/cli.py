"""`qa build | ask | check | eval | serve`: the command line. Errors become one line and exit code 2."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .config import Settings
from .errors import QAError


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seeds", help="articles folder (QA_SEEDS, default seeds/)")
    p.add_argument("--index", help="index folder (QA_INDEX, default embeddings/)")
    p.add_argument("--model", help="embedding model (QA_MODEL, default e5-small; see README)")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="qa", description="Question answering over a folder of news articles.")
    sub = ap.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="build or update the index from the articles folder")
    _common(b)
    b.add_argument("--strict", action="store_true", help="exit non-zero when any file was skipped")
    b.add_argument("--quiet", action="store_true", help="no progress bar")

    c = sub.add_parser("check", help="does the index match the articles and the model?")
    _common(c)

    a = sub.add_parser("ask", help="ask a question")
    _common(a)
    a.add_argument("question")
    a.add_argument("-k", type=int, help="number of passages (QA_K, default 5)")
    a.add_argument("--mode", choices=["keyword", "dense", "hybrid"], help="retrieval mode (QA_MODE)")
    a.add_argument("--source", help="only articles whose outlet contains this text")
    a.add_argument("--since", help="only articles dated on or after YYYY-MM-DD")
    a.add_argument("--until", help="only articles dated on or before YYYY-MM-DD")
    a.add_argument("--json", action="store_true", help="print one JSON object")
    a.add_argument("--today", help="YYYY-MM-DD that '去年', 'last month' are relative to (QA_TODAY)")

    e = sub.add_parser("eval", help="score retrieval on a corpus/queries set")
    e.add_argument("--corpus", required=True, type=Path)
    e.add_argument("--queries", required=True, type=Path)
    e.add_argument("--mode", choices=["keyword", "dense", "hybrid"], default="hybrid")
    e.add_argument("--model", help="embedding model (QA_MODEL)")
    e.add_argument("-k", type=int, default=10)
    e.add_argument("--limit", type=int, help="only the first N questions")
    e.add_argument("--json", action="store_true")
    e.add_argument("--runs", type=Path, help="write per-question rankings here (JSON lines)")
    e.add_argument("--quiet", action="store_true", help="no progress bar")
    e.add_argument("--today", help="YYYY-MM-DD for questions without a question_date (QA_TODAY)")

    s = sub.add_parser("serve", help="start the web page (builds the index first when needed)")
    _common(s)
    s.add_argument("--host", help="address to bind (QA_HOST, default 127.0.0.1)")
    s.add_argument("--port", type=int, help="port (QA_PORT, default 7860)")
    s.add_argument("--no-build", action="store_true", help="do not build a missing or stale index")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return {"build": cmd_build, "check": cmd_check, "ask": cmd_ask, "eval": cmd_eval,
                "serve": cmd_serve}[args.command](args)
    except QAError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: the previous index is untouched; run the command again to resume", file=sys.stderr)
        return 130


def _settings(args: argparse.Namespace) -> Settings:
    keys = ("seeds", "index", "model", "k", "mode", "host", "port", "today")
    return Settings.load(**{k: getattr(args, k, None) for k in keys})


class _Bar:
    """tqdm bars per stage, on stderr; the library only calls back."""

    def __init__(self, quiet: bool) -> None:
        self.quiet, self.bars = quiet or not sys.stderr.isatty() and not os.environ.get("QA_PROGRESS"), {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.quiet or total < 2:
            return
        from tqdm import tqdm

        labels = {"read": "reading articles", "embed": "embedding", "query": "questions"}
        bar = self.bars.get(stage) or self.bars.setdefault(
            stage, tqdm(total=total, desc=labels.get(stage, stage), unit="", file=sys.stderr, leave=False))
        bar.update(done - bar.n)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def cmd_build(args: argparse.Namespace) -> int:
    from .index import build

    settings = _settings(args)
    bar = _Bar(args.quiet)
    try:
        report = build(settings, progress=bar)
    finally:
        bar.close()
    for path, reason in report.skipped:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    for path, first in report.duplicates:
        print(f"duplicate {path}: same content as {first}, indexed once", file=sys.stderr)
    if report.copies:
        print(f"{report.copies} syndicated copies folded into their originals (indexed once)", file=sys.stderr)
    state = "unchanged" if report.unchanged else f"written to {report.index_dir}"
    print(f"{report.articles} articles read, {len(report.skipped)} skipped, {len(report.duplicates)} duplicate; "
          f"{report.chunks} passages: {report.embedded} embedded, {report.reused} reused; "
          f"{report.index_kind} index {state} in {report.seconds:.1f} s")
    return 1 if args.strict and report.skipped else 0


def cmd_check(args: argparse.Namespace) -> int:
    from .index import check

    settings = _settings(args)
    result = check(settings)
    if result.ok:
        counts = result.manifest.get("counts", {}) if result.manifest else {}
        print(f"index {settings.index} is up to date: {counts.get('articles')} articles, "
              f"{counts.get('chunks')} passages, model {settings.model}")
        return 0
    for problem in result.problems:
        print(f"stale: {problem}", file=sys.stderr)
    print(f"run `qa build{'' if str(settings.index) == 'embeddings' else ' --index ' + str(settings.index)}` "
          "to bring the index up to date", file=sys.stderr)
    return 1


def cmd_ask(args: argparse.Namespace) -> int:
    from .answer import Asker
    from .search import Filters

    settings = _settings(args)
    asker = Asker.open(settings)
    result = asker.ask(args.question, k=settings.k, mode=settings.mode,
                       filters=Filters(args.source, args.since, args.until))
    if args.json:
        print(json.dumps(result.as_json(), ensure_ascii=False, indent=1))
        return 0
    print(result.answer_text())
    print()
    for hit in result.hits:
        meta = " · ".join(x for x in (hit.source, hit.date) if x)
        print(f"[{hit.rank}] {hit.title}" + (f" — {meta}" if meta else "") + f" — ¶{hit.paragraph} "
              f"(score {hit.score:.3f})")
        if hit.url:
            print(f"    {hit.url}")
        print(f"    {hit.text}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from .embedding import load_embedder
    from .evaluate import corpus_retriever, evaluate, read_jsonl

    settings = Settings.load(model=args.model, today=args.today)
    corpus = read_jsonl(args.corpus, ("id", "text"))
    queries = read_jsonl(args.queries, ("id", "question", "gold_ids"))[: args.limit]
    embedder = None if args.mode == "keyword" else load_embedder(settings.model)
    bar = _Bar(args.quiet)
    try:
        retriever, build_s = corpus_retriever(corpus, embedder, settings.cache, bar)
        result = evaluate(retriever, queries, args.k, args.mode, bar, today=settings.today_date())
    finally:
        bar.close()
    m = {**result.metrics, "model": settings.model if embedder else None, "passages": len(corpus),
         "build_s": build_s}
    if args.runs:
        with open(args.runs, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in result.runs)
    if args.json:
        print(json.dumps(m, ensure_ascii=False))
    else:
        print(f"{args.queries} ({m['queries']} questions, {m['passages']} passages, {args.mode}"
              f"{', ' + settings.model if embedder else ''})")
        print(f"Hit@1 {m['hit@1']:.3f}  Hit@5 {m['hit@5']:.3f}  Recall@10 {m['recall@10']:.3f}  "
              f"MRR@10 {m['mrr@10']:.3f}  nDCG@10 {m['ndcg@10']:.3f}")
        print(f"query latency p50 {m['latency_ms_p50']:.1f} ms, p95 {m['latency_ms_p95']:.1f} ms; "
              f"index built in {build_s:.1f} s")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if not args.no_build:
        from .index import check

        if not check(settings).ok:
            print("index missing or stale: building it first", file=sys.stderr)
            cmd_build(argparse.Namespace(**{**vars(args), "strict": False, "quiet": False}))
    import app

    return app.serve(settings)


if __name__ == "__main__":
    sys.exit(main())
