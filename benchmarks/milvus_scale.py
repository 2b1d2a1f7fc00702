"""Dense search at scale through each store: ingest rows/s and query p50/p95, same vectors for all (issue 13.7).

    python benchmarks/milvus_scale.py --n 100000 --stores local,lite,server [--app] [--no-write]
    python benchmarks/milvus_scale.py --table        # only re-publish the table from the results file
    python benchmarks/milvus_scale.py --n 100000 --stores local --app --label "(app RSS)"   # a second row

Vectors (`--vectors real`, the default): every real use-m3 passage vector in the `qa eval` cache
(~/.cache/newsqa/eval/<use-m3 key>: the chronoqa, cmrc, drcd and xquad passages, ~7.8k; no news-corpus
vectors are cached on this machine and embedding 1M would take days), topped up to N with perturbed copies
normalise(x + e), |e| ~ 0.6, as benchmarks/scale.py's 1M FAISS measurement does. Queries: 200 real
use-m3 query vectors (first sentences of news articles, benchmarks/scale.py's cache). Passage texts:
the news corpus's real passages, cycled (so rows have a real size); `--vectors random` is the old
clustered random set.
  local    FAISS as `qa build` makes it (HNSW above 30k passages, qa/dense.py), timed build + search
  lite     Milvus Lite 3.2.2 embedded (`.db`), HNSW M 32 / efConstruction 80, ef 1024
  server   the Milvus 2.3.5 server binary of the `milvus` package (tests/milvus_servers.py), same index
Ingest = insert + flush + index + load (+ the server's publish grace), until the first search can run;
its phases are kept in the results file. `--app`: app.py is started over the same passages (a local
index written from the same vectors, or QA_STORE=the server), asked questions through /ask, and its
RSS read from /proc: the app over Milvus should hold no index. Each (N, store) row is kept in
benchmarks/milvus-scale-results.json, so sizes and stores can run as separate processes (the 1M runs
do not fit in one process beside each other on a shared machine) and the table shows them all.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from benchmarks.machine import machine, publish  # noqa: E402

RESULTS = ROOT / "benchmarks" / "milvus-scale-results.json"
EVAL = ROOT.parent / "shared" / "eval"
QUESTIONS = ["杭州亚运会什么时候开幕？", "今年的粮食产量是多少？", "新能源汽车出口增长了多少？", "台风在哪里登陆？",
             "央行下调了哪个利率？", "哪支球队获得了冠军？", "地铁新线路什么时候开通？", "高温天气持续多久？",
             "人工智能大模型有哪些新进展？", "旅游收入同比增长多少？"]


def rss_mb(pid: int | str = "self", field: str = "VmRSS") -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def random_data(n: int, dim: int, queries: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    centres = rng.standard_normal((max(n // 200, 1), dim)).astype(np.float32)
    x = centres[rng.integers(0, len(centres), n)] + 0.6 * rng.standard_normal((n, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    q = x[rng.integers(0, n, queries)] + 0.3 * rng.standard_normal((queries, dim)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return x, q


def real_data(n: int, queries: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(passage vectors, query vectors, how many passage vectors are real)."""
    from benchmarks import newsdata as nd
    from benchmarks.scale import dataset, query_vectors
    from qa.embedding import load_embedder
    from qa.vectorcache import model_key

    folder = Path("~/.cache/newsqa/eval").expanduser() / model_key(load_embedder("use-m3").identity())
    parts = [np.load(p, allow_pickle=False) for p in sorted(folder.glob("shard-*.npy"))]
    real = np.unique(np.vstack([p for p in parts if p.ndim == 2 and p.shape[1] == 512]), axis=0)
    if not len(real):
        raise SystemExit(f"no cached use-m3 vectors in {folder}: run `qa eval --model use-m3` first")
    real = real[np.random.default_rng(3).permutation(len(real))].astype(np.float32)
    return dataset(real, n), query_vectors(EVAL, nd.DEFAULT_CACHE, queries), min(len(real), n)


def corpus(n: int) -> tuple[list[dict], dict[str, dict]]:
    """n passages (4 per article) with real news texts, cycled; article records as `qa build` writes them."""
    from benchmarks import newsdata as nd

    texts = []
    for _, _, t in nd.all_passages(EVAL):
        texts.append(t)
        if len(texts) >= min(n, 200_000):
            break
    chunks, articles = [], {}
    for i in range(n):
        aid = f"a{i // 4}"
        chunks.append({"id": f"{aid}-{i % 4}", "article_id": aid, "paragraphs": [i % 4], "start": 0,
                       "end": len(texts[i % len(texts)]), "text": texts[i % len(texts)], "hash": f"h{i}"})
    for a in range(0, n, 4):
        aid = f"a{a // 4}"
        paras = [texts[j % len(texts)] for j in range(a, min(a + 4, n))]
        articles[aid] = {"id": aid, "path": f"{aid}.txt", "title": paras[0][:20], "source": f"s{a % 7}",
                         "date": f"2023-{1 + a % 12:02d}-{1 + a % 28:02d}", "url": None, "authors": [],
                         "origin": None, "meta": {}, "content_hash": aid, "paragraphs": paras, "paths": [f"{aid}.txt"]}
    return chunks, articles


def timed(fn, qs: np.ndarray) -> tuple[float, float]:
    for v in qs[:5]:
        fn(v)
    lat = []
    for v in qs:
        t = time.perf_counter()
        fn(v)
        lat.append((time.perf_counter() - t) * 1000)
    return float(np.percentile(lat, 50)), float(np.percentile(lat, 95))


def write_local(folder: Path, chunks: list[dict], articles: dict[str, dict], x: np.ndarray, model: dict) -> None:
    """A local index generation of exactly these passages and vectors, with the files `qa build` writes
    (qa/buildwrite.py `write`, here from lists in memory instead of the build's spills)."""
    from qa import dense, storage
    from qa import index as ix
    from qa.config import Settings
    from qa.keywords import KeywordIndex
    from qa.records import Columns
    from qa.text import tokens_many
    from qa.tokentable import TokenTableBuilder

    gen = storage.new_generation(folder)
    builder = TokenTableBuilder(None)
    for tokens in tokens_many([c["text"] for c in chunks]):
        builder.add(tokens)
    table = builder.finish()
    report = ix.BuildReport(folder, articles=len(articles), chunks=len(chunks), index_kind=dense.choose_kind(len(x)))
    records = list(articles.values())
    storage.write_jsonl(gen / "articles.jsonl", records)
    storage.write_jsonl(gen / "chunks.jsonl", chunks)
    Columns.from_records(chunks, records).save(gen / "columns.npz")
    table.save(gen / "tokens")
    np.save(gen / "vectors.npy", x, allow_pickle=False)
    dense.save(dense.build(x, report.index_kind), gen / "index.faiss")
    KeywordIndex.build(table).save(gen / "bm25")
    manifest = ix._manifest(model, ix.settings_identity(Settings.load()), report, {})
    manifest["file_sizes"] = storage.file_sizes(gen)
    storage.write_json(gen / "manifest.json", manifest)
    storage.publish(folder, gen)


def app_rss(index: Path, env: dict) -> dict:
    """Start app.py (use-m3) over `index` / `env`, ask QUESTIONS twice through /ask, read its memory."""
    from gradio_client import Client
    from serving import running_app

    seeds = index.parent / "seeds"
    seeds.mkdir(exist_ok=True)
    with running_app(index, seeds, "use-m3", extra_env=env) as (base, proc, log):
        started = rss_mb(proc.pid)
        client = Client(base, verbose=False)
        lat, answered, errors = [], 0, []
        for q in QUESTIONS * 2:  # dense: the 2.3.5 server has no BM25, and the local side is asked the same
            t = time.perf_counter()
            got = client.predict(question=q, mode="dense", api_name="/ask")
            lat.append((time.perf_counter() - t) * 1000)
            answered += bool(got.get("results")) and not got.get("error")
            errors += [got["error"]] if got.get("error") else []
        out = {"app_rss_started_mb": started, "app_rss_mb": rss_mb(proc.pid),
               "app_hwm_mb": rss_mb(proc.pid, "VmHWM"), "app_answered": answered, "app_questions": len(lat),
               "app_p50_ms": float(np.percentile(lat, 50)),
               "app_errors": sorted(set(errors))[:3]}
    return out


def run_local(x, qs, chunks, articles, model, tmp: Path, app: bool) -> dict:
    from qa import dense

    t = time.perf_counter()
    index = dense.build(x)
    ingest = time.perf_counter() - t
    p50, p95 = timed(lambda v, ix=index: dense.search(ix, v, 50), qs)
    out = {"ingest_rows_s": len(x) / ingest, "ingest_s": ingest, "p50": p50, "p95": p95,
           "kind": dense.kind_of(index), "phases": {"faiss_build": ingest}}
    del index
    gc.collect()
    if app:
        write_local(tmp / "index", chunks, articles, x, model)
        out.update(app_rss(tmp / "index", {}))
    return out


def run_milvus(spec, x, qs, chunks, articles, model, tmp: Path, app: bool, env: dict) -> dict:
    from qa.store import milvus as mv
    from qa.store.milvus_corpus import write_corpus

    phases: dict = {}
    t = time.perf_counter()
    t_log, cpu0 = [t], sum(os.times()[:4])

    def progress(done: int, total: int) -> None:  # a long run's insert rate, even if it is stopped
        if time.perf_counter() - t_log[0] > 60 or done == total:
            t_log[0] = time.perf_counter()
            cpu = sum(os.times()[:4]) - cpu0  # this process (embedded Lite's threads too) and its workers
            print(f"inserted {done:,}/{total:,} in {t_log[0] - t:.0f} s: {done / (t_log[0] - t):.0f} rows/s, "
                  f"{cpu / done * 1000:.1f} CPU ms a row, load {Path('/proc/loadavg').read_text().split()[0]}, "
                  f"client RSS {rss_mb():.0f} MB", flush=True)

    store = write_corpus(spec, chunks, articles, x, model, timings=phases, progress=progress)
    ingest = time.perf_counter() - t
    print("ingested", {k: round(v, 1) for k, v in phases.items()}, flush=True)
    p50, p95 = timed(lambda v: store.dense(v, 50), qs)
    out = {"ingest_rows_s": len(x) / ingest, "ingest_s": ingest, "p50": p50, "p95": p95, "kind": "milvus-hnsw",
           "phases": phases, "client_rss_mb": rss_mb()}
    store.close()
    mv.forget(spec)
    if spec.endswith(".db") and phases.get("terms"):  # keyword tokens cut before inserting (format 3)
        out["terms_rows_s"] = len(chunks) / phases["terms"]
    if app:
        (tmp / "index").mkdir(exist_ok=True)
        out.update(app_rss(tmp / "index", {**env, "QA_STORE": spec}))
    return out


def table(rows: dict) -> str:
    lines = ["| passages | store | index | ingest rows/s | ingest s (insert / index+load) | query p50 ms | query p95 ms "
             "| app RSS after 20 questions MB | app peak RSS MB | date, load at start |",
             "|---:|---|---|---:|---:|---:|---:|---:|---:|---|"]
    order = {"local": 0, "lite": 1, "server": 2}
    for key in sorted(rows, key=lambda k: (int(k.split(":")[0]), order.get(k.split(":")[1].split()[0], 9), k)):
        r = rows[key]
        n, name = key.split(":")
        ph = r.get("phases", {})
        split = (f" ({ph['insert']:.0f} / {ph['settle']:.0f})" if "insert" in ph else "")
        if "jieba_rows_s" in r:  # what Lite's BM25 analyzer costs on its own (see the notes below the table)
            split += f"; jieba alone {r['jieba_rows_s']:.0f} rows/s"
        if "terms_rows_s" in r:  # format 3: the keyword tokens cut on every core before the insert
            split += f"; of the insert, cutting terms {ph['terms']:.0f} s ({r['terms_rows_s']:.0f} rows/s)"
        app = (f"{r['app_rss_mb']:.0f}", f"{r['app_hwm_mb']:.0f}") if "app_rss_mb" in r else ("", "")
        lines.append(f"| {int(n):,} | {name} | {r['kind']} | {r['ingest_rows_s']:,.0f} | {r['ingest_s']:.0f}{split} | "
                     f"{r['p50']:.1f} | {r['p95']:.1f} | {app[0]} | {app[1]} | {r['date']}, {r['load']} |")
    for key, r in rows.items():
        if r.get("failed"):
            lines.append(f"| {int(key.split(':')[0]):,} | {key.split(':')[1]} | | not finished | {r['failed']} | | | | | |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--stores", default="local,lite,server")
    ap.add_argument("--vectors", choices=["real", "random"], default="real")
    ap.add_argument("--app", action="store_true", help="also measure app.py's RSS over this store (local, server)")
    ap.add_argument("--table", action="store_true", help="only publish the table from the results file")
    ap.add_argument("--label", default="", help="keep this row beside an earlier one of the same size and store")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    rows = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    if not args.table:
        from qa.embedding import load_embedder

        if args.vectors == "real":
            x, qs, real = real_data(args.n, args.queries)
        else:
            (x, qs), real = random_data(args.n, 384, args.queries), 0
        model = load_embedder("use-m3").identity() if args.vectors == "real" else {"model": "random"}
        chunks, articles = corpus(args.n)
        os.environ["QA_MILVUS_COLLECTION"] = "scale"
        with tempfile.TemporaryDirectory(prefix="milvus-scale-") as tmp:
            for name in args.stores.split(","):
                stamp = {"date": time.strftime("%Y-%m-%d %H:%M"), "load": Path("/proc/loadavg").read_text().split()[0],
                         "machine": machine(), "vectors": args.vectors, "real_vectors": real}
                work = Path(tmp) / name
                work.mkdir()
                if name == "local":
                    r = run_local(x, qs, chunks, articles, model, work, args.app)
                elif name == "lite":
                    r = run_milvus(str(work / "scale.db"), x, qs, chunks, articles, model, work, False, {})
                else:
                    from milvus_servers import ROOT_TOKEN, milvus_server

                    os.environ["QA_MILVUS_TOKEN"] = ROOT_TOKEN
                    with milvus_server(work / "server") as uri:
                        r = run_milvus(uri, x, qs, chunks, articles, model, work, args.app,
                                       {"QA_MILVUS_TOKEN": ROOT_TOKEN, "QA_MILVUS_COLLECTION": "scale"})
                r.update(stamp, peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
                rows[f"{args.n}:{name}" + (f" {args.label}" if args.label else "")] = r
                print(name, r, flush=True)
                if not args.no_write:
                    rows = {**(json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}), **rows}  # runs in parallel
                    RESULTS.write_text(json.dumps(rows, indent=1, ensure_ascii=False))
    real = max((r.get("real_vectors", 0) for r in rows.values()), default=0)
    text = (f"use-m3 vectors (512 dimensions): the {real:,} real passage vectors cached by `qa eval`, topped up with "
            "perturbed copies normalise(x + e), |e| ≈ 0.6 (so above that size most vectors are synthetic, as in "
            "the 1M FAISS measurement above); 200 real use-m3 query vectors, top-50 one at a time; passages carry "
            "real news texts. Each row ran in its own process (`--n N --stores S`), the date and load average "
            f"(1 min) at its start are in its row. Machine: {machine()}, shared with other jobs while this ran: "
            "compare ratios, not absolute numbers.\n\n" + table(rows))
    publish("milvus-scale", "## Dense search at scale per store (benchmarks/milvus_scale.py)", text, not args.no_write)


if __name__ == "__main__":
    main()
