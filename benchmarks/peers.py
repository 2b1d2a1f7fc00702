"""newsqa beside its peers, same run, same passages, same embedding function, same questions.

    .venv/bin/python benchmarks/peers.py [--sets xquad-zh,chronoqa] [--limit 500] [--no-write]

Peers (not dependencies of newsqa: install them into the venv yourself, `pip install txtai rank_bm25`;
a missing one is skipped with a message):
  txtai         Embeddings(hybrid=True) with an external transform = our embedding function (its own BM25,
                its own tokenizer, its own score fusion, its FAISS backend);
  naive         what people write by hand: encode + faiss.IndexFlatIP + rank_bm25.BM25Okapi over jieba.lcut,
                reciprocal-rank fusion of the two top-50 lists.
  newsqa        `qa.index.build` on the passages written as .md files, `Retriever.search` hybrid.

The embedding function is use-m3 for all three (the same vectors: computed once, served from a dict by
text), so build and query times are each system's own work above the model; the model's cost on the
same passages is shown once. newsqa splits passages longer than 400 characters into pieces; hits are
counted per source passage (first 10 distinct) for MRR@10.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import newsdata as nd  # noqa: E402
from benchmarks.speed import apply_threads, load_avg, pct  # noqa: E402

MODEL = "use-m3"


def read_set(eval_dir: Path, name: str, limit: int) -> tuple[list[dict], list[dict]]:
    folder = eval_dir / name
    corpus = [json.loads(line) for line in (folder / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    queries = [json.loads(line) for line in (folder / "queries.jsonl").read_text(encoding="utf-8").splitlines()][:limit]
    return corpus, queries


def mrr(ranked: list[list[str]], queries: list[dict]) -> float:
    total = 0.0
    for ids, q in zip(ranked, queries):
        gold = set(q["gold_ids"])
        total += next((1 / (i + 1) for i, pid in enumerate(ids[:10]) if pid in gold), 0.0)
    return total / len(queries)


class Vectors:
    """text -> vector of the one embedding function, computed once for every system (cached on disk)."""

    def __init__(self, cache: Path) -> None:
        from qa.embedding import load_embedder

        self.model = load_embedder(MODEL)
        self.docs = nd.vector_cache(MODEL, self.model.dim, cache)
        self.queries = nd.vector_cache(MODEL + "-queries", self.model.dim, cache)
        self.table: dict[str, np.ndarray] = {}

    def prepare(self, docs: list[str], queries: list[str], log) -> float:
        """Fill the table; returns the bare model's seconds per passage, measured on a sample."""
        import hashlib

        for store, texts, fn in ((self.docs, docs, self.model.embed_documents),
                                 (self.queries, queries, self.model.embed_queries)):
            keys = {t: hashlib.sha1(t.encode()).hexdigest() for t in texts}
            missing = [t for t in dict.fromkeys(texts) if store.get(keys[t]) is None]
            for b in range(0, len(missing), 1024):
                part = missing[b:b + 1024]
                store.add([keys[t] for t in part],
                          np.vstack([fn(part[i:i + 32]) for i in range(0, len(part), 32)]))
                log(f"  embedded {b + len(part)}/{len(missing)}")
            for t in texts:
                self.table[t] = store.get(keys[t])
        sample = sorted(docs[:: max(1, len(docs) // 100)], key=len)
        self.model.embed_documents(sample[:2])
        t0 = time.perf_counter()
        for i in range(0, len(sample), 32):
            self.model.embed_documents(sample[i:i + 32])
        return (time.perf_counter() - t0) / len(sample)

    def __call__(self, texts):
        return np.stack([self.table[t] for t in texts]).astype(np.float32)


# ---------------------------------------------------------------- systems

class NewsQA:
    name = "newsqa"

    def __init__(self, vectors: Vectors, work: Path) -> None:
        self.vectors, self.work = vectors, work

    def build(self, corpus: list[dict]) -> None:
        from qa.config import Settings
        from qa.embedding import load_embedder
        from qa.index import build
        from qa.search import Retriever
        from qa.storage import load

        seeds, index = self.work / "seeds", self.work / "index"
        self.files = {}
        for n, p in enumerate(corpus):
            name = f"{n:06d}.md"
            self.files[name[:-3]] = p["id"]
            (seeds / name).parent.mkdir(parents=True, exist_ok=True)
            (seeds / name).write_bytes(nd.article_bytes({"title": p.get("title") or "", "text": p["text"]}))
        vectors = self.vectors

        class Fn:
            name, dim = MODEL, vectors.model.dim

            def identity(self):
                return vectors.model.identity()

            def embed_documents(self, texts):
                return vectors(texts)

            def embed_queries(self, texts):
                return vectors(texts)

        self.t_build = time.perf_counter()
        build(Settings(seeds=seeds, index=index, model=MODEL), embedder=Fn())
        self.retriever = Retriever(load(index), load_embedder(MODEL))
        self.t_build = time.perf_counter() - self.t_build

    def chunk_texts(self, corpus: list[dict]) -> list[str]:
        return [t for n, p in enumerate(corpus) for _, t in nd.chunk_texts({"title": p.get("title") or "",
                                                                             "text": p["text"]}, n)]

    def search(self, question: str, qvec: np.ndarray) -> list[str]:
        hits = self.retriever.search(question, 20, "hybrid", query_vector=qvec)
        return list(dict.fromkeys(self.files[h.article_id] for h in hits))[:10]


class Naive:
    name = "naive (encode + FAISS flat + rank_bm25, RRF)"

    def __init__(self, vectors: Vectors) -> None:
        import rank_bm25  # noqa: F401 - skip early when missing

        self.vectors = vectors

    def build(self, corpus: list[dict]) -> None:
        import faiss
        import jieba
        from rank_bm25 import BM25Okapi

        t0 = time.perf_counter()
        self.ids = [p["id"] for p in corpus]
        x = self.vectors([p["text"] for p in corpus])
        self.index = faiss.IndexFlatIP(x.shape[1])
        self.index.add(x)
        self.bm25 = BM25Okapi([jieba.lcut(p["text"]) for p in corpus])
        self.jieba = jieba
        self.t_build = time.perf_counter() - t0

    def search(self, question: str, qvec: np.ndarray) -> list[str]:
        _, rows = self.index.search(qvec[None], 50)
        scores = self.bm25.get_scores(self.jieba.lcut(question))
        top = np.argsort(-scores)[:50]
        from qa.fusion import rrf  # plain RRF, k = 60: what the hand-written baseline does

        fused = rrf([[r for r in rows[0].tolist() if r >= 0], top.tolist()])
        return [self.ids[r] for r, _ in fused[:10]]


class Txtai:
    name = "txtai hybrid"

    def __init__(self, vectors: Vectors) -> None:
        import txtai  # noqa: F401 - skip early when missing

        self.vectors = vectors

    def build(self, corpus: list[dict]) -> None:
        from txtai import Embeddings

        t0 = time.perf_counter()
        vectors = self.vectors

        def transform(texts):  # txtai wants a plain function
            return vectors(texts)

        self.emb = Embeddings({"method": "external", "transform": transform, "hybrid": True, "content": False})
        self.emb.index([(p["id"], p["text"], None) for p in corpus])
        self.t_build = time.perf_counter() - t0

    def search(self, question: str, qvec: np.ndarray) -> list[str]:
        return [str(i) for i, _ in self.emb.search(question, 10)]


# ---------------------------------------------------------------- run

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="newsqa vs txtai vs the naive baseline")
    ap.add_argument("--eval", type=Path, default=nd.DEFAULT_EVAL)
    ap.add_argument("--cache", type=Path, default=nd.DEFAULT_CACHE)
    ap.add_argument("--sets", default="xquad-zh,chronoqa")
    ap.add_argument("--limit", type=int, default=500, help="questions per set")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)

    from benchmarks.machine import machine, update_section

    def log(msg: str) -> None:
        print(msg, flush=True)

    apply_threads()  # QA_BENCH_THREADS=1 on a shared machine (see benchmarks/speed.py)
    load_start = load_avg()
    vectors = Vectors(args.cache)
    skipped = []
    results: dict[str, dict] = {}
    model_rate = {}
    sizes = {}
    for set_name in args.sets.split(","):
        corpus, queries = read_set(args.eval, set_name, args.limit)
        sizes[set_name] = (len(corpus), len(queries))
        work = Path(tempfile.mkdtemp(prefix=f"newsqa-peers-{set_name}-"))
        try:
            systems = [NewsQA(vectors, work)]
            for cls in (Txtai, Naive):
                try:
                    systems.append(cls(vectors))
                except ImportError as e:
                    msg = f"{cls.name}: skipped, not installed ({e}); `pip install txtai rank_bm25` to compare"
                    if msg not in skipped:
                        skipped.append(msg)
                        log(msg)
            texts = [p["text"] for p in corpus] + systems[0].chunk_texts(corpus)
            log(f"[{set_name}] {len(corpus)} passages, {len(queries)} questions: embedding (cached) ...")
            model_rate[set_name] = vectors.prepare(texts, [q["question"] for q in queries], log)
            qvecs = vectors([q["question"] for q in queries])
            for system in systems:
                system.build(corpus)
                for q, v in list(zip(queries, qvecs))[:10]:  # warm
                    system.search(q["question"], v)
                times, ranked = [], []
                for q, v in zip(queries, qvecs):
                    t0 = time.perf_counter()
                    ranked.append(system.search(q["question"], v))
                    times.append((time.perf_counter() - t0) * 1000)
                r = results.setdefault(system.name, {})
                r[set_name] = {"build": system.t_build, "p50": pct(times, 50), "p95": pct(times, 95),
                               "mrr": mrr(ranked, queries)}
                log(f"  {system.name}: build {system.t_build:.2f} s, query {pct(times, 50):.2f}/{pct(times, 95):.2f} ms, "
                    f"MRR@10 {r[set_name]['mrr']:.3f}")
        finally:
            shutil.rmtree(work, ignore_errors=True)
    load_end = load_avg()

    sets = args.sets.split(",")
    qtime = []
    m = vectors.model
    for q in ["联合国大会哪天通过了决议？", "新能源汽车出口增长了多少？", "长江汛期何时开始？"] * 4:
        t0 = time.perf_counter()
        m.embed_queries([q])
        qtime.append((time.perf_counter() - t0) * 1000)
    lines = [f"Measured by `benchmarks/peers.py` on {machine()}; load average at the start {load_start}, at the end "
             f"{load_end}. Same passages, same questions (first {args.limit} of each set), same embedding function "
             f"(use-m3, vectors computed once and served to every system from memory, so the table shows each "
             f"system's own work above the model). " + " ".join(
                 f"{s}: {sizes[s][0]:,} passages, {sizes[s][1]:,} questions; the model alone would take "
                 f"{model_rate[s] * sizes[s][0]:.0f} s to embed the passages." for s in sets)
             + f" One query embedding: {pct(qtime, 50):.1f} ms (p50), the same for every system.", "",
             "| system | " + " | ".join(f"{s} MRR@10 | {s} build | {s} query p50 / p95" for s in sets) + " |",
             "|---|" + "---|---|---|" * len(sets)]
    for name, r in results.items():
        cells = []
        for s in sets:
            v = r.get(s)
            cells += [f"{v['mrr']:.3f}", f"{v['build']:.2f} s", f"{v['p50']:.2f} / {v['p95']:.2f} ms"] if v else ["–"] * 3
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    if skipped:
        lines += [""] + [f"- {s}" for s in skipped]
    lines += ["", "Build = each system's indexing of the passages given their vectors (newsqa: parse .md files, "
              "chunk, jieba, BM25, FAISS, write a complete generation with fsync; txtai: its BM25 terms index and "
              "FAISS; naive: jieba + rank_bm25 + FAISS in memory, nothing written). Query = one question's "
              "retrieval given its vector, top 10 passages."]
    text = "\n".join(lines)
    print("\n" + text)
    if not args.no_write:
        update_section("peers", "## Peers: txtai and the naive baseline\n\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
