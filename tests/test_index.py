"""`qa build` / `qa check` with the built-in hash model: layout, incremental, atomic, locked, mismatched."""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from qa import storage
from qa.answer import Asker
from qa.embedding import load_embedder
from qa.errors import IndexError_, IndexLockedError, SeedsError
from qa.index import build, check
from qa.search import Filters, Retriever
from qa.text import tokens
from qa.tokentable import TokenTable

PARAS = {
    "harbour.md": ("Harbour Bridge Reopens", "City Daily", "2024-03-01", [
        "The Harbour Bridge reopened on Monday after eight months of repairs, officials said at a ceremony.",
        "Engineers replaced forty steel cables and resurfaced the deck; the work came in under budget.",
    ]),
    "metro.md": ("地铁新线开通", "示例日报", "2024-05-10", [
        "市政府今天宣布，新的地铁线路将于下个月正式开通，沿线设有十二座车站，预计每天服务八万名乘客。",
        "交通局表示，新线路采用无人驾驶系统，高峰时段每四分钟发一班车，票价与现有的其他线路完全相同。",
        "部分沿线居民担心施工期间的噪音问题尚未完全解决，交通局承诺在年底前完成隔音墙工程并持续监测。",
    ]),
    "drought.md": ("Farmers Brace for Drought", "Rural Wire", "2023-08-15", [
        "Farmers in the valley are storing water and selling part of their herds as forecasters warn of drought.",
    ]),
}


def write_corpus(seeds: Path, write_article) -> None:
    for name, (title, source, date, paras) in PARAS.items():
        write_article(seeds, name, title, paras, source=source, date=date)


@pytest.fixture
def corpus(tmp_path, hash_settings, write_article):
    seeds, index = tmp_path / "seeds", tmp_path / "index"
    write_corpus(seeds, write_article)
    return hash_settings(seeds, index)


def live(index: Path) -> Path:
    return index / (index / "CURRENT").read_text().strip()


def chunk_ids(index: Path) -> list[str]:
    return [c["id"] for c in storage.read_jsonl(live(index) / "chunks.jsonl")]


# --- layout -----------------------------------------------------------------------------------------

def test_build_writes_a_complete_generation(corpus):
    report = build(corpus)
    assert (report.articles, report.chunks, report.embedded, report.reused) == (3, 6, 6, 0)
    assert not report.unchanged and report.skipped == [] and report.duplicates == []
    gens = sorted(p.name for p in corpus.index.glob("gen-*"))
    assert len(gens) == 1 and (corpus.index / "CURRENT").read_text().strip() == gens[0]
    gen = live(corpus.index)
    for name in storage.FILES:
        assert (gen / name).is_file(), name
    assert (gen / "bm25").is_dir() and any((gen / "bm25").iterdir())
    assert not (corpus.index / ".work").exists()

    manifest = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["format_version"] == storage.FORMAT_VERSION == 2
    assert manifest["model"] == {"model": "hash", "dim": 256}
    assert manifest["counts"] == {"articles": 3, "chunks": 6, "skipped": 0, "duplicates": 0,
                                  "embedded": 6, "reused": 0}
    assert manifest["files"] == {name: hashlib.sha256((corpus.seeds / name).read_bytes()).hexdigest()
                                 for name in PARAS}
    assert manifest["settings"]["max_chunk_chars"] == 400
    assert manifest["versions"]["faiss-cpu"] and manifest["normalized"] is True

    chunks = storage.read_jsonl(gen / "chunks.jsonl")
    articles = {a["id"]: a for a in storage.read_jsonl(gen / "articles.jsonl")}
    assert len(chunks) == 6 and set(articles) == {"harbour", "metro", "drought"}
    for c in chunks:  # every chunk's span points into its article's body
        body = "\n\n".join(articles[c["article_id"]]["paragraphs"])
        assert body[c["start"]:c["end"]] == c["text"]
    assert articles["metro"]["source"] == "示例日报" and articles["metro"]["date"] == "2024-05-10"
    vectors = np.load(gen / "vectors.npy")
    assert vectors.shape == (6, 256)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_built_index_loads_and_answers(corpus):
    build(corpus)
    stored = storage.load(corpus.index)
    retriever = Retriever(stored, load_embedder("hash"))
    hits = retriever.search("地铁新线路每天服务多少乘客？", k=3)
    assert hits[0].article_id == "metro" and hits[0].paragraph == 1
    hits = retriever.search("steel cables deck", k=3, mode="keyword")
    assert hits[0].chunk_id == "harbour#p2"


def test_filters_by_source_and_date(corpus):
    build(corpus)
    retriever = Asker.open(corpus).retriever
    only = {h.article_id for h in retriever.search("news", k=10, filters=Filters(source="rural"))}
    assert only == {"drought"}
    since = {h.article_id for h in retriever.search("news", k=10, filters=Filters(since="2024-03-01"))}
    assert since == {"harbour", "metro"}
    until = {h.article_id for h in retriever.search("news", k=10, filters=Filters(until="2024-03-01"))}
    assert until == {"harbour", "drought"}
    assert retriever.search("news", k=10, filters=Filters(source="nobody")) == []


# --- incremental ------------------------------------------------------------------------------------

def test_second_build_with_nothing_changed_is_unchanged(corpus):
    build(corpus)
    gen = live(corpus.index)
    again = build(corpus)
    assert again.unchanged
    assert (again.embedded, again.reused, again.articles, again.chunks) == (0, 6, 3, 6)
    assert live(corpus.index) == gen


def test_any_build_removes_a_generation_left_by_a_killed_build(corpus):
    # A build killed between its CURRENT swap and its clean-up leaves the older generation behind.
    build(corpus)
    gen = live(corpus.index)
    stray = corpus.index / "gen-20000101-000000-1-1"
    stray.mkdir()
    (stray / "vectors.npy").write_bytes(b"left over")
    assert build(corpus).unchanged
    assert sorted(p.name for p in corpus.index.glob("gen-*")) == [gen.name]


def test_an_unchanged_build_removes_batches_left_by_a_build_killed_after_its_swap(corpus):
    # Killed after publishing, before its clean-up: the next build finds nothing to do, and must still
    # not leave the dead build's embedded batches on disk (seen once in CI, in the kill test below).
    build(corpus)
    shard = corpus.index / ".work" / "some-model" / "shard-000001.json"
    shard.parent.mkdir(parents=True)
    shard.write_text("[]")
    assert build(corpus).unchanged
    assert not (corpus.index / ".work").exists()


def _assert_tokens_match_texts(index: Path) -> None:
    gen = live(index)
    table = TokenTable.load(gen / "tokens")
    chunks = storage.read_jsonl(gen / "chunks.jsonl")
    assert [table.tokens(i) for i in range(len(table))] == [tokens(c["text"]) for c in chunks]


def test_incremental_builds_keep_every_passages_tokens(corpus, write_article):
    build(corpus)
    _assert_tokens_match_texts(corpus.index)
    write_article(corpus.seeds, "metro.md", "地铁新线开通", ["新线全长二十公里，设十二座车站。", "首班车六点发出。"])
    (corpus.seeds / "drought.md").unlink()
    write_article(corpus.seeds, "extra.md", "港口扩建", ["港口三期工程今日动工，预计三年完成。"])
    assert not build(corpus).unchanged
    _assert_tokens_match_texts(corpus.index)


def test_index_of_the_previous_format_is_upgraded_without_embedding_again(corpus):
    # format 1 stored tokens as text (tokens.txt); its vectors are still reused
    build(corpus)
    gen = live(corpus.index)
    manifest = json.loads((gen / "manifest.json").read_text())
    shutil.rmtree(gen / "tokens")
    (gen / "tokens.txt").write_text("".join(" ".join(tokens(c["text"])) + "\n"
                                            for c in storage.read_jsonl(gen / "chunks.jsonl")))
    manifest["format_version"] = 1
    manifest["file_sizes"] = storage.file_sizes(gen)
    (gen / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexError_, match="old index format"):
        storage.load(corpus.index)
    report = build(corpus)
    assert not report.unchanged and (report.embedded, report.reused) == (0, 6)
    assert storage.load(corpus.index).manifest["format_version"] == storage.FORMAT_VERSION
    _assert_tokens_match_texts(corpus.index)


def test_changed_article_embeds_only_its_new_chunks(corpus, write_article):
    build(corpus)
    title, source, date, paras = PARAS["metro.md"]
    edited = [paras[0], "交通局表示，新线路将在明年增加两座车站，高峰时段每三分钟发一班车，票价保持不变。", paras[2]]
    write_article(corpus.seeds, "metro.md", title, edited, source=source, date=date)
    report = build(corpus)
    assert not report.unchanged
    assert (report.embedded, report.reused, report.chunks) == (1, 5, 6)
    chunks = storage.read_jsonl(live(corpus.index) / "chunks.jsonl")
    assert [c["text"] for c in chunks if c["id"] == "metro#p2"] == [edited[1]]
    manifest = json.loads((live(corpus.index) / "manifest.json").read_text())
    assert manifest["counts"]["embedded"] == 1 and manifest["counts"]["reused"] == 5


def test_reused_vectors_equal_fresh_ones(corpus, hash_settings, write_article):
    build(corpus)
    write_article(corpus.seeds, "new.md", "New", ["A brand new article about the harbour ferry timetable changes."])
    build(corpus)
    incremental = np.load(live(corpus.index) / "vectors.npy")
    ids = chunk_ids(corpus.index)
    fresh = hash_settings(corpus.seeds, corpus.index.parent / "fresh")
    build(fresh)
    full = np.load(live(fresh.index) / "vectors.npy")
    assert chunk_ids(fresh.index) == ids
    assert np.array_equal(incremental, full)


def test_deleted_article_disappears(corpus):
    build(corpus)
    (corpus.seeds / "metro.md").unlink()
    report = build(corpus)
    assert (report.articles, report.chunks, report.embedded, report.reused) == (2, 3, 0, 3)
    assert not any(i.startswith("metro#") for i in chunk_ids(corpus.index))
    stored = storage.load(corpus.index)
    assert "metro" not in stored.articles
    assert stored.faiss_index.ntotal == stored.keywords.num_docs == 3
    assert len(list(corpus.index.glob("gen-*"))) == 1  # the old generation is removed


def test_added_article_is_embedded_alone(corpus, write_article):
    build(corpus)
    write_article(corpus.seeds, "sub/ferry.md", "Ferry", [
        "The harbour ferry will run every ten minutes from June, the transport office announced on Friday.",
        "Tickets stay at the same price, and the first month is free for residents of the island.",
    ])
    report = build(corpus)
    assert (report.articles, report.embedded, report.reused) == (4, 2, 6)
    assert {"sub/ferry#p1", "sub/ferry#p2"} <= set(chunk_ids(corpus.index))


def test_duplicate_files_are_indexed_once_with_both_paths(corpus):
    (corpus.seeds / "copy_of_metro.md").write_bytes((corpus.seeds / "metro.md").read_bytes())
    report = build(corpus)
    assert report.articles == 3 and report.chunks == 6
    assert report.duplicates == [("metro.md", "copy_of_metro.md")]
    stored = storage.load(corpus.index)
    record = stored.articles["copy_of_metro"]
    assert record["paths"] == ["copy_of_metro.md", "metro.md"]
    assert "metro" not in stored.articles
    assert stored.manifest["counts"]["duplicates"] == 1
    assert set(stored.manifest["files"]) == set(PARAS) | {"copy_of_metro.md"}
    assert check(corpus).ok


def test_unreadable_file_is_skipped_with_its_reason(corpus):
    (corpus.seeds / "photo.md").write_bytes(b"\x89PNG\x00\x00\x00binary")
    report = build(corpus)
    assert report.articles == 3
    assert report.skipped == [("photo.md", "looks like a binary file, not text: only .md/.txt articles are indexed")]
    assert check(corpus).ok
    assert build(corpus).unchanged


def test_folder_with_only_bad_files_names_the_first_problem(tmp_path, hash_settings):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "a.md").write_text("微信扫一扫\n\n阅读原文\n", encoding="utf-8")
    with pytest.raises(SeedsError, match=r"none of the 1 files .* a\.md: has no article text"):
        build(hash_settings(seeds, tmp_path / "index"))
    assert not (tmp_path / "index" / "CURRENT").exists()


def test_other_model_rebuilds_every_vector(corpus, hash_settings):
    build(corpus)
    other = hash_settings(corpus.seeds, corpus.index, model="hash-64")
    report = build(other)
    assert (report.embedded, report.reused) == (6, 0)
    assert storage.load(corpus.index).faiss_index.d == 64


def test_changed_chunk_settings_rebuild(corpus, hash_settings):
    build(corpus)
    smaller = hash_settings(corpus.seeds, corpus.index, max_chunk_chars=60, min_chunk_chars=20)
    report = build(smaller)
    assert not report.unchanged and report.chunks > 6
    assert not check(corpus).ok


# --- check ------------------------------------------------------------------------------------------

def test_check_before_any_build(corpus):
    result = check(corpus)
    assert not result.ok
    assert str(corpus.index) in result.problems[0] and "qa build" in result.problems[0]


@pytest.mark.parametrize("change", ["edit", "add", "delete"])
def test_check_is_stale_after_a_change_and_ok_after_rebuild(corpus, change, write_article):
    build(corpus)
    assert check(corpus).ok and check(corpus).problems == []
    if change == "edit":
        with open(corpus.seeds / "drought.md", "a", encoding="utf-8") as f:
            f.write("\nRain is expected in September, the weather office said on Tuesday afternoon.\n")
    elif change == "add":
        write_article(corpus.seeds, "new.md", "New", ["A new article about ferries and the harbour."])
    else:
        (corpus.seeds / "harbour.md").unlink()
    result = check(corpus)
    assert not result.ok
    label = {"edit": "changed", "add": "new", "delete": "deleted"}[change]
    assert any(f"1 {label} article file(s)" in p for p in result.problems), result.problems
    build(corpus)
    assert check(corpus).ok


def test_check_agrees_with_build_on_the_model_name(corpus, hash_settings):
    """`qa build --model hash-256` twice says unchanged, so `qa check --model hash-256` must say ok."""
    settings = hash_settings(corpus.seeds, corpus.index, model="hash-256")
    build(settings)
    assert build(settings).unchanged
    assert check(settings).ok, check(settings).problems


def test_check_reports_a_model_mismatch(corpus, hash_settings):
    build(corpus)
    result = check(hash_settings(corpus.seeds, corpus.index, model="hash-64"))
    assert not result.ok
    assert result.problems == ["index was built with model 'hash', settings ask for 'hash-64'"]


# --- lock, mismatch, damage -------------------------------------------------------------------------

def test_held_lock_makes_a_second_build_fail_clearly(corpus):
    build(corpus)
    before = live(corpus.index)
    with storage.build_lock(corpus.index), pytest.raises(IndexLockedError) as err:
        build(corpus)
    msg = str(err.value)
    assert str(corpus.index) in msg
    assert f"pid {os.getpid()}" in msg
    assert "another `qa build`" in msg and "wait for it to finish" in msg
    assert live(corpus.index) == before
    assert build(corpus).unchanged  # the lock is released with the context


def test_model_mismatch_on_query_says_to_rebuild(corpus, hash_settings):
    build(corpus)
    with pytest.raises(IndexError_) as err:
        Asker.open(hash_settings(corpus.seeds, corpus.index, model="hash-64"))
    msg = str(err.value)
    assert "built with model 'hash'" in msg and "'hash-64' is selected" in msg
    assert "run `qa build`" in msg


def test_missing_index_says_how_to_build_it(tmp_path):
    with pytest.raises(IndexError_, match=r"no index at .*nowhere: run `qa build --index .*nowhere`"):
        storage.load(tmp_path / "nowhere")


@pytest.mark.parametrize("damage", ["missing faiss", "truncated faiss", "fewer chunks", "bad manifest",
                                    "newer format", "bad CURRENT"])
def test_damaged_index_is_refused_not_half_loaded(corpus, damage):
    build(corpus)
    gen = live(corpus.index)
    if damage == "missing faiss":
        (gen / "index.faiss").unlink()
    elif damage == "truncated faiss":
        data = (gen / "index.faiss").read_bytes()
        (gen / "index.faiss").write_bytes(data[: len(data) // 2])
    elif damage == "fewer chunks":
        lines = (gen / "chunks.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
        (gen / "chunks.jsonl").write_text("".join(lines[:-1]), encoding="utf-8")
    elif damage == "bad manifest":
        (gen / "manifest.json").write_text("{not json", encoding="utf-8")
    elif damage == "newer format":
        manifest = json.loads((gen / "manifest.json").read_text())
        (gen / "manifest.json").write_text(json.dumps({**manifest, "format_version": 99}))
    else:
        (corpus.index / "CURRENT").write_text("../../etc")
    with pytest.raises(IndexError_) as err:
        storage.load(corpus.index)
    assert "qa build" in str(err.value)
    assert str(corpus.index) in str(err.value)
    report = build(corpus)  # a build repairs it
    assert not report.unchanged
    assert storage.load(corpus.index).manifest["counts"]["chunks"] == 6


# --- a build killed half way ------------------------------------------------------------------------

WORDS = ["经济", "政府", "城市", "学校", "医院", "铁路", "气候", "科技", "农业", "文化", "体育", "法院", "市场", "能源"]


def many_articles(write_article, seeds: Path, first: int, last: int, rng: random.Random) -> None:
    for i in range(first, last):
        paras = ["".join(f"{rng.choice(WORDS)}部门今年完成了{rng.randint(1, 9999)}个项目。" for _ in range(14))
                 for _ in range(4)]
        write_article(seeds, f"a{i:03d}.md", f"新闻{i}", paras)


def _entries(index: Path) -> set[str]:
    names = {p.name for p in index.glob("gen-*")}
    work = index / ".work"
    for _ in range(5):  # the running build removes folders under .work (its spill) while this walks them
        try:
            return names | {str(p.relative_to(work)) for p in work.rglob("shard-*.json")}
        except FileNotFoundError:
            time.sleep(0.01)
    return names


@pytest.mark.slow
def test_build_killed_half_way_leaves_the_previous_index_whole(tmp_path, hash_settings, write_article, qa_command,
                                                               clean_env, project_root):
    rng = random.Random(20240705)
    seeds, index = tmp_path / "seeds", tmp_path / "index"
    many_articles(write_article, seeds, 0, 100, rng)
    first = build(hash_settings(seeds, index))
    assert (first.articles, first.chunks) == (100, 400)
    old_gen = live(index).name
    many_articles(write_article, seeds, 100, 200, rng)
    cmd = [*qa_command, "build", "--seeds", str(seeds), "--index", str(index), "--model", "hash", "--quiet"]
    env = clean_env

    kills_before_publish = 0
    for delay in (0.0, rng.uniform(0.0, 0.15), rng.uniform(0.05, 0.3)):
        before = _entries(index)
        proc = subprocess.Popen(cmd, cwd=project_root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 120
            while proc.poll() is None and not (_entries(index) - before) and time.monotonic() < deadline:
                time.sleep(0.002)
            time.sleep(delay)
            finished = proc.poll() is not None
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait(timeout=60)
        stored = storage.load(index)  # whole, whichever generation is live
        counts = stored.manifest["counts"]
        if stored.folder.name == old_gen:
            assert not finished
            kills_before_publish += 1
            assert (counts["articles"], counts["chunks"]) == (100, 400)
            assert stored.faiss_index.ntotal == len(stored.chunks) == stored.keywords.num_docs == 400
        else:  # the kill came after the swap: then the new index is the complete one
            assert (counts["articles"], counts["chunks"]) == (200, 800)
    assert kills_before_publish >= 1, "no kill landed before the swap: the test proved nothing"

    cached = sum(len(json.loads(f.read_text())) for f in (index / ".work").rglob("shard-*.json"))
    published = live(index).name != old_gen  # a fast build may have finished before the last kill
    final = subprocess.run(cmd, cwd=project_root, env=env, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr
    if published:
        assert "800 passages: 0 embedded, 800 reused" in final.stdout and "unchanged" in final.stdout
    else:  # batches finished by the killed builds are resumed, not embedded again
        assert f"800 passages: {400 - cached} embedded, {400 + cached} reused" in final.stdout
    stored = storage.load(index)
    assert (stored.manifest["counts"]["articles"], stored.manifest["counts"]["chunks"]) == (200, 800)
    assert len(list(index.glob("gen-*"))) == 1  # generations left by killed builds are cleaned up
    assert not (index / ".work").exists()
    assert check(hash_settings(seeds, index)).ok


class _RecordingEmbedder:
    """The hash model, noting which thread asked for each batch."""

    def __init__(self) -> None:
        self._inner = load_embedder("hash")
        self.name, self.dim, self.threads = self._inner.name, self._inner.dim, []

    def identity(self) -> dict:
        return self._inner.identity()

    def embed_documents(self, texts):
        import threading

        self.threads.append(threading.current_thread().name)
        return self._inner.embed_documents(texts)


def test_model_loads_in_a_thread_only_when_something_is_embedded(corpus, write_article):
    build(corpus)
    emb = _RecordingEmbedder()
    assert build(corpus, embedder=emb).unchanged and emb.threads == []  # nothing new: no model at all
    write_article(corpus.seeds, "metro.md", "地铁新线开通", ["新线全长二十公里，设十二座车站，明天开通。"])
    report = build(corpus, embedder=emb)
    assert report.embedded == 1
    assert emb.threads[0] == "qa-model-warmup" and emb.threads[1:] == ["MainThread"]


def test_vector_cache_shards_get_new_names_after_a_reload(tmp_path):
    from qa.vectorcache import VectorCache

    cache = VectorCache(tmp_path / "c", 4)
    cache.add(["a", "b"], np.eye(4, dtype=np.float32)[:2])
    cache.add(["c"], np.eye(4, dtype=np.float32)[2:3])
    again = VectorCache(tmp_path / "c", 4)
    again.add(["d"], np.eye(4, dtype=np.float32)[3:])  # a resumed build must not overwrite shard 0 or 1
    assert len(list((tmp_path / "c").glob("shard-*.json"))) == 3
    fresh = VectorCache(tmp_path / "c", 4)
    assert len(fresh) == 4 and np.array_equal(fresh.get("c"), np.eye(4, dtype=np.float32)[2])
