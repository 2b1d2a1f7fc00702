"""One contract for every store (qa/store/): local files, Milvus Lite embedded, Milvus Lite over gRPC, and
the real Milvus 2.3.5 server (dense only: it has no BM25). Plus bad input and a SIGKILLed build.

The servers are real processes on 127.0.0.1 and free ports (tests/milvus_servers.py), one per session
(the `lite_uri` and `server_uri` fixtures in conftest.py), stopped even when a test fails. The hash model keeps embedding instant; the stores are what is tested.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from qa import store
from qa.embedding import load_embedder
from qa.errors import IndexError_, InputError, QAError
from qa.index import build
from qa.search import Filters, Retriever

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")
from tests.milvus_servers import ROOT_TOKEN, free_port  # noqa: E402

pytestmark = pytest.mark.slow
KINDS = ("local", "lite", "lite-grpc", "server")
_names = itertools.count()


@pytest.fixture(params=KINDS)
def spec(request, tmp_path, monkeypatch):
    """The --store value of each kind; every test gets its own collections (QA_MILVUS_COLLECTION)."""
    monkeypatch.setenv("QA_MILVUS_COLLECTION", f"t{os.getpid()}_{next(_names)}")
    monkeypatch.setenv("QA_MILVUS_TOKEN", ROOT_TOKEN)
    kind = request.param
    value = {"local": lambda: "local", "lite": lambda: str(tmp_path / "index.db"),
             "lite-grpc": lambda: request.getfixturevalue("lite_uri"),
             "server": lambda: request.getfixturevalue("server_uri")}[kind]()
    yield value
    if kind == "lite":  # the .db admits one client; servers keep theirs (a reconnect per test is slow)
        from qa.store import milvus

        milvus.forget(value)


def _articles(seeds: Path, write_article) -> None:
    write_article(seeds, "un.md", "联合国气候大会", ["联合国气候变化大会在迪拜开幕，各国代表讨论减排目标。",
                                                 "秘书长古特雷斯呼吁各国加快行动，减少化石燃料。"],
                  source="新华社", date="2024-12-01")
    write_article(seeds, "typhoon.md", "台风登陆广东", ["强台风今天在广东湛江登陆，带来狂风暴雨，多地停课。"],
                  source="Reuters 路透", date="2024-08-01")
    write_article(seeds, "beijing.md", "北京天气", ["北京今天晴转多云，气温回升，适合户外活动。"],
                  source="BBC", date="2023-01-05")


@pytest.fixture
def built(spec, tmp_path, write_article, hash_settings):
    seeds = tmp_path / "seeds"
    _articles(seeds, write_article)
    settings = hash_settings(seeds, tmp_path / "embeddings", store=spec, cache=tmp_path / "cache")
    return settings, build(settings)


def _retriever(settings) -> Retriever:
    return Retriever(store.load(settings), load_embedder(settings.model))


def test_dense_search_filters_and_records(built):
    settings, report = built
    assert (report.articles, report.chunks) == (3, 3)
    r = _retriever(settings)
    assert len(r) == 3
    hits = r.search("台风在广东登陆", 3, "dense")
    assert hits[0].title == "台风登陆广东" and hits[0].source == "Reuters 路透" and "湛江" in hits[0].text
    assert [h.title for h in r.search("天气", 3, "dense", Filters(source="路透"))] == ["台风登陆广东"]
    assert [h.title for h in r.search("天气", 3, "dense", Filters(source="reuters"))] == ["台风登陆广东"]
    assert r.search("天气", 3, "dense", Filters(source="人民日报")) == []
    assert {h.title for h in r.search("天气", 3, "dense", Filters(since="2024-01-01"))} == \
        {"台风登陆广东", "联合国气候大会"}
    assert [h.title for h in r.search("天气", 3, "dense", Filters(until="2023-12-31"))] == ["北京天气"]
    article = r.store.articles[hits[0].article_id]
    assert article["title"] == "台风登陆广东" and article["paths"] == ["typhoon.md"]
    assert r.store.generation() == store.current(settings)
    if settings.store != "local":  # gotcha: Lite silently drops index parameters that are not nested
        from qa.store import milvus

        desc = milvus.client(settings.store).describe_index(r.store.manifest["collections"]["passages"], "vector")
        params = desc.get("params", desc)
        params = json.loads(params) if isinstance(params, str) else params
        assert int(params.get("M", desc.get("M", 0))) == 32, desc


def test_keyword_and_hybrid(built):
    settings, _ = built
    r = _retriever(settings)
    if settings.store.startswith("http") and not r.store.manifest.get("bm25", True):
        with pytest.raises(IndexError_, match=r"2\.5"):
            r.search("台风", 3, "keyword")
        with pytest.raises(IndexError_, match="--mode dense"):
            r.search("台风", 3, "hybrid")
        return
    for mode in ("keyword", "hybrid"):
        hits = r.search("台风登陆", 3, mode)
        assert hits[0].title == "台风登陆广东", mode
    kw = r.search("台风登陆", 3, "keyword")
    assert kw[0].keyword_score > 0  # positive, on the local store's scale (Lite's come back negated)
    assert [h.title for h in r.search("气候", 3, "keyword", Filters(source="BBC"))] == []
    assert r.store.coverage(["台风", "zzzqqq"]) == 0.5
    assert set(r.store.idf(["台风", "zzzqqq"])) == {"台风"}
    # traditional characters and full-width letters are folded on both sides
    assert r.search("颱風登陸", 1, "keyword")[0].title == "台风登陆广东"


def test_incremental_build(built, write_article):
    settings, _ = built
    before = store.current(settings)
    again = build(settings)
    assert again.unchanged and store.current(settings) == before
    write_article(settings.seeds, "typhoon.md", "台风登陆福建", ["强台风今天在福建厦门登陆，航班取消。"],
                  source="Reuters 路透", date="2024-08-02")
    (settings.seeds / "beijing.md").unlink()
    report = build(settings)
    assert (report.articles, report.chunks, report.embedded) == (2, 2, 1)
    assert store.current(settings) != before
    r = _retriever(settings)
    assert len(r) == 2
    titles = [h.title for h in r.search("台风 北京 天气", 5, "dense")]
    assert sorted(titles) == ["台风登陆福建", "联合国气候大会"]  # the old typhoon and Beijing rows are gone
    assert "厦门" in r.search("厦门台风", 1, "dense")[0].text


def test_other_model_is_refused(built):
    settings, _ = built
    with pytest.raises(IndexError_, match="was built with model 'hash'"):
        Retriever(store.load(settings), load_embedder("hash-64"))


def test_evidence_verbs(built):
    """What evidence, abstention and follow-ups ask of a store: stored vectors, the top BM25 score, and
    whether there is a keyword side at all (the 2.3.5 server has none: 0, not an error)."""
    settings, _ = built
    r = _retriever(settings)
    hits = r.search("台风在广东登陆", 3, "dense")
    rows = [h.row for h in hits]
    got = r.store.vectors(rows)
    want = r.embedder.embed_documents([h.text for h in hits])
    assert got.shape == want.shape and abs(got - want).max() < 1e-5
    assert r.store.vectors([]).shape[0] == 0
    assert r.store.has_keywords == (settings.store == "local" or bool(r.store.manifest.get("bm25")))
    if r.store.has_keywords:
        assert r.store.best_keyword(["台风"]) > 0 and r.store.best_keyword(["zzzqqq"]) == 0
    else:
        assert r.store.best_keyword(["台风"]) == 0 and r.store.idf(["台风"]) == {}


def test_answers_and_follow_ups_match_local(built, hash_settings, tmp_path):
    """An Asker over each store answers as over local files: same passages, evidence, abstention and
    follow-up decision (dense on a server without BM25, where a follow-up used to need FAISS)."""
    import dataclasses

    from qa.answer import Asker

    settings, _ = built
    mode = "dense" if settings.store.startswith("http") and not _retriever(settings).store.has_keywords else "hybrid"
    local = hash_settings(settings.seeds, tmp_path / "local-index", cache=tmp_path / "cache")
    build(local)
    askers = [Asker.open(dataclasses.replace(s, mode=mode)) for s in (local, settings)]

    def seen(asker: Asker, question: str, history: list[str]) -> dict:
        a = asker.ask(question, history).as_json()
        return {"ids": [h["chunk_id"] for h in a["results"]], "abstained": a["abstained"],
                "evidence": [e["text"] for e in a["evidence"]], "context_used": a["context_used"],
                "relevance": a["relevance"]}

    # "为什么？" alone is out of scope and joined in scope: the decision reads the top passage's stored vector
    for question, history in (("台风在哪里登陆", []), ("那北京呢", ["台风在哪里登陆"]), ("为什么？", ["台风登陆广东"]),
                              ("古特雷斯呼吁什么", []), ("How do I bake sourdough bread?", [])):
        a, b = (seen(x, question, history) for x in askers)
        assert a["relevance"] == pytest.approx(b["relevance"], abs=1e-3), question
        assert {**a, "relevance": None} == {**b, "relevance": None}, question


# ---- bad input: one line naming the store and the fix ----

def test_unknown_store_spec(hash_settings, tmp_path):
    with pytest.raises(InputError, match=r"\.db"):
        store.load(hash_settings(tmp_path, tmp_path / "i", store="mysql://x"))


def test_unreachable_server(hash_settings, tmp_path):
    uri = f"http://127.0.0.1:{free_port()}"
    t = time.monotonic()
    with pytest.raises(IndexError_, match="cannot reach Milvus at " + uri):
        store.load(hash_settings(tmp_path, tmp_path / "i", store=uri))
    assert time.monotonic() - t < 60  # bounded by the client timeout, not hanging


def test_missing_collection(hash_settings, tmp_path, monkeypatch):
    monkeypatch.setenv("QA_MILVUS_COLLECTION", "nothing_here")
    db = str(tmp_path / "empty.db")
    try:
        with pytest.raises(IndexError_, match=r"no newsqa index .* run `qa build --store "):
            store.load(hash_settings(tmp_path, tmp_path / "i", store=db))
    finally:
        from qa.store import milvus

        milvus.forget(db)


def test_wrong_token(server_uri, hash_settings, tmp_path, monkeypatch):
    from qa.store import milvus

    monkeypatch.setenv("QA_MILVUS_TOKEN", "root:wrong-password")
    milvus.forget(server_uri)
    try:
        with pytest.raises(QAError, match="QA_MILVUS_TOKEN"):
            store.load(hash_settings(tmp_path, tmp_path / "i", store=server_uri))
    finally:
        milvus.forget(server_uri)


def test_cli_errors_are_one_line_exit_2(run_qa, tmp_path):
    uri = f"http://127.0.0.1:{free_port()}"
    for args in (["ask", "台风", "--store", uri, "--model", "hash"], ["check", "--store", uri],
                 ["ask", "台风", "--store", "mysql://x", "--model", "hash"]):
        r = run_qa(*args, "--seeds", str(tmp_path))
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr.count("\n") <= 1 and r.stderr.startswith("error: ") and "Traceback" not in r.stderr


def test_sigkill_during_build_leaves_previous_state(server_uri, tmp_path, write_article, hash_settings,
                                                    qa_command, clean_env, monkeypatch):
    """Kill -9 a build while it writes into the real server: readers keep the last published state, and
    the next build finishes the job."""
    name = f"kill{os.getpid()}"
    monkeypatch.setenv("QA_MILVUS_COLLECTION", name)
    monkeypatch.setenv("QA_MILVUS_TOKEN", ROOT_TOKEN)
    seeds = tmp_path / "seeds"
    _articles(seeds, write_article)
    settings = hash_settings(seeds, tmp_path / "embeddings", store=server_uri, cache=tmp_path / "cache")
    build(settings)
    before = store.current(settings)
    for i in range(1500):  # enough batches that the kill lands while rows are being written
        write_article(seeds, f"bulk/{i:04d}.md", f"批量文章{i}", [f"第{i}篇 测试段落，内容关于城市{i}的交通和天气。" * 3])
    env = {**clean_env, "QA_MILVUS_COLLECTION": name, "QA_MILVUS_TOKEN": ROOT_TOKEN}
    proc = subprocess.Popen([*qa_command, "build", "--store", server_uri, "--seeds", str(seeds), "--model", "hash",
                             "--quiet"], env={**env, "QA_CACHE": str(tmp_path / "cache")},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    from qa.store import milvus

    c = milvus.client(server_uri)
    manifest = milvus.read_manifest(c, server_uri)
    passages = manifest["collections"]["passages"]
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            got = c.query(passages, filter=f"gen > {manifest['published']}", output_fields=["count(*)"],
                          consistency_level="Strong")
            if got and got[0]["count(*)"] > 0:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the build finished before it could be killed: give it more articles"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    assert store.current(settings) == before
    r = _retriever(settings)
    assert len(r) == 3
    assert sorted(h.title for h in r.search("城市 交通", 10, "dense")) == ["北京天气", "台风登陆广东", "联合国气候大会"]
    report = build(settings)
    assert report.articles == 1503 and store.current(settings) != before
    r = _retriever(settings)
    assert len(r) == 1503
    assert r.search("测试段落 城市 交通", 1, "dense")[0].title.startswith("批量文章")


def test_cli_build_and_ask_through_lite(run_qa, tmp_path, write_article):
    """The flags end to end: `qa build --store x.db`, `qa check`, `qa ask --json` (keys as for local)."""
    seeds = tmp_path / "seeds"
    _articles(seeds, write_article)
    db = str(tmp_path / "cli.db")
    common = ["--store", db, "--seeds", str(seeds), "--model", "hash"]
    env = {"QA_CACHE": str(tmp_path / "cache")}
    r = run_qa("build", *common, env=env)
    assert r.returncode == 0, r.stderr
    assert run_qa("check", *common, env=env).returncode == 0
    r = run_qa("ask", "台风在哪里登陆", *common, "--json", env=env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["results"][0]["title"] == "台风登陆广东"
    (seeds / "beijing.md").unlink()
    r = run_qa("check", *common, env=env)
    assert r.returncode == 1 and "deleted" in r.stderr + r.stdout


def test_lite_db_open_elsewhere_is_one_line(run_qa, tmp_path):
    from qa.store import milvus

    db = str(tmp_path / "held.db")
    milvus.client(db)  # this process holds the folder's lock
    try:
        r = run_qa("ask", "台风", "--store", db, "--model", "hash", "--seeds", str(tmp_path))
        assert r.returncode == 2 and "open in another process" in r.stderr and r.stderr.count("\n") <= 1
    finally:
        milvus.forget(db)


def test_moving_a_local_index_embeds_nothing(tmp_path, write_article, hash_settings, monkeypatch):
    seeds = tmp_path / "seeds"
    _articles(seeds, write_article)
    local = hash_settings(seeds, tmp_path / "embeddings", cache=tmp_path / "cache-a")
    assert build(local).embedded == 3
    db = str(tmp_path / "moved.db")
    monkeypatch.setenv("QA_MILVUS_COLLECTION", "moved")
    moved = hash_settings(seeds, tmp_path / "embeddings", store=db, cache=tmp_path / "cache-b")  # empty cache
    try:
        report = build(moved)
        assert (report.chunks, report.embedded) == (3, 0)
        assert _retriever(moved).search("台风", 1, "dense")[0].title == "台风登陆广东"
    finally:
        from qa.store import milvus

        milvus.forget(db)


_APP = """
import json, sys
from qa.answer import Asker
from qa.config import Settings
asker = Asker.open(Settings.load(seeds=sys.argv[1], model="hash", store=sys.argv[2]))
for line in sys.stdin:
    refreshed = asker.refresh()
    ans = asker.ask("台风在哪里登陆")
    print(json.dumps({"refreshed": refreshed, "generation": asker.generation,
                      "results": [[h["title"], h["text"], h["score"]] for h in ans.as_json()["results"]]},
                     ensure_ascii=False), flush=True)
"""


def test_two_app_processes_over_one_server(lite_uri, tmp_path, write_article, hash_settings, clean_env,
                                           monkeypatch):
    """Stateless app: two processes over one server answer identically, and both pick up a new build."""
    import sys

    name = f"apps{os.getpid()}"
    monkeypatch.setenv("QA_MILVUS_COLLECTION", name)
    seeds = tmp_path / "seeds"
    _articles(seeds, write_article)
    settings = hash_settings(seeds, tmp_path / "embeddings", store=lite_uri, cache=tmp_path / "cache")
    build(settings)
    env = {**clean_env, "QA_MILVUS_COLLECTION": name}
    apps = [subprocess.Popen([sys.executable, "-c", _APP, str(seeds), lite_uri], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
            for _ in range(2)]

    def ask() -> list[dict]:
        out = []
        for app in apps:
            app.stdin.write("ask\n")
            app.stdin.flush()
            out.append(json.loads(app.stdout.readline()))
        return out

    try:
        first = ask()
        assert first[0] == first[1] and first[0]["results"][0][0] == "台风登陆广东"
        write_article(seeds, "typhoon.md", "台风登陆福建", ["强台风今天在福建厦门登陆，航班取消。"],
                      source="Reuters 路透", date="2024-08-02")
        build(settings)
        second = ask()
        assert second[0] == second[1] and second[0]["refreshed"]
        assert second[0]["generation"] != first[0]["generation"]
        assert second[0]["results"][0][0] == "台风登陆福建"
    finally:
        for app in apps:
            app.stdin.close()
            try:
                app.wait(30)
            except subprocess.TimeoutExpired:
                app.kill()
                app.wait(10)


def test_kill_between_publish_and_cleanup(built, write_article, monkeypatch):
    """A build killed after its manifest flip but before deleting the replaced rows: readers already see
    only the new version (the manifest retires the old rows), and the next build deletes them."""
    settings, _ = built
    if settings.store == "local":
        pytest.skip("the local store swaps a whole generation (tests/test_index.py)")
    from qa.store import milvus, milvus_build

    finish = milvus_build._finish
    calls = []

    def finish_once(c, manifest):  # the first call cleans up before the build; the last one is "killed"
        calls.append(manifest["published"])
        return finish(c, manifest) if len(calls) == 1 else manifest

    monkeypatch.setattr(milvus_build, "_finish", finish_once)
    write_article(settings.seeds, "typhoon.md", "台风登陆福建", ["强台风今天在福建厦门登陆，航班取消。"],
                  source="Reuters 路透", date="2024-08-02")
    build(settings)
    c = milvus.client(settings.store)
    manifest = milvus.read_manifest(c, settings.store)
    assert manifest["retired"], "the flip names the replaced article"
    passages = manifest["collections"]["passages"]
    assert c.query(passages, filter="gen >= 0", output_fields=["count(*)"],
                   consistency_level="Strong")[0]["count(*)"] == 4  # old rows still there
    r = _retriever(settings)
    assert len(r) == 3
    assert sorted(h.title for h in r.search("台风", 5, "dense")) == ["北京天气", "台风登陆福建", "联合国气候大会"]
    monkeypatch.setattr(milvus_build, "_finish", finish)
    assert build(settings).unchanged
    manifest = milvus.read_manifest(c, settings.store)
    assert not manifest["retired"]
    assert c.query(passages, filter="gen >= 0", output_fields=["count(*)"],
                   consistency_level="Strong")[0]["count(*)"] == 3
