"""Per-model fusion profiles: the keyword share, coverage power and scale-free gate that keep hybrid at or above
its better part for each model, chosen on the dev half (even positions) of every shared set it was measured on.

    .venv/bin/python benchmarks/fusion_profiles.py [--models use-m3,minilm,...]

Uses the cached cosines of benchmarks/fusion_models.py (run that first); prints, per model, the best profiles
on dev and their worst (hybrid - best part) on dev and test. The chosen ones go into qa/fusion.py `PROFILES`.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.fusion_models import MODELS, halves, per_question  # noqa: E402
from benchmarks.modelcache import CACHE, SETS, load_set  # noqa: E402

GRID = list(itertools.product((0.5, 0.6, 0.7, 0.8, 0.9, 1.0), (0.5, 1.0, 2.0), (0.25, 0.5, 1.0, 2.0, 0.0)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--eval", type=Path, default=ROOT.parent / "shared" / "eval")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--sample", type=int, default=300)
    ap.add_argument("--per-lang", type=int, default=120)
    ap.add_argument("--max-passages", type=int, default=400)
    args = ap.parse_args(argv)
    for model in args.models.split(","):
        sets = {}
        for name in SETS:
            n = args.per_lang if name == "xquad-5lang-to-zh" else args.sample
            for cap in (None, args.max_passages):
                data = load_set(args.eval, name, n, cap)
                if all((CACHE / f"{name}-{data.n}-{p}.npz").exists() for p in model.split("+")):
                    sets[name] = data
                    break
        base = {}
        for name, data in sets.items():
            r = per_question(data, model)
            base[name] = {part: max(r["keyword"][sel].mean(), r["dense"][sel].mean())
                          for part, sel in halves(data).items()}
        rows = []
        for w_max, power, scale in GRID:
            gaps = {"dev": {}, "test": {}}
            means = []
            for name, data in sets.items():
                r = per_question(data, model, w_max=w_max, power=power, gate="spread", margin_scale=scale)
                h = halves(data)
                for part in ("dev", "test"):
                    gaps[part][name] = float(r["hybrid"][h[part]].mean() - base[name][part])
                means.append(float(r["hybrid"][h["dev"]].mean()))
            rows.append((min(gaps["dev"].values()), float(np.mean(means)), w_max, power, scale,
                         min(gaps["test"].values()), gaps["dev"]))
        rows.sort(key=lambda x: (-(x[0] >= -0.005), -x[1] if x[0] >= -0.005 else -x[0]))
        print(f"## {model} on {', '.join(sets)}")
        for r in rows[:6]:
            print(f"  w_max={r[2]} power={r[3]} spread-scale={r[4]}: dev worst {r[0]:+.4f} mean {r[1]:.4f}; "
                  f"test worst {r[5]:+.4f}; " + " ".join(f"{k}:{v:+.3f}" for k, v in r[6].items()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
