"""Shared fixtures: project paths, hermetic settings, an article writer and a `qa` subprocess runner.

Everything is a fixture (nothing is imported from this file), so the tests work whether or not
`tests/` is a package.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QA_BIN = Path(sys.executable).with_name("qa")


@pytest.fixture(autouse=True)
def _no_qa_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's QA_* variables must not change what the tests see (QA_UPDATE_SCREENSHOT only asks the
    browser test to refresh docs/screenshot.png)."""
    for var in [v for v in os.environ if v.startswith("QA_") and v != "QA_UPDATE_SCREENSHOT"]:
        monkeypatch.delenv(var)


@pytest.fixture(scope="session")
def project_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def seed_file() -> Path:
    """The project's one real article (a scraped WeChat page)."""
    return ROOT / "seeds" / "000_e0ddd22777e12010.txt"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def eval_dir() -> Path:
    """../shared/eval beside the checkout; tests that need it skip when it is absent."""
    return ROOT.parent / "shared" / "eval"


@pytest.fixture
def seeds_copy(tmp_path: Path) -> Path:
    """A private copy of the project's article files (never the real seeds/ or embeddings/)."""
    folder = tmp_path / "seeds"
    folder.mkdir()
    for f in (ROOT / "seeds").glob("*.txt"):
        shutil.copy(f, folder / f.name)
    return folder


def _hash_settings(seeds: Path, index: Path, **kw):
    from qa.config import Settings

    return Settings.load(seeds=seeds, index=index, **{"model": "hash", **kw})


@pytest.fixture(scope="session")
def hash_settings() -> Callable:
    """`hash_settings(seeds, index, **overrides)`: Settings with the built-in hash model."""
    return _hash_settings


def _write_article(folder: Path, name: str, title: str, paragraphs: list[str], **meta: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    front = "".join(f"{k}: {v}\n" for k, v in {"title": title, **meta}.items())
    path.write_text(f"---\n{front}---\n\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def write_article() -> Callable:
    """`write_article(folder, name, title, paragraphs, **front_matter)`: a markdown article file."""
    return _write_article


def qa_env(extra: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"})
    env.update(extra or {})
    return env


def _run_qa(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(QA_BIN), *map(str, args)], capture_output=True, text=True, env=qa_env(env),
                          cwd=ROOT, timeout=timeout)


@pytest.fixture(scope="session")
def run_qa() -> Callable[..., subprocess.CompletedProcess]:
    """`run_qa(*args, env=None)`: the installed `qa` console script, QA_* cleared, downloads off."""
    return _run_qa


@pytest.fixture(scope="session")
def qa_command() -> list[str]:
    """argv prefix of the `qa` console script, for tests that need a Popen."""
    return [str(QA_BIN)]


@pytest.fixture(scope="session")
def clean_env() -> dict:
    """The environment `run_qa` uses, for tests that need a Popen."""
    return qa_env()


# --- real Milvus servers (tests/milvus_servers.py), started once per session for every test that asks -------

@pytest.fixture(scope="session")
def lite_uri(tmp_path_factory):
    """Milvus Lite over gRPC on 127.0.0.1 and a free port."""
    pytest.importorskip("milvus_lite")
    from tests.milvus_servers import lite_server

    with lite_server(tmp_path_factory.mktemp("lite-grpc") / "data") as uri:
        yield uri


@pytest.fixture(scope="session")
def server_uri(tmp_path_factory):
    """The real Milvus 2.3.5 server of the `milvus` package (authentication on: QA_MILVUS_TOKEN root:Milvus)."""
    pytest.importorskip("milvus")
    from tests.milvus_servers import milvus_server

    try:
        cm = milvus_server(tmp_path_factory.mktemp("milvus") / "data")
        uri = cm.__enter__()
    except (RuntimeError, TimeoutError, OSError) as e:
        pytest.skip(f"the Milvus 2.3.5 server from the `milvus` package did not start here: {e}")
    try:
        yield uri
    finally:
        cm.__exit__(None, None, None)


# --- nothing outlives the session (issue 12.17: an app.py under strace was left listening) ---------------

def _descendants(pid: int) -> list[tuple[int, str, str]]:
    """(pid, state, command) of every process below `pid`, from /proc."""
    children: dict[int, list[int]] = {}
    info: dict[int, tuple[str, str]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            cmd = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        name, rest = text.split(" (", 1)[0], text.rsplit(")", 1)[1].split()
        children.setdefault(int(rest[1]), []).append(int(name))
        info[int(name)] = (rest[0], cmd or text.split("(", 1)[1].rsplit(")", 1)[0])
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append((child, *info[child]))
            todo.append(child)
    return out


def pytest_sessionstart(session: pytest.Session) -> None:
    """Become a child subreaper (Linux): a process whose parent exits (an app whose strace wrapper was
    stopped) is re-parented to this session instead of init, so the check below can see it."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


@pytest.hookimpl(trylast=True)  # after session fixtures are torn down
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the session when a process started by a test is still running; stop it and reap zombies."""
    import signal
    import time

    deadline = time.monotonic() + 5  # a just-stopped process may need a moment to exit
    while (left := [p for p in _descendants(os.getpid()) if p[1] != "Z"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid, _, _ in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    while True:  # reap orphans re-parented to this session
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                break
        except ChildProcessError:
            break
    if left:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        lines = [f"tests left {len(left)} process(es) running (stopped now):"] + [
            f"  pid {pid}: {cmd[:160]}" for pid, _, cmd in left]
        if reporter is not None:
            reporter.write_line("\n".join(lines), red=True)
        else:
            print("\n".join(lines))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# --- under CI=true a missing browser, strace, ss or network namespace is a failure of set-up, not a skip ---

CI_REQUIRED = ("chromium", "playwright", "strace", "network namespace", "unshare", "iproute2", "`ss`")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI", "").lower() not in ("true", "1") or not report.skipped:
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if any(word in reason.lower() for word in CI_REQUIRED):
        report.outcome = "failed"
        report.longrepr = f"CI=true: the test environment is incomplete, so this is a failure, not a skip: {reason}"
