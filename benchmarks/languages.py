"""Any language over Chinese articles: per-script model weights and literal anchors, per language.

    .venv/bin/python benchmarks/languages.py [--sample 300] [--per-lang 120] [--no-write]

Questions: xquad-en2zh (en), xquad-5lang-to-zh (de, es, ru, ar, hi) and, to check that Chinese questions do
not lose, xquad-zh, cmrc2018-trial, drcd-test and chronoqa; a fixed sample of each (benchmarks/modelcache.py).
Dense scores of the combined model e5-small+use-m3 are the weighted sum of its parts' cosines, so any
per-script weights can be scored without re-embedding. Weights and the anchor weight are chosen on the dev
half (even positions in queries.jsonl) and reported on the test half (odd positions) and on all.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.fusion_models import halves, per_question  # noqa: E402
from benchmarks.modelcache import SetData, load_set  # noqa: E402
from qa import fusion  # noqa: E402
from qa.embedding import QUERY_WEIGHTS, query_group  # noqa: E402
from qa.query import script  # noqa: E402

CROSS = ("xquad-en2zh", "xquad-5lang-to-zh")
USE_GRID = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0)
ANCHOR_GRID = (0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)
MODEL = "e5-small+use-m3"


def sims_with(data: SetData, weights: dict[str, tuple[float, float]]) -> np.ndarray:
    e5, use = data.cos("e5-small"), data.cos("use-m3")
    out = np.zeros_like(e5)
    for i, q in enumerate(data.queries):
        we, wu = weights[query_group(q["question"], weights)]
        out[i] = we * e5[i] + wu * use[i]
    return out


def by_lang(data: SetData, values: np.ndarray, part: str) -> dict[str, float]:
    sel = halves(data)[part]
    langs = np.array(data.langs)
    return {lang: float(values[sel & (langs == lang)].mean()) for lang in sorted(set(data.langs))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--eval", type=Path, default=ROOT.parent / "shared" / "eval")
    ap.add_argument("--sample", type=int, default=300)
    ap.add_argument("--per-lang", type=int, default=120)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    cross = {n: load_set(args.eval, n, args.per_lang if n == "xquad-5lang-to-zh" else args.sample) for n in CROSS}
    report: dict = {}
    # 1) per-script use-m3 weight (dense and hybrid, dev), anchors off
    scripts = sorted({script(q["question"]) for d in cross.values() for q in d.queries} - {"zh"})
    current = QUERY_WEIGHTS[MODEL]
    for wu in USE_GRID:
        weights = {s: (1 - wu, wu) for s in scripts} | {"zh": current["zh"], "other": (1 - wu, wu)}
        for data in cross.values():
            r = per_question(data, MODEL, sims_with(data, weights), anchor_weight=0.0)
            for part in ("dev", "test"):
                for mode in ("dense", "hybrid"):
                    by = by_lang(data, r[mode], part)
                    for lang, v in by.items():
                        report.setdefault("use_weight", {}).setdefault(lang, {}).setdefault(str(wu), {})[
                            f"{mode}_{part}"] = round(v, 4)
    # chosen per script on dev: the weight with the best mean hybrid MRR over that script's languages
    lang_script = {d.langs[i]: script(q["question"]) for d in cross.values() for i, q in enumerate(d.queries)}
    chosen = {}
    for s in scripts:
        langs = [lang for lang, sc in lang_script.items() if sc == s]
        chosen[s] = max(USE_GRID, key=lambda w: np.mean([report["use_weight"][lang][str(w)]["hybrid_dev"]
                                                        for lang in langs]))
    weights = {s: (1 - w, w) for s, w in chosen.items()} | {"zh": current["zh"], "other": current["other"]}
    report["chosen_weights"] = weights
    print("chosen per script:", weights, flush=True)
    # 2) anchor weight with those weights
    for aw in ANCHOR_GRID:
        for data in cross.values():
            r = per_question(data, MODEL, sims_with(data, weights), anchor_weight=aw)
            for part in ("dev", "test"):
                for lang, v in by_lang(data, r["hybrid"], part).items():
                    report.setdefault("anchor", {}).setdefault(lang, {}).setdefault(str(aw), {})[part] = round(v, 4)
    for lang, d in report["anchor"].items():
        print(lang, " ".join(f"{w}: {v['dev']:.3f}/{v['test']:.3f}" for w, v in d.items()), flush=True)
    # 3) the table: per language, hybrid MRR@10 before this work and as shipped
    before = {"zh": (1.0, 0.0), "other": (0.9, 0.1)}
    old = {"gate": "absolute", "margin_scale": 0.1, "anchor_weight": 0.0}
    rows = []
    for name, data in cross.items():
        r_old = per_question(data, MODEL, sims_with(data, before), **old)
        r_new = per_question(data, MODEL, sims_with(data, QUERY_WEIGHTS[MODEL]))
        for lang in sorted(set(data.langs)):
            row = {"set": name, "lang": lang}
            for part in ("dev", "test", "all"):
                row[f"before_{part}"] = by_lang(data, r_old["hybrid"], part)[lang]
                row[f"now_{part}"] = by_lang(data, r_new["hybrid"], part)[lang]
                row[f"dense_{part}"] = by_lang(data, r_new["dense"], part)[lang]
            row["n"] = int(sum(1 for x in data.langs if x == lang))
            rows.append(row)
    report["table"] = rows
    five = [r for r in rows if r["set"] == "xquad-5lang-to-zh"]
    lines = ["| set | language | questions | hybrid before | hybrid now (test half) | hybrid now (all) | dense now (all) |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['set']} | {r['lang']} | {r['n']} | {r['before_all']:.3f} | {r['now_test']:.3f} | "
                     f"**{r['now_all']:.3f}** | {r['dense_all']:.3f} |")
    mean = {k: float(np.mean([r[k] for r in five])) for k in ("before_all", "now_test", "now_all", "dense_all")}
    lines.append(f"| xquad-5lang-to-zh | mean of 5 | {sum(r['n'] for r in five)} | {mean['before_all']:.3f} | "
                 f"{mean['now_test']:.3f} | **{mean['now_all']:.3f}** | {mean['dense_all']:.3f} |")
    print("\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    if not args.no_write:
        from benchmarks.machine import machine, publish

        head = (f"Measured by `benchmarks/languages.py` on {machine()}: hybrid MRR@10 of the default model "
                f"({MODEL}) for questions in other languages over the Chinese XQuAD passages, on a fixed sample "
                f"({args.sample} English questions; {args.per_lang} per language of xquad-5lang-to-zh; all 240 "
                "passages). \"before\" = USE weight 0.1 for every non-Chinese question, the absolute dense gate, no "
                "anchors; \"now\" = the shipped per-script weights (`qa/embedding.py` QUERY_WEIGHTS, chosen on the "
                f"dev half), anchors (weight {fusion.ANCHOR_WEIGHT}; for an English question also its words in Chinese from "
                "CC-CEDICT, `qa/translate.py`, searched with the anchors: `qa/query.py` searched_literally) and the "
                "scale-free gate. Per-script USE weight "
                "sweep (dev / test): " + "; ".join(
                    f"{lang} " + " ".join(f"{w}: {v['hybrid_dev']:.3f}/{v['hybrid_test']:.3f}"
                                          for w, v in d.items() if w in ("0.0", "0.1", "0.2", "0.3"))
                    for lang, d in report["use_weight"].items()) + ".")
        publish("languages", "### Questions in other languages (issue 9.4)", head + "\n\n" + "\n".join(lines),
                write=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
