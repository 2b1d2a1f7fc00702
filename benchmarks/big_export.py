"""A real 1 GB export (issue 11, bad input: "a 1 GB export ... streamed"): peak RSS and time of reading
it, and of `qa build --model hash` over it, each in a fresh process.

    nice -n 10 .venv/bin/python benchmarks/big_export.py --mb 1024 --build-mb 64 --write

The export is made in a temp dir from news-corpus rows (each row again with a new id until the file has
the size asked; ~137 MB holds the 68k articles once), as JSONL and as CSV. "read" streams it through
the build's reader (qa.sources.iter_file: every row parsed, cleaned and made an Article, then dropped);
"build" is `qa build --model hash` over a folder holding only that file. RSS is sampled from
/proc/PID/status every 0.5 s; "RSS at 10 % / 50 % / end" shows whether memory grows with the file.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.machine import machine, publish  # noqa: E402

CORPUS = REPO.parent / "shared" / "eval" / "news-corpus" / "corpus.jsonl.gz"
READ = ("import sys; from pathlib import Path; from qa.sources import iter_file\n"
        "p = Path(sys.argv[1]); n = bad = 0\n"
        "for a in iter_file(p, p.name, None, p.parent):\n"
        "    n += 1; bad += isinstance(a, Exception)\n"
        "print(n, bad)\n")
BUILD = "import sys; from qa.cli import main; sys.exit(main(sys.argv[1:]))"


def write_export(folder: Path, mb: int, kind: str) -> tuple[Path, int]:
    """news-corpus rows, repeated with new ids, until the file holds `mb` MB."""
    path = folder / f"news.{kind}"
    limit, rows = mb * 2**20, 0
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f) if kind == "csv" else None
        if w:
            w.writerow(["id", "title", "text", "date", "source", "url"])
        for rep in range(1000):
            with gzip.open(CORPUS, "rt", encoding="utf-8") as src:
                for line in src:
                    r = json.loads(line)
                    row = {"id": f"{r['id']}~{rep}", "title": r.get("title") or "", "text": r["text"],
                           "date": r.get("date") or "", "source": r.get("source") or "", "url": r.get("url") or ""}
                    if w:
                        w.writerow(row.values())
                    else:
                        f.write(json.dumps(row, ensure_ascii=False) + "\n")
                    rows += 1
                    if f.tell() >= limit:
                        return path, rows
    return path, rows


def measure(cmd: list[str]) -> dict:
    """Run `cmd` at nice 10; its peak RSS, RSS at 10 % and 50 % of its run time and at the end, seconds."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                         env={**os.environ, "TOKENIZERS_PARALLELISM": "false"}, preexec_fn=lambda: os.nice(10))
    samples: list[tuple[float, int]] = []
    while p.poll() is None:
        try:
            for line in Path(f"/proc/{p.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    samples.append((time.perf_counter() - t0, int(line.split()[1]) // 1024))
        except OSError:
            pass
        time.sleep(0.5)
    out, err = p.communicate()
    seconds = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}): {err[-2000:]}")

    def at(frac: float) -> int:
        return next((mb for t, mb in samples if t >= frac * seconds), samples[-1][1] if samples else 0)

    peak = max((mb for _, mb in samples), default=0)
    return {"seconds": seconds, "peak": peak, "at10": at(0.1), "at50": at(0.5), "end": samples[-1][1] if samples else 0,
            "out": out.strip().splitlines()[-1] if out.strip() else ""}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=1024, help="export size to read")
    ap.add_argument("--small-mb", type=int, default=64, help="a smaller export read the same way, to compare RSS")
    ap.add_argument("--build-mb", default="64", help="export sizes (comma-separated) to build with the hash model")
    ap.add_argument("--kinds", default="jsonl,csv")
    ap.add_argument("--section", default="big-export", help="benchmarks/README.md section to (re)write")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    if not CORPUS.is_file():
        sys.exit(f"{CORPUS} not found: it sits in ../shared/eval beside the checkout")
    py = sys.executable
    lines = ["| export | MB | rows | step | seconds | peak RSS MB | RSS at 10 % / 50 % / end MB | rows/s |",
             "|---|---:|---:|---|---:|---:|---|---:|"]
    tmp = Path(tempfile.mkdtemp(prefix="qa-bigexport-"))
    try:
        plan = [(kind, mb, "read") for kind in args.kinds.split(",") for mb in (args.small_mb, args.mb) if mb]
        plan += [("jsonl", int(mb), "build") for mb in args.build_mb.split(",") if mb]
        for kind, mb, step in plan:
            folder = tmp / f"{kind}-{mb}-{step}"
            folder.mkdir()
            path, rows = write_export(folder, mb, kind)
            if step == "read":
                m = measure([py, "-c", READ, str(path)])
            else:
                m = measure([py, "-c", BUILD, "build", "--seeds", str(folder), "--index", str(tmp / "index"),
                             "--model", "hash", "--quiet"])
                shutil.rmtree(tmp / "index", ignore_errors=True)
            lines.append(f"| {kind} | {path.stat().st_size / 2**20:,.0f} | {rows:,} | {step} | {m['seconds']:.0f} | "
                         f"{m['peak']:,} | {m['at10']:,} / {m['at50']:,} / {m['end']:,} | {rows / m['seconds']:,.0f} |")
            print(lines[-1], m["out"], flush=True)
            shutil.rmtree(folder, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    sizes = args.mb if args.mb else args.build_mb.replace(",", " / ")
    publish(args.section, f"### A {sizes} MB export, {args.kinds.replace(',', ' / ')} (benchmarks/big_export.py)",
            f"{machine()}; news-corpus rows repeated with new ids; each step a fresh process at nice 10.\n\n"
            + "\n".join(lines) + f"\n\n`nice -n 10 .venv/bin/python benchmarks/big_export.py --mb {args.mb} "
            f"--small-mb {args.small_mb} --build-mb '{args.build_mb}' --kinds {args.kinds}`", args.write)


if __name__ == "__main__":
    main()
