"""Peak RSS of `qa build` as the archive grows, per stage (issue 13.10).

    python benchmarks/build_memory.py --passages 100000 [--store local|lite|server] [--model hash-512]
    python benchmarks/build_memory.py --passages 100000 --code /tmp/base   # the same build with other code
    python benchmarks/build_memory.py --table                               # re-publish from the results file

Articles: the news corpus (../shared/eval/news-corpus, real 2023 Chinese news) as .txt files; past its
end, new articles made of 1-4 paragraphs drawn at random from the whole corpus (different enough that
syndication does not fold them, so every one is indexed). Model `hash-512` by default: 512-dimensional
vectors like use-m3's, no model memory and no embedding time, so what is measured is the build's own
memory. Each build is a child process that calls `qa.index.build` with a progress callback; a thread
samples its RSS every 0.2 s, so the peak of each stage (read, tokenise, embed, write) is known.
Results are kept per (passages, store, code) in benchmarks/build-memory-results.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT))  # appended: in the child, the measured tree's qa/ (cwd, PYTHONPATH) comes first

from benchmarks.machine import machine, publish  # noqa: E402

CORPUS = ROOT.parent / "shared" / "eval" / "news-corpus" / "corpus.jsonl.gz"
RESULTS = ROOT / "benchmarks" / "build-memory-results.json"
PASSAGES_PER_ARTICLE = 2.3  # news corpus, default chunking (measured: 97k passages from ~42k articles)


def write_seeds(folder: Path, passages: int) -> int:
    """About `passages` passages' worth of articles; returns the number of files written."""
    rng = random.Random(5)
    arts = []
    with gzip.open(CORPUS, "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            arts.append((row.get("title") or "", row["text"]))
    want = int(passages / PASSAGES_PER_ARTICLE)
    paras = [p for _, t in arts for p in t.split("\n") if len(p.strip()) > 20]
    for i in range(want):
        sub = folder / f"{i // 5000:04d}"
        if i % 5000 == 0:
            sub.mkdir(parents=True, exist_ok=True)
        if i < len(arts):
            title, text = arts[i]
        else:  # a new article: paragraphs from several others
            title, text = f"综合报道 {i}", "\n".join(rng.sample(paras, rng.randint(1, 4)))  # ~2.5 passages, near the corpus's 2.3 (3-6 gave ~3.8: the "1M" seeds held ~1.8M)
        (sub / f"{i:07d}.txt").write_text(f"{title or i}\n\n{text}\n", encoding="utf-8")
    return want


def child(seeds: str, index: str, store: str, model: str) -> None:
    """Runs in the measured process: the build, with RSS sampled per stage; one JSON line on stdout."""
    import qa
    from qa.config import Settings
    from qa.index import build

    print("measuring", qa.__file__, file=sys.stderr)

    peaks: dict[str, float] = {}
    anon: dict[str, float] = {}  # RssAnon: the process's own memory, without mapped file pages (page cache)
    stage = ["start"]
    stop = threading.Event()

    def rss() -> tuple[float, float]:
        with open("/proc/self/status") as f:
            fields = {x.split(":")[0]: int(x.split()[1]) for x in f if x.startswith(("VmRSS:", "RssAnon:"))}
        return fields["VmRSS"] / 1024, fields.get("RssAnon", 0) / 1024

    def note() -> None:
        total, own = rss()
        peaks[stage[0]] = max(peaks.get(stage[0], 0.0), total)
        anon[stage[0]] = max(anon.get(stage[0], 0.0), own)

    def sample() -> None:
        while not stop.wait(0.2):
            note()

    def progress(name: str, done: int, total: int) -> None:
        if name != stage[0]:
            note()
            stage[0] = name

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t = time.perf_counter()
    report = build(Settings.load(seeds=seeds, index=index, store=store, model=model), progress=progress)
    stage[0] = "done"
    stop.set()
    sampler.join()
    print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "stages": peaks,
                      "anon_mb": max(anon.values(), default=0.0), "stages_anon": anon,
                      "seconds": time.perf_counter() - t, "articles": report.articles, "chunks": report.chunks,
                      "embedded": report.embedded, "reused": report.reused, "kind": report.index_kind}))


def measure(seeds: Path, index: Path, store: str, model: str, code: Path, env: dict) -> dict:
    # this file's child() measures every tree (loaded by path: an older tree's own copy may sample less)
    cmd = [sys.executable, "-c", f"import sys, importlib.util; sys.path.append({str(ROOT)!r}); "
           f"spec = importlib.util.spec_from_file_location('build_memory', {__file__!r}); "
           "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); m.child(*sys.argv[1:])",
           str(seeds), str(index), store, model]
    # the code under test comes first on the path: this worktree's, or an exported older tree (--code)
    env = {**os.environ, **env, "PYTHONPATH": str(code), "QA_CACHE": str(index.parent / "cache")}
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=code)
    if r.returncode != 0:
        raise SystemExit(f"build failed ({r.returncode}): {r.stderr[-2000:]}")
    out = json.loads(r.stdout.strip().splitlines()[-1])
    out["qa"] = next((x.split()[1] for x in r.stderr.splitlines() if x.startswith("measuring")), "?")
    return out


def table(rows: dict) -> str:
    lines = ["| passages | articles | store | code | peak RSS MB | per stage (peak MB) | peak RssAnon MB | index | seconds | "
             "date, load |", "|---:|---:|---|---|---:|---|---:|---|---:|---|"]
    for key in sorted(rows, key=lambda k: (rows[k]["chunks"], rows[k]["store"], rows[k]["code"])):
        r = rows[key]
        stages = ", ".join(f"{s} {v:.0f}" for s, v in r["stages"].items() if s not in ("start", "done"))
        own = f"{r['anon_mb']:.0f}" if "anon_mb" in r else "—"
        lines.append(f"| {r['chunks']:,} | {r['articles']:,} | {r['store']} | {r['code']} | **{r['peak_mb']:.0f}** | "
                     f"{stages} | {own} | {r['kind']} | {r['seconds']:.0f} | {r['date']}, {r['load']} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--passages", type=int, default=100_000)
    ap.add_argument("--store", default="local", choices=["local", "lite", "server"])
    ap.add_argument("--model", default="hash-512")
    ap.add_argument("--code", type=Path, default=ROOT, help="source tree whose qa/ is measured (default: this one)")
    ap.add_argument("--label", default="this branch", help="name of --code in the table")
    ap.add_argument("--seeds", type=Path, help="reuse a seeds folder written before (else a temporary one)")
    ap.add_argument("--table", action="store_true")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    rows = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    if not args.table:
        with tempfile.TemporaryDirectory(prefix="build-memory-") as tmp:
            seeds = args.seeds or Path(tmp) / "seeds"
            if not seeds.is_dir():
                write_seeds(seeds, args.passages)
            load = Path("/proc/loadavg").read_text().split()[0]
            env, spec = {"QA_MILVUS_COLLECTION": "mem"}, "local"
            if args.store == "lite":
                spec = str(Path(tmp) / "mem.db")
            if args.store == "server":
                sys.path.insert(0, str(ROOT / "tests"))
                from milvus_servers import ROOT_TOKEN, milvus_server

                env["QA_MILVUS_TOKEN"] = ROOT_TOKEN
                with milvus_server(Path(tmp) / "server") as uri:
                    r = measure(seeds, Path(tmp) / "index", uri, args.model, args.code, env)
            else:
                r = measure(seeds, Path(tmp) / "index", spec, args.model, args.code, env)
        r.update(store=args.store, code=args.label, model=args.model, date=time.strftime("%Y-%m-%d %H:%M"),
                 load=load, machine=machine())
        rows[f"{args.passages}:{args.store}:{args.label}"] = r
        print(r, flush=True)
        if not args.no_write:
            rows = {**(json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}), **rows}  # runs in parallel
            RESULTS.write_text(json.dumps(rows, indent=1, ensure_ascii=False))
    text = ("`qa.index.build` of news-corpus articles (past the corpus's end: articles mixed from its paragraphs), "
            "model `hash-512` (512-dimensional vectors like use-m3's, no model in memory), one child process per "
            "build, RSS sampled every 0.2 s and attributed to the build's stage; RssAnon (sampled since 2026-11-30 "
            "05:30) leaves out memory-mapped file pages, which the kernel can drop. `code`: the tree measured "
            f"(`--code`). Machine: {machine()}, shared with other jobs: seconds are not comparable.\n\n" + table(rows))
    publish("build-memory", "## Build memory per stage as the archive grows (benchmarks/build_memory.py)", text,
            not args.no_write)


if __name__ == "__main__":
    main()
