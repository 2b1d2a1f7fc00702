"""Request limits for the page's web server: a body-size cap applied before anything parses the body.

Gradio/FastAPI read a whole request body into memory before looking at it (a 420 MB `/ask` body was
accepted, and the queue kept bodies around). This ASGI middleware answers 413 as soon as the declared
`Content-Length`, or the bytes actually received, pass the cap, and refuses file uploads (the page has
no file input).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

Scope = dict
Message = dict
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


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
    """ASGI middleware for Gradio's REST route of one endpoint (`POST /gradio_api/call/<name>`): Gradio
    fails a call with fewer values than parameters before the function runs, and the caller sees only
    `{"error": null}`. Missing trailing values get the endpoint's defaults (as gradio_client does); a
    body without a `data` list, or one naming no question, gets 422 with the fix. Runs inside BodyLimit,
    so the body it reads is bounded."""

    def __init__(self, app, path: str, names: list[str], defaults: list) -> None:
        self.app = app
        self.path = path
        self.names = names
        self.defaults = defaults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST" or scope.get("path", "").rstrip("/") != self.path:
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
        usage = f"send {{\"data\": [{', '.join(self.names)}]}}; only the question is required"
        try:
            body = json.loads(b"".join(chunks) or b"null")
        except ValueError:
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
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}

        await self.app(scope, replay, send)
