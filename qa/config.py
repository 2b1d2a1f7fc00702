"""Settings: every default lives here once. Precedence: explicit argument > `QA_*` env > default."""

from __future__ import annotations

import datetime as dt
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
    "follow_links": "QA_FOLLOW_LINKS",
    "store": "QA_STORE",
    "today": "QA_TODAY",
    # Written answers (qa/llm.py, qa/written.py). The key is read from QA_LLM_KEY by qa/llm.py only: never a setting.
    "llm_url": "QA_LLM_URL",
    "llm_model": "QA_LLM_MODEL",
    "llm_first_token_s": "QA_LLM_FIRST_TOKEN_S",
    "llm_timeout_s": "QA_LLM_TIMEOUT_S",
    "llm_max_tokens": "QA_LLM_MAX_TOKENS",
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
    # Symbolic links in the seeds folder are skipped; when true, those whose target stays inside are read.
    follow_links: bool = False
    # Where the index lives (qa/store/): `local` files in `index`, a Milvus Lite `.db` path or a Milvus
    # server URI (http://host:port; its token from QA_MILVUS_TOKEN, never a setting).
    store: str = "local"
    max_request_bytes: int = 1_000_000  # the page's server answers 413 above this (qa/limits.py)
    today: str | None = None  # YYYY-MM-DD: "去年", "last month" are relative to it (default: the real today)
    # An OpenAI-compatible server writes the answer when both are set (default: quoted answers, no model).
    llm_url: str | None = None  # e.g. http://127.0.0.1:11434/v1 (Ollama)
    llm_model: str | None = None  # e.g. qwen2.5:7b
    llm_first_token_s: float = 30.0  # no first token by then: quoted answer (a cold local model loads slowly)
    llm_timeout_s: float = 120.0  # the whole written answer
    llm_max_tokens: int = 800  # a reply cut at this length is not used (3-5 sentences need ~200-400)

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

    def today_date(self) -> dt.date | None:
        if not self.today:
            return None
        try:
            return dt.date.fromisoformat(str(self.today))
        except ValueError:
            from .errors import InputError

            raise InputError(f"--today / QA_TODAY {self.today!r} is not a date: use YYYY-MM-DD, e.g. 2024-07-15") from None

    def userdict_path(self) -> Path | None:
        if self.userdict is not None:
            return self.userdict
        candidate = self.seeds / "userdict.txt"
        return candidate if candidate.is_file() else None


def _convert(name: str, type_: object, raw: str, var: str) -> object:
    from .errors import InputError

    if type_ in ("bool", bool):
        if raw.strip().lower() not in ("1", "true", "yes", "0", "false", "no"):
            raise InputError(f"{var}={raw!r}: use 1 or 0")
        return raw.strip().lower() in ("1", "true", "yes")
    if type_ in ("int", int):
        try:
            return int(raw)
        except ValueError:
            raise InputError(f"{var}={raw!r} is not a whole number: set it to e.g. 5") from None
    if type_ in ("float", float):
        try:
            return float(raw)
        except ValueError:
            raise InputError(f"{var}={raw!r} is not a number of seconds: set it to e.g. 30") from None
    if name == "mode" and raw not in ("keyword", "dense", "hybrid"):
        raise InputError(f"{var}={raw!r}: use keyword, dense or hybrid")
    return raw
