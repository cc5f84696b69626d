"""A loopback proxy in front of the API server that can turn its open watches into zombies.

A zombie watch is a connection that stays open and delivers nothing (a dead load balancer, a half-open NAT
entry): no error, no close, no bookmark. To tell watches from other requests the proxy must see HTTP, so the
client talks plain HTTP to the proxy and the proxy talks TLS to the API server with the admin's client
certificate (the client acts as the admin). Bytes are forwarded untouched; the proxy only notes which
connections carry a watch (`GET ...?watch=true`) and when each watch request was sent.
:meth:`FreezingProxy.freeze_watches` stops forwarding on those, in both directions, without closing them;
connections opened afterwards work normally, so a client that gives up on a frozen watch and opens a new one
recovers. The proxy records when the client closed each frozen connection.
"""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from .ports import LOOPBACK

_WATCH_REQUEST = re.compile(rb"^GET [^\r\n ]*[?&]watch=(?:true|1)\b", re.MULTILINE)
_CHUNK = 65536


@dataclass
class _Link:
    client: socket.socket
    upstream: ssl.SSLSocket
    watch: bool = False
    frozen_at: float | None = None
    client_closed_at: float | None = None
    closed: threading.Event = field(default_factory=threading.Event)

    def close(self) -> None:
        self.closed.set()
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()


class FreezingProxy:
    """``http://127.0.0.1:<port>`` -> the API server at ``upstream`` (``https://host:port``) as ``client_cert``."""

    def __init__(self, upstream: str, ca_file: Path, client_cert: Path, client_key: Path) -> None:
        host, port = upstream.removeprefix("https://").rsplit(":", 1)
        self._upstream = (host, int(port))
        self._tls = ssl.create_default_context(cafile=str(ca_file))
        self._tls.load_cert_chain(str(client_cert), str(client_key))
        self._listener = socket.create_server((LOOPBACK, 0))
        self.port = int(self._listener.getsockname()[1])
        self._links: list[_Link] = []
        self._watch_requests: list[float] = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        threading.Thread(target=self._accept, name="freezing-proxy", daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    # -- faults -------------------------------------------------------------------------------------------
    def freeze_watches(self) -> int:
        """Stop forwarding on every open watch connection (they stay open); returns how many were frozen."""
        now = time.monotonic()
        with self._lock:
            frozen = [link for link in self._links if link.watch and not link.closed.is_set()]
            for link in frozen:
                link.frozen_at = now
        return len(frozen)

    def watches_started_since(self, moment: float) -> int:
        """Watch requests sent since ``moment`` (time.monotonic()), on new or reused connections."""
        with self._lock:
            return sum(1 for started in self._watch_requests if started > moment)

    def frozen_closed_by_client(self) -> list[float]:
        """For each frozen connection the client has closed: seconds from the freeze to the close."""
        with self._lock:
            return [link.client_closed_at - link.frozen_at for link in self._links
                    if link.frozen_at is not None and link.client_closed_at is not None]

    # -- plumbing -----------------------------------------------------------------------------------------
    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                raw = socket.create_connection(self._upstream, timeout=10)
                upstream = self._tls.wrap_socket(raw, server_hostname=self._upstream[0])
                upstream.settimeout(None)
            except OSError:
                with contextlib.suppress(OSError):
                    client.close()
                continue
            link = _Link(client, upstream)
            with self._lock:
                self._links.append(link)
            threading.Thread(target=self._pump, args=(link, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(link, False), daemon=True).start()

    def _pump(self, link: _Link, outbound: bool) -> None:
        source, sink = (link.client, link.upstream) if outbound else (link.upstream, link.client)
        try:
            while not link.closed.is_set():
                data = source.recv(_CHUNK)
                if not data:
                    if outbound and link.frozen_at is not None:
                        link.client_closed_at = time.monotonic()
                    break
                if outbound and link.frozen_at is None and _WATCH_REQUEST.search(data):
                    link.watch = True
                    with self._lock:
                        self._watch_requests.append(time.monotonic())
                if link.frozen_at is not None:
                    if outbound:
                        continue  # keep reading, so the client's close is seen, but forward nothing
                    link.closed.wait()  # hold the API server's bytes: nothing more reaches the client
                    break
                sink.sendall(data)
        except OSError:
            pass
        if link.frozen_at is None or outbound:
            link.close()

    def close(self) -> None:
        self._stopped.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            links = list(self._links)
        for link in links:
            link.close()

    def __enter__(self) -> FreezingProxy:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
