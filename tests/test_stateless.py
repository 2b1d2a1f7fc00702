"""Stateless app (issue 13.8): two `app.py` processes over ONE real Milvus server (2.3.5, from the `milvus`
package, on 127.0.0.1 and a free port) answer the same question identically through `/ask`, and both pick
up a build published into the server while they serve, without a restart.

The apps get the store as a deployment would: QA_STORE (the server URI), QA_MILVUS_TOKEN, and
QA_MILVUS_COLLECTION (a name of this test's own). The 2.3.5 server has no BM25, so they answer in dense mode.
"""

from __future__ import annotations

import contextlib
import os
import time

import pytest

from qa.index import build

pytest.importorskip("pymilvus")
pytest.importorskip("gradio_client")
from tests.milvus_servers import ROOT_TOKEN  # noqa: E402
from tests.serving import running_app  # noqa: E402

pytestmark = pytest.mark.slow
OLD_Q = "台风在哪里登陆？"
NEW_Q = "嫦娥六号从哪里采集了样品？"
NEW_TITLE = "嫦娥六号返回地球"
from tests.test_store import _articles  # noqa: E402 - the same three articles as the contract suite

PICKUP_SECONDS = 120  # a reader sees another process's writes after the server's time tick: poll, bounded


def _ask(client, question: str) -> dict:
    answer = client.predict(question, [], 3, "dense", "", "", "", api_name="/ask")
    assert not answer.get("error"), answer
    return answer


def test_two_apps_over_one_server_answer_alike_and_pick_up_a_build(server_uri, tmp_path, write_article,
                                                                 hash_settings, monkeypatch):
    from gradio_client import Client

    name = f"stateless{os.getpid()}"
    env = {"QA_STORE": server_uri, "QA_MILVUS_TOKEN": ROOT_TOKEN, "QA_MILVUS_COLLECTION": name,
           "QA_MODE": "dense", "QA_CACHE": str(tmp_path / "cache")}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    seeds = tmp_path / "seeds"
    _articles(seeds, write_article)
    settings = hash_settings(seeds, tmp_path / "unused-index", store=server_uri, cache=tmp_path / "cache")
    assert build(settings).chunks == 3
    with contextlib.ExitStack() as stack:
        apps = []
        for n in range(2):
            folder = tmp_path / f"app{n}"
            folder.mkdir()
            # the index folder is only where the app's log goes: the index is in the server
            apps.append(stack.enter_context(running_app(folder / "index", seeds, model="hash", extra_env=env)))
        clients = [Client(base, verbose=False) for base, _, _ in apps]
        pids = [proc.pid for _, proc, _ in apps]

        first = [_ask(c, OLD_Q) for c in clients]
        assert first[0] == first[1]
        assert first[0]["results"][0]["title"] == "台风登陆广东" and not first[0]["abstained"]
        before = [_ask(c, NEW_Q) for c in clients]
        assert before[0] == before[1] and NEW_TITLE not in {r["title"] for r in before[0]["results"]}

        # publish a build into the server while both apps serve
        write_article(seeds, "change6.md", NEW_TITLE, ["嫦娥六号探测器从月球背面南极艾特肯盆地采集样品后顺利返回地球。"],
                      source="新华社", date="2024-06-25")
        report = build(settings)
        assert (report.articles, report.embedded) == (4, 1)

        deadline = time.monotonic() + PICKUP_SECONDS
        after = [_ask(c, NEW_Q) for c in clients]
        while any(a["results"][0]["title"] != NEW_TITLE for a in after) and time.monotonic() < deadline:
            time.sleep(1)
            after = [_ask(c, NEW_Q) for c in clients]
        assert [a["results"][0]["title"] for a in after] == [NEW_TITLE, NEW_TITLE], after
        assert after[0] == after[1]
        assert "月球背面" in after[0]["results"][0]["text"]
        # same processes, never restarted; the old question still answers the same in both
        assert [proc.pid for _, proc, _ in apps] == pids and all(proc.poll() is None for _, proc, _ in apps)
        again = [_ask(c, OLD_Q) for c in clients]
        assert again[0] == again[1] and again[0]["results"][0]["title"] == "台风登陆广东"
