"""The named Gradio endpoint /ask, called with gradio_client against `python app.py` on a free port."""

from __future__ import annotations

import http.client
import json
import shutil
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import qa
from qa import Settings

from .serving import running_app

ROOT = Path(__file__).resolve().parent.parent
SEED = "000_e0ddd22777e12010.txt"
RESULT_KEYS = {"rank", "chunk_id", "article_id", "title", "source", "date", "url", "paragraph", "text", "score",
               "evidence"}
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("api")
    seeds = tmp / "seeds"
    seeds.mkdir()
    shutil.copy(ROOT / "seeds" / SEED, seeds / SEED)
    shutil.copy(ROOT / "seeds" / "examples.yaml", seeds / "examples.yaml")
    qa.build(Settings.load(seeds=seeds, index=tmp / "index"))
    with running_app(tmp / "index", seeds) as (url, proc, _):
        yield url, proc


@pytest.fixture(scope="module")
def client(server):
    gradio_client = pytest.importorskip("gradio_client")
    return gradio_client.Client(server[0], verbose=False)


def test_ask_returns_the_json_object(client):
    data = client.predict("联合国大会哪天通过了决议？", api_name="/ask")
    assert {"question", "results", "answer", "abstained", "searched_for", "evidence"} <= set(data)
    assert data["question"] == "联合国大会哪天通过了决议？"
    assert data["abstained"] is False
    assert data["results"] and all(set(r) >= RESULT_KEYS for r in data["results"])
    assert [r["rank"] for r in data["results"]] == list(range(1, len(data["results"]) + 1))
    first = data["results"][0]
    assert first["paragraph"] == 1 and first["evidence"]
    start, end = first["evidence"][0]
    assert "7月1日" in first["text"][start:end]
    assert data["evidence"][0]["citation"] == 1 and "7月1日" in data["evidence"][0]["text"]
    assert data["answer"].startswith("以下是文章原文")


def test_ask_with_history_searches_with_the_previous_question(client):
    data = client.predict("那它是哪天通过的？", ["联合国大会哪天通过了决议？"], api_name="/ask")
    assert data["searched_for"] == "联合国大会哪天通过了决议？ 那它是哪天通过的？"
    assert data["abstained"] is False


def test_ask_out_of_scope_abstains(client):
    data = client.predict("How do I bake sourdough bread?", api_name="/ask")
    assert data["abstained"] is True and data["evidence"] == []
    assert data["answer"].startswith("The articles do not answer")
    assert all(r["evidence"] == [] for r in data["results"])


def test_ask_empty_question_does_not_fail(client):
    data = client.predict("", api_name="/ask")
    assert data["abstained"] is True and data["results"] == []


@pytest.mark.parametrize("k", [0, -1, 51, 10**9])
def test_k_outside_1_to_50_is_refused_like_the_cli(client, k):
    data = client.predict("联合国大会哪天通过了决议？", [], k, api_name="/ask")
    assert data["error"] and "1 to 50" in data["error"] and data["results"] == []


def test_k_50_is_accepted(client):
    data = client.predict("联合国大会哪天通过了决议？", [], 50, api_name="/ask")
    assert "error" not in data and data["results"]


@pytest.mark.parametrize("args, expected", [
    ((5,), "question must be text"),
    (("问题", [{"role": "user", "content": "x"}]), "history[0] is dict"),
    (("问题", "上一个问题"), "history must be a list"),
    (("问题", [], 5, "fuzzy"), "hybrid, dense or keyword"),
])
def test_wrong_argument_types_get_a_sentence(client, args, expected):
    data = client.predict(*args, api_name="/ask")
    assert data["error"] and expected in data["error"]


def test_none_filters_mean_no_filter(client):
    data = client.predict("联合国大会哪天通过了决议？", [], 5, "hybrid", None, None, None, api_name="/ask")
    assert "error" not in data and data["results"]


def _post(base: str, path: str, body: bytes) -> tuple[int, dict]:
    req = urllib.request.Request(base.rstrip("/") + path, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def _call(base: str, data) -> tuple[int, str]:
    status, out = _post(base, "/gradio_api/call/ask", json.dumps({"data": data}).encode())
    if status != 200:
        return status, out.get("error", "")
    with urllib.request.urlopen(f"{base.rstrip('/')}/gradio_api/call/ask/{out['event_id']}", timeout=60) as r:
        return 200, r.read().decode()


def test_rest_calls_with_too_few_arguments_get_defaults_or_a_sentence(server):
    base, _ = server
    status, stream = _call(base, ["联合国大会哪天通过了决议？"])
    assert status == 200 and "event: complete" in stream and "7\\u67081\\u65e5" in stream  # 7月1日, JSON-escaped
    for data, expected in (([], "no arguments given"), ("x", "must be a list"), (["q"] * 8, "at most 7")):
        status, error = _call(base, data)
        assert status == 422 and expected in error and "question, history, k" in error
    status, stream = _call(base, [None])
    assert status == 200 and "question must be text" in stream and '"error": null' not in stream


def _fn_index(base: str, api_name: str | None) -> tuple[int, int]:
    """(fn_index, number of inputs) of the page's endpoint called `api_name` (None: the chat's own event)."""
    with urllib.request.urlopen(base.rstrip("/") + "/config", timeout=60) as r:
        deps = json.load(r)["dependencies"]
    for d in deps:
        if (api_name and d.get("api_name") == api_name) or (not api_name and len(d.get("inputs") or []) > 5):
            return d["id"], len(d.get("inputs") or [])
    raise AssertionError(f"no endpoint {api_name}")


def test_every_route_that_runs_ask_fills_missing_arguments_or_says_what_is_wrong(server):
    """/gradio_api/run/ask and /gradio_api/queue/join failed a call with too few values as `{"error": null}`."""
    base, _ = server
    status, out = _post(base, "/gradio_api/run/ask", json.dumps({"data": ["联合国大会哪天通过了决议？"]}).encode())
    assert status == 200 and "7月1日" in out["data"][0]["answer"]
    status, out = _post(base, "/gradio_api/run/ask", json.dumps({"data": [None]}).encode())
    assert status == 200 and "question must be text" in out["data"][0]["error"]
    status, out = _post(base, "/gradio_api/run/ask", json.dumps({"data": []}).encode())
    assert status == 422 and "no arguments given" in out["error"]
    ask, _ = _fn_index(base, "ask")
    join = {"data": ["联合国大会哪天通过了决议？"], "fn_index": ask, "session_hash": "too-few-1", "event_data": None}
    status, out = _post(base, "/gradio_api/queue/join", json.dumps(join).encode())
    assert status == 200 and out.get("event_id")
    with urllib.request.urlopen(f"{base.rstrip('/')}/gradio_api/queue/data?session_hash=too-few-1", timeout=60) as r:
        stream = r.read().decode()
    assert '"success":true' in stream and ("7月1日" in stream or "7\\u67081\\u65e5" in stream), stream[-500:]
    page, wanted = _fn_index(base, None)
    join = {"data": ["x"], "fn_index": page, "session_hash": "too-few-2", "event_data": None}
    status, out = _post(base, "/gradio_api/queue/join", json.dumps(join).encode())
    assert status == 422 and f"takes {wanted} values, got 1" in out["error"] and "ask endpoint" in out["error"]


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _declare_big_body(base: str, path: str, size: int) -> tuple[int, bytes]:
    """Send only the headers of a `size`-byte POST and read the answer (a server that waits for the body
    would time out here)."""
    u = urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    conn.putrequest("POST", path)
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(size))
    conn.endheaders()
    r = conn.getresponse()
    out = r.status, r.read()
    conn.close()
    return out


def test_large_bodies_are_refused_before_parsing_and_memory_stays_flat(server):
    base, proc = server
    for path in ("/gradio_api/call/ask", "/gradio_api/queue/join", "/gradio_api/run/ask", "/ask"):
        status, body = _declare_big_body(base, path, 420_000_000)
        assert status == 413 and b"larger than" in body, (path, status, body)
    client_ok = _post(base, "/gradio_api/call/ask", json.dumps({"data": ["联合国大会哪天通过了决议？"]}).encode())
    assert client_ok[0] == 200
    start = _rss_kb(proc.pid)
    big = b'{"data": ["' + b"x" * 20_000_000 + b'"]}'
    for _ in range(7):  # the attack: 7 rounds of 4 large bodies took RSS from 464 MB to 3.4 GB
        for _ in range(4):
            try:
                status, _ = _post(base, "/gradio_api/call/ask", big)
                assert status == 413
            except (ConnectionError, urllib.error.URLError):
                pass  # the server answered 413 and closed while the body was still being sent
    grown_mb = (_rss_kb(proc.pid) - start) / 1024
    assert grown_mb < 60, f"server RSS grew {grown_mb:.0f} MB over 28 refused 20 MB bodies"
    assert _post(base, "/gradio_api/call/ask", json.dumps({"data": ["联合国大会哪天通过了决议？"]}).encode())[0] == 200


def test_uploads_are_turned_off(server):
    base, _ = server
    status, body = _post(base, "/gradio_api/upload", b"--x\r\n")
    assert status == 403 and "no file uploads" in body["error"]
