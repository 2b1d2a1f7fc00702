"""Run-time network behaviour of the real app: it binds loopback by default, warns otherwise, and
makes no outbound connection while starting and answering (watched with strace, and proven by
answering inside a network namespace that has only loopback)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from qa import Settings, build
from qa.config import DEFAULT_MODEL

from .serving import ROOT, group_members, running_app

SEED = ROOT / "seeds" / "000_e0ddd22777e12010.txt"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def seed_index(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("sec")
    (tmp / "seeds").mkdir()
    shutil.copy(SEED, tmp / "seeds")
    build(Settings.load(seeds=tmp / "seeds", index=tmp / "index", model=DEFAULT_MODEL))
    return tmp / "index", tmp / "seeds"


def ask(base: str, question: str) -> dict:
    from gradio_client import Client

    return Client(base, verbose=False).predict(question, api_name="/ask")


@pytest.mark.skipif(not shutil.which("strace"), reason="strace is not installed (apt-get install strace)")
def test_no_outbound_connection_while_starting_and_answering(seed_index, tmp_path: Path) -> None:
    trace = tmp_path / "connect.trace"
    prefix = ["strace", "-f", "-qq", "-e", "trace=connect", "-o", str(trace)]
    with running_app(*seed_index, prefix=prefix) as (base, proc, _):
        result = ask(base, "联合国大会哪天通过了决议？")
        assert result["results"][0]["paragraph"] == 1
    # the app under strace is stopped too, not only strace (it used to keep listening after the tests)
    assert not group_members(proc.pid), "processes of the traced app are still running"
    with pytest.raises(OSError):
        urllib.request.urlopen(base, timeout=5)
    calls = [line for line in trace.read_text().splitlines() if "connect(" in line]
    assert calls, "strace saw no connect() at all: the trace did not work"
    outside = []
    for line in calls:
        if "AF_UNIX" in line or "AF_NETLINK" in line or "AF_UNSPEC" in line:
            continue
        addrs = re.findall(r'inet_(?:addr|pton)\((?:AF_INET6, )?"([^"]+)"', line)
        if not addrs or any(not (a.startswith("127.") or a in ("::1", "::ffff:127.0.0.1")) for a in addrs):
            outside.append(line)
    assert not outside, "connections that left 127.0.0.1:\n" + "\n".join(outside[:5])


NETLESS = """
import json, sys
sys.path.insert(0, {root!r})
from tests.serving import running_app
from pathlib import Path
from gradio_client import Client
with running_app(Path({index!r}), Path({seeds!r})) as (base, _, _):
    print(json.dumps(Client(base, verbose=False).predict("What did China propose about AI risks in 2018?",
                                                         api_name="/ask")))
"""


@pytest.mark.skipif(not (shutil.which("unshare") and shutil.which("ip")), reason="needs unshare and iproute2")
def test_answers_with_no_network_but_loopback(seed_index) -> None:
    index, seeds = seed_index
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot create a network namespace here (unshare -n): {probe.stderr.decode().strip()}")
    script = NETLESS.format(root=str(ROOT), index=str(index), seeds=str(seeds))
    out = subprocess.run(["unshare", "-n", "sh", "-c", f'ip link set lo up && exec "{sys.executable}" -c "$0"', script],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["results"][0]["paragraph"] == 4 and not result["abstained"]


def test_binds_loopback_by_default_and_warns_otherwise(seed_index) -> None:
    with running_app(*seed_index, host="0.0.0.0") as (_, _, log):
        pass
    assert "warning: listening on 0.0.0.0" in log.read_text()
    if not shutil.which("ss"):  # (under CI=true, tests/conftest.py turns this skip into a failure)
        pytest.skip("`ss` is not installed (apt-get install iproute2): cannot list the app's sockets")
    with running_app(*seed_index) as (_, proc, log):
        listening = subprocess.run(["ss", "-ltnp"], capture_output=True, text=True).stdout
        mine = [line for line in listening.splitlines() if f"pid={proc.pid}," in line]
        assert mine and all("127.0.0.1:" in line for line in mine), mine
    assert "warning" not in log.read_text()
