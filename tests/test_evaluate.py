"""`qa eval`: metric arithmetic on a hand-made corpus, runs file, bad input, and a real eval set."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from qa.cli import main
from qa.errors import InputError
from qa.evaluate import corpus_retriever, evaluate, read_jsonl

CORPUS = [
    {"id": "d1", "title": "Orchard", "text": "apple banana cherry orchard harvest"},
    {"id": "d2", "title": "Pie", "text": "apple pie recipe with butter"},
    {"id": "d3", "title": "Volcano", "text": "volcano eruption island ash"},
    {"id": "d4", "title": "Timetable", "text": "ferry timetable harbour"},
    {"id": "d5", "title": "Tickets", "text": "ferry tickets harbour island residents"},
]
# (question, gold, expected keyword ranking): the rankings are asserted too, so the metrics below
# are computed from a known premise.
QUERIES = [
    ("q1", "banana cherry", ["d1"], ["d1"]),  # first
    ("q2", "apple banana", ["d2"], ["d1", "d2"]),  # second
    ("q3", "volcano ash", ["d4"], ["d3"]),  # missed
    ("q4", "ferry harbour", ["d4", "d5"], ["d4", "d5"]),  # both golds, first and second
    ("q5", "ferry harbour", ["d5", "d3"], ["d4", "d5"]),  # one of two golds, second
]
L3 = 1 / math.log2(3)  # discount at rank 2


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def tiny(tmp_path):
    corpus = write_jsonl(tmp_path / "corpus.jsonl", CORPUS)
    queries = write_jsonl(tmp_path / "queries.jsonl",
                          [{"id": i, "question": q, "gold_ids": g, "answers": []} for i, q, g, _ in QUERIES])
    return corpus, queries


def test_metrics_on_a_hand_made_corpus(tmp_path):
    retriever, _ = corpus_retriever(CORPUS, None, tmp_path / "cache")
    queries = [{"id": i, "question": q, "gold_ids": g} for i, q, g, _ in QUERIES]
    result = evaluate(retriever, queries, k=10, mode="keyword")
    assert result.runs == [{"id": i, "ranked": ranked} for i, _, _, ranked in QUERIES]
    m = result.metrics
    assert m["queries"] == 5 and m["mode"] == "keyword"
    assert m["hit@1"] == pytest.approx(2 / 5)
    assert m["hit@5"] == pytest.approx(4 / 5)
    assert m["mrr@10"] == pytest.approx((1 + 0.5 + 0 + 1 + 0.5) / 5)
    assert m["recall@10"] == pytest.approx((1 + 1 + 0 + 1 + 0.5) / 5)
    assert m["ndcg@10"] == pytest.approx((1 + L3 + 0 + 1 + L3 / (1 + L3)) / 5)
    assert m["latency_ms_p95"] >= m["latency_ms_p50"] >= 0


def test_k_cuts_the_runs_but_not_the_metrics(tmp_path):
    retriever, _ = corpus_retriever(CORPUS, None, tmp_path / "cache")
    result = evaluate(retriever, [{"id": "q2", "question": "apple banana", "gold_ids": ["d2"]}], k=1, mode="keyword")
    assert result.runs == [{"id": "q2", "ranked": ["d1"]}]
    assert result.metrics["mrr@10"] == pytest.approx(0.5)


def test_cli_eval_json_and_runs_file(tiny, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("QA_CACHE", str(tmp_path / "cache"))
    corpus, queries = tiny
    runs = tmp_path / "runs.jsonl"
    code = main(["eval", "--corpus", str(corpus), "--queries", str(queries), "--mode", "keyword", "--json",
                 "--runs", str(runs), "--quiet"])
    assert code == 0
    m = json.loads(capsys.readouterr().out)
    assert m["mrr@10"] == pytest.approx(0.6) and m["passages"] == 5 and m["model"] is None
    lines = runs.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(QUERIES)
    assert [json.loads(line) for line in lines] == [{"id": i, "ranked": r} for i, _, _, r in QUERIES]


def test_cli_eval_limit(tiny, capsys):
    corpus, queries = tiny
    assert main(["eval", "--corpus", str(corpus), "--queries", str(queries), "--mode", "keyword", "--json",
                 "--limit", "2", "--quiet"]) == 0
    m = json.loads(capsys.readouterr().out)
    assert m["queries"] == 2 and m["mrr@10"] == pytest.approx(0.75)


def test_corpus_line_that_is_not_json_names_file_and_line(tmp_path):
    path = tmp_path / "corpus.jsonl"
    path.write_text('{"id": "d1", "text": "fine"}\n\n{"id": "d2", "text": oops}\n', encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_jsonl(path, ("id", "text"))
    assert str(err.value).startswith(f"{path}:3 is not valid JSON")
    assert "fix or remove that line" in str(err.value)


def test_bad_corpus_line_is_one_error_line_from_the_cli(tmp_path, capsys, tiny):
    _, queries = tiny
    corpus = tmp_path / "broken.jsonl"
    corpus.write_text('{"id": "d1", "text": "fine"}\nnot json at all\n', encoding="utf-8")
    assert main(["eval", "--corpus", str(corpus), "--queries", str(queries), "--mode", "keyword"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {corpus}:2 is not valid JSON (Expecting value): fix or remove that line"]


@pytest.mark.parametrize(("content", "message"), [
    ('{"id": "q1", "question": "x"}\n', ":1 lacks gold_ids"),
    ("\n\n", "is empty"),
])
def test_queries_file_problems(tmp_path, content, message):
    path = tmp_path / "queries.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        read_jsonl(path, ("id", "question", "gold_ids"))


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_jsonl(tmp_path / "nope.jsonl", ("id",))


@pytest.mark.slow
def test_keyword_eval_on_xquad_zh(eval_dir, run_qa):
    folder = eval_dir / "xquad-zh"
    if not (folder / "corpus.jsonl").is_file():
        pytest.skip(f"{folder} is absent (../shared/eval beside the checkout)")
    proc = run_qa("eval", "--corpus", folder / "corpus.jsonl", "--queries", folder / "queries.jsonl",
                  "--mode", "keyword", "--limit", "50", "--json", "--quiet")
    assert proc.returncode == 0, proc.stderr
    m = json.loads(proc.stdout)
    assert m["queries"] == 50 and m["passages"] == 240
    assert m["mrr@10"] > 0.8, m
