"""A steadier fit of qa/grounding.py's thresholds: the flag budget is calibrated by cross-validation inside the fit half.

benchmarks/grounding.py picks, per language pair, the thresholds that catch the most unsupported sentences of the
fit half while flagging at most 5 % of its supported ones. That sits the name threshold where its own half's names
happen to fall: English names crowd just below it, so the held-out rate moved 4.3 -> 9.7 % over 0.44 -> 0.50.
Here the same search runs with a budget b below 5 %, and b is chosen inside the fit half only: the fit half's
questions are split into K folds (a question's sentences stay together), thresholds are fitted on K-1 folds with
budget b and scored on the fold left out, over several random splits; the largest b whose pooled left-out flag rate
is at most 5 % (and catch rate at least 90 % when one reaches it) is kept, and the thresholds are then fitted on
the whole fit half with it. The held-out half is only read for the report.

    .venv/bin/python benchmarks/grounding_fit.py [--from-dump FILE] [--dump FILE] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import grounding as bench  # noqa: E402
from benchmarks.machine import machine, publish  # noqa: E402

BUDGETS = (0.05, 0.045, 0.04, 0.035, 0.03, 0.025, 0.02)
FOLDS, REPEATS = 5, 4
KINDS = ("number", "date", "name", "cite")


def _grid(pair: str) -> tuple[list[float], list[float], list[float], list[float]]:
    sims = [x / 100 for x in range(0, 90, 2) if x / 100 >= bench.FLOOR[pair]]
    margins = [x / 100 for x in range(-10, 60, 2)]
    names = [-9.0] + ([x / 100 for x in range(20, 80, 2)] if pair == "cross" else [])
    sounds = bench.SOUNDS if pair == "cross" else [9.0]
    return sims, margins, names, sounds


def tables(rows: list[dict]) -> dict:
    """Per pair and sound-alike cut-off, the flag rates of supported and unsupported sentences over the grid of
    similarity, rival margin and name thresholds (what every budget's choice is made from)."""
    out: dict = {}
    for pair in ("same", "cross"):
        rs = [r for r in rows if r["pair"] == pair]
        sims, margins, names, sounds = _grid(pair)
        ts, ms, ns = np.array(sims), np.array(margins), np.array(names)
        label = np.array([r["label"] for r in rs], bool)
        t3, m3, n3 = np.meshgrid(ts, ms, ns, indexing="ij")
        out[pair] = []
        for snd in sounds:
            cols = []
            for part in (label, ~label):
                sub = [r for r, keep in zip(rs, part) if keep]
                facts = np.array([not r["facts_ok"] for r in sub], bool)
                sim = np.array([r["sim"] for r in sub])
                rival = np.array([r["rival"] for r in sub])
                name = np.array([bench.name_score(r, snd) for r in sub])
                f = (facts[:, None, None, None] | (sim[:, None] < ts)[:, :, None, None]
                     | (rival[:, None] > ms)[:, None, :, None] | (name[:, None] < ns)[:, None, None, :])
                cols.append(f.mean(0) if len(sub) else np.zeros(f.shape[1:]))
            out[pair].append((snd, cols[0], cols[1], t3, m3, n3))
    return out


def pick(tabs: dict, budget: float | dict[str, float] = 0.05) -> dict:
    """benchmarks/grounding.py's choice with a flag budget (the same choice at 0.05): per pair, the most
    unsupported sentences caught with at most `budget` of supported ones flagged (when even the fact rules flag
    more, the fewest flagged); among equals the fewest flagged, then the least strict."""
    out: dict = {"sim": {}, "rival": {}, "name": {}, "sound": {}}
    for pair, grids in tabs.items():
        b = budget[pair] if isinstance(budget, dict) else budget
        best = None
        for snd, fpr, rec, t3, m3, n3 in grids:
            ok = fpr <= b + 1e-12
            keys = [ok, np.where(ok, 0.0, -fpr), rec, -fpr, -t3, m3, -n3, np.full(fpr.shape, snd)]
            flat = [k.ravel().astype(float) for k in keys]
            i = int(np.lexsort(flat[::-1])[-1])
            cand = (tuple(k[i] for k in flat), float(t3.ravel()[i]), float(m3.ravel()[i]), float(n3.ravel()[i]), snd)
            if best is None or cand[0] > best[0]:
                best = cand
        out["sim"][pair], out["rival"][pair], out["name"][pair], out["sound"][pair] = best[1:]
    return out


def fit(rows: list[dict], budget: float | dict[str, float] = 0.05) -> dict:
    return pick(tables(rows), budget)


def _question(r: dict) -> tuple[str, str]:
    return r["set"], r["question"]


def cross_validate(rows: list[dict], budgets=BUDGETS, folds: int = FOLDS, repeats: int = REPEATS,
                   seed: int = 11) -> dict:
    """{pair: {budget: (left-out flag rate, catch rate, worst fold's flag rate)}} pooled over folds and repeats."""
    questions = sorted({_question(r) for r in rows})
    tally: dict = {p: {b: [0, 0, 0, 0, 0.0] for b in budgets} for p in ("same", "cross")}
    for rep in range(repeats):
        order = questions[:]
        random.Random(seed + rep).shuffle(order)
        fold_of = {q: i % folds for i, q in enumerate(order)}
        for k in range(folds):
            train = [r for r in rows if fold_of[_question(r)] != k]
            left = [r for r in rows if fold_of[_question(r)] == k]
            tabs = tables(train)
            for b in budgets:
                t = pick(tabs, b)
                for pair in ("same", "cross"):
                    sup = [r for r in left if r["pair"] == pair and r["label"]]
                    uns = [r for r in left if r["pair"] == pair and not r["label"]]
                    fs = sum(bench.flagged(r, t) for r in sup)
                    c = tally[pair][b]
                    c[0] += fs
                    c[1] += len(sup)
                    c[2] += sum(bench.flagged(r, t) for r in uns)
                    c[3] += len(uns)
                    c[4] = max(c[4], fs / max(1, len(sup)))
    return {p: {b: (c[0] / max(1, c[1]), c[2] / max(1, c[3]), c[4]) for b, c in d.items()} for p, d in tally.items()}


def choose(cv: dict) -> dict[str, float]:
    """Per pair, the largest budget whose left-out flag rate is <= 5 % (and catch rate >= 90 % if any such
    budget catches that many); the smallest budget when none keeps the flag rate."""
    out = {}
    for pair, d in cv.items():
        keep = [b for b, (f, _, _) in d.items() if f <= 0.05]
        catching = [b for b in keep if d[b][1] >= 0.9]
        out[pair] = max(catching or keep or [min(d)])
    return out


def by_kind(rows: list[dict], t: dict) -> str:
    lines = ["| half | sentences | supported | flagged (≤ 5 %) | unsupported | caught (≥ 90 %) | numbers changed | "
             "dates changed | names swapped | wrong passage |", "|---|---|---|---|---|---|---|---|---|---|"]
    for half, label in (("fit", "fit (tuning)"), ("test", "held-out")):
        for lang, name in (("zh", "Chinese"), ("en", "English over Chinese")):
            rs = [r for r in rows if r["split"] == half and r["lang"] == lang]
            sup = [r for r in rs if r["label"]]
            uns = [r for r in rs if not r["label"]]
            fs, fu = sum(bench.flagged(r, t) for r in sup), sum(bench.flagged(r, t) for r in uns)
            cells = []
            for kind in KINDS:
                k = [r for r in uns if r["kind"] == kind]
                cells.append(f"{sum(bench.flagged(r, t) for r in k) / len(k):.0%} of {len(k)}" if k else "—")
            bold = "**" if half == "test" else ""
            lines.append(f"| {label} | {name} | {len(sup)} | {bold}{fs / len(sup):.1%}{bold} ({fs}) | {len(uns)} | "
                         f"{bold}{fu / len(uns):.1%}{bold} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=50, help="questions per Chinese set")
    ap.add_argument("--limit-en", type=int, default=600, help="questions of the English set")
    ap.add_argument("--model", default="e5-small+use-m3", help="the index model; its sentence part scores")
    ap.add_argument("--dump", help="write the judged sentences here (JSON)")
    ap.add_argument("--from-dump", help="report from a --dump file instead of judging again")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    if args.from_dump:
        saved = json.loads(Path(args.from_dump).read_text(encoding="utf-8"))
    else:
        if not bench.EVAL.is_dir():
            sys.exit(f"{bench.EVAL} is missing: the labelled sentences are made from the eval sets")
        from qa.embedding import load_embedder, sentence_embedder

        model = sentence_embedder(load_embedder(args.model)) if "+" in args.model else load_embedder(args.model)
        cached = bench.load_vectors(model)
        t0 = time.perf_counter()
        items = bench.build(args.limit, args.limit_en)
        t1 = time.perf_counter()
        rows = bench.judge(items, model)
        t2 = time.perf_counter()
        bench.save_vectors(model)
        saved = {"build_s": t1 - t0, "judge_s": t2 - t1, "cached": cached, "limit": args.limit,
                 "limit_en": args.limit_en, "model": model.name, "load": os.getloadavg()[0], "rows": rows}
        if args.dump:
            Path(args.dump).write_text(json.dumps(saved, ensure_ascii=False), encoding="utf-8")
    rows = saved["rows"]
    fit_rows = [r for r in rows if r["split"] == "fit"]
    t0 = time.perf_counter()
    cv = cross_validate(fit_rows)
    budget = choose(cv)
    t = fit(fit_rows, budget)
    plain = fit(fit_rows, 0.05)
    fit_s = time.perf_counter() - t0
    print(json.dumps({"budget": budget, "thresholds": t, "plain": plain}))
    publish("grounding-fit", "## Grounding check: a steadier fit (cross-validated flag budget)",
            report(saved, cv, budget, t, plain, fit_s), not args.no_write)


def report(saved: dict, cv: dict, budget: dict, t: dict, plain: dict, fit_s: float) -> str:
    rows = saved["rows"]
    test_rows = [r for r in rows if r["split"] == "test"]
    fit_rows = [r for r in rows if r["split"] == "fit"]
    cv_lines = ["| budget on the fit folds | Chinese: left-out flagged / caught / worst fold flagged | "
                "English: left-out flagged / caught / worst fold flagged |", "|---|---|---|"]
    for b in BUDGETS:
        cells = [f"{cv[p][b][0]:.1%} / {cv[p][b][1]:.1%} / {cv[p][b][2]:.1%}" for p in ("same", "cross")]
        cv_lines.append(f"| {b:.1%} | " + " | ".join(cells) + " |")
    en_p, en_t = bench.rates(test_rows, plain, "en"), bench.rates(test_rows, t, "en")
    zh_p, zh_t = bench.rates(test_rows, plain, "zh"), bench.rates(test_rows, t, "zh")
    sens = []
    for dn in (-0.04, -0.02, 0.02, 0.04):
        shifted = {**t, "name": {**t["name"], "cross": t["name"]["cross"] + dn}}
        c, f = bench.rates(test_rows, shifted, "en")
        cf, ff = bench.rates(fit_rows, shifted, "en")
        sens.append(f"{t['name']['cross'] + dn:.2f}: held-out {c:.1%} / {f:.1%}, fit {cf:.1%} / {ff:.1%}")
    return (
        f"{machine()}; load average {os.getloadavg()[0]:.1f} on the shared machine; sentence model {saved['model']}; "
        f"{len(rows)} labelled sentences ({saved['limit']} questions of each Chinese set, {saved['limit_en']} English "
        f"questions), judged in {saved.get('judge_s', 0):.0f} s, the cross-validation and fits took {fit_s:.0f} s. "
        f"Script: benchmarks/grounding_fit.py (labelled sentences and verdicts: benchmarks/grounding.py). "
        f"Budgets tried on {FOLDS} folds of the fit half's questions x {REPEATS} random splits (left-out rates "
        f"pooled):\n\n" + "\n".join(cv_lines)
        + f"\n\nChosen budget: Chinese {budget['same']:.1%}, English {budget['cross']:.1%}; fitted on the whole fit "
        f"half with it: {bench.describe(t)} (these are qa/grounding.py's values). Both halves, by kind of "
        f"unsupported sentence:\n\n" + by_kind(rows, t)
        + f"\n\nThe plain 5 % fit on the same (new) verdicts, for comparison: {bench.describe(plain)}; held-out "
        f"English {en_p[0]:.1%} caught / {en_p[1]:.1%} flagged, Chinese {zh_p[0]:.1%} / {zh_p[1]:.1%} (with the "
        f"calibrated budget: English {en_t[0]:.1%} / {en_t[1]:.1%}, Chinese {zh_t[0]:.1%} / {zh_t[1]:.1%}). How "
        f"the English name threshold still moves both halves (caught / flagged): " + "; ".join(sens) + "."
    )


if __name__ == "__main__":
    main()
