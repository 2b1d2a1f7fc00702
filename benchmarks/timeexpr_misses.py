"""Where chronoqa's hybrid search misses, on the tuning half only (issue 11.6; halves as benchmarks/timeexpr_chrono.py).

    nice -n 10 .venv/bin/python benchmarks/timeexpr_misses.py            # capture once, then the table
    nice -n 10 .venv/bin/python benchmarks/timeexpr_misses.py --write    # the table into benchmarks/README.md

Every question is searched once as `qa eval` does (cached question vectors, its `question_date`), with the fused
ranking captured before the time preference (`timeexpr.prefer`; a question naming no time gets an empty scope so
its ranking is captured too). The capture is kept in `<cache>/eval/chronoqa-capture-<model>.pkl`; `replay`
re-ranks it with the current `qa.timeexpr` (parse, passage dates, prefer) and the near-duplicate step, without
searching again (the keyword text a parse adds is not replayed: `timeexpr_chrono.py` gives the real number).
"""

from __future__ import annotations

import argparse
import collections
import pickle
import sys
from pathlib import Path
from unittest import mock

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.machine import machine, publish  # noqa: E402
from benchmarks.timeexpr_chrono import half, question_vectors  # noqa: E402

GRID = ((0.4, 1.0), (0.4, 0.0), (0.4, 0.25), (0.3, 0.25), (0.5, 0.25))  # (in-range bonus, coarse share)
ANCHOR = (0.0, 0.2, 0.3)


def capture(folder: Path, model: str) -> dict:
    from qa import timeexpr
    from qa.config import Settings
    from qa.embedding import load_embedder
    from qa.evaluate import _date, corpus_retriever, read_jsonl
    from qa.vectorcache import model_key

    settings = Settings.load(model=model)
    path = settings.cache / "eval" / f"chronoqa-capture-{model}.pkl"
    if path.is_file():
        return pickle.loads(path.read_bytes())
    embedder = load_embedder(model)
    corpus = read_jsonl(folder / "corpus.jsonl", ("id", "text"))
    queries = read_jsonl(folder / "queries.jsonl", ("id", "question", "gold_ids"))
    retriever, _ = corpus_retriever(corpus, embedder, settings.cache)
    vecs = question_vectors(embedder, list(dict.fromkeys(q["question"] for q in queries)),
                            settings.cache / "eval" / f"questions-{model_key(embedder.identity())}-chronoqa.npz")
    shipped_parse, shipped_prefer = timeexpr.parse, timeexpr.prefer
    current: dict = {}

    def parse(question, today=None):
        return shipped_parse(question, today) or timeexpr.TimeScope()

    def spy(ranked, scope, dates_of, scale=1.0, **kw):
        current["ranked"] = list(ranked)
        return shipped_prefer(ranked, scope, dates_of, scale, **kw)

    rows: dict[int, str] = {}
    out = []
    with mock.patch.object(timeexpr, "parse", parse), mock.patch.object(timeexpr, "prefer", spy):
        for n, q in enumerate(queries):
            current.clear()
            retriever.search(q["question"], 10, "hybrid", query_vector=vecs[q["question"]],
                             today=_date(q.get("question_date")))
            for r, _ in current["ranked"]:
                if r not in rows:
                    rows[r] = retriever.store.passages([r])[0]["id"]
            out.append({"q": q, "ranked": current["ranked"]})
            if n % 500 == 0:
                print(f"captured {n}/{len(queries)}", file=sys.stderr, flush=True)
    got = {"queries": out, "ids": rows, "texts": {c["id"]: c["text"] for c in corpus}}
    path.write_bytes(pickle.dumps(got))
    return got


def replay(cap: dict, q: dict, ranked: list[tuple[int, float]], **prefer_kw) -> list[str]:
    """The top 10 passage ids as search would rank them with the current qa.timeexpr."""
    from qa import syndication, timeexpr
    from qa.evaluate import _date

    ids, texts = cap["ids"], cap["texts"]
    memo = cap.setdefault("memo", {})  # parse and passage dates once per question and passage (grids replay often)
    if ("q", q["id"]) not in memo:
        memo["q", q["id"]] = timeexpr.parse(q["question"], _date(q.get("question_date")))
    scope = memo["q", q["id"]]

    def dates(r: int) -> list:
        if ("p", ids[r]) not in memo:
            memo["p", ids[r]] = timeexpr.passage_dates(texts[ids[r]])
        return memo["p", ids[r]]

    if scope is not None:
        ranked = timeexpr.prefer(ranked, scope, dates, 1.0, **prefer_kw)
    ranked = syndication.diversify(ranked, lambda r: texts[ids[r]], lambda r: ids[r], 5)
    return [ids[r] for r, _ in ranked[:10]]


def rr(top: list[str], q: dict) -> float:
    gold = {str(g) for g in q["gold_ids"]}
    return next((1 / (i + 1) for i, c in enumerate(top[:10]) if c in gold), 0.0)


def kind(q: dict) -> str:
    """What the question says about time, as the current parser reads it."""
    from qa import timeexpr
    from qa.evaluate import _date

    s = timeexpr.parse(q["question"], _date(q.get("question_date")))
    if s is None:
        return "names no time"
    return "range" if (s.since or s.until) else "another event's day (当天)" if s.anchor else "latest only"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--eval", type=Path, default=REPO.parent / "shared" / "eval")
    ap.add_argument("--model", default="e5-small+use-m3")
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--grid", action="store_true", help="in-range bonus x coarse share, replayed on both halves")
    args = ap.parse_args()
    from qa import timeexpr

    cap = capture(args.eval / "chronoqa", args.model)
    if args.grid:
        rows = ["| in-range bonus | coarse share | \"当天\" bonus | tuning half | held-out half |", "|---:|---:|---:|---:|---:|"]
        grid = [(a, b, timeexpr.ANCHOR_BONUS) for a, b in GRID]
        grid += [(timeexpr.IN_RANGE_BONUS, timeexpr.COARSE_SHARE, x) for x in ANCHOR if x != timeexpr.ANCHOR_BONUS]
        fixed = {c["q"]["id"]: rr(replay(cap, c["q"], c["ranked"]), c["q"]) for c in cap["queries"]
                 if kind(c["q"]) == "names no time"}  # no time: the same under every setting, replayed once
        for a, b, x in grid:
            got = {h: [fixed[c["q"]["id"]] if c["q"]["id"] in fixed else
                       rr(replay(cap, c["q"], c["ranked"], in_range=a, coarse=b, anchor=x), c["q"])
                       for c in cap["queries"] if half(c["q"]["id"]) == h] for h in ("tune", "held")}
            rows.append(f"| {a} | {b} | {x} | {sum(got['tune']) / len(got['tune']):.4f} | "
                        f"{sum(got['held']) / len(got['held']):.4f} |")
            print(rows[-1], flush=True)
        publish("timeexpr-grid", "### chronoqa: the date preference's strength, replayed",
                f"chronoqa, hybrid, model {args.model}, replayed from one capture; chosen on the tuning half; "
                f"{machine()}\n\n" + "\n".join(rows) + "\n\n`nice -n 10 .venv/bin/python benchmarks/timeexpr_misses.py --grid`",
                args.write)
        return
    tune = [c for c in cap["queries"] if half(c["q"]["id"]) == "tune"]
    groups: dict[tuple[str, str], list[tuple[float, str]]] = collections.defaultdict(list)
    for c in tune:
        q = c["q"]
        r = rr(replay(cap, q, c["ranked"]), q)
        gold = [g for g in q["gold_ids"] if g in cap["texts"]]
        scope = timeexpr.parse(q["question"], None)
        why = ""
        if r < 1:
            dated = [timeexpr.passage_dates(cap["texts"][g]) for g in gold]
            why = "gold states no date" if not any(dated) else "ranked below" if scope is None else "other"
        groups[(q.get("temporal_type", "?"), kind(q))].append((r, why))
    lines = ["| temporal type | time in the question | questions | MRR@10 | not first | of those: gold states no date |",
             "|---|---|---:|---:|---:|---:|"]
    for (t, k), xs in sorted(groups.items()):
        miss = [w for r, w in xs if r < 1]
        lines.append(f"| {t} | {k} | {len(xs)} | {sum(r for r, _ in xs) / len(xs):.3f} | {len(miss)} | "
                     f"{sum(w == 'gold states no date' for w in miss)} |")
    text = (f"chronoqa tuning half ({len(tune)} questions), hybrid, model {args.model}, replayed from one capture "
            f"(near-duplicates folded as search does; keyword text of a parse not replayed); {machine()}\n\n"
            + "\n".join(lines) + "\n\n`nice -n 10 .venv/bin/python benchmarks/timeexpr_misses.py`")
    publish("timeexpr-misses", "### chronoqa: where the tuning half misses", text, args.write)


if __name__ == "__main__":
    main()
