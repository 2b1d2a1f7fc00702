"""Real Milvus servers for the store tests and benchmarks, on 127.0.0.1 and free ports, always stopped.

    lite_server(dir)     Milvus Lite 3.2.2 over gRPC: `python -m milvus_lite server` (no auth)
    milvus_server(dir)   the Milvus 2.3.5 server binary from the `milvus` PyPI package (dense only, no BM25),
                         with authentication on: user root, password Milvus (ROOT_TOKEN)

Each runs in its own process group (the `milvus` package starts the binary as a child of a launcher),
so stopping kills the group even when the launcher is stuck; a start that takes too long is stopped and
raised as TimeoutError.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT_TOKEN = "root:Milvus"
# Every port the server opens is set to a free one the OS picked: left to the package, two servers started
# together (e.g. two test runs) both probe upward from the same defaults (etcd 2379, 9091, ...) and collide.
# The embedded etcd's own listeners (client 2379, peer 2380) are no template setting: they come from an etcd
# config file named by ETCD_CONFIG_PATH (Milvus reads `etcd.config.path` from the environment); without it a
# second server on the machine dies on "bind: address already in use" and its launcher waits forever.
_LAUNCHER = """
import os, socket, sys
from pathlib import Path
from milvus import default_server

def free():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

client, peer = free(), free()
etcd = Path(sys.argv[1]).parent / "embed-etcd.yaml"
etcd.write_text(f"listen-client-urls: http://127.0.0.1:{client}\\nadvertise-client-urls: http://127.0.0.1:{client}\\n"
                f"listen-peer-urls: http://127.0.0.1:{peer}\\ninitial-advertise-peer-urls: http://127.0.0.1:{peer}\\n"
                f"initial-cluster: default=http://127.0.0.1:{peer}\\n")
os.environ["ETCD_CONFIG_PATH"] = str(etcd)
default_server.set_base_dir(sys.argv[1])
for key in [k for k in default_server.config.configurable_items if k.endswith("_port")]:
    default_server.config.set(key, free())
default_server.webservice_port = free()
default_server.listen_port = int(sys.argv[2])
default_server.config.set("authorization_enabled", True)
default_server.start()
print("ready", flush=True)
sys.stdin.read()
default_server.stop()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(wait)
            # the group may outlive its leader (the server binary under the launcher)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            return
        except subprocess.TimeoutExpired:
            continue


def _wait_port(port: int, proc: subprocess.Popen, deadline: float) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode} before listening on {port}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"no server on 127.0.0.1:{port} in time")


@contextlib.contextmanager
def lite_server(data_dir: Path, timeout: float = 90) -> Iterator[str]:
    port = free_port()
    log = open(Path(data_dir).parent / f"lite-{port}.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(data_dir),
                             "--host", "127.0.0.1", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        _wait_port(port, proc, time.monotonic() + timeout)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(proc)
        log.close()


@contextlib.contextmanager
def milvus_server(data_dir: Path, timeout: float = 180) -> Iterator[str]:
    port = free_port()
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    log_path = Path(data_dir).parent / f"milvus-{port}.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-c", _LAUNCHER, str(data_dir), str(port)], stdin=subprocess.PIPE,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while "ready" not in log_path.read_text(errors="replace"):
            if proc.poll() is not None:
                raise RuntimeError(f"the Milvus server launcher exited with code {proc.returncode} ({log_path})")
            if time.monotonic() > deadline:
                raise TimeoutError(f"Milvus 2.3.5 did not start within {timeout:.0f} s")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(proc)
        log.close()
