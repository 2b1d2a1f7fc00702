"""The `qa` console script in a subprocess (hash model): exit codes, one-line errors, --json, filters."""

from __future__ import annotations

import json
import re

import pytest

from qa import storage

pytestmark = pytest.mark.slow  # subprocesses (see the marker in pyproject.toml)

ARTICLES = {
    "harbour.md": ("Harbour Bridge Reopens", "City Daily", "2024-03-01",
                   ["The Harbour Bridge reopened on Monday after eight months of repairs, officials said.",
                    "Engineers replaced forty steel cables and resurfaced the bridge deck under budget."]),
    "ferry.md": ("Ferry Timetable Changes", "Harbour News", "2024-06-20",
                 ["The harbour ferry will run every ten minutes from June, the transport office said.",
                  "Tickets stay at the same price and the first month is free for island residents."]),
    "bridge-history.md": ("A Century of Bridges", "City Daily", "2023-01-10",
                          ["The first bridge across the harbour opened in 1923 and carried horse carts.",
                           "It was replaced in 1962 by the steel bridge that engineers repaired this year."]),
}
RESULT_KEYS = {"rank", "chunk_id", "article_id", "title", "source", "date", "url", "paragraph", "text", "score"}


def one_error_line(proc, *must_contain: str) -> str:
    assert proc.returncode not in (0, None), proc
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    for text in must_contain:
        assert text in lines[0], (text, lines[0])
    return lines[0]


@pytest.fixture(scope="module")
def built(tmp_path_factory, write_article, run_qa):
    root = tmp_path_factory.mktemp("cli")
    seeds, index = root / "seeds", root / "index"
    for name, (title, source, date, paras) in ARTICLES.items():
        write_article(seeds, name, title, paras, source=source, date=date, url=f"https://example.com/{name}")
    proc = run_qa("build", "--seeds", seeds, "--index", index, "--model", "hash")
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^3 articles read, 0 skipped, 0 duplicate; 6 passages: 6 embedded, 0 reused; "
                     r"flat index written to .* in [\d.]+ s$", proc.stdout.strip()), proc.stdout
    return seeds, index


def ask_json(run_qa, built, *args: str) -> dict:
    seeds, index = built
    proc = run_qa("ask", *args, "--seeds", seeds, "--index", index, "--model", "hash", "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


# --- errors: one line, names the path, exit code != 0, no traceback ---------------------------------

def test_empty_seeds_folder(tmp_path, run_qa):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.pdf").write_bytes(b"%PDF")  # not an article file
    proc = run_qa("build", "--seeds", tmp_path / "empty", "--index", tmp_path / "index", "--model", "hash")
    one_error_line(proc, f"no .md or .txt articles in {tmp_path / 'empty'}", "--seeds")
    assert not (tmp_path / "index" / "CURRENT").exists()


def test_missing_seeds_folder(tmp_path, run_qa):
    proc = run_qa("build", "--seeds", tmp_path / "nope", "--index", tmp_path / "index", "--model", "hash")
    one_error_line(proc, f"articles folder {tmp_path / 'nope'} does not exist")


def test_missing_index_for_ask(tmp_path, run_qa):
    proc = run_qa("ask", "联合国大会哪天通过了决议？", "--index", tmp_path / "noindex", "--model", "hash")
    one_error_line(proc, f"no index at {tmp_path / 'noindex'}", f"run `qa build --index {tmp_path / 'noindex'}`")


def test_unknown_model_folder(built, tmp_path, run_qa):
    seeds, _ = built
    proc = run_qa("build", "--seeds", seeds, "--index", tmp_path / "index", "--model", tmp_path / "no-model")
    one_error_line(proc, f"model folder '{tmp_path / 'no-model'}' does not exist", "hash")
    assert not (tmp_path / "index" / "CURRENT").exists()


def test_index_built_with_another_model(built, run_qa):
    seeds, index = built
    proc = run_qa("ask", "bridge", "--seeds", seeds, "--index", index, "--model", "hash-64")
    one_error_line(proc, "built with model 'hash'", "'hash-64'", "qa build")


def test_bad_date_filter(built, run_qa):
    seeds, index = built
    proc = run_qa("ask", "bridge", "--seeds", seeds, "--index", index, "--model", "hash", "--since", "2024-13-01")
    one_error_line(proc, "--since '2024-13-01' is not a date", "YYYY-MM-DD")


def test_locked_index(built, tmp_path, run_qa):
    seeds, index = built
    with storage.build_lock(index):
        proc = run_qa("build", "--seeds", seeds, "--index", index, "--model", "hash")
    one_error_line(proc, str(index), "another `qa build`")


def test_strict_build_fails_on_a_skipped_file(tmp_path, write_article, run_qa):
    seeds = tmp_path / "seeds"
    write_article(seeds, "good.md", "Good", ["A perfectly ordinary article about the harbour and its ferries."])
    (seeds / "bad.md").write_bytes(b"\x00\x01\x02 binary")
    args = ("build", "--seeds", seeds, "--index", tmp_path / "index", "--model", "hash")
    lenient = run_qa(*args)
    assert lenient.returncode == 0
    assert "skipped bad.md: looks like a binary file" in lenient.stderr
    assert "1 article read, 1 skipped" in lenient.stdout
    strict = run_qa(*args, "--strict")
    assert strict.returncode == 1 and "Traceback" not in strict.stderr


# --- ask --json -----------------------------------------------------------------------------------

def test_ask_json_shape(built, run_qa):
    out = ask_json(run_qa, built, "steel cables on the bridge deck", "-k", "3")
    assert out["question"] == "steel cables on the bridge deck"
    assert len(out["results"]) == 3
    for rank, r in enumerate(out["results"], 1):
        assert set(r) >= RESULT_KEYS, RESULT_KEYS - set(r)
        assert r["rank"] == rank
        assert r["chunk_id"] == f"{r['article_id']}#p{r['paragraph']}"
        assert isinstance(r["score"], float) and isinstance(r["paragraph"], int)
    top = out["results"][0]
    assert (top["chunk_id"], top["title"], top["source"], top["date"], top["url"]) == (
        "harbour#p2", "Harbour Bridge Reopens", "City Daily", "2024-03-01", "https://example.com/harbour.md")
    assert top["text"] == ARTICLES["harbour.md"][3][1]
    scores = [r["score"] for r in out["results"]]
    assert scores == sorted(scores, reverse=True)


def test_ask_plain_text_cites_title_paragraph_and_url(built, run_qa):
    seeds, index = built
    proc = run_qa("ask", "steel cables on the bridge deck", "--seeds", seeds, "--index", index, "--model", "hash")
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^\[1\] Harbour Bridge Reopens — City Daily · 2024-03-01 — ¶2 \(score [\d.]+\)$",
                     proc.stdout, re.M), proc.stdout
    assert "https://example.com/harbour.md" in proc.stdout


def test_ask_filters(built, run_qa):
    def articles(*args):
        return {r["article_id"] for r in ask_json(run_qa, built, "harbour bridge ferry", "-k", "10", *args)["results"]}

    assert articles() == {"harbour", "ferry", "bridge-history"}
    assert articles("--source", "city daily") == {"harbour", "bridge-history"}
    assert articles("--since", "2024-01-01") == {"harbour", "ferry"}
    assert articles("--until", "2024-03-01") == {"harbour", "bridge-history"}
    assert articles("--source", "City", "--since", "2024-01-01", "--until", "2024-12-31") == {"harbour"}
    assert ask_json(run_qa, built, "bridge", "--source", "Nobody")["results"] == []


# --- check ------------------------------------------------------------------------------------------

def test_check_fresh_then_stale(tmp_path, write_article, run_qa):
    seeds, index = tmp_path / "seeds", tmp_path / "index"
    write_article(seeds, "a.md", "A", ["An article about the harbour bridge and the cables that hold it up."])
    args = ("--seeds", seeds, "--index", index, "--model", "hash")
    missing = run_qa("check", *args)
    assert missing.returncode == 1 and f"no index at {index}" in missing.stderr
    assert run_qa("build", *args).returncode == 0
    fresh = run_qa("check", *args)
    assert fresh.returncode == 0, fresh.stderr
    assert f"index {index} is up to date: 1 article, 1 passage, model hash" in fresh.stdout
    write_article(seeds, "b.md", "B", ["A second article, this one about the ferry and its new timetable."])
    stale = run_qa("check", *args)
    assert stale.returncode == 1
    assert "stale: 1 new article file(s) since the build, e.g. b.md" in stale.stderr
    assert f"run `qa build --index {index}`" in stale.stderr
    assert "Traceback" not in stale.stderr
    rebuilt = run_qa("build", *args)
    assert "2 passages: 1 embedded, 1 reused" in rebuilt.stdout
    assert run_qa("check", *args).returncode == 0
    again = run_qa("build", *args)
    assert "0 embedded, 2 reused" in again.stdout and "unchanged" in again.stdout


# --- the terminal: help, history, chat, pipes, untrusted text --------------------------------------------------

def test_help_shows_the_real_defaults(run_qa):
    from qa.config import DEFAULT_MODEL, Settings

    d = Settings()
    out = " ".join(run_qa("ask", "--help").stdout.split())  # argparse wraps lines
    for text in (f"default {DEFAULT_MODEL}", f"default {d.k})", f"default {d.mode})", "--history PREV"):
        assert text in out, text
    assert "default e5-small;" not in out
    assert f"default {d.port})" in " ".join(run_qa("serve", "--help").stdout.split())
    assert "chat" in run_qa("--help").stdout


def test_ask_with_history(built, run_qa):
    plain = ask_json(run_qa, built, "When did it reopen?")
    assert plain["context_used"] is False and plain["searched_for"] == "When did it reopen?"
    out = ask_json(run_qa, built, "When did it reopen?", "--history", "Tell me about the ferry timetable",
                   "--history", "What happened to the Harbour Bridge?")
    assert out["question"] == "When did it reopen?"
    # "Searched for" is the question itself exactly when no context was used
    assert (out["searched_for"] == out["question"]) is (out["context_used"] is False)
    if out["context_used"]:
        assert out["searched_for"].startswith("What happened to the Harbour Bridge?")


def test_plain_answer_prints_an_articles_url_once(built, run_qa):
    seeds, index = built
    proc = run_qa("ask", "harbour bridge ferry", "-k", "6", "--seeds", seeds, "--index", index, "--model", "hash")
    assert proc.returncode == 0, proc.stderr
    for name in ARTICLES:
        assert proc.stdout.count(f"https://example.com/{name}") == 1, (name, proc.stdout)
    assert re.search(r"^\[6\] ", proc.stdout, re.M)


def test_chat_reads_questions_until_end_of_input(built, run_qa, qa_command, clean_env):
    import subprocess

    seeds, index = built
    proc = subprocess.run([*qa_command, "chat", "--seeds", str(seeds), "--index", str(index), "--model", "hash",
                           "-k", "2"], input="steel cables on the bridge deck\n\n/new\nferry tickets\n",
                          capture_output=True, text=True, env=clean_env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout.count("[1] ") == 2 and proc.stdout.count("[2] ") == 2
    assert "(new conversation)" in proc.stdout
    assert proc.stdout.index("Harbour Bridge Reopens") < proc.stdout.index("Ferry Timetable Changes")


def test_closed_pipe_ends_quietly(built, qa_command, clean_env, tmp_path):
    import shlex
    import subprocess

    seeds, index = built
    questions = tmp_path / "questions.txt"
    questions.write_text("harbour bridge ferry\n" * 300, encoding="utf-8")
    cmd = " ".join(shlex.quote(str(x)) for x in [*qa_command, "chat", "--seeds", seeds, "--index", index,
                                                   "--model", "hash", "-k", "6"])
    proc = subprocess.run(["bash", "-c", f"{cmd} < {shlex.quote(str(questions))} 2>{tmp_path / 'err'} | head -n 1"],
                          capture_output=True, text=True, env=clean_env, timeout=300)
    assert proc.stdout.count("\n") == 1
    err = (tmp_path / "err").read_text()
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


def test_terminal_output_escapes_control_characters(tmp_path, write_article, run_qa):
    # a file holding ESC reads as binary; C1 controls (0x9b is CSI on its own) and bidi overrides pass as text,
    # and a file name can hold anything
    seeds, index = tmp_path / "seeds", tmp_path / "index"
    write_article(seeds, "evil.md", "Title \u202e here", ["Screen \x9b2J cleared and \u202etxt.exe"
                                                       " reversed in this harbour story paragraph."],
                  source="Evil \u2066 Daily", url="https://example.com/evil")
    (seeds / "news\x1b]0;pwned\x07.md").write_text("A harbour story without front matter, told twice over here.\n",
                                                     encoding="utf-8")
    (seeds / "bad\x1b[31mname.md").write_bytes(b"\x00\x01\x02 binary")
    build = run_qa("build", "--seeds", seeds, "--index", index, "--model", "hash")
    assert build.returncode == 0, build.stderr
    assert "bad\\x1b[31mname.md" in build.stderr and "\x1b" not in build.stderr
    assert "2 articles read" in build.stdout
    ask = run_qa("ask", "harbour story", "--seeds", seeds, "--index", index, "--model", "hash")
    assert ask.returncode == 0, ask.stderr
    for raw in ("\x1b", "\x07", "\x9b", "\u202e"):
        assert raw not in ask.stdout, repr(raw)
    assert "\\u202e" in ask.stdout and "\\x9b" in ask.stdout
    data = run_qa("ask", "harbour story", "--json", "--seeds", seeds, "--index", index, "--model", "hash").stdout
    assert not any(c in data for c in "\x1b\x07\x9b\u202e")
    assert json.loads(data)["results"]


def test_check_says_one_article(tmp_path, write_article, run_qa):
    seeds, index = tmp_path / "seeds", tmp_path / "index"
    write_article(seeds, "one.md", "One", ["A single short article about the harbour ferry and its timetable."])
    build = run_qa("build", "--seeds", seeds, "--index", index, "--model", "hash")
    assert "1 article read" in build.stdout and "1 passage:" in build.stdout, build.stdout
    check = run_qa("check", "--seeds", seeds, "--index", index, "--model", "hash")
    assert "1 article, 1 passage, " in check.stdout, check.stdout


def test_no_loader_noise_at_start(clean_env):
    # the page configures logging at INFO (app.py) before FAISS loads: faiss's loader then logged nine
    # "Could not load library with AVX512 support … ModuleNotFoundError" lines at every start
    import subprocess
    import sys

    code = ("import logging; logging.basicConfig(level=logging.INFO); from qa import dense; import numpy as np; "
            "dense.search(dense.build(np.ones((2, 4), np.float32)), np.ones(4, np.float32), 1)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=clean_env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Could not load library" not in proc.stderr and "faiss.loader" not in proc.stderr, proc.stderr
