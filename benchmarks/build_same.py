"""Does the streamed local build write the same generation as an older tree's build? (issue 13.10)

    nice -n 10 .venv/bin/python benchmarks/build_same.py --code /tmp/main-tree [--articles 2000] [--write]

Seeds: news-corpus articles as .txt files, the next ones as a JSONL export in which some rows come
again with new text (an export's update: the later row replaces the earlier) plus a row without text,
and an identical copy of one file. Each tree builds it with `hash-512` in its own process (a fresh
build), then 1 % of the .txt files change, a tenth of the export's rows are appended again and one
file is deleted, and each tree updates its own index (an incremental build). Every file of the two
generations (except manifest.json, which holds times) is compared by sha256.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT))

from benchmarks.machine import machine, publish  # noqa: E402

CORPUS = ROOT.parent / "shared" / "eval" / "news-corpus" / "corpus.jsonl.gz"
BUILD = ("import sys, json; from qa.config import Settings; from qa.index import build\n"
         "r = build(Settings.load(seeds=sys.argv[1], index=sys.argv[2], model='hash-512'))\n"
         "print(json.dumps({'chunks': r.chunks, 'articles': r.articles, 'copies': r.copies, 'embedded': r.embedded,"
         " 'reused': r.reused}))\n")


def write_seeds(seeds: Path, n: int) -> list[dict]:
    rows = []
    with gzip.open(CORPUS, "rt", encoding="utf-8") as f:
        for line in f:
            rows.append(json.loads(line))
            if len(rows) >= 2 * n:
                break
    seeds.mkdir(parents=True)
    for i, r in enumerate(rows[:n]):
        (seeds / f"{i:06d}.txt").write_text(f"{r.get('title') or i}\n\n{r['text']}\n", encoding="utf-8")
    (seeds / "copy-of-000001.txt").write_bytes((seeds / "000001.txt").read_bytes())
    with open(seeds / "export.jsonl", "w", encoding="utf-8") as f:
        for j, r in enumerate(rows[n:]):
            f.write(json.dumps({"id": r["id"], "title": r.get("title"), "text": r["text"], "date": r.get("date"),
                                "source": r.get("source"), "url": r.get("url")}, ensure_ascii=False) + "\n")
            if j % 20 == 0:  # the same id again, updated: replaces the earlier row in its place
                f.write(json.dumps({"id": r["id"], "text": r["text"] + "\n（更新）"}, ensure_ascii=False) + "\n")
        f.write('{"id": "no-text", "title": "空"}\n')
    return rows


def change(seeds: Path, rows: list[dict], n: int) -> None:
    for i in range(0, n, 100):
        p = seeds / f"{i:06d}.txt"
        p.write_text(p.read_text(encoding="utf-8") + "\n补充报道：相关部门表示将持续关注。\n", encoding="utf-8")
    (seeds / f"{n - 1:06d}.txt").unlink()
    with open(seeds / "export.jsonl", "a", encoding="utf-8") as f:
        for r in rows[n::10]:
            f.write(json.dumps({"id": r["id"], "text": "（再次更新）" + r["text"]}, ensure_ascii=False) + "\n")


def build(code: Path, seeds: Path, index: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(code)}
    r = subprocess.run([sys.executable, "-c", BUILD, str(seeds), str(index)], capture_output=True, text=True,
                       env=env, cwd=code)
    if r.returncode:
        raise SystemExit(f"build with {code} failed: {r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def digests(index: Path) -> dict[str, str]:
    gen = index / (index / "CURRENT").read_text().strip()
    return {f.relative_to(gen).as_posix(): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted(gen.rglob("*")) if f.is_file() and f.name != "manifest.json"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--code", type=Path, required=True, help="the older tree (git archive of main)")
    ap.add_argument("--label", default="main", help="name of --code in the text")
    ap.add_argument("--articles", type=int, default=2000)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    lines = ["| step | passages | articles | copies | embedded / reused | files compared | identical |",
             "|---|---:|---:|---:|---|---:|---|"]
    with tempfile.TemporaryDirectory(prefix="build-same-") as tmp:
        seeds = Path(tmp) / "seeds"
        rows = write_seeds(seeds, args.articles)
        for step in ("fresh build", "incremental build"):
            if step != "fresh build":
                change(seeds, rows, args.articles)
            old, new = build(args.code, seeds, Path(tmp) / "old"), build(ROOT, seeds, Path(tmp) / "new")
            a, b = digests(Path(tmp) / "old"), digests(Path(tmp) / "new")
            differ = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            same = old == new and not differ
            lines.append(f"| {step} | {new['chunks']:,} | {new['articles']:,} | {new['copies']} | "
                         f"{new['embedded']:,} / {new['reused']:,} | {len(a)} | "
                         f"{'yes' if same else 'NO: ' + ', '.join(differ) + (' (report differs)' if old != new else '')} |")
            print(lines[-1], old, new, flush=True)
    publish("build-same", "### The streamed build writes the same generation (benchmarks/build_same.py)",
            f"{machine()}; {args.label} (`--code`) against this tree, {args.articles:,} .txt articles plus an export "
            f"of {args.articles:,} rows (every 20th updated in place), `hash-512`.\n\n" + "\n".join(lines),
            args.write)


if __name__ == "__main__":
    main()
