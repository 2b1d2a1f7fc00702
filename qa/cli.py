"""`qa build | ask | chat | check | eval | serve`: the command line. Errors become one line and exit code 2.

Everything printed passes through `shown()`: article text and file names are untrusted, and a control
character or escape sequence in them must not clear the screen or retitle the window.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
from pathlib import Path

from .config import Settings
from .errors import QAError

DEFAULTS = Settings()
# C0/C1 control characters (ESC starts a terminal escape sequence; 0x9b is CSI on its own) and the
# bidirectional overrides/isolates that reorder what a terminal shows.
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_UNSAFE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escape(m: re.Match) -> str:
    c = m.group()
    return f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"


def shown(text: object, one_line: bool = False) -> str:
    """`text` safe for a terminal: control characters and bidi overrides appear as visible escapes
    (`\\x1b`); with `one_line`, newlines and tabs too (titles, file names)."""
    return (_UNSAFE_LINE if one_line else _UNSAFE).sub(_escape, "" if text is None else str(text))


def say(*parts: object, err: bool = False) -> None:
    print(*(shown(p) for p in parts), file=sys.stderr if err else sys.stdout)


def plural(n: object, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seeds", help=f"articles folder (QA_SEEDS, default {DEFAULTS.seeds}/)")
    p.add_argument("--index", help=f"index folder (QA_INDEX, default {DEFAULTS.index}/)")
    p.add_argument("--model", help=f"embedding model (QA_MODEL, default {DEFAULTS.model}; see README)")
    p.add_argument("--store", help=f"local, PATH.db (Milvus Lite) or http://HOST:PORT (Milvus) (QA_STORE, default {DEFAULTS.store})")


def _asking(p: argparse.ArgumentParser) -> None:
    p.add_argument("-k", type=int, help=f"number of passages (QA_K, default {DEFAULTS.k})")
    p.add_argument("--mode", choices=["keyword", "dense", "hybrid"],
                   help=f"retrieval mode (QA_MODE, default {DEFAULTS.mode})")
    p.add_argument("--source", help="only articles whose outlet contains this text")
    p.add_argument("--since", help="only articles dated on or after YYYY-MM-DD")
    p.add_argument("--until", help="only articles dated on or before YYYY-MM-DD")


def llm_flags(p: argparse.ArgumentParser) -> None:
    """Written answers by an OpenAI-compatible model (qa/written.py); the key only from QA_LLM_KEY."""
    p.add_argument("--llm-url", help="OpenAI-compatible server, e.g. http://127.0.0.1:11434/v1 (QA_LLM_URL; "
                                     "default: no model, quoted answers)")
    p.add_argument("--llm-model", help="model name on that server, e.g. qwen2.5:7b (QA_LLM_MODEL)")


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
    _asking(a)
    a.add_argument("--history", action="append", metavar="PREV",
                   help="an earlier question of the conversation, oldest first (repeat the flag); a follow-up "
                        "is searched with it when that helps")
    a.add_argument("--json", action="store_true", help="print one JSON object")
    a.add_argument("--today", help="YYYY-MM-DD that '去年', 'last month' are relative to (QA_TODAY)")

    llm_flags(a)

    t = sub.add_parser("chat", help="an interactive conversation (follow-up questions; /new starts over)")
    _common(t)
    _asking(t)
    llm_flags(t)

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
    e.add_argument("--store", help="local (in memory), PATH.db (Milvus Lite) or http://HOST:PORT (Milvus): where "
                   "the corpus is indexed, as collections <prefix>_eval reused while unchanged (QA_STORE)")

    s = sub.add_parser("serve", help="start the web page (builds the index first when needed)")
    _common(s)
    s.add_argument("--host", help=f"address to bind (QA_HOST, default {DEFAULTS.host})")
    s.add_argument("--port", type=int, help=f"port (QA_PORT, default {DEFAULTS.port})")
    s.add_argument("--no-build", action="store_true", help="do not build a missing or stale index")
    llm_flags(s)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return {"build": cmd_build, "check": cmd_check, "ask": cmd_ask, "chat": cmd_chat, "eval": cmd_eval,
                "serve": cmd_serve}[args.command](args)
    except QAError as e:
        say(f"error: {e}", err=True)
        return 2
    except KeyboardInterrupt:
        say("interrupted: the previous index is untouched; run the command again to resume", err=True)
        return 130
    except BrokenPipeError:
        # The reader went away (`qa ask … | head`): stop quietly. Point stdout at /dev/null so that the
        # interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as for a program the pipe ended


def _settings(args: argparse.Namespace) -> Settings:
    keys = ("seeds", "index", "model", "k", "mode", "host", "port", "store", "today", "llm_url", "llm_model")
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
        say(f"skipped {shown(path, True)}: {reason}", err=True)
    for path, first in report.duplicates:
        say(f"duplicate {shown(path, True)}: same content as {shown(first, True)}, indexed once", err=True)
    for path, note in report.notes:  # e.g. front matter ignored (the article itself was indexed)
        say(f"note {shown(path, True)}: {note}", err=True)
    if report.copies:
        say(f"{report.copies} syndicated {'copy' if report.copies == 1 else 'copies'} folded into the original "
            "story (listed on its card, not indexed again)", err=True)
    state = "unchanged" if report.unchanged else f"written to {report.index_dir}"
    say(f"{plural(report.articles, 'article')} read, {len(report.skipped)} skipped, {len(report.duplicates)} duplicate; "
        f"{plural(report.chunks, 'passage')}: {report.embedded} embedded, {report.reused} reused; "
        f"{report.index_kind} index {state} in {report.seconds:.1f} s")
    return 1 if args.strict and report.skipped else 0


def cmd_check(args: argparse.Namespace) -> int:
    from .index import check

    settings = _settings(args)
    result = check(settings)
    if result.ok:
        counts = result.manifest.get("counts", {}) if result.manifest else {}
        say(f"index {settings.index} is up to date: {plural(counts.get('articles'), 'article')}, "
            f"{plural(counts.get('chunks'), 'passage')}, model {settings.model}")
        return 0
    for problem in result.problems:
        say(f"stale: {problem}", err=True)
    say(f"run `qa build{'' if str(settings.index) == 'embeddings' else ' --index ' + str(settings.index)}` "
          "to bring the index up to date", err=True)
    return 1


def _filters(args: argparse.Namespace):
    from .search import Filters

    return Filters(args.source, args.since, args.until)


def print_answer(result, llm=None) -> None:
    """The reply, who wrote it (a written answer), its notices, then the numbered citations; an article's
    URL once per answer."""
    from .replies import phrase

    say(result.answer_text())
    if result.generated and llm is not None:
        say(f"(written by {llm.model} at {llm.host}; every sentence checked against the passage it cites)")
    if result.context_used:
        say(phrase("searched_for", result.language) + shown(result.searched_for, True))
    if result.notice:
        say(result.notice)
    say()
    seen: set[str] = set()
    for hit in result.hits:
        meta = " · ".join(shown(x, True) for x in (hit.source, hit.date) if x)
        say(f"[{hit.rank}] {shown(hit.title, True)}" + (f" — {meta}" if meta else "") + f" — ¶{hit.paragraph} "
            f"(score {hit.score:.3f})")
        if hit.url and hit.article_id not in seen:
            say(f"    {shown(hit.url, True)}")
        seen.add(hit.article_id)
        say(f"    {shown(hit.text, True)}")


def _json(data: dict) -> str:
    """JSON escapes C0 controls itself; C1 controls and bidi overrides are valid raw in JSON strings, so
    they are escaped here (a JSON `\\uXXXX` escape is allowed anywhere in a string)."""
    text = json.dumps(data, ensure_ascii=False, indent=1)
    return re.sub(r"[\x7f-\x9f\u202a-\u202e\u2066-\u2069]", lambda m: f"\\u{ord(m.group()):04x}", text)


def cmd_ask(args: argparse.Namespace) -> int:
    from .answer import Asker
    from .llm import LLMConfig

    settings = _settings(args)
    filters = _filters(args)
    asker = Asker.open(settings)
    result = asker.ask(args.question, args.history or [], k=settings.k, mode=settings.mode, filters=filters)
    llm = LLMConfig.from_settings(settings)
    if llm is not None:
        from .written import write_answer

        result = write_answer(result, llm, asker.scorer.sentence_model)
    if args.json:
        print(_json(result.as_json()))
        return 0
    print_answer(result, llm)
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    """Questions from the terminal until end of input; each is asked with the conversation's earlier
    questions (the same follow-up decision as the page). `/new` starts a new conversation."""
    from .answer import Asker
    from .llm import LLMConfig
    from .written import write_answer

    settings = _settings(args)
    filters = _filters(args)
    llm = LLMConfig.from_settings(settings)
    asker = Asker.open(settings)
    interactive = sys.stdin.isatty()
    history_file = settings.cache / "chat_history"
    readline = None
    if interactive:
        try:
            import readline  # line editing and ↑/↓ through earlier questions, kept between sessions

            with contextlib.suppress(OSError):
                readline.read_history_file(history_file)
        except ImportError:
            readline = None
        say("Ask a question (/new starts a new conversation, Ctrl-D ends).")
    history: list[str] = []
    try:
        while True:
            try:
                line = input("> " if interactive else "")
            except EOFError:
                break
            question = line.strip()
            if not question:
                continue
            if question in ("/new", "/clear", "/reset"):
                history = []
                say("(new conversation)")
                continue
            if question in ("/quit", "/exit"):
                break
            result = asker.ask(question, history, k=settings.k, mode=settings.mode, filters=filters)
            if llm is not None:
                result = write_answer(result, llm, asker.scorer.sentence_model)
            print_answer(result, llm)
            say()
            history.append(result.question or question)
            history = history[-settings.max_history_items:]
    except KeyboardInterrupt:
        say()
    finally:
        if readline is not None:
            with contextlib.suppress(OSError):
                history_file.parent.mkdir(parents=True, exist_ok=True)
                readline.set_history_length(1000)
                readline.write_history_file(history_file)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from .embedding import load_embedder
    from .evaluate import corpus_retriever, evaluate, read_jsonl

    settings = Settings.load(model=args.model, today=args.today, store=args.store)
    corpus = read_jsonl(args.corpus, ("id", "text"))
    queries = read_jsonl(args.queries, ("id", "question", "gold_ids"))[: args.limit]
    embedder = None if args.mode == "keyword" else load_embedder(settings.model)
    bar = _Bar(args.quiet)
    try:
        retriever, build_s = corpus_retriever(corpus, embedder, settings.cache, bar, settings.store)
        try:
            result = evaluate(retriever, queries, args.k, args.mode, bar, today=settings.today_date())
        finally:
            retriever.store.close()
    finally:
        bar.close()
    m = {**result.metrics, "model": settings.model if embedder else None, "passages": len(corpus),
         "build_s": build_s, "store": settings.store}
    if args.runs:
        with open(args.runs, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in result.runs)
    if args.json:
        print(_json(m))
    else:
        say(f"{args.queries} ({m['queries']} questions, {m['passages']} passages, {args.mode}"
              f"{', ' + settings.model if embedder else ''}"
              f"{', store ' + settings.store if settings.store != 'local' else ''})")
        say(f"Hit@1 {m['hit@1']:.3f}  Hit@5 {m['hit@5']:.3f}  Recall@10 {m['recall@10']:.3f}  "
              f"MRR@10 {m['mrr@10']:.3f}  nDCG@10 {m['ndcg@10']:.3f}")
        say(f"query latency p50 {m['latency_ms_p50']:.1f} ms, p95 {m['latency_ms_p95']:.1f} ms; "
              f"index built in {build_s:.1f} s")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if not args.no_build:
        from .index import check

        if not check(settings).ok:
            say("index missing or stale: building it first", err=True)
            cmd_build(argparse.Namespace(**{**vars(args), "strict": False, "quiet": False}))
    import app

    return app.serve(settings)


if __name__ == "__main__":
    sys.exit(main())
