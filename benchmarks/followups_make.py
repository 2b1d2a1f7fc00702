"""Make benchmarks/followups.jsonl: question pairs for the follow-up decision (qa/conversation.py).

From xquad-zh and xquad-en2zh (../shared/eval; same passages, Chinese and English questions):
  follow-up  two questions on the same passage; the second is rewritten to lean on the first: the longest
             phrase they share (a name or a topic that occurs in the passage) becomes a pronoun ("它", "那它",
             "it"), so asked alone it has lost its subject. Right when answered from the second's passage.
  unrelated  two questions on passages of different Wikipedia articles, the second unchanged. Right when
             the earlier question is not joined to it (and it is still answered from its own passage).
  off-topic  a follow-up in form ("那" + a cmrc2018 question, whose passage is not in the index) after an xquad-zh
             question: right when it is not answered (the earlier question must not drag it into scope).
Each row: {"id", "kind", "lang", "split" (dev: tune the rule / test: report), "history": [q1], "question",
"original" (the second question before rewriting), "gold_ids"}.
Run: `python -m benchmarks.followups_make [-n 150]` (deterministic).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import zlib
from difflib import SequenceMatcher
from pathlib import Path

EVAL = Path(__file__).resolve().parents[1].parent / "shared" / "eval"
OUT = Path(__file__).resolve().parent / "followups.jsonl"
# Shared phrases that are question words, not a subject.
STOP_ZH = {"什么", "多少", "哪个", "哪些", "哪里", "哪一", "为什么", "如何", "怎么", "是什么", "什么时候", "谁", "哪位", "哪年",
           "的是", "是哪", "有多少", "多少个", "哪一年", "在哪", "是谁"}
STOP_EN = {"what", "which", "who", "when", "where", "how", "why", "the", "a", "an", "of", "in", "on", "did", "does",
           "do", "is", "was", "were", "are", "to", "for", "by", "and", "many", "much", "with", "from", "at", "as",
           "that", "this", "name", "be", "has", "have", "had", "its", "his", "her", "their", "during", "after",
           "before", "between", "into", "about", "over", "under", "through", "than", "not", "can", "could", "would",
           "will", "type", "kind", "year", "one", "two", "used", "called", "known", "most", "first", "also"}


def read(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def shared_zh(a: str, b: str, passage: str) -> str | None:
    """The longest run of whole words of `b` that `a` and the passage contain, ending in a noun."""
    import jieba.posseg as pseg

    words = [(w.word, w.flag) for w in pseg.lcut(b)]
    best = None
    for i in range(len(words)):
        for j in range(i + 1, len(words) + 1):
            phrase = "".join(w for w, _ in words[i:j])
            if phrase not in a or phrase not in passage:
                break
            if (len(re.findall(r"[\u4e00-\u9fff]", phrase)) >= 2 and phrase not in STOP_ZH
                    and words[j - 1][1][:1] in ("n", "e") and (best is None or len(phrase) > len(best))):
                best = phrase
    return best


def shared_en(a: str, b: str) -> str | None:
    """The longest run of words `a` and `b` share, trimmed of function words; a capitalised name is taken
    whole (so "Anaheim" becomes "Anaheim Ducks")."""
    wa, wb = re.findall(r"[\w'-]+", a), re.findall(r"[\w'-]+", b)
    m = SequenceMatcher(None, [w.lower() for w in wa], [w.lower() for w in wb], autojunk=False)
    for blk in sorted(m.get_matching_blocks(), key=lambda x: -x.size):
        lo, hi = blk.b, blk.b + blk.size
        while lo < hi and wb[lo].lower() in STOP_EN:
            lo += 1
        while hi > lo and wb[hi - 1].lower() in STOP_EN:
            hi -= 1
        if lo == hi:
            continue
        if wb[lo][:1].isupper() or wb[hi - 1][:1].isupper():
            while lo > 0 and wb[lo - 1][:1].isupper() and lo - 1 > 0:
                lo -= 1
            while hi < len(wb) and wb[hi][:1].isupper():
                hi += 1
        words = wb[lo:hi]
        if (len(words) >= 2 or words[0][:1].isupper()) and len(" ".join(words)) >= 4:
            return " ".join(words)
    return None


def lean_zh(question: str, phrase: str, rng: random.Random) -> str:
    rest = question.replace(phrase, "它", 1)
    rest = re.sub(r"^的", "", rest)
    if rest.startswith("它"):
        return rng.choice(["", "那", "那么"]) + rest
    return rest


def lean_en(question: str, phrase: str) -> str:
    out = re.sub(r"\b(the |a |an )?" + re.escape(phrase) + r"('s)?", lambda m: "its" if m.group(2) else "it",
                 question, count=1, flags=re.I)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=150, help="pairs of each kind and language")
    args = ap.parse_args()
    corpus = {r["id"]: r for r in read(EVAL / "xquad-zh" / "corpus.jsonl")}
    sets = {"zh": read(EVAL / "xquad-zh" / "queries.jsonl"), "en": read(EVAL / "xquad-en2zh" / "queries.jsonl")}
    rows = []
    for lang, queries in sets.items():
        rng = random.Random(f"followups-{lang}")
        by_passage: dict[str, list[dict]] = {}
        for q in queries:
            by_passage.setdefault(q["gold_ids"][0], []).append(q)
        follow = []
        for pid in sorted(by_passage):
            qs = by_passage[pid]
            pairs = [(a, b) for a in qs for b in qs if a is not b]
            rng.shuffle(pairs)
            for a, b in pairs:
                if lang == "zh":
                    phrase = shared_zh(a["question"], b["question"], corpus[pid]["text"])
                    new = lean_zh(b["question"], phrase, rng) if phrase else None
                else:
                    phrase = shared_en(a["question"], b["question"])
                    new = lean_en(b["question"], phrase) if phrase else None
                if new and new != b["question"]:
                    follow.append((a, b, new))
                    break
        rng.shuffle(follow)
        for a, b, new in follow[: args.n]:
            rows.append({"kind": "follow-up", "lang": lang, "history": [a["question"]], "question": new,
                         "original": b["question"], "gold_ids": b["gold_ids"], "pair": [a["id"], b["id"]]})
        for _ in range(args.n):
            while True:
                a, b = rng.sample(queries, 2)
                if corpus[a["gold_ids"][0]]["title"] != corpus[b["gold_ids"][0]]["title"]:
                    break
            rows.append({"kind": "unrelated", "lang": lang, "history": [a["question"]], "question": b["question"],
                         "original": b["question"], "gold_ids": b["gold_ids"], "pair": [a["id"], b["id"]]})
    rng = random.Random("followups-off-topic")
    cmrc = read(EVAL / "cmrc2018-trial" / "queries.jsonl")
    for a, b in zip(rng.sample(sets["zh"], args.n // 3 * 2), rng.sample(cmrc, args.n // 3 * 2)):
        rows.append({"kind": "off-topic", "lang": "zh", "history": [a["question"]], "question": "那" + b["question"],
                     "original": b["question"], "gold_ids": [], "pair": [a["id"], b["id"]]})
    with open(OUT, "w", encoding="utf-8") as f:
        for n, r in enumerate(rows):
            # split by the second question's passage: no passage is in both halves
            split = "dev" if zlib.crc32((r["gold_ids"] or r["pair"])[0].encode()) % 2 == 0 else "test"
            f.write(json.dumps({"id": f"fu-{n:04d}", **r, "split": split}, ensure_ascii=False) + "\n")
    kinds = {(r["kind"], r["lang"]) for r in rows}
    print(f"{len(rows)} pairs written to {OUT}: " + ", ".join(
        f"{k} {lang}: {sum(1 for r in rows if (r['kind'], r['lang']) == (k, lang))}" for k, lang in sorted(kinds)))


if __name__ == "__main__":
    main()
