"""How often the quoted sentences hold the answer of an English question, through the search as it ships.

    .venv/bin/python benchmarks/evidence_quoted.py          # this checkout
    PYTHONPATH=OTHER_CHECKOUT .venv/bin/python benchmarks/evidence_quoted.py   # another commit, same questions

The 300 fixed xquad-en2zh questions of benchmarks/modelcache.py over the Chinese XQuAD passages, default model:
hybrid top 3, then `qa/evidence.py select` with its shipped defaults (nothing cached between checkouts, unlike
benchmarks/evidence_sweep.py, whose top-3 cache would hide a change to the search). "quoted" = an answer string
(its Chinese form) occurs in the quoted sentences; dev / test = even / odd positions in queries.jsonl.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # after PYTHONPATH, so another checkout's qa can be measured

import qa  # noqa: E402
from benchmarks.modelcache import load_set  # noqa: E402
from qa import evidence as ev  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.embedding import load_embedder, sentence_embedder  # noqa: E402
from qa.evaluate import corpus_retriever, read_jsonl  # noqa: E402
from qa.text import query_tokens  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--eval", type=Path, default=ROOT.parent / "shared" / "eval")
    ap.add_argument("--sample", type=int, default=300)
    args = ap.parse_args(argv)
    settings = Settings.load()
    emb = load_embedder(settings.model)
    corpus = read_jsonl(args.eval / "xquad-zh" / "corpus.jsonl", ("id", "text"))
    retriever, _ = corpus_retriever(corpus, emb, settings.cache)
    fast = sentence_embedder(emb)
    scorer = ev.SentenceScorer(emb, sentences=fast)
    data = load_set(args.eval, "xquad-en2zh", args.sample)
    quoted, ceiling = [], []
    for q in data.queries:
        hits = retriever.search(q["question"], 5, "hybrid")[:3]
        answers = [a for a in (q.get("answers_zh") or q.get("answers") or []) if a]
        idf = retriever.index.keywords.idf(query_tokens(q["question"]))
        chosen = ev.select(q["question"], fast.embed_queries([q["question"]])[0], [h.text for h in hits], scorer, idf)
        text = " ".join(s.text for s in chosen)
        quoted.append(any(a in text for a in answers))
        ceiling.append(any(a in h.text for h in hits for a in answers))
    hit, pos = np.array(quoted), data.positions
    print(f"{Path(qa.__file__).parent}: quoted dev {hit[pos % 2 == 0].mean():.3f} test {hit[pos % 2 == 1].mean():.3f} "
          f"all {hit.mean():.3f}; an answer in the top 3 passages {np.mean(ceiling):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
