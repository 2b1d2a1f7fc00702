"""A steadier fit of qa/grounding.py's thresholds: the flag budget is calibrated by cross-validation inside the fit half.

benchmarks/grounding.py picks, per language pair, the thresholds that catch the most unsupported sentences of the
fit half while flagging at most 5 % of its supported ones. That sits the name threshold where its own half's names
happen to fall: English names crowd just below it, so the held-out rate moved 4.3 -> 9.7 % over 0.44 -> 0.50.
Here the same search runs with a budget b below 5 %, and b is chosen inside the fit half only: the fit half's
questions are split into K folds (a question's sentences stay together), thresholds are fitted on K-1 folds with
budget b and scored on the fold left out, over several random splits; the b whose pooled left-out rates make both
targets (flagged <= 5 %, caught >= 90 %) most likely on a half of that size is kept, and the thresholds are then
fitted on the whole fit half with it. The held-out half is only read for the report.

    .venv/bin/python benchmarks/grounding_fit.py [--from-dump FILE] [--dump FILE] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import math
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


NEARS = [9.0, 0.3, 0.25, 0.2, 0.15, 0.1, 0.05]  # 9: a number may be anywhere in the cited passage


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
        for snd, near in [(snd, near) for snd in sounds for near in NEARS]:
            cols = []
            for part in (label, ~label):
                sub = [r for r, keep in zip(rs, part) if keep]
                cols.append(_flag_rates(sub, snd, near, ts, ms, ns))
            out[pair].append((snd, near, cols[0], cols[1], t3, m3, n3))
    return out


_NAMES: dict[tuple[int, float], float] = {}


def _name(r: dict, snd: float) -> float:
    key = (id(r), snd)
    if key not in _NAMES:
        _NAMES[key] = bench.name_score(r, snd)
    return _NAMES[key]


def _flag_rates(rows: list[dict], snd: float, near: float, ts, ms, ns) -> np.ndarray:
    """The share of `rows` flagged at every (similarity, margin, name) threshold of the grid. A row passes where
    t <= sim, margin >= rival and n <= name: a box of the grid, so passes are counted with a histogram of where
    each row's box ends and cumulative sums (linear in rows + grid)."""
    shape = (len(ts), len(ms), len(ns))
    if not rows:
        return np.zeros(shape)
    ok = [r for r in rows if r["facts_ok"] and r.get("gap", 0.0) <= near]
    h = np.zeros((len(ts) + 1, len(ms) + 1, len(ns) + 1))
    if ok:
        a = np.searchsorted(ts, [r["sim"] for r in ok], side="right")  # passes for t index < a
        rival = [r["rival"] if r.get("holds", True) else -9.0 for r in ok]  # a rival lacking its facts is none
        b = np.searchsorted(ms, rival, side="left")  # passes for margin index >= b
        c = np.searchsorted(ns, [_name(r, snd) for r in ok], side="right")  # passes for name index < c
        np.add.at(h, (a, b, c), 1)
    h = np.flip(np.flip(h, 0).cumsum(0), 0).cumsum(1)
    h = np.flip(np.flip(h, 2).cumsum(2), 2)
    return 1.0 - h[1:, :len(ms), 1:] / len(rows)


def pick(tabs: dict, budget: float | dict[str, float] = 0.05) -> dict:
    """benchmarks/grounding.py's choice with a flag budget (the same choice at 0.05): per pair, the most
    unsupported sentences caught with at most `budget` of supported ones flagged (when even the fact rules flag
    more, the fewest flagged); among equals the fewest flagged, then the least strict."""
    out: dict = {"sim": {}, "rival": {}, "name": {}, "sound": {}, "near": {}}
    for pair, grids in tabs.items():
        b = budget[pair] if isinstance(budget, dict) else budget
        best = None
        for snd, near, fpr, rec, t3, m3, n3 in grids:
            ok = fpr <= b + 1e-12
            keys = [ok, np.where(ok, 0.0, -fpr), rec, -fpr, -t3, m3, -n3, np.full(fpr.shape, snd),
                    np.full(fpr.shape, near)]
            flat = [k.ravel().astype(float) for k in keys]
            i = int(np.lexsort(flat[::-1])[-1])
            cand = (tuple(k[i] for k in flat), float(t3.ravel()[i]), float(m3.ravel()[i]), float(n3.ravel()[i]), snd,
                    near)
            if best is None or cand[0] > best[0]:
                best = cand
        (out["sim"][pair], out["rival"][pair], out["name"][pair], out["sound"][pair],
         out["near"][pair]) = best[1:]
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


def choose(cv: dict, n_sup: dict[str, int], n_uns: dict[str, int]) -> dict[str, float]:
    """Per pair, the budget most likely to meet both targets on a half like the fit half: P(flagged <= 5 %) x
    P(caught >= 90 %), each from the left-out rate with a normal approximation over that many sentences (the
    held-out half's own rates scatter by sqrt(p (1 - p) / n)); the largest budget among equals."""
    def above(p: float, n: int, target: float) -> float:  # P(a rate p measured on n sentences comes out >= target)
        se = max((p * (1 - p) / max(1, n)) ** 0.5, 1e-9)
        return 0.5 * (1 + math.erf((p - target) / se / 2 ** 0.5))

    out = {}
    for pair, d in cv.items():
        score = {b: (1 - above(f, n_sup[pair], 0.05)) * above(c, n_uns[pair], 0.9) for b, (f, c, _) in d.items()}
        out[pair] = max(score, key=lambda b: (round(score[b], 3), b))
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
    budget = choose(cv, *({p: sum(r["label"] is want and r["pair"] == p for r in fit_rows) for p in ("same", "cross")}
                          for want in (True, False)))
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
    no_near = {**t, "near": {"same": t["near"]["same"], "cross": 9.0}}
    loose = [{**r, "holds": True} for r in rows]
    abl = []
    for label, rs, tt in (("a number anywhere in the cited passage", rows, no_near),
                          ("every rival counted, whether or not it holds the sentence's facts", loose, t)):
        parts = []
        for half in ("fit", "test"):
            c, f = bench.rates([r for r in rs if r["split"] == half], tt, "en")
            parts.append(f"{c:.1%} / {f:.1%}")
        abl.append(f"{label}: fit {parts[0]}, held-out {parts[1]}")
    flagged_fit = [r for r in fit_rows if r["lang"] == "en" and r["label"] and bench.flagged(r, t)]
    cut, snd = t["name"]["cross"], t["sound"]["cross"]
    band = {h: sum(1 for r in rows if r["split"] == h and r["lang"] == "en" and r["label"] and r["facts_ok"]
                   and cut - 0.04 <= bench.name_score(r, snd) < cut) for h in ("fit", "test")}
    en_fit, en_test = bench.rates(fit_rows, t, "en"), bench.rates(test_rows, t, "en")
    meets = {h: c >= 0.9 and f <= 0.05 for h, (c, f) in (("fit", en_fit), ("test", en_test))}
    other = fit(test_rows, budget)  # a diagnostic only: the same fit made on the held-out half instead
    other_fit, other_test = bench.rates(fit_rows, other, "en"), bench.rates(test_rows, other, "en")
    g = bench.grounding
    shipped = {"sim": g.SIMILARITY, "rival": g.MISCITED, "name": g.NAME_SIMILARITY, "sound": g.SOUNDALIKE, "near": g.NEAR}
    same = bench.describe(t) == bench.describe(shipped)
    ships = "these are qa/grounding.py's values" if same else f"qa/grounding.py ships {bench.describe(shipped)}"
    return (
        f"{machine()}; load average {os.getloadavg()[0]:.1f} on the shared machine; sentence model {saved['model']}; "
        f"{len(rows)} labelled sentences ({saved['limit']} questions of each Chinese set, {saved['limit_en']} English "
        f"questions), judged in {saved.get('judge_s', 0):.0f} s, the cross-validation and fits took {fit_s:.0f} s. "
        f"Script: benchmarks/grounding_fit.py (labelled sentences and verdicts: benchmarks/grounding.py). "
        f"Budgets tried on {FOLDS} folds of the fit half's questions x {REPEATS} random splits (left-out rates "
        f"pooled):\n\n" + "\n".join(cv_lines)
        + f"\n\nChosen budget: Chinese {budget['same']:.1%}, English {budget['cross']:.1%}; fitted on the whole fit "
        f"half with it: {bench.describe(t)} ({ships}). Both halves, by kind of "
        f"unsupported sentence:\n\n" + by_kind(rows, t)
        + f"\n\nThe plain 5 % fit on the same (new) verdicts, for comparison: {bench.describe(plain)}; held-out "
        f"English {en_p[0]:.1%} caught / {en_p[1]:.1%} flagged, Chinese {zh_p[0]:.1%} / {zh_p[1]:.1%} (with the "
        f"calibrated budget: English {en_t[0]:.1%} / {en_t[1]:.1%}, Chinese {zh_t[0]:.1%} / {zh_t[1]:.1%}). How "
        f"the English name threshold still moves both halves (caught / flagged): " + "; ".join(sens) + "."
        + " English caught / flagged without each new rule (same thresholds otherwise): " + "; ".join(abl) + "."
        + f"\n\nSupported English sentences of the fit half still flagged ({len(flagged_fit)}): "
        + "; ".join(f"`{_answer(r)}` ({_rule(r, t)})" for r in flagged_fit) + "."
        + f"\n\nReading it: English over Chinese passages {'meets' if meets['test'] else 'does not meet'} the target on "
        f"the held-out half ({en_test[0]:.1%} caught / {en_test[1]:.1%} flagged; fit half {en_fit[0]:.1%} / "
        f"{en_fit[1]:.1%}). Cross-validation inside the fit half predicted {cv['cross'][budget['cross']][0]:.1%} "
        f"flagged / {cv['cross'][budget['cross']][1]:.1%} caught for the chosen budget. The gap is where the "
        f"supported English names fall: {band['fit']} supported English sentences of the fit half and "
        f"{band['test']} of the held-out half have their weakest name within 0.04 below the name threshold "
        f"({cut:.2f}); no split of the fit half shows the held-out half's crowding there, so no fit on it can "
        f"place the threshold for it. (Made the same way on the held-out half, the fit would put it at "
        f"{other['name']['cross']:.2f}, catching {other_test[0]:.1%} / flagging {other_test[1]:.1%} there and "
        f"{other_fit[0]:.1%} / {other_fit[1]:.1%} on the fit half: the two halves disagree by more than the budget; "
        "a diagnostic, not used for anything.) The cross-script name match (a use-m3 cosine between an English phrase and "
        "Chinese words) is the weak signal: a true transliteration or a translated title (Miasma = 瘴气, The Hay "
        "Wain = 干草车, Main Quadrangles = 主四合院, Chaffee = 查菲) scores like a wrong name (0.36-0.50). What the "
        "new rules fixed (unit tests in tests/test_llm_grounding.py): a lower-case abbreviation (the y. pestis) "
        "split a sentence from its marker; a Chinese passage quoting English names (47 % Chinese letters) was read as "
        "Latin script, so United States was looked for literally; CC-CEDICT made Islamic contradict 伊斯兰教 (Islam); "
        "an English sentence's changed year was found in another sentence of the passage (now the number must sit "
        "in a cited sentence within NEAR of the best one); and a rival passage lacking the sentence's numbers or "
        "names flagged it as miscited. What got worse: the held-out English flag rate at the shipped thresholds "
        f"({en_test[1]:.1%} here against 7.0% in the 2026-11-30 run of benchmarks/grounding.py, before these rules), because the fit half, with the causes above "
        "fixed, flags fewer of its own supported sentences and so allows a stricter name threshold "
        f"({cut:.2f} against 0.48); Chinese is unchanged. Earlier the same script at commit d2f714d (verdicts "
        "without the number and rival rules, budget by the largest one whose left-out rate stays <= 5 %) gave "
        "English 90.9% / 9.7% held-out: those held-out numbers were seen, and the choice rule used here (the budget "
        "most likely to meet both targets) was settled after them but before these."
    )


def _answer(r: dict) -> str:
    text = r["text"]
    return text[text.rindex('" is ') + 5:] if '" is ' in text else text[:60]


def _rule(r: dict, t: dict) -> str:
    """Which rule flags a row under thresholds `t` (the first that does)."""
    p = r["pair"]
    if not r["facts_ok"]:
        return r["reason"] or "facts"
    if r.get("gap", 0.0) > t["near"][p]:
        return f"number {r['gap']:.2f} below the best sentence"
    name = bench.name_score(r, t["sound"][p])
    if name < t["name"][p]:
        return f"name {name:.2f}"
    if r["sim"] < t["sim"][p]:
        return f"similarity {r['sim']:.2f}"
    return f"rival {r['rival']:+.2f}"


if __name__ == "__main__":
    main()
