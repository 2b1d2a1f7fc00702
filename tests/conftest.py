"""Shared fixtures: project paths, hermetic settings, an article writer and a `qa` subprocess runner.

Everything is a fixture (nothing is imported from this file), so the tests work whether or not
`tests/` is a package.
"""

from __future__ import annotations

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
