"""Quoting for English questions: score the sentences with both halves of the default model (issue 9.4).

`qa/evidence.py` scores evidence sentences with the default model's use-m3 half (fast). This script re-scores the
cached top-3 passages of benchmarks/evidence_sweep.py (same 300 xquad-en2zh questions, same dev/test halves by
position) with a mix of the two halves' cosines: a x e5-small + (1 - a) x use-m3 (a = 0.9 is the default model's
own inner product for a Latin-script question), crossed with the dense share of `select` and its band. Sentence
vectors of e5-small are cached (~/.cache/newsqa/models/evidence-sentences-e5-small.pkl). Chosen on dev, reported on
test; Chinese questions are not touched by the variants (they keep the use-m3 half), so they are not re-run here.
Run: `nice -n 10 python -m benchmarks.evidence_both [--write]`.
"""

from __future__ import annotations

import argparse
import pickle
import time
from pathlib import Path

import numpy as np

from benchmarks.evidence_sweep import collect
from benchmarks.machine import machine, update_section
from benchmarks.modelcache import CACHE
from qa import evidence as ev
from qa.embedding import load_embedder
from qa.text import sentences

EVAL = Path(__file__).resolve().parents[1].parent / "shared" / "eval"
MIX = (0.0, 0.25, 0.5, 0.75, 0.9, 1.0)
DENSE = (0.4, 0.5, 0.6, 0.7)
BAND = (0.15, 0.2)


class Mixed:
    """A stand-in SentenceScorer: cosines are a x e5 + (1 - a) x use-m3 (weighted, concatenated unit vectors)."""

    def __init__(self, e5: dict[str, np.ndarray], use: ev.SentenceScorer, qe5: dict[str, np.ndarray], a: float):
        self.e5, self.use, self.qe5, self.a = e5, use, qe5, a

    def vectors(self, texts: list[str]) -> np.ndarray:
        return np.hstack([np.sqrt(self.a) * np.stack([self.e5[t] for t in texts]),
                          np.sqrt(1 - self.a) * self.use.vectors(texts)])

    def question_vector(self, question: str, qvec: np.ndarray) -> np.ndarray:
        return np.concatenate([np.sqrt(self.a) * self.qe5[question], np.sqrt(1 - self.a) * qvec])


def e5_vectors(rows: list[dict]) -> tuple[dict, dict]:
    path = CACHE / "evidence-sentences-e5-small.pkl"
    cache = pickle.loads(path.read_bytes()) if path.exists() else {}
    e5 = load_embedder("e5-small")
    texts = sorted({s for r in rows for p in r["texts"] for s, _, _ in sentences(p) if len(s) >= 4} - set(cache))
    t = time.perf_counter()
    for i in range(0, len(texts), 32):
        cache.update(zip(texts[i:i + 32], e5.embed_documents(texts[i:i + 32])))
        print(f"e5 sentences {i + 32}/{len(texts)} {time.perf_counter() - t:.0f} s", flush=True)
        path.write_bytes(pickle.dumps(cache))
    asked = [r["question"] for r in rows if ("query", r["question"]) not in cache]
    if asked:
        cache.update(zip([("query", q) for q in asked], e5.embed_queries(asked)))
        path.write_bytes(pickle.dumps(cache))
    return cache, {r["question"]: cache["query", r["question"]] for r in rows}


def found(rows: list[dict], scorer, **kw) -> tuple[float, float]:
    hit, count = [], []
    for r in rows:
        chosen = ev.select(r["question"], r["qvec"], r["texts"], scorer, r["idf"], **kw)
        quoted = " ".join(s.text for s in chosen)
        hit.append(any(a in quoted for a in r["answers"]))
        count.append(len(chosen))
    return float(np.mean(hit)), float(np.mean(count))


def other_languages(write: bool) -> None:
    """The shipped mix against use-m3 alone on xquad-5lang-to-zh (120 questions a language, the evidence_sweep.py
    sample): German, Spanish, Russian, Arabic and Hindi questions take the same path as English ones."""
    rows = collect(EVAL, "xquad-5lang-to-zh", 120)
    use = ev.SentenceScorer(load_embedder("use-m3"))
    e5, qe5 = e5_vectors(rows)
    lines = ["| language | questions | use-m3 alone (before) | shipped mix | sentences before / shipped |",
             "|---|---:|---:|---:|---|"]
    for lang in sorted({r["lang"] for r in rows}):
        sub = [r for r in rows if r["lang"] == lang]
        before = found(sub, Mixed(e5, use, qe5, 0.0), dense_weight=ev.CROSS_DENSE_WEIGHT)
        after = found(sub, Mixed(e5, use, qe5, ev.CROSS_SECOND_SHARE), dense_weight=ev.CROSS_DENSE_WEIGHT)
        lines.append(f"| {lang} | {len(sub)} | {before[0]:.3f} | {after[0]:.3f} | {before[1]:.2f} / {after[1]:.2f} |")
    body = ("### Quoting questions in other languages with both halves (issue 9.4, fifth pass)\n\n"
            f"`nice -n 10 python -m benchmarks.evidence_both --other-languages` ({machine()}): xquad-5lang-to-zh, the "
            "sample and cached top-3 passages of benchmarks/evidence_sweep.py (all questions, not tuned on); answer "
            f"inside the quoted sentences with use-m3 alone and with the shipped {ev.CROSS_SECOND_SHARE} e5-small share. "
            "A weak check: this set's answers are in the question's language, so only those written the same in "
            "Chinese text (numbers, Latin names) can be found; it shows whether those got worse."
            "\n\n" + "\n".join(lines))
    print(body)
    if write:
        update_section("evidence-both-languages", body)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--other-languages", action="store_true", help="check the shipped mix on xquad-5lang-to-zh")
    args = ap.parse_args()
    if args.other_languages:
        return other_languages(args.write)
    rows = collect(EVAL, "xquad-en2zh", 300)
    use = ev.SentenceScorer(load_embedder("use-m3"))
    e5, qe5 = e5_vectors(rows)
    halves = {"dev": [r for r in rows if r["pos"] % 2 == 0], "test": [r for r in rows if r["pos"] % 2 == 1]}
    results = []
    for a in MIX:
        scorer = Mixed(e5, use, qe5, a)
        for dw in DENSE:
            for band in BAND:
                res = {h: found(sub, scorer, dense_weight=dw, band=band) for h, sub in halves.items()}
                results.append(((a, dw, band), res))
                print(a, dw, band, res, flush=True)
    before = (0.0, 0.5, 0.15)
    shipped = (ev.CROSS_SECOND_SHARE, ev.CROSS_DENSE_WEIGHT, 0.15)
    # chosen at the shipped band (a wider one quotes more sentences, which finds the answer more often by itself):
    # best dev; ties: the shipped dense share, then fewer sentences
    best = max([x for x in results if x[0][2] == 0.15],
               key=lambda x: (round(x[1]["dev"][0], 4), x[0][1] == ev.CROSS_DENSE_WEIGHT, -x[1]["dev"][1]))
    lines = ["| e5 share a | dense share | band | dev: answer quoted | dev: sentences | test: answer quoted | "
             "test: sentences |", "|---:|---:|---:|---:|---:|---:|---:|"]
    for (a, dw, band), res in results:
        mark = " **(best dev, shipped)**" if (a, dw, band) == best[0] == shipped else \
            " (best dev)" if (a, dw, band) == best[0] else " (shipped)" if (a, dw, band) == shipped else \
            " (before)" if (a, dw, band) == before else ""
        lines.append(f"| {a}{mark} | {dw} | {band} | {res['dev'][0]:.3f} | {res['dev'][1]:.2f} | "
                     f"{res['test'][0]:.3f} | {res['test'][1]:.2f} |")
    body = ("### Quoting English questions with both halves of the model (issue 9.4, fifth pass)\n\n"
            f"`nice -n 10 python -m benchmarks.evidence_both` ({machine()}): the 300 xquad-en2zh questions of "
            "benchmarks/evidence_sweep.py and their cached top-3 passages (dev/test by position); sentence cosine = "
            "a x e5-small + (1 - a) x use-m3; literal tokens and the number lift as shipped. Chosen at the shipped "
            "band 0.15 (a wider band quotes more sentences, which finds the answer more often by itself): best dev, "
            "ties: the shipped dense share, then fewer sentences. Sentences: mean quoted per answer.\n\n" + "\n".join(lines))
    print(body)
    if args.write:
        update_section("evidence-both", body)


if __name__ == "__main__":
    main()
