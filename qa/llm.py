"""A client for any OpenAI-compatible chat server (Ollama, vLLM, llama.cpp, LM Studio, DeepSeek, DashScope, OpenAI).

Configured by `QA_LLM_URL` + `QA_LLM_MODEL` (or `--llm-url/--llm-model`); the key comes from `QA_LLM_KEY` in the
environment only and is kept out of every repr, message and log line. Each call gets its own client (and
connections): concurrent askers share nothing. Every failure becomes `LLMError` whose text is one line naming
the cause (connection refused, host not found, timeout, HTTP status, broken stream, reply too long, empty).

Two clocks bound a reply: no content by `first_token_s` (headers included) and the whole answer by `timeout_s`.
A read that blocks is cut by the read timeout (`first_token_s`), so the worst case is `timeout_s + first_token_s`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .config import Settings
from .errors import QAError

KEY_ENV = "QA_LLM_KEY"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "0.0.0.0")
CHARS_PER_TOKEN = 4  # a stream is cut after max_tokens x this many characters (an English token is ~4)


class LLMError(QAError):
    """The model server could not give a usable reply; `str(err)` is the one-line cause."""


@dataclass(frozen=True)
class LLMConfig:
    url: str
    model: str
    first_token_s: float = 30.0
    timeout_s: float = 120.0
    max_tokens: int = 800
    key: str | None = field(default=None, repr=False, compare=False)  # never shown

    @classmethod
    def from_settings(cls, settings: Settings) -> LLMConfig | None:
        """The configuration when a model is set up (URL and model name), else None (quoted answers)."""
        if not settings.llm_url and not settings.llm_model:
            return None
        if not settings.llm_url or not settings.llm_model:
            missing = "QA_LLM_MODEL (--llm-model)" if settings.llm_url else "QA_LLM_URL (--llm-url)"
            raise LLMError(f"a written answer needs both a server URL and a model name: set {missing}, "
                           "e.g. QA_LLM_URL=http://127.0.0.1:11434/v1 QA_LLM_MODEL=qwen2.5:7b")
        parts = urlsplit(settings.llm_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise LLMError(f"QA_LLM_URL={settings.llm_url!r} is not an http(s) URL: use e.g. http://127.0.0.1:11434/v1")
        return cls(settings.llm_url.rstrip("/"), settings.llm_model, settings.llm_first_token_s,
                   settings.llm_timeout_s, settings.llm_max_tokens, os.environ.get(KEY_ENV) or None)

    @property
    def host(self) -> str:
        """host[:port] of the server, for "written by … at …" (never the path or query, which may hold secrets)."""
        parts = urlsplit(self.url)
        return parts.hostname + (f":{parts.port}" if parts.port else "") if parts.hostname else self.url

    @property
    def is_local(self) -> bool:
        return (urlsplit(self.url).hostname or "") in LOCAL_HOSTS


def _client(config: LLMConfig):
    import openai

    # No retries: a failure shows at once as the quoted answer; the read timeout is the silence allowed.
    timeout = openai.Timeout(config.first_token_s, connect=min(10.0, config.first_token_s))
    return openai.OpenAI(base_url=config.url, api_key=config.key or "not-needed", timeout=timeout, max_retries=0)


def stream(config: LLMConfig, messages: list[dict]) -> Iterator[str]:
    """Yield the reply's text pieces as they arrive; raise LLMError (one line) on any failure."""
    client = _client(config)
    started = time.monotonic()  # after the client: importing openai the first time takes seconds
    try:
        try:
            response = client.chat.completions.create(model=config.model, messages=messages, stream=True,
                                                      max_tokens=config.max_tokens, temperature=0)
        except Exception as e:  # noqa: BLE001 - every failure is mapped to a cause
            raise LLMError(cause(e, config)) from None
        got, size, finish = False, 0, None
        try:
            for chunk in response:
                now = time.monotonic()
                if not got and now - started > config.first_token_s:
                    raise LLMError(f"no reply from {config.host} within {config.first_token_s:g} s (first token)")
                if now - started > config.timeout_s:
                    raise LLMError(f"the reply from {config.host} took longer than {config.timeout_s:g} s")
                choices = getattr(chunk, "choices", None) or []
                if not choices:
                    continue
                piece = getattr(choices[0].delta, "content", None) or ""
                finish = choices[0].finish_reason or finish
                if piece:
                    got = True
                    size += len(piece)
                    if size > config.max_tokens * CHARS_PER_TOKEN:
                        raise LLMError(f"the reply from {config.host} did not end within {config.max_tokens} tokens")
                    yield piece
        except LLMError:
            raise
        except Exception as e:  # noqa: BLE001
            raise LLMError(cause(e, config)) from None
        finally:
            response.close()
        if finish == "length":
            raise LLMError(f"the reply was cut at the {config.max_tokens}-token limit (QA_LLM_MAX_TOKENS)")
        if not got:
            raise LLMError(f"{config.host} sent an empty reply")
    finally:
        client.close()


def complete(config: LLMConfig, messages: list[dict]) -> str:
    """The whole reply (streamed underneath, so the same clocks and limits apply)."""
    return "".join(stream(config, messages))


def cause(error: BaseException, config: LLMConfig) -> str:
    """One line naming why a call failed. Never includes the key or the server's error body."""
    import openai

    host, model = config.host, config.model
    status = getattr(error, "status_code", None)
    if isinstance(error, openai.APIStatusError) and status is not None:
        if status == 401 or status == 403:
            return f"{host} refused the request (HTTP {status}): check the key in {KEY_ENV}"
        if status == 404:
            return (f"{host} has no model {model!r} or no chat endpoint at this URL (HTTP 404): check "
                    "QA_LLM_MODEL, and that QA_LLM_URL ends in /v1")
        if status == 429:
            return f"{host} is rate-limiting requests (HTTP 429): try again later"
        if status >= 500:
            return f"the model server at {host} failed (HTTP {status})"
        return f"{host} rejected the request (HTTP {status})"
    names = {type(e).__name__ for e in _chain(error)}
    text = " ".join(str(e) for e in _chain(error)).lower()
    if names & {"APITimeoutError", "ReadTimeout", "ConnectTimeout", "TimeoutException", "PoolTimeout", "timeout"}:
        return f"no reply from {host} within {config.first_token_s:g} s"
    if "gaierror" in names or "name or service not known" in text or "name resolution" in text \
            or "nodename nor servname" in text or "no address associated" in text:
        return f"host name {urlsplit(config.url).hostname!r} not found (DNS): check QA_LLM_URL"
    if "connection refused" in text or "ConnectionRefusedError" in names:
        return f"cannot connect to {host} (connection refused): is the model server running?"
    if names & {"APIConnectionError", "ConnectError", "NetworkError", "RemoteProtocolError", "ReadError"}:
        if names & {"RemoteProtocolError", "ReadError"}:
            return f"the connection to {host} broke off mid-reply"
        return f"cannot connect to {host}"
    if names & {"JSONDecodeError", "APIResponseValidationError", "SSEError", "DecodingError", "ValueError",
                "KeyError", "TypeError", "AttributeError"}:
        return f"{host} sent a malformed reply stream"
    return f"the call to {host} failed ({type(error).__name__})"


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    e: BaseException | None = error
    while e is not None and e not in seen and len(seen) < 10:
        seen.append(e)
        e = e.__cause__ or e.__context__
    return seen
