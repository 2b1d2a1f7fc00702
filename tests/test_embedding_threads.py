"""The default model's e5 part serves concurrent threads without a lock: their vectors must be identical
to one thread's (the lock was dropped so a normal question no longer waits behind a long one)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from qa.embedding import load_embedder

pytestmark = pytest.mark.slow

LONG = ("第78届联合国大会7月1日协商一致通过中国主提的加强人工智能能力建设国际合作决议，140多个国家参加联署。" * 6)[:400]
SHORT = ["联合国大会哪天通过了决议？", "What did China propose in 2018?", "中方反对什么？"]


def test_e5_vectors_are_identical_when_threads_embed_at_once():
    e5 = load_embedder("e5-small")
    assert e5.concurrent  # the property this test guards
    alone = {q: e5.embed_queries([q])[0] for q in [LONG, *SHORT]}
    docs_alone = e5.embed_documents([LONG, *SHORT])
    results: list[tuple[str, np.ndarray]] = []
    docs: list[np.ndarray] = []
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for j in range(6):
                q = [LONG, *SHORT][(i + j) % 4]
                results.append((q, e5.embed_queries([q])[0]))
            docs.append(e5.embed_documents([LONG, *SHORT]))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 24 and len(docs) == 4
    for q, v in results:
        assert np.array_equal(v, alone[q])
    for d in docs:
        assert np.array_equal(d, docs_alone)
