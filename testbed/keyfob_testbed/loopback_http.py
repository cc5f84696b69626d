"""A tiny JSON HTTP server on 127.0.0.1:<free port> in a daemon thread, for the contract fakes.

A handler gets a :class:`Request` and returns a :class:`Reply`. Request bodies are never logged (they may carry
names and, in replies, secrets). The socket listens before start() returns; stop() shuts it down promptly.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

LOOPBACK = "127.0.0.1"
MAX_BODY = 1 << 16


@dataclass
class Request:
    method: str
    path: str  # percent-decoded
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Reply:
    status: int
    payload: Any = None  # JSON-serialisable, a str (text/plain) or None (empty body)
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Reply]


class LoopbackServer:
    def __init__(self, handle: Handler, name: str) -> None:
        class _Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                split = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY:
                    self._reply(Reply(413, "request body too large"))
                    return
                request = Request(
                    self.command,
                    unquote(split.path),
                    parse_qs(split.query, keep_blank_values=True),
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length) if length else b"",
                )
                try:
                    reply = handle(request)
                except Exception as err:  # a bug in a fake must show as a 500, not a hung client
                    reply = Reply(500, {"error": f"fake crashed: {type(err).__name__}"})
                self._reply(reply)

            def _reply(self, reply: Reply) -> None:
                if reply.payload is None:
                    data, kind = b"", "application/json"
                elif isinstance(reply.payload, str):
                    data, kind = reply.payload.encode(), "text/plain; charset=utf-8"
                else:
                    data, kind = json.dumps(reply.payload).encode(), "application/json"
                self.send_response(reply.status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                return  # quiet, and never a body in a log

        self._server = ThreadingHTTPServer((LOOPBACK, 0), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name=name, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self._server.server_address[1]}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


class LoopbackFake:
    """Lifecycle shared by the provider contract fakes: a LoopbackServer in `_server`, usable as a context
    manager, with the fake's stand-in S3 endpoint under /s3."""

    _server: LoopbackServer

    @property
    def s3_url(self) -> str:
        return self._server.url + "/s3"

    def start(self) -> Self:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
