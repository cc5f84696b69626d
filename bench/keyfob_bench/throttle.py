"""A provider rate limit on loopback: a reverse proxy in front of moto that forwards at most R requests per second
(token bucket, burst of R) and answers the rest as IAM does when throttling: HTTP 429 with an XML error of code
``Throttling`` (botocore treats the code as a throttle and its adaptive retry mode slows the client down).

Run as its own process (``python -m bench.keyfob_bench.throttle --upstream URL``): it prints the port it
listens on. Control, on the same port: ``GET /_throttle/stats``, ``POST /_throttle/rate?value=R`` (0 = no
limit), ``POST /_throttle/reset``. Bodies and headers are passed through unchanged (the SigV4 signature covers
the Host header, which is kept as the client sent it); nothing is logged.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}
THROTTLED = (
    b'<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type>'
    b"<Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
    b"<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
)


class Bucket:
    def __init__(self, rate: float) -> None:
        self.lock = threading.Lock()
        self.set_rate(rate)
        self.reset()

    def set_rate(self, rate: float) -> None:
        with self.lock:
            self.rate = rate
            self.tokens = rate
            self.stamp = time.monotonic()

    def reset(self) -> None:
        with self.lock:
            self.forwarded = 0
            self.throttled = 0
            self.per_second: dict[int, int] = {}
            self.started = time.monotonic()

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            if self.rate > 0:
                self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
                self.stamp = now
                if self.tokens < 1:
                    self.throttled += 1
                    return False
                self.tokens -= 1
            self.forwarded += 1
            second = int(now - self.started)
            self.per_second[second] = self.per_second.get(second, 0) + 1
            return True

    def stats(self) -> dict[str, Any]:
        with self.lock:
            busiest = max(self.per_second.values(), default=0)
            return {"rate": self.rate, "forwarded": self.forwarded, "throttled": self.throttled,
                    "busiest_second": busiest, "seconds": len(self.per_second)}


def make_handler(upstream: str, bucket: Bucket) -> type[BaseHTTPRequestHandler]:
    target = urlsplit(upstream)
    local = threading.local()

    def connection() -> http.client.HTTPConnection:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
            local.conn = conn
        return conn

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _reply(self, status: int, body: bytes, content_type: str = "text/xml") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _control(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/_throttle/rate":
                bucket.set_rate(float(parse_qs(url.query).get("value", ["0"])[0]))
            elif url.path == "/_throttle/reset":
                bucket.reset()
            self._reply(200, json.dumps(bucket.stats()).encode(), "application/json")

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.path.startswith("/_throttle/"):
                return self._control()
            if not bucket.take():
                return self._reply(429, THROTTLED)
            headers = [(k, v) for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP]
            for attempt in range(2):
                conn = connection()
                try:
                    conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                    for key, value in headers:
                        conn.putheader(key, value)
                    if not any(k.lower() == "content-length" for k, _ in headers):
                        conn.putheader("Content-Length", str(len(body)))
                    conn.endheaders(body)
                    response = conn.getresponse()
                    data = response.read()
                    break
                except (OSError, http.client.HTTPException):
                    conn.close()
                    local.conn = None
                    if attempt:
                        return self._reply(502, b"upstream failed", "text/plain")
            self.send_response(response.status)
            for key, value in response.getheaders():
                if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return None

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--rate", type=float, default=0.0)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    bucket = Bucket(args.rate)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(args.upstream, bucket))
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
