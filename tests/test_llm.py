"""qa/llm.py over real HTTP: a chat-completions server on 127.0.0.1 (tests/chatserver.py) answering from scripts."""

from __future__ import annotations

import socket

import pytest

from qa.config import Settings
from qa.errors import QAError
from qa.llm import LLMConfig, LLMError, complete, stream

from .chatserver import ChatServer

MESSAGES = [{"role": "system", "content": "rules"},
            {"role": "user", "content": "<<<passage 1 ab12>>>\ntitle: t\n联合国大会7月1日通过了决议。其他内容。\n<<<end ab12>>>\n\n"
                                        "Answer in Chinese. Question: 哪天通过？"}]
SECRET = "sk-test-DO-NOT-SHOW-4242"


@pytest.fixture(scope="module")
def server():
    with ChatServer(slow_s=3.0) as s:
        yield s


def config(server, model: str, **kw) -> LLMConfig:
    return LLMConfig(server.url, model, **{"first_token_s": 1.0, "timeout_s": 10.0, "max_tokens": 100, **kw})


def test_streams_the_scripted_reply_in_pieces(server):
    pieces = list(stream(config(server, "faithful"), MESSAGES))
    assert len(pieces) > 1
    assert "".join(pieces) == "联合国大会7月1日通过了决议。[1]"


def test_sends_the_key_from_the_environment_and_never_shows_it(server, monkeypatch):
    monkeypatch.setenv("QA_LLM_KEY", SECRET)
    cfg = LLMConfig.from_settings(Settings.load(llm_url=server.url, llm_model="http-401"))
    assert SECRET not in repr(cfg) and SECRET not in str(cfg)
    with pytest.raises(LLMError) as err:
        complete(cfg, MESSAGES)
    assert server.authorizations[-1] == f"Bearer {SECRET}"
    assert "HTTP 401" in str(err.value) and "QA_LLM_KEY" in str(err.value) and SECRET not in str(err.value)


@pytest.mark.parametrize(("model", "words"), [
    ("http-500", "HTTP 500"), ("http-404", "HTTP 404"), ("http-429", "HTTP 429"),
    ("broken-sse", "malformed"), ("endless", "did not end within 100 tokens"), ("empty", "empty reply"),
    ("slow", "within 1 s"),
])
def test_every_failure_is_one_line_naming_its_cause(server, model, words):
    with pytest.raises(LLMError) as err:
        complete(config(server, model), MESSAGES)
    assert words in str(err.value) and "\n" not in str(err.value)
    assert "Traceback" not in str(err.value)


def test_connection_refused_and_unknown_host_are_named():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(LLMError, match="connection refused"):
        complete(LLMConfig(f"http://127.0.0.1:{port}/v1", "m", first_token_s=2.0), MESSAGES)
    with pytest.raises(LLMError, match="not found"):
        complete(LLMConfig("http://newsqa-no-such-host.invalid/v1", "m", first_token_s=5.0), MESSAGES)


def test_half_a_configuration_says_what_is_missing():
    assert LLMConfig.from_settings(Settings.load()) is None
    with pytest.raises(QAError, match="QA_LLM_MODEL"):
        LLMConfig.from_settings(Settings.load(llm_url="http://127.0.0.1:11434/v1"))
    with pytest.raises(QAError, match="not an http"):
        LLMConfig.from_settings(Settings.load(llm_url="ftp://x", llm_model="m"))


def test_host_and_locality_never_include_the_path():
    cfg = LLMConfig("https://dashscope.aliyuncs.com/compatible-mode/v1", "qwen-plus")
    assert cfg.host == "dashscope.aliyuncs.com" and not cfg.is_local
    assert LLMConfig("http://127.0.0.1:11434/v1", "qwen2.5:7b").is_local
