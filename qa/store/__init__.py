"""Which store holds the index: `--store` / `QA_STORE`.

    local (default)           the index folder (`--index`, `embeddings/`): FAISS + BM25 files
    PATH.db                   Milvus Lite, embedded (a folder with a lock: one process at a time)
    http(s)://HOST:PORT       a Milvus server (Standalone, Distributed, Zilliz); token in QA_MILVUS_TOKEN

Everything above (`qa/search.py` and up) sees a `Store` (`base.py`); `Retriever` wraps a local
`StoredIndex` itself, so callers that load one keep working.
"""

from __future__ import annotations

from ..errors import InputError
from .base import Store

LOCAL = "local"
__all__ = ["LOCAL", "Store", "current", "kind", "load"]


def kind(spec: str | None) -> str:
    """`local`, `lite` or `server`; anything else is refused with the accepted forms."""
    spec = (spec or LOCAL).strip()
    if spec == LOCAL:
        return "local"
    if spec.startswith(("http://", "https://", "tcp://", "grpc://")):
        return "server"
    if spec.rstrip("/").endswith(".db"):
        return "lite"
    raise InputError(f"store {spec!r} is not one this version knows: use `local`, a Milvus Lite path "
                     "ending in .db (e.g. index.db), or a server URI like http://127.0.0.1:19530 "
                     "(--store / QA_STORE)")


def load(settings):
    """The searchable index the settings name: a local `StoredIndex` or a Milvus store."""
    if kind(settings.store) == "local":
        from .. import storage

        return storage.load(settings.index)
    from .milvus import MilvusStore

    return MilvusStore.open(settings.store)


def current(settings) -> str | None:
    """The live generation's name, cheaply (the app polls it to pick up a new build)."""
    if kind(settings.store) == "local":
        from .. import storage

        gen = storage.current_generation(settings.index)
        return gen.name if gen is not None else None
    from .milvus import live_generation

    return live_generation(settings.store)
