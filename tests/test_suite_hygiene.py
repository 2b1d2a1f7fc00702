"""The suite's own guards (issue 12, items 17 and 20), checked by running pytest on small test files with
this project's tests/conftest.py: a process left running fails the session, and under CI=true a missing
browser, strace or network namespace fails instead of skipping."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pytest(tmp_path: Path, test_source: str, ci: bool = False) -> subprocess.CompletedProcess:
    shutil.copy(ROOT / "tests" / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_it.py").write_text(test_source, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci:
        env["CI"] = "true"
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)


LEAK = """
import subprocess, sys, time
def test_starts_an_orphan(tmp_path):
    # a wrapper that starts a long-running child and exits: the child outlives it (like strace's app)
    subprocess.run([sys.executable, "-c",
                    "import subprocess, sys; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])"],
                   check=True)
"""


def test_a_process_left_running_fails_the_session_and_is_stopped(tmp_path: Path) -> None:
    out = _pytest(tmp_path, LEAK)
    assert out.returncode == 1, out.stdout
    assert "1 passed" in out.stdout and "left 1 process(es) running" in out.stdout
    time.sleep(0.5)
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert "time.sleep(300)" not in ps


SETUP_SKIPS = """
import pytest
@pytest.mark.skipif(True, reason="strace is not installed (apt-get install strace)")
def test_needs_strace():
    pass
def test_needs_a_namespace():
    pytest.skip("cannot create a network namespace here (unshare -n): Operation not permitted")
def test_needs_eval_data():
    pytest.skip("../shared/eval is absent")
"""


def test_under_ci_missing_set_up_fails_instead_of_skipping(tmp_path: Path) -> None:
    local = _pytest(tmp_path, SETUP_SKIPS)
    assert local.returncode == 0 and "3 skipped" in local.stdout, local.stdout
    ci = _pytest(tmp_path, SETUP_SKIPS, ci=True)
    # a skip in set-up (skipif) is reported as an error of set-up, one in the test as a failure
    assert ci.returncode == 1 and "1 failed" in ci.stdout and "1 error" in ci.stdout, ci.stdout
    assert "1 skipped" in ci.stdout and ci.stdout.count("FAILED test_it.py::test_needs_a_namespace") == 1
    assert "ERROR test_it.py::test_needs_strace - CI=true: the test environment is incomplete" in ci.stdout
