"""Connections to Milvus (Lite `.db` or a server) and what their failures say: one client per store per
process, the collection prefix, one-line errors naming the store and the fix, the server's version.
`milvus.py` re-exports these names, so callers keep using `milvus.client`, `milvus.explain`, ...
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path

from ..errors import IndexError_, InputError, QAError
from . import kind as store_kind

PREFIX_ENV, TOKEN_ENV = "QA_MILVUS_COLLECTION", "QA_MILVUS_TOKEN"
BM25_SINCE = (2, 5)
CONNECT_SECONDS = 20
_clients: dict[str, object] = {}
_prefix: ContextVar[str | None] = ContextVar("milvus_prefix", default=None)


def prefix() -> str:
    return _prefix.get() or os.environ.get(PREFIX_ENV) or "newsqa"


@contextlib.contextmanager
def collections(name: str) -> Iterator[None]:
    """Use the collections named `name` instead of the configured prefix (inside this block): `qa eval`
    keeps its corpus beside the app's index, never in place of it."""
    token = _prefix.set(name)
    try:
        yield
    finally:
        _prefix.reset(token)


def _fix_build(spec: str) -> str:
    return f"run `qa build --store {spec}`"


def client(spec: str):
    """One client per store per process (a Lite `.db` admits one process, and opening it twice here
    would fight over its lock). Connection failures become one-line errors with the fix."""
    if spec in _clients:
        return _clients[spec]
    # grpc's C core prints connection chatter (e.g. GOAWAY "too_many_pings" from Milvus Lite's server)
    # straight to stderr; errors reach the user through the one-line messages below instead.
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    from pymilvus import MilvusClient

    # pymilvus logs every failed call with a traceback; the error raised here says it in one line.
    logging.getLogger("pymilvus").setLevel(logging.CRITICAL)

    try:
        if store_kind(spec) == "lite":
            Path(spec).parent.mkdir(parents=True, exist_ok=True)
            _check_lite_lock(Path(spec))
            c = MilvusClient(str(spec))
        else:
            c = MilvusClient(uri=spec, token=os.environ.get(TOKEN_ENV, ""), timeout=CONNECT_SECONDS)
        c.get_server_version()
    except Exception as e:  # noqa: BLE001 - pymilvus raises MilvusException, grpc and OS errors alike
        raise explain(e, spec) from None
    _clients[spec] = c
    return c


def _check_lite_lock(db: Path) -> None:
    """Milvus Lite locks its folder for one process; opening a locked one fails in a background thread
    with a traceback and a vague error, so the lock is tried (and let go) here first."""
    import fcntl

    lock = db / "LOCK"  # milvus_lite.db.LOCK_FILENAME
    if not lock.is_file():
        return
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
    except OSError:
        raise IndexError_(f"{db} is open in another process (Milvus Lite admits one at a time): stop it "
                          "(the app or a build), or serve the .db with `milvus-lite server` and use its URI") from None
    finally:
        os.close(fd)


def forget(spec: str) -> None:
    """Close this process's client of `spec`; for a Lite `.db`, also stop its embedded server, which
    holds the folder's lock until then (the next open, here or in another process, may then lock it)."""
    c = _clients.pop(spec, None)
    if c is not None:
        with contextlib.suppress(Exception):  # closing a broken connection must not hide the first error
            c.close()
        if spec.rstrip("/").endswith(".db"):
            with contextlib.suppress(Exception):
                from milvus_lite.server_manager import server_manager_instance

                server_manager_instance.release_server(spec)


@contextlib.contextmanager
def errors(spec: str) -> Iterator[None]:
    """Milvus and connection failures inside the block as one-line QAErrors naming `spec` and the fix."""
    from pymilvus.exceptions import MilvusException

    try:
        yield
    except (MilvusException, ConnectionError) as e:
        raise explain(e, spec) from None


def _details(e: BaseException) -> str:
    """The first useful words of an error and its causes (pymilvus wraps grpc's, sometimes emptily)."""
    parts, seen = [], 0
    x: BaseException | None = e
    while x is not None and seen < 5:
        detail = x.details() if callable(getattr(x, "details", None)) else None
        text = detail or getattr(x, "message", None) or str(x)
        if text and text.strip() and text.strip() not in parts:
            parts.append(text.strip().splitlines()[0][:200])
        x, seen = x.__cause__ or x.__context__, seen + 1
    return "; ".join(parts) or type(e).__name__


def explain(e: Exception, spec: str) -> QAError:
    """A pymilvus/grpc failure as one line naming the store and the fix."""
    text = _details(e)
    low = text.lower()
    if any(w in low for w in ("auth", "credential", "password", "token", "unauthenticated", "permission")):
        return InputError(f"Milvus at {spec} refused the credentials ({text}): set {TOKEN_ENV} to "
                          "user:password or an API key the server accepts")
    if store_kind(spec) == "lite" and any(w in low for w in ("lock", "another process", "in use", "busy")):
        return IndexError_(f"{spec} is open in another process (Milvus Lite admits one at a time): stop it "
                           "(the app or a build), or serve the .db with `milvus-lite server` and use its URI")
    if any(w in low for w in ("connect", "unavailable", "deadline", "timeout", "timed out", "refused", "dns")):
        return IndexError_(f"cannot reach Milvus at {spec} ({text}): start the server, or fix --store / QA_STORE")
    return IndexError_(f"Milvus at {spec} failed ({text}): check the server, or {_fix_build(spec)}")


def version(c) -> tuple[str, bool]:
    """The server's version string and whether it has BM25 (Milvus Lite: yes; a server: from 2.5)."""
    raw = str(c.get_server_version())
    if raw.startswith("milvus_lite"):
        return raw, True
    m = re.search(r"(\d+)\.(\d+)", raw)
    return raw, bool(m) and (int(m.group(1)), int(m.group(2))) >= BM25_SINCE
