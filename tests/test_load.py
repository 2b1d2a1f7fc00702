"""16 concurrent clients x 25 questions through the HTTP API of one running app, real model."""

from __future__ import annotations

import shutil

import pytest

from qa import Settings, build
from qa.config import DEFAULT_MODEL

from .serving import ROOT, load_run, running_app

pytestmark = pytest.mark.slow


def test_sixteen_clients_get_the_single_client_answers(tmp_path) -> None:
    (tmp_path / "seeds").mkdir()
    shutil.copy(ROOT / "seeds" / "000_e0ddd22777e12010.txt", tmp_path / "seeds")
    build(Settings.load(seeds=tmp_path / "seeds", index=tmp_path / "index", model=DEFAULT_MODEL))
    with running_app(tmp_path / "index", tmp_path / "seeds") as (base, proc, log):
        run = load_run(base, clients=16, per_client=25)
        assert proc.poll() is None, log.read_text()[-2000:]
    assert run["errors"] == [], run["errors"][:5]
    assert run["answered"] == 16 * 25
    assert run["mismatches"] == [], sorted(set(run["mismatches"]))
    assert "Traceback" not in log.read_text()
