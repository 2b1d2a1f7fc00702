"""Row-wise against column-wise inserts into the Milvus 2.3.5 server, same rows (why write_corpus inserts columns).

    python benchmarks/milvus_scale_insert.py [--n 10000]
    python benchmarks/milvus_scale_insert.py --lite 2000 --batches 250,2000   # Milvus Lite: does batch size matter?
    python benchmarks/milvus_scale_insert.py --variants 20000   # the server: batch size, threads, index after insert
    python benchmarks/milvus_scale_insert.py --lite-ab 1000     # Lite: its own jieba (format 2) vs terms cut first (3)

Two collections (row, gen, chunk JSON with a real news passage, 512-dim vector), filled in 1000-row
requests: `MilvusClient.insert` with row dicts (pymilvus packs every value of every row in Python) and
the connection handler's `batch_insert` with one list per field and the vectors as one numpy array.
Prints rows/s of each; no README section (the figure is quoted in benchmarks/README.md's scale notes).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from benchmarks.machine import machine  # noqa: E402
from benchmarks.milvus_scale import corpus  # noqa: E402


def lite(n: int, batches: list[int]) -> None:
    """write_corpus into embedded Milvus Lite (BM25 on) with each batch size, same passages."""
    import os

    from qa.store import milvus as mv
    from qa.store import milvus_corpus as mc

    os.environ["QA_MILVUS_COLLECTION"] = "batches"
    chunks, arts = corpus(n)
    x = np.random.default_rng(1).standard_normal((n, 512)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    for batch in batches:
        mc.BATCH = batch
        with tempfile.TemporaryDirectory() as tmp:
            phases: dict = {}
            mc.write_corpus(f"{tmp}/b.db", chunks, arts, x, {"model": "random"}, timings=phases).close()
            mv.forget(f"{tmp}/b.db")
            print(f"Lite, {n:,} real passages in {batch}-row inserts: {n / phases['insert']:.1f} rows/s "
                  f"(load {Path('/proc/loadavg').read_text().split()[0]})", flush=True)


def variants(n: int, which: list[str]) -> None:
    """The passages collection of `write_corpus` (qa/store/milvus_build.py's schema, column inserts) filled
    with n real passages in the Milvus 2.3.5 server, one fresh collection per variant, same server:
      base        5000-row inserts into the collection created with its index (loaded), as write_corpus
      batch20k    20000-row inserts, otherwise base
      threads4    5000-row inserts from 4 threads at once
      index-after the collection created without an index (not loaded): insert, flush, index, load
    Ingest = insert + flush + index built + loaded. CPU seconds of this process and of the server's processes
    over it (what the ingest costs whatever the machine's load). One JSON line per variant."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    from milvus_servers import ROOT_TOKEN, milvus_server

    from qa.store import milvus_build as mb
    from qa.store import milvus_corpus as mc

    chunks, arts = corpus(n)
    x = np.random.default_rng(1).standard_normal((n, 512)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    with tempfile.TemporaryDirectory() as tmp, milvus_server(Path(tmp) / "s", timeout=400) as uri:
        os.environ["QA_MILVUS_TOKEN"] = ROOT_TOKEN
        from pymilvus import MilvusClient

        c = MilvusClient(uri, token=ROOT_TOKEN)
        for v in which:
            (ps, pi), _ = mb._schemas(c, 512, False)
            name = v.replace("-", "_")
            t0, cpu0 = time.perf_counter(), _cpu_seconds()
            if v == "index-after":
                c.create_collection(name, schema=ps, consistency_level="Strong")
            else:
                c.create_collection(name, schema=ps, index_params=pi, consistency_level="Strong")
            batch = 20_000 if v == "batch20k" else 5000
            parts = [(b, min(b + batch, n)) for b in range(0, n, batch)]

            def one(part: tuple[int, int], name: str = name) -> None:
                b, e = part
                mc._insert_columns(c, name, chunks[b:e], arts, x[b:e], b, None)

            with ThreadPoolExecutor(4 if v == "threads4" else 1) as pool:
                list(pool.map(one, parts))
            t_insert = time.perf_counter() - t0
            if v == "index-after":
                c.flush(name)
                c.create_index(name, pi)
                c.load_collection(name)
            else:
                mb.settle(c, name)
            total, cpu = time.perf_counter() - t0, _cpu_seconds()
            print(json.dumps({"variant": v, "n": n, "insert_s": round(t_insert, 1), "ingest_s": round(total, 1),
                              "client_cpu_s": round(cpu[0] - cpu0[0], 1), "server_cpu_s": round(cpu[1] - cpu0[1], 1),
                              "insert_rows_s": round(n / t_insert), "ingest_rows_s": round(n / total),
                              "load": Path("/proc/loadavg").read_text().split()[0],
                              "date": time.strftime("%Y-%m-%d %H:%M"), "machine": machine()}), flush=True)
            c.drop_collection(name)


def _cpu_seconds() -> tuple[float, float]:
    """(this process + its reaped children, its live descendants: embedded Lite's server process) CPU s."""
    import os

    tick = os.sysconf("SC_CLK_TCK")

    def descendants(pid: int) -> list[int]:
        out = []
        for task in Path(f"/proc/{pid}/task").glob("*"):
            for child in (task / "children").read_text().split():
                out += [int(child), *descendants(int(child))]
        return out

    live = 0.0
    for pid in descendants(os.getpid()):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            live += (int(fields[11]) + int(fields[12])) / tick
        except (FileNotFoundError, ProcessLookupError):
            pass
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system, live


def lite_ab(n: int, rounds: int = 2) -> None:
    """The same n real passages into embedded Milvus Lite with BM25, alternately (so both see the same load):
      jieba   format 2: the folded text, Lite's jieba analyzer (search mode) cuts it inside the insert
      terms   format 3: qa.text.tokens_many cuts it first (every core), Lite's `standard` analyzer splits
    A minimal collection (row, 2-dim vector, text, BM25 sparse), 2000-row inserts, one per variant and round.
    Rows/s include the cutting. CPU seconds, which the load changes far less than wall seconds: this process
    and its tokenising workers ("client"), and embedded Lite's own server process ("lite", where its jieba
    runs). One JSON line per variant and round."""
    import re

    from pymilvus import DataType, Function, FunctionType, MilvusClient

    from qa.store import milvus as mv
    from qa.text import fold, tokens_many

    chunks, _ = corpus(n)
    texts = [ch["text"] for ch in chunks]
    tokens_many(texts[:10])  # jieba loaded before timing, as in a build
    for rnd in range(rounds):
        for v in ("jieba", "terms"):
            with tempfile.TemporaryDirectory() as tmp:
                c = MilvusClient(f"{tmp}/ab.db")
                an = {"tokenizer": {"type": "jieba", "mode": "search"}} if v == "jieba" else mv.analyzer(True)
                s = c.create_schema(auto_id=False, enable_dynamic_field=False)
                s.add_field("row", DataType.INT64, is_primary=True)
                s.add_field("v", DataType.FLOAT_VECTOR, dim=2)
                s.add_field("t", DataType.VARCHAR, max_length=65535, enable_analyzer=True, analyzer_params=an)
                s.add_field("sp", DataType.SPARSE_FLOAT_VECTOR)
                s.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["t"],
                                        output_field_names=["sp"]))
                i = c.prepare_index_params()
                i.add_index("v", index_type="FLAT", metric_type="L2")
                i.add_index("sp", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
                c.create_collection("ab", schema=s, index_params=i)
                t, cpu = time.perf_counter(), _cpu_seconds()
                for b in range(0, n, 2000):  # qa.text.tokens_many forks from 2000 texts on
                    part = texts[b:b + 2000]
                    if v == "jieba":
                        col = [re.sub(r"[^\w]+", " ", fold(x)).strip() for x in part]
                    else:
                        col = [mv.terms(tk) for tk in tokens_many(part)]
                    c.insert("ab", [{"row": b + j, "v": [0.0, 1.0], "t": x} for j, x in enumerate(col)])
                secs = time.perf_counter() - t
                after = _cpu_seconds()
                c.close()
            print(json.dumps({"variant": v, "round": rnd, "n": n, "seconds": round(secs, 1),
                              "client_cpu_s": round(after[0] - cpu[0], 1), "lite_cpu_s": round(after[1] - cpu[1], 1),
                              "rows_s": round(n / secs, 1), "load": Path("/proc/loadavg").read_text().split()[0],
                              "date": time.strftime("%Y-%m-%d %H:%M"), "machine": machine()}), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--lite", type=int, help="instead: this many rows into Milvus Lite per --batches size")
    ap.add_argument("--batches", default="250,2000")
    ap.add_argument("--variants", type=int, help="instead: this many rows into the server per insert variant")
    ap.add_argument("--which", default="base,batch20k,threads4,index-after")
    ap.add_argument("--lite-ab", type=int, help="instead: this many rows into Lite, its jieba vs terms cut first")
    args = ap.parse_args()
    if args.lite_ab:
        lite_ab(args.lite_ab)
        return
    if args.variants:
        variants(args.variants, args.which.split(","))
        return
    if args.lite:
        lite(args.lite, [int(b) for b in args.batches.split(",")])
        return
    n = args.n
    from milvus_servers import ROOT_TOKEN, milvus_server
    from pymilvus import DataType, MilvusClient

    chunks, _ = corpus(n)
    x = np.random.default_rng(1).standard_normal((n, 512)).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp, milvus_server(Path(tmp) / "s", timeout=400) as uri:
        c = MilvusClient(uri, token=ROOT_TOKEN)
        for name in ("rows", "cols"):
            s = c.create_schema(auto_id=False, enable_dynamic_field=False)
            s.add_field("row", DataType.INT64, is_primary=True)
            s.add_field("gen", DataType.INT64)
            s.add_field("chunk", DataType.VARCHAR, max_length=65535)
            s.add_field("vector", DataType.FLOAT_VECTOR, dim=512)
            c.create_collection(name, schema=s)
        t = time.perf_counter()
        for b in range(0, n, 1000):
            c.insert("rows", [{"row": i, "gen": 1, "chunk": json.dumps(chunks[i], ensure_ascii=False),
                               "vector": x[i].tolist()} for i in range(b, min(b + 1000, n))])
        rows_s = n / (time.perf_counter() - t)
        h = c._get_connection()
        schema = h.describe_collection("cols")
        t = time.perf_counter()
        for b in range(0, n, 1000):
            r = range(b, min(b + 1000, n))
            h.batch_insert("cols", [
                {"name": "row", "type": DataType.INT64, "values": list(r)},
                {"name": "gen", "type": DataType.INT64, "values": [1] * len(r)},
                {"name": "chunk", "type": DataType.VARCHAR,
                 "values": [json.dumps(chunks[i], ensure_ascii=False) for i in r]},
                {"name": "vector", "type": DataType.FLOAT_VECTOR, "values": x[b:b + len(r)]}], schema=schema)
        cols_s = n / (time.perf_counter() - t)
    print(f"{n:,} rows into Milvus 2.3.5: row dicts {rows_s:,.0f} rows/s, columns {cols_s:,.0f} rows/s "
          f"({cols_s / rows_s:.1f}x). Machine: {machine()}, load {Path('/proc/loadavg').read_text().split()[0]}")


if __name__ == "__main__":
    main()
