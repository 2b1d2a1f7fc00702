"""Start the real app in a subprocess for tests and benchmarks (not a test module itself)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager, suppress
from pathlib import Path

from qa.config import DEFAULT_MODEL

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"app exited with {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"app did not answer at {url} within {timeout:.0f} s")


@contextmanager
def running_app(index: Path, seeds: Path, model: str = DEFAULT_MODEL, prefix: list[str] | None = None,
                extra_env: dict | None = None, host: str = "127.0.0.1"):
    """Yield (base_url, process, log_path); the app is stopped on exit."""
    port = free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "QA_MODEL": model, **(extra_env or {})}
    log = index.parent / f"app-{port}.log"
    with open(log, "w") as out:
        # Its own process group: with a `prefix` (strace) `proc` is the wrapper, and terminating only the
        # wrapper left app.py running for good. The whole group is stopped instead.
        proc = subprocess.Popen([*(prefix or []), sys.executable, str(ROOT / "app.py"), "--host", host,
                                 "--port", str(port), "--index", str(index), "--seeds", str(seeds)],
                                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT, start_new_session=True)
        try:
            wait_until_up(f"http://127.0.0.1:{port}/", proc)
            yield f"http://127.0.0.1:{port}/", proc, log
        finally:
            stop_group(proc)


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of a process group, from /proc."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            out.append(int(stat.parent.name))
    return out


def stop_group(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM every process of `proc`'s group (started with start_new_session=True), SIGKILL what is
    left after `timeout`, and wait until the group has no live process."""
    import signal

    def signal_group(sig: int) -> None:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)

    signal_group(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None and not group_members(proc.pid):
            return
        time.sleep(0.05)
    signal_group(signal.SIGKILL)
    proc.wait(timeout=10)
    while group_members(proc.pid) and time.monotonic() < deadline + 10:
        time.sleep(0.05)


LOAD_QUESTIONS = [
    "联合国大会哪天通过了决议？", "What did China propose about AI risks in 2018?", "中方在联合国框架内主张什么？",
    "How does the resolution help developing countries?", "人工智能全球治理为什么重要？", "决议聚焦什么？",
    "中国提出了哪些文件倡议？", "What principle does China insist on for AI governance?", "人工智能带来了哪些问题？",
    "Who proposed the resolution on AI capacity building?", "发展中国家期待什么？", "未来人工智能的发展方向是什么？",
    "What is the 2030 agenda mentioned?", "科技本身有善恶之分吗？", "今天天气怎么样？", "How do I bake sourdough bread?",
    "决议是否协商一致通过？", "What risks does AI bring?", "数字鸿沟", "Which countries benefit from the resolution?",
    "中方反对什么？", "AI换脸诈骗", "什么是新质生产力？", "Is the article about football?", "联合国会员国怎么看这份决议？",
]


def canonical(result: dict) -> dict:
    """The parts of an /ask result that must not depend on load."""
    return {"answer": result.get("answer"), "abstained": result.get("abstained"),
            "ids": [r["chunk_id"] for r in result.get("results", [])], "error": result.get("error")}


def load_run(base: str, clients: int, per_client: int, questions: list[str] | None = None) -> dict:
    """`clients` threads, each with its own gradio_client, asking `per_client` questions through /ask.
    Returns single-client reference answers, all concurrent answers, latencies and errors."""
    import random
    import threading

    from gradio_client import Client

    questions = questions or LOAD_QUESTIONS
    ref_client = Client(base, verbose=False)
    reference = {q: canonical(ref_client.predict(q, api_name="/ask")) for q in questions}
    latencies: list[float] = []
    errors: list[str] = []
    mismatches: list[str] = []
    lock = threading.Lock()

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        try:
            client = Client(base, verbose=False)
        except Exception as e:  # noqa: BLE001 - counted as an error
            with lock:
                errors.append(f"connect: {e}")
            return
        for i in range(per_client):
            q = questions[(seed + i) % len(questions)] if i < len(questions) else rng.choice(questions)
            t = time.perf_counter()
            try:
                got = canonical(client.predict(q, api_name="/ask"))
            except Exception as e:  # noqa: BLE001 - counted as an error
                with lock:
                    errors.append(f"{q}: {type(e).__name__}: {e}")
                continue
            with lock:
                latencies.append((time.perf_counter() - t) * 1000)
                if got != reference[q]:
                    mismatches.append(q)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"requests": clients * per_client, "answered": len(latencies), "errors": errors,
            "mismatches": mismatches, "latencies_ms": latencies, "wall_s": time.perf_counter() - t0}
