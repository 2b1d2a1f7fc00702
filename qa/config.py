"""Settings: every default lives here once. Precedence: explicit argument > `QA_*` env > default."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

DEFAULT_MODEL = "e5-small+use-m3"  # see qa/embedding.py for why

# Environment variable for each setting that can be set from outside.
ENV = {
    "seeds": "QA_SEEDS",
    "index": "QA_INDEX",
    "model": "QA_MODEL",
    "k": "QA_K",
    "mode": "QA_MODE",
    "host": "QA_HOST",
    "port": "QA_PORT",
    "userdict": "QA_USERDICT",
    "cache": "QA_CACHE",
    "max_chunk_chars": "QA_MAX_CHUNK_CHARS",
    "min_chunk_chars": "QA_MIN_CHUNK_CHARS",
}


@dataclass(frozen=True)
class Settings:
    seeds: Path = Path("seeds")
    index: Path = Path("embeddings")
    model: str = DEFAULT_MODEL
    k: int = 5
    mode: str = "hybrid"  # keyword | dense | hybrid
    host: str = "127.0.0.1"
    port: int = 7860
    userdict: Path | None = None  # default: <seeds>/userdict.txt when it exists
    cache: Path = Path("~/.cache/newsqa").expanduser()  # `qa eval` vectors, by model and text hash
    # Chunking: a paragraph longer than max is split at sentence ends; shorter than min is joined.
    max_chunk_chars: int = 400
    min_chunk_chars: int = 40
    # What one question may cost (issue 12.3): longer input is cut, with a notice in the reply. A question of
    # 2,000 characters cost ~3.8 s of CPU; benchmarks/followups.py --cost measures these caps.
    max_question_chars: int = 200
    max_history_items: int = 20  # earlier questions kept (the search uses the last one or two)
    max_history_chars: int = 200  # each earlier question is cut to this

    @classmethod
    def load(cls, **overrides: object) -> Settings:
        """Defaults, then `QA_*` env vars, then the non-None `overrides` (CLI flags)."""
        values: dict[str, object] = {}
        types = {f.name: f.type for f in fields(cls)}
        for name, var in ENV.items():
            raw = os.environ.get(var)
            if raw not in (None, ""):
                values[name] = _convert(name, types[name], raw, var)
        values.update({k: v for k, v in overrides.items() if v is not None})
        for name in ("seeds", "index", "userdict", "cache"):
            if isinstance(values.get(name), str):
                values[name] = Path(str(values[name]))
        return replace(cls(), **values)

    def userdict_path(self) -> Path | None:
        if self.userdict is not None:
            return self.userdict
        candidate = self.seeds / "userdict.txt"
        return candidate if candidate.is_file() else None


def _convert(name: str, type_: object, raw: str, var: str) -> object:
    from .errors import InputError

    if type_ in ("int", int):
        try:
            return int(raw)
        except ValueError:
            raise InputError(f"{var}={raw!r} is not a whole number: set it to e.g. 5") from None
    if name == "mode" and raw not in ("keyword", "dense", "hybrid"):
        raise InputError(f"{var}={raw!r}: use keyword, dense or hybrid")
    return raw
