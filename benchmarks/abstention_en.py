"""English questions over Chinese articles: candidate abstention signals beyond margin and gap (issue 9.4).

    nice -n 10 .venv/bin/python benchmarks/abstention_en.py --signals SIGNALS.json [--remeasure]

Reads the signals of benchmarks/abstention.py (`--signals` file; its English rows are re-measured with the
current search when --remeasure is given, and the file updated), adds candidate English signals, and fits the
English rule with each set of signals on the fit half, reporting the other half as benchmarks/abstention.py does:
false abstention on in-domain English questions (xquad-en2zh over its passages, the seed article), false answers
on out-of-domain ones (xquad-en2zh over cmrc2018, off-topic questions over the seed article). Candidates:

  gloss1   share of the question's literal groups (its numbers, Latin names and English words, qa/query.py
           literal_groups) with a sense found in the top passage
  gloss3   the same, best of the top 3 passages
  anchor1  the top passage's literal (anchor) BM25 score over the best literal score in the corpus
  dense12  the best dense cosine minus the second best (how clearly the meaning picks one passage)
  gap5, gap50  the best dense cosine minus the 5th / the 50th best over the corpus (the shipped gap: the 20th,
           with the Chinese background); z50  the best in standard deviations above the mean of the top 50
  smargin  the best sentence of the top 5 hits (cosine, qa/sentencerank.py's sentence vectors) minus the best
           cosine to the off-topic background (sentences too, so like is compared with like)
  sgap     that best sentence minus the median of the dense top 10's best sentences
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import abstention as ab  # noqa: E402
from qa import Retriever, Settings, build  # noqa: E402
from qa import evidence as ev  # noqa: E402
from qa.embedding import load_embedder  # noqa: E402
from qa.evaluate import corpus_retriever, read_jsonl  # noqa: E402
from qa.query import anchor_scores, literal_groups  # noqa: E402
from qa.sentencerank import SentenceRanker  # noqa: E402
from qa.storage import load  # noqa: E402
from qa.text import fold  # noqa: E402

COMBOS = ("margin,gap", "margin,gap,gloss1", "margin,gap,gloss3", "margin,gap,anchor1", "margin,gap,dense12",
          "margin,gap,gloss1,anchor1", "margin,gap,gloss1,dense12", "margin,gap,gloss1,anchor1,dense12",
          "margin,gap,gap5", "margin,gap,gap50", "margin,gap,z50", "margin,gap5", "margin,gap50", "margin,z50",
          "margin,gap,gap50,z50", "margin,gap,smargin", "smargin,gap", "margin,smargin", "margin,gap,smargin,sgap",
          "smargin,sgap", "smargin,gap,sgap", "margin,gap,smargin,z50")


def extra(retriever: Retriever, scorer: ev.SentenceScorer, question: str, vec: np.ndarray) -> dict[str, float]:
    """The shipped signals of `question` (as benchmarks/abstention.py measures them) and the candidates."""
    stats: dict = {}
    hits = retriever.search(question, 5, "hybrid", query_vector=vec, stats=stats)
    sig = ev.signals(question, vec, hits, scorer,
                     retriever.store.idf([]), retriever.store, stats.get("dense_top"))
    groups = literal_groups(question)
    texts = [fold(h.text) for h in hits[:3]]

    def share(ts: list[str]) -> float:
        if not groups:
            return 0.0
        return float(np.mean([any(all(t in x for t in alt) for alt in g for x in ts) for g in groups]))

    anchors = anchor_scores(retriever.store, question)
    top = stats.get("dense_top") or [0.0, 0.0]
    return {**parts(retriever, vec, hits[0].row if hits else None), **sentence_signals(retriever, scorer, vec, hits), "margin": sig.margin, "gap": sig.gap, "gloss1": share(texts[:1]), "gloss3": share(texts),
            "anchor1": anchors.get(hits[0].row, 0.0) / max(anchors.values()) if anchors and hits else 0.0,
            "dense12": float(top[0] - top[1]) if len(top) > 1 else 0.0,
            "gap5": float(top[0] - top[min(4, len(top) - 1)]), "gap50": float(top[0] - top[-1]),
            "z50": float((top[0] - np.mean(top)) / (np.std(top) + 1e-9))}


def sentence_signals(retriever: Retriever, scorer: ev.SentenceScorer, vec: np.ndarray, hits: list) -> dict:
    """smargin and sgap (module docstring), from the sentence vectors the search's re-scoring keeps."""
    ranker = SentenceRanker(retriever.embedder) if retriever._sentences is None else retriever._sentences
    if not hits:
        return {"smargin": 0.0, "sgap": 0.0}
    best = max(float((m @ vec).max()) for m in ranker._vectors([h.text for h in hits[:5]]))
    rows = [int(r) for r in retriever.store.dense(vec, 10)[1] if int(r) >= 0]
    tops = [float((m @ vec).max()) for m in ranker._vectors([c["text"] for c in retriever.store.passages(rows)])]
    return {"smargin": best - scorer.background_max(vec), "sgap": best - float(np.median(tops))}


def parts(retriever: Retriever, vec: np.ndarray, top_row: int | None) -> dict[str, float]:
    """The two halves of the combined model (e5 and USE) on the dense top-50: their cosines are recovered from
    the stored vectors (each part's block, renormalised), so no second embedding is needed."""
    parts_ = getattr(retriever.embedder, "parts", None)
    if not parts_ or top_row is None:
        return {}
    d = parts_[0].dim
    rows = [int(r) for r in retriever.store.dense(vec, 50)[1] if int(r) >= 0]
    if top_row not in rows:
        rows.append(int(top_row))
    v = retriever.store.vectors(rows)
    qa, qb = vec[:d], vec[d:]
    ca = v[:, :d] @ qa / (np.linalg.norm(v[:, :d], axis=1) * np.linalg.norm(qa) + 1e-9)
    cb = v[:, d:] @ qb / (np.linalg.norm(v[:, d:], axis=1) * np.linalg.norm(qb) + 1e-9)
    i = rows.index(int(top_row))
    rank_b = int((cb > cb[i]).sum())
    return {"agree": float(np.argmax(ca) == np.argmax(cb)),  # e5 and USE pick the same passage
            "top_agree": float(np.argmax(ca) == i and np.argmax(cb) == i),  # ... and it is the answer's passage
            "use_rank": -float(np.log1p(rank_b)),  # the answer's passage among USE's ranking (0: USE's best)
            "use_near": float(cb[i] - cb.max()),  # USE cosine of the answer's passage minus USE's best
            "use_z": float((cb[i] - cb.mean()) / (cb.std() + 1e-9)),
            "e5_z": float((ca[i] - ca.mean()) / (ca.std() + 1e-9)),
            "use_gap": float(cb.max() - np.sort(cb)[::-1][min(19, len(cb) - 1)])}


def remeasure(sets: dict[str, list[dict]], eval_dir: Path) -> None:
    embedder = load_embedder(Settings.load().model)
    scorer = ev.SentenceScorer(embedder)  # one: it caches the background's vectors
    cache = Settings.load().cache
    xquad, _ = corpus_retriever(read_jsonl(eval_dir / "xquad-zh" / "corpus.jsonl", ("id", "text")), embedder, cache)
    cmrc, _ = corpus_retriever(read_jsonl(eval_dir / "cmrc2018-trial" / "corpus.jsonl", ("id", "text")), embedder,
                               cache)
    with tempfile.TemporaryDirectory() as tmp:
        seeds = Path(tmp) / "seeds"
        seeds.mkdir()
        shutil.copy(ROOT / "seeds" / ab.SEED_FILE, seeds / ab.SEED_FILE)
        settings = Settings.load(seeds=seeds, index=Path(tmp) / "index", model=embedder.name)
        build(settings, embedder)
        seed = Retriever(load(settings.index), embedder)
        where = {"in: xquad-en2zh (en)": xquad, "out: xquad-en2zh over cmrc2018 (en)": cmrc,
                 "in: seed article (zh+en)": seed, "out: off-topic over seed (zh+en)": seed}
        for name, retriever in where.items():
            rows = [r for r in sets[name] if r["lang"] == "en"]
            vecs = embedder.embed_queries([r["question"] for r in rows])
            for r, v in zip(rows, vecs):
                r.update(extra(retriever, scorer, r["question"], v))
            print(f"# {name}: {len(rows)} English questions re-measured", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--eval", type=Path, default=ROOT.parent / "shared" / "eval")
    ap.add_argument("--signals", type=Path, required=True)
    ap.add_argument("--remeasure", action="store_true")
    ap.add_argument("--combos", help="comma-separated signal sets separated by ';' (default: COMBOS)")
    args = ap.parse_args(argv)
    sets = json.loads(args.signals.read_text(encoding="utf-8"))
    if args.remeasure:
        remeasure(sets, args.eval)
        args.signals.write_text(json.dumps(sets, ensure_ascii=False), encoding="utf-8")
    sets = {n: [r for r in rs if r["lang"] == "en"] for n, rs in sets.items()}
    sets = {n: rs for n, rs in sets.items() if rs}
    for combo in (args.combos.split(";") if args.combos else COMBOS):
        ab.FEATURES = {"en": tuple(combo.split(","))}
        for fit_half in (0, 1):  # fitted on either half and read on the other: a steady signal holds both ways
            rule = ab.fit(sets, fit_half)
            held = ab.rates(sets, lambda r, rule=rule: ab.decide(r, rule), 1 - fit_half, "en")
            fit = ab.rates(sets, lambda r, rule=rule: ab.decide(r, rule), fit_half, "en")
            ins = np.mean([v for n, v in held.items() if n.startswith("in")])
            print(f"{combo:34s} fit {fit_half} held-out: "
                  + ", ".join(f"{n.split(' (')[0]} {100 * v:.1f}%" for n, v in held.items())
                  + f" | fit half: en2zh {100 * fit['in: xquad-en2zh (en)']:.1f}%"
                  + f" out {100 * fit['out: xquad-en2zh over cmrc2018 (en)']:.1f}%"
                  + f" | mean in {100 * ins:.1f}% | rule {rule['en']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
