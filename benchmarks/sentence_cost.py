"""What a passage's best sentence (qa/sentencerank.py) costs one answer, nothing cached: on vs off.

    .venv/bin/python benchmarks/sentence_cost.py [--runs 3]

The seed index with the default model; each question is answered by `Asker.ask` with no sentence vectors kept
(qa/sentencevectors.py cleared, the off-topic background embedded beforehand), once with the re-scoring and
once without it (the retriever's ranker removed). Five non-Chinese questions and one Chinese (never re-scored).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa import Settings, build  # noqa: E402
from qa.answer import Asker  # noqa: E402
from qa.embedding import load_embedder  # noqa: E402
from qa.sentencevectors import SHARED  # noqa: E402

QUESTIONS = ["When did the UN General Assembly adopt the resolution?", "What did China propose about AI risks in 2018?",
             "Wie hilft die Resolution Entwicklungsländern?",
             "¿Qué documentos de gobernanza de la IA ha presentado China?", "Что Китай предлагает в рамках ООН?"]
CHINESE = "联合国大会哪天通过了决议？"


def cold_ms(settings: Settings, question: str, rescore: bool) -> float:
    asker = Asker.open(settings)
    if not rescore:
        asker.retriever._sentences = None
    SHARED._vectors.clear()
    asker.scorer.background(asker.retriever.embed_query(question))  # not part of what is compared
    SHARED._vectors.clear()
    t = time.perf_counter()
    asker.ask(question)
    return (time.perf_counter() - t) * 1000


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args(argv)
    from benchmarks.machine import machine

    emb = load_embedder("e5-small+use-m3")
    with tempfile.TemporaryDirectory() as tmp:
        seeds = Path(tmp) / "seeds"
        seeds.mkdir()
        for f in (ROOT / "seeds").glob("*.txt"):
            shutil.copy(f, seeds / f.name)
        settings = Settings.load(seeds=seeds, index=Path(tmp) / "index", model=emb.name)
        build(settings, emb)
        Asker.open(settings).warm()
        out = {True: [], False: [], "zh": []}
        for _ in range(args.runs):
            for rescore in (False, True):  # interleaved, so that load changes hit both alike
                out[rescore] += [cold_ms(settings, q, rescore) for q in QUESTIONS]
            out["zh"].append(cold_ms(settings, CHINESE, True))
    print(f"{machine()}: one answer, nothing cached, median of {args.runs} x {len(QUESTIONS)} non-Chinese questions: "
          f"without the re-scoring {statistics.median(out[False]):.0f} ms, with it {statistics.median(out[True]):.0f} ms "
          f"(ratio {statistics.median(out[True]) / statistics.median(out[False]):.2f}); a Chinese question "
          f"{statistics.median(out['zh']):.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
