"""Request limits for the page's web server: a body-size cap applied before anything parses the body,
the arguments of a call completed or refused with a sentence, and long requests kept to one slow lane.

Gradio/FastAPI read a whole request body into memory before looking at it (a 420 MB `/ask` body was
accepted, and the queue kept bodies around). This ASGI middleware answers 413 as soon as the declared
`Content-Length`, or the bytes actually received, pass the cap, and refuses file uploads (the page has
no file input).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

from .errors import QAError

Scope = dict
Message = dict
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


HEAVY_CHARS = 600  # a request whose question + history is longer than this takes the long lane
LONG_NICE = 10  # the long lane's CPU priority (nice): it gets ~10 % of a core that a normal question wants
BUSY = ("The server is busy with other long questions: try again in a minute. "
        "服务器正忙于处理其他长问题，请稍后再试。")


class _TooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: bodies over `max_bytes` get 413; `POST …/upload` gets 403."""

    def __init__(self, app, max_bytes: int = 1_000_000, upload_paths: tuple[str, ...] = ("/gradio_api/upload",
                                                                                       "/upload")) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_paths = upload_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope.get("method") == "POST" and scope.get("path", "").rstrip("/").endswith(self.upload_paths):
            await _reply(send, 403, "this page takes no file uploads")
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.max_bytes
            except ValueError:
                await _reply(send, 400, "the Content-Length header is not a number")
                return
            if too_big:
                await _reply(send, 413, self._message())
                return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await _reply(send, 413, self._message())

    def _message(self) -> str:
        return (f"the request body is larger than {self.max_bytes:,} bytes: send a shorter question and history "
                "(questions are cut to 2,000 characters anyway)")


async def _reply(send: Send, status: int, error: str) -> None:
    body = json.dumps({"error": error}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class CallArguments:
    """ASGI middleware for the routes that run one endpoint (`POST /gradio_api/call/<name>`,
    `/gradio_api/run/<name>`, and `/gradio_api/queue/join` naming its `fn_index`): Gradio fails a call
    with fewer values than parameters before the function runs, and the caller sees only
    `{"error": null}`. Missing trailing values get the endpoint's defaults (as gradio_client does); a
    body without a `data` list, or one naming no question, gets 422 with the fix. Runs inside BodyLimit,
    so the body it reads is bounded."""

    def __init__(self, app, name: str, fn_index: int | None, names: list[str], defaults: list,
                 page_events: dict[int, int] | None = None) -> None:
        self.app = app
        self.page_events = page_events or {}  # fn_index -> how many values the page's own events take
        self.paths = {f"/gradio_api/call/{name}", f"/gradio_api/run/{name}"}
        self.join = "/gradio_api/queue/join"
        self.fn_index = fn_index
        self.names = names
        self.defaults = defaults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "").rstrip("/") if scope["type"] == "http" else ""
        if scope.get("method") != "POST" or (path not in self.paths and path != self.join):
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        raw = b"".join(chunks)
        usage = f"send {{\"data\": [{', '.join(self.names)}]}}; only the question is required"
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = None
        if path == self.join and not (isinstance(body, dict) and body.get("fn_index") == self.fn_index):
            fn, data = (body.get("fn_index"), body.get("data")) if isinstance(body, dict) else (None, None)
            wanted = self.page_events.get(fn) if isinstance(fn, int) else None
            if wanted is not None and isinstance(data, list) and len(data) < wanted:
                await _reply(send, 422, f"fn_index {fn} is one of the page's own events and takes {wanted} "
                             f"values, got {len(data)}; from a program, call the ask endpoint: {usage}")
                return
            # a well-formed page event (or a body Gradio refuses itself): pass it on untouched
            await self.app(scope, _replay(raw, receive), send)
            return
        if body is None:
            await _reply(send, 422, f"the body is not JSON: {usage}")
            return
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            await _reply(send, 422, f"`data` must be a list of arguments: {usage}")
            return
        if not data:
            await _reply(send, 422, f"no arguments given: {usage}")
            return
        if len(data) > len(self.names):
            await _reply(send, 422, f"{len(data)} arguments given, at most {len(self.names)}: {usage}")
            return
        body["data"] = data + self.defaults[len(data):]
        raw = json.dumps(body).encode()
        headers = [(k, v) for k, v in scope.get("headers") or [] if k != b"content-length"]
        scope = {**scope, "headers": [*headers, (b"content-length", str(len(raw)).encode())]}
        await self.app(scope, _replay(raw, receive), send)


def _replay(raw: bytes, receive: Receive) -> Receive:
    """The body read ahead, handed on as one message; later messages (a disconnect) come from the client."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": raw, "more_body": False}

    return replay


class Lanes:
    """Long requests (a 2,000-character question or history costs ~100x a normal one) run one at a
    time, with a bounded number waiting; normal questions never wait behind them. The long lane is one
    thread at a lower CPU priority (Linux nice is per thread, and the e5 engine's OpenMP workers are
    created by, and inherit it from, the thread that calls it), so on a busy machine the scheduler gives
    the cores to normal questions first."""

    def __init__(self, normal: int = 2, long_waiting: int = 8) -> None:
        self.normal = threading.BoundedSemaphore(normal)
        self.long = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qa-long", initializer=_lower_priority)
        self.long_waiting = long_waiting
        self._queued = 0  # long requests running or waiting
        self._lock = threading.Lock()

    def run(self, cost: int, fn):
        if cost <= HEAVY_CHARS:
            with self.normal:
                return fn()
        with self._lock:
            if self._queued > self.long_waiting:
                raise QAError(BUSY)
            self._queued += 1
        try:
            return self.long.submit(contextvars.copy_context().run, fn).result()
        finally:
            with self._lock:
                self._queued -= 1


def _lower_priority() -> None:
    # not Linux, or not allowed: the lane still runs one request at a time
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), LONG_NICE)
