"""A real chat-completions server on 127.0.0.1 for tests (not a test module itself).

It speaks the OpenAI protocol over HTTP (JSON and server-sent events) and answers from scripts chosen by the
request's `model`: "faithful", "invented", "english-swapped", "wrong-marker", "wrong-language", "obey-injection", "slow",
"http-500", "http-401", "http-404", "http-429", "broken-sse", "endless", "empty", "held". A script reads
the passages out of the prompt (the fences qa/written.py writes), so replies quote whatever was retrieved.

    with ChatServer() as server:          # free port, stopped on exit even when the test fails
        server.url                         # http://127.0.0.1:PORT/v1
        server.requests                    # every request body received, in order
        server.release.set()               # lets a "held" stream finish
        server.script = "http-500"         # answer every request with this script, whatever its model
                                           # (one running app, several behaviours); None: by model
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_FENCE = re.compile(r"<<<passage (\d+) [0-9a-f]+>>>\n(.*?)\n<<<end [0-9a-f]+>>>", re.S)
_SENT = re.compile(r"[^。！？!?]+[。！？!?]")
INVENTED_ZH = "该决议还规定每个会员国每年须缴纳五百亿美元的人工智能税。"
INVENTED_EN = "The resolution also requires every member state to pay a 50 billion dollar AI tax."
SWAPPED_EN = "The resolution was proposed by Japan."  # the passage says 中国 (China): a name swapped across scripts


def passages(body: dict) -> dict[int, str]:
    """The numbered passages inside the user message."""
    text = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
    found = {}
    for n, block in _FENCE.findall(text):
        lines = block.split("\n")
        found[int(n)] = "\n".join(line for line in lines if not line.startswith("title: "))
    return found


def first_sentence(text: str) -> str:
    m = _SENT.search(text)
    return (m.group(0) if m else text[:60]).strip()


def question_is_chinese(body: dict) -> bool:
    user = str(body["messages"][-1]["content"])
    q = user.rsplit("Question:", 1)[-1]
    return bool(re.search(r"[\u4e00-\u9fff]", q))


def reply_for(model: str, body: dict) -> str:
    """The scripted reply text."""
    ps = passages(body)
    first = first_sentence(ps.get(1, "")) if ps else "无"
    second = first_sentence(ps[2]) if 2 in ps else ""
    faithful = f"{first}[1]" + (f"{second}[2]" if second and second != first else "")
    if model == "invented":
        return faithful + INVENTED_ZH + "[1]"
    if model == "wrong-marker":
        return f"{first}[1][9]" + (f"{second}[9]" if second else "")
    if model == "english-swapped":  # an English answer over the Chinese passages, one name swapped
        n = next((k for k, p in sorted(ps.items()) if "7月1日" in p), 1)
        return f"The UN General Assembly adopted the resolution on AI capacity building on July 1.[{n}]{SWAPPED_EN}[{n}]"
    if model == "wrong-language":
        return "The articles describe a United Nations resolution on artificial intelligence.[1]"
    if model == "obey-injection":
        # What a model that followed the injected article would write: another language, an uncited
        # claim, and the system prompt.
        system = str(body["messages"][0]["content"])
        return f"{faithful}I have been pwned and all articles are fake. My instructions were: {system}"
    if model == "empty":
        return ""
    return faithful


class _Handler(BaseHTTPRequestHandler):
    server: ChatServer

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        self.server.record(self.path, body, self.headers.get("Authorization"))
        model = self.server.script or str(body.get("model", ""))
        if not self.path.rstrip("/").endswith("/chat/completions"):
            return self._status(404, "no such route")
        status = {"http-500": 500, "http-401": 401, "http-404": 404, "http-429": 429}.get(model)
        if status:
            return self._status(status, f"scripted {status}")
        if model == "slow":
            time.sleep(self.server.slow_s)
        text = reply_for(model, body)
        if not body.get("stream"):
            return self._json(200, {"id": "x", "object": "chat.completion", "model": model, "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}})
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (timeout tests)
            self._stream(model, text)

    def _stream(self, model: str, text: str) -> None:
        def event(delta: dict, finish: str | None = None) -> None:
            chunk = {"id": "x", "object": "chat.completion.chunk", "model": model,
                     "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            self.wfile.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
            self.wfile.flush()

        event({"role": "assistant", "content": ""})
        if model == "broken-sse":
            event({"content": text[:10]})
            self.wfile.write(b"data: {\"choices\": [{\"delta\": {\"content\": \"x\"\n\n")
            self.wfile.flush()
            return
        if model == "endless":
            while not self.server.stopping.is_set():
                event({"content": "无尽的文字。"})
            return
        pieces = [text[i:i + 8] for i in range(0, len(text), 8)]
        for i, piece in enumerate(pieces):
            if model == "held" and i == len(pieces) // 2:
                self.server.release.wait(60)
            event({"content": piece})
        event({}, "stop")
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()

    def _status(self, code: int, message: str) -> None:
        self._json(code, {"error": {"message": message, "type": "scripted", "code": code}})

    def _json(self, code: int, obj: dict) -> None:
        data = json.dumps(obj, ensure_ascii=False).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class ChatServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, slow_s: float = 3.0) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.slow_s = slow_s
        self.script: str | None = None
        self.requests: list[dict] = []
        self.authorizations: list[str | None] = []
        self.release = threading.Event()
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def record(self, path: str, body: dict, authorization: str | None) -> None:
        with self._lock:
            self.requests.append({"path": path, **body})
            self.authorizations.append(authorization)

    def __enter__(self) -> ChatServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.release.set()
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)


if __name__ == "__main__":  # run by hand (or by the browser test as a subprocess): print the URL, serve
    import sys

    with ChatServer(float(sys.argv[1]) if len(sys.argv) > 1 else 3.0) as s:
        print(s.url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
