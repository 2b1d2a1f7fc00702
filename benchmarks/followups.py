"""Follow-ups: is a question searched with the previous one exactly when that helps? (qa/conversation.py)

Over benchmarks/followups.jsonl (made by benchmarks/followups_make.py from xquad-zh / xquad-en2zh) with the
xquad-zh passages as the index and the default model (passage vectors from the eval cache):
  follow-ups answered right   the reply quotes (first citation) the second question's own passage
  unrelated joined            an unrelated next question was searched with the previous one (context used)
for the rule of qa/conversation.py and, for comparison, the question always alone, always joined, the margins
rule it replaced (relevance scores of the two searches, `conversation.choose`) and the first rule (join when the
question has a pronoun/opener or is short). Each pair's three searches (alone, joined, the previous question's own,
for what it cited) are run once; the rules are then applied to their results, so the thresholds can be tuned on
the dev half (`--tune`) and reported on the test half. `--cost`: what one question costs by length, with the caps of qa/config.py.
Run: `nice -n 10 python -m benchmarks.followups [--tune] [--cost] [--write]`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import time
from dataclasses import replace
from pathlib import Path

from benchmarks.machine import machine, update_section
from qa import conversation
from qa.answer import Asker
from qa.config import DEFAULT_MODEL, Settings
from qa.embedding import load_embedder, sentence_embedder
from qa.evaluate import corpus_retriever, read_jsonl
from qa.evidence import SentenceScorer, select
from qa.replies import language_of
from qa.text import is_chinese, query_tokens

EVAL = Path(__file__).resolve().parents[1].parent / "shared" / "eval"
SET = Path(__file__).resolve().parent / "followups.jsonl"
_OLD_ZH = re.compile(r"^(那|那么|还有|另外|而且|并且|然后)|它|他们|她们|它们|这个|那个|这些|那些|该|其|此|呢[？?]?$")
_OLD_EN = re.compile(r"^(and|what about|how about|also|then|so)\b|\b(it|its|they|them|their|this|that|these|those|"
                     r"he|she|his|her)\b", re.I)


def old_rule(question: str) -> bool:
    """qa/answer.py's `searched_for` before this change: glue on a leaning or short question."""
    zh = is_chinese(question)
    short = len(question) <= (12 if zh else 40)
    leaning = bool(_OLD_ZH.search(question) if zh else _OLD_EN.search(question))
    return leaning or (short and len(query_tokens(question)) <= 3)


def outcome(retriever, scorer, s: conversation.Search, gold: set[str]) -> dict:
    """What the search would quote if answered: "cited" (its first citation is gold) whether or not it is in
    scope, since the follow-up rule may answer a search its own score turns away."""
    if not s.hits:
        return {"in_scope": False, "top": False, "cited": False, "answered": False}
    idf = retriever.store.idf(query_tokens(s.query))
    evidence = select(s.query, s.vector, [h.text for h in s.hits[:3]], scorer, idf)
    cited = s.hits[evidence[0].hit_index].chunk_id if evidence else None
    return {"in_scope": s.in_scope, "top": s.hits[0].chunk_id in gold, "cited": cited in gold, "score": s.score,
            "answered": bool(evidence)}


def put_first(search: conversation.Search, previous: conversation.Search, cited: int | None) -> conversation.Search:
    """Tried, not kept: `search` with the passage the previous answer cited as its first hit (moved up, or taken
    from the previous search), so that a follow-up quotes from the passage the conversation is about."""
    hit = next((h for h in search.hits if int(h.row) == cited), None) or \
        next((h for h in previous.hits if int(h.row) == cited), None)
    if hit is None or (search.hits and int(search.hits[0].row) == cited):
        return search
    rest = [h for h in search.hits if int(h.row) != cited][: max(0, len(search.hits) - 1)]
    return replace(search, hits=[replace(h, rank=i + 1) for i, h in enumerate([hit, *rest])])


def run(rows: list[dict], retriever, scorer) -> list[dict]:
    out = []
    for n, r in enumerate(rows, 1):
        q, gold = r["question"], set(r["gold_ids"])
        lang = language_of(q)
        t = time.perf_counter()
        alone = conversation.run_search(retriever, scorer, q, lang, 5, "hybrid", None)
        context = conversation.context_of(r["history"], lang)
        joined = conversation.run_search(retriever, scorer, f"{context} {q}", lang, 5, "hybrid", None)
        own = conversation.own_relevance(retriever, scorer, alone, joined)
        previous = conversation.run_search(retriever, scorer, context, language_of(context), 5, "hybrid", None)
        cited = conversation.cited_row(retriever, scorer, previous)
        near = conversation.nearness(retriever, alone, cited)
        ms = (time.perf_counter() - t) * 1000
        prev_id = next((h.chunk_id for h in previous.hits if int(h.row) == cited), None)
        extra = {"coverage": conversation.coverage(retriever, q, lang), "spread": alone.spread,
                 "own_numbers": conversation.own_numbers(q, alone, previous, cited),
                 "prev_cited": prev_id, "prev_cited_gold": prev_id in gold,
                 "alone_ids": [h.chunk_id for h in alone.hits], "joined_ids": [h.chunk_id for h in joined.hits],
                 # tried: the joined search quoted with the previous answer's passage first (`put_first`)
                 "joined_first": outcome(retriever, scorer, put_first(joined, previous, cited), gold),
                 "alone_sig": alone.signals.__dict__ if alone.signals else None,
                 "joined_sig": joined.signals.__dict__ if joined.signals else None}
        out.append({**r, "alone": outcome(retriever, scorer, alone, gold), "joined": outcome(retriever, scorer, joined, gold),
                    "leans": conversation.leans(q, lang), "own": own, "near": near, "old": old_rule(q), "ms": ms, **extra,
                    "_alone": alone, "_joined": joined})
        if n % 50 == 0:
            print(f"{n}/{len(rows)}", flush=True)
    return out


def undump(rec: dict) -> dict:
    """A dumped pair with the two searches rebuilt from their outcomes (all that `choose` reads)."""
    def search(o: dict) -> conversation.Search:
        return conversation.Search("", None, [], None, o.get("score"), o["in_scope"])

    # the wording prior is a function of the question alone: recomputed, so a dump follows qa/conversation.py's
    # current rule (the searches themselves do not depend on it)
    return {**rec, "leans": conversation.leans(rec["question"], rec["lang"]), "_alone": search(rec["alone"]),
            "_joined": search(rec["joined"])}


def read_dumps(paths: list[Path]) -> list[dict]:
    """The pairs of --dump files; a pair in a later file replaces the same pair in an earlier one (a re-run of
    part of the set, e.g. `--lang en`, on top of a full run), in the set's order."""
    by_id = {}
    for f in paths:
        for x in f.read_text(encoding="utf-8").splitlines():
            if x.strip():
                rec = json.loads(x)
                by_id[rec["id"]] = rec
    return [undump(r) for r in sorted(by_id.values(), key=lambda r: r["id"])]


def apply(rec: dict, policy: str, near: tuple[float, ...]) -> tuple[bool, dict, bool]:
    """(context used, the outcome of the search answered, whether it is answered at all)."""
    if policy == "alone":
        use = False
    elif policy == "joined":
        use = True
    elif policy == "old rule":
        use = rec["old"]
    elif policy == "margins":
        own = conversation.own_ok(rec["own"], rec["coverage"])
        use, _ = conversation.choose(rec["_alone"], rec["_joined"], rec["leans"], own, "hybrid")
    else:
        use = conversation.follows(rec["near"], rec["leans"], rec["coverage"], *near[:3], *near[4:6],
                                   spread=rec.get("spread")) and \
            (rec["_joined"].in_scope or rec["near"] >= near[3]) and not rec.get("own_numbers", False)
        if use:  # answered from the joined search even when its own score is low (qa/conversation.py decide)
            return True, rec["joined_first" if policy == "cited first" else "joined"], True
    o = rec["joined" if use else "alone"]
    return use, o, o["in_scope"]


def score(recs: list[dict], policy: str, near: tuple[float, ...]) -> dict:
    by = {kind: [apply(r, policy, near) for r in recs if r["kind"] == kind]
          for kind in ("follow-up", "unrelated", "off-topic")}

    def share(kind: str, f) -> float:
        return sum(f(*x) for x in by[kind]) / max(1, len(by[kind]))

    return {"fu_right": share("follow-up", lambda u, o, a: a and o["cited"]),
            "fu_top": share("follow-up", lambda u, o, a: o["top"]),
            "un_joined": share("unrelated", lambda u, o, a: u),
            "un_right": share("unrelated", lambda u, o, a: a and o["cited"]),
            "off_answered": share("off-topic", lambda u, o, a: a and o["answered"]),
            "n_fu": len(by["follow-up"]), "n_un": len(by["unrelated"]), "n_off": len(by["off-topic"])}


def tune(recs: list[dict]) -> tuple[float, ...]:
    """The thresholds that answer most follow-ups right and fewest off-topic follow-ups on the dev half while
    joining at most 2 % of unrelated questions (ties: fewer joins, then stricter thresholds)."""
    dev = [r for r in recs if r["split"] == "dev"]
    best = None
    # NEAR stays finite: the wording is a prior, not the rule (a question that does not lean may still follow up)
    for near in (-0.005, -0.01, -0.015, -0.02, -0.025, -0.03):
        for lean in (-0.03, -0.035, -0.04, -0.045, -0.05, -0.055, -0.06):
            for cover in (0.6, 0.7, 0.8, 0.9):
                for force in (0.0, -0.005, -0.01, -0.02, -0.03, -1.0):  # -1: always answered
                    # 1.0: the coverage floor has no exception; else (near_exact, coverage_exact)
                    for exact, low in ((1.0, 1.0), (0.0, 0.5), (-0.005, 0.4), (-0.005, 0.5), (-0.005, 0.6),
                                       (-0.01, 0.5), (-0.01, 0.6)):
                        if exact == 1.0 and low != 1.0:
                            continue
                        s = score(dev, "decided", (near, lean, cover, force, exact, low))
                        key = (s["un_joined"] <= 0.02, round(s["fu_right"] - s["off_answered"], 4), -s["un_joined"],
                               near, lean, cover, force, exact, low)
                        if best is None or key > best[0]:
                            best = (key, (near, lean, cover, force, exact, low), s)
    print(f"dev best: {best[1]}: {best[2]}")
    return best[1]


def cost(retriever, embedder) -> str:
    settings = Settings.load(model=DEFAULT_MODEL)
    asker = Asker(settings, retriever, SentenceScorer(embedder, sentences=sentence_embedder(embedder)), "eval")
    asker.ask("预热 warm up")
    base = "超级碗50的冠军是哪支球队，比赛在哪里举行？"
    lines = ["| input | characters given | characters used | p50 ms (5 runs) |", "|---|---|---|---|"]
    for label, question, history in [
            ("a normal question", base, []),
            ("question at the cap", (base * 100)[: settings.max_question_chars], []),
            ("question of 2,000 characters", (base * 100)[:2000], []),
            ("question of 100,000 characters", (base * 5000)[:100_000], []),
            ("normal question + 1,000 history items of 2,000 characters", base, [(base * 100)[:2000]] * 1000)]:
        times = []
        for _ in range(5):
            t = time.perf_counter()
            ans = asker.ask(question, history)
            times.append((time.perf_counter() - t) * 1000)
        given = len(question) + sum(map(len, history))
        lines.append(f"| {label} | {given:,} | {len(ans.searched_for):,} | {statistics.median(times):.0f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tune", action="store_true", help="fit the two margins on the dev half first")
    ap.add_argument("--cost", action="store_true", help="also time questions by length")
    ap.add_argument("--write", action="store_true", help="write the tables into benchmarks/README.md")
    ap.add_argument("--dump", type=Path, help="write per-pair outcomes here (JSON lines)")
    ap.add_argument("--from-dump", type=Path, nargs="+", help="apply the rules to --dump(s) of earlier runs (no searches)")
    ap.add_argument("--section", default="followups", help="the benchmarks/README.md section --write replaces")
    ap.add_argument("--heading", default="## Follow-up questions", help="that section's heading")
    ap.add_argument("--shard", default="0/1", help="K/N: run only every N-th pair from the K-th (parallel --dump runs)")
    ap.add_argument("--lang", help="run only the pairs in this language (zh/en; --from-dump can merge the dumps)")
    ap.add_argument("--split", help="run only the pairs of this half (dev/test)")
    args = ap.parse_args()
    rows = [json.loads(x) for x in SET.read_text(encoding="utf-8").splitlines() if x.strip()]
    k, n = map(int, args.shard.split("/"))
    if args.lang or args.split:
        rows = [r for r in rows if r["lang"] == (args.lang or r["lang"]) and r["split"] == (args.split or r["split"])]
    embedder = retriever = None
    if args.cost or not args.from_dump:
        embedder = load_embedder(DEFAULT_MODEL)
        corpus = read_jsonl(EVAL / "xquad-zh" / "corpus.jsonl", ("id", "text"))
        retriever, _ = corpus_retriever(corpus, embedder, Settings.load().cache)
    if args.from_dump:
        recs = read_dumps(args.from_dump)
        # keyword coverage needs no model: recomputed, so a change to its rule needs no new run
        corpus = read_jsonl(EVAL / "xquad-zh" / "corpus.jsonl", ("id", "text"))
        keywords, _ = corpus_retriever(corpus, None, Settings.load().cache)
        for r in recs:
            r["coverage"] = conversation.coverage(keywords, r["question"], language_of(r["question"]))
        if any("spread" not in r for r in recs):  # dumps before the spread was recorded: from cached query vectors
            from benchmarks.followups_scale import VECTORS, features

            features(recs, VECTORS)
    else:
        recs = run(rows[k::n], retriever, SentenceScorer(embedder, sentences=sentence_embedder(embedder)))
    near = tune(recs) if args.tune else (conversation.NEAR, conversation.NEAR_LEAN, conversation.COVERAGE_FLOOR,
                                         conversation.FORCE_NEAR, conversation.NEAR_EXACT, conversation.COVERAGE_EXACT)
    if args.dump:
        with open(args.dump, "w", encoding="utf-8") as f:
            for r in recs:
                f.write(json.dumps({k: v for k, v in r.items() if not k.startswith("_")}, ensure_ascii=False) + "\n")
    lines = ["| rule | split | lang | follow-ups answered from the right passage | … top passage right | "
             "unrelated next question joined | unrelated answered right | off-topic follow-ups answered | "
             "pairs (follow-up / unrelated / off-topic) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for policy in ("decided", "margins", "cited first", "alone", "joined", "old rule"):
        for split in ("test", "dev"):
            for lang in ("zh", "en", "both"):
                sub = [r for r in recs if r["split"] == split and (lang == "both" or r["lang"] == lang)]
                s = score(sub, policy, near)
                name = f"**{policy}** (qa/conversation.py)" if policy == "decided" else policy
                lines.append(f"| {name} | {split} | {lang} | {s['fu_right']:.1%} | {s['fu_top']:.1%} | "
                             f"{s['un_joined']:.1%} | {s['un_right']:.1%} | {s['off_answered']:.1%} | "
                             f"{s['n_fu']} / {s['n_un']} / {s['n_off']} |")
            if policy not in ("decided", "margins", "cited first"):
                break
    ms = sorted(r["ms"] for r in recs)
    body = (f"{args.heading}\n\n`nice -n 10 python -m benchmarks.followups{' --tune' if args.tune else ''}"
            f"{' --cost' if args.cost else ''}{' --from-dump RUNS' if args.from_dump else ''}` (RUNS: a `--dump` of "
            f"the full run; {machine()}), model {DEFAULT_MODEL}, index: the 240 xquad-zh "
            f"passages. Set: `benchmarks/followups.jsonl` from `benchmarks/followups_make.py` ({len(rows)} pairs: "
            "a second question on the same passage rewritten to lean on the first with a pronoun, and a second "
            "question on another article's passage, and 100 off-topic follow-ups: \"那\" + a cmrc2018 question, whose passage "
            "is not in the index). \"Answered from the right passage\": answered and the "
            "first citation is the gold passage. Targets: follow-ups ≥ 90 %, unrelated joined ≤ 2 %. **decided**: "
            "joined when the question alone lands near the passage the previous answer cited (its cosine to it "
            f"minus its best passage cosine ≥ NEAR_LEAN {near[1]} when it leans on the context, ≥ NEAR {near[0]} "
            f"otherwise, or, leaning, ≥ NEAR_LOOSE {conversation.NEAR_LOOSE} and ≥ Z_LOOSE {conversation.Z_LOOSE} in "
            f"units of its own top-50 dense spread; a Chinese question's own words ≥ COVERAGE_FLOOR {near[2]} in the articles, or ≥ "
            f"COVERAGE_EXACT {near[5]} when it is ≥ NEAR_EXACT {near[4]} near; not when its own numbers are in its "
            "own top passage but not in the cited one; answered when "
            f"the joined search is in scope or the question is ≥ FORCE_NEAR {near[3]} near), thresholds fitted on "
            "dev; test is the held-out half (by passage). **cited first** (tried): the same, the joined search's "
            "hits with the cited passage moved first before quoting. **margins**: the rule it replaced (relevance "
            f"scores of the two searches: JOIN_MARGIN {conversation.JOIN_MARGIN}, LEAN_MARGIN "
            f"{conversation.LEAN_MARGIN}, OWN_FLOOR {conversation.OWN_FLOOR}, coverage "
            f"{conversation.OLD_COVERAGE_FLOOR}). The other rules are shown on test only.\n\n" + "\n".join(lines)
            + f"\n\nThe three searches of a pair (alone, joined, the previous question's own with its quoted "
            "sentences: the most a question costs): p50 "
            f"{statistics.median(ms):.0f} ms, p95 {ms[int(0.95 * len(ms))]:.0f} ms.")
    if args.cost and retriever is not None:
        body += ("\n\n### What one question costs (issue 12.3)\n\nCaps in qa/config.py: question "
                 f"{Settings().max_question_chars} characters, {Settings().max_history_items} earlier questions of "
                 f"{Settings().max_history_chars} characters each; longer input is cut with a notice. Machine load "
                 f"average while timing: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (shared machine: compare "
                 "rows, not machines).\n\n"
                 + cost(retriever, embedder))
    print(body)
    if args.write:
        update_section(args.section, body)


if __name__ == "__main__":
    main()
