"""Load: N concurrent clients x M questions through the /ask HTTP API of one running app (real model).

Usage: .venv/bin/python benchmarks/load.py [--clients 16] [--per-client 25] [--no-write]
Builds a throw-away index of seeds/, starts `app.py` on a free port, measures, stops it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.machine import machine, update_section  # noqa: E402
from qa import Settings, build  # noqa: E402
from qa.config import DEFAULT_MODEL  # noqa: E402
from tests.serving import load_run, running_app  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--per-client", type=int, default=25)
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--no-write", action="store_true", help="print only, do not update benchmarks/README.md")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        shutil.copytree(ROOT / "seeds", tmp / "seeds")
        build(Settings.load(seeds=tmp / "seeds", index=tmp / "index", model=args.model))
        with running_app(tmp / "index", tmp / "seeds", model=args.model) as (base, _, _):
            single = load_run(base, clients=1, per_client=25)
            run = load_run(base, clients=args.clients, per_client=args.per_client)
    lat, one = np.array(run["latencies_ms"]), np.array(single["latencies_ms"])
    rows = [
        "| clients × questions | answered | errors | answers differing from single-client | p50 ms | p95 ms | throughput q/s |",
        "|---|---|---|---|---|---|---|",
        f"| 1 × 25 | {single['answered']} | {len(single['errors'])} | {len(single['mismatches'])} | "
        f"{np.percentile(one, 50):.0f} | {np.percentile(one, 95):.0f} | {single['answered'] / single['wall_s']:.1f} |",
        f"| {args.clients} × {args.per_client} | {run['answered']} | {len(run['errors'])} | {len(run['mismatches'])} | "
        f"{np.percentile(lat, 50):.0f} | {np.percentile(lat, 95):.0f} | {run['answered'] / run['wall_s']:.1f} |",
    ]
    body = "\n".join([f"## Load ({args.model}, seed index, `benchmarks/load.py`)", "",
                      f"Machine: {machine()}.", "", *rows, "",
                      "Latency is per request as the client sees it (gradio_client over HTTP, queue included); "
                      "the app runs 4 handlers at once (`default_concurrency_limit=4`) and serialises the "
                      "embedding model."])
    print(body)
    if not args.no_write:
        update_section("load", body)
    return 1 if run["errors"] or run["mismatches"] else 0


if __name__ == "__main__":
    sys.exit(main())
