"""`keyfob run` with leader election: wait as a standby, run Kopf only while leading, exit once the lease is lost.

A standby registers nothing with Kopf and starts no watch: it makes no write at all (it only reads and, when
the lease is free or expired, writes the Lease). It answers the liveness probe itself meanwhile."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlparse

import kopf
from kubernetes.leaderelection import electionconfig, leaderelection

from keyfob.kube import load_api_client
from keyfob.leadership import ElectionSettings, Fence, LeaseLock

log = logging.getLogger("keyfob.leadership")
LOST_EXIT_CODE = 3  # the pod restarts and comes back as a standby


class _Healthz(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # http.server's spelling
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"standby\n")

    def log_message(self, *_: object) -> None:
        return


def _serve_standby_health(liveness: str | None) -> ThreadingHTTPServer | None:
    if not liveness:
        return None
    url = urlparse(liveness)
    server = ThreadingHTTPServer((url.hostname or "127.0.0.1", url.port or 80), _Healthz)
    threading.Thread(target=server.serve_forever, name="standby-healthz", daemon=True).start()
    return server


def _raise_stop_flag_on_cleanup(stop_flag: threading.Event) -> None:
    """Kopf waits for a threading.Event stop flag in a thread of the loop's default executor. When Kopf stops
    for another reason (SIGTERM on a rolling update), nothing sets the flag, that thread never returns, and the
    executor's shutdown at the end of `kopf.run` waits for it: the process hung until SIGKILL, renewing the Lease
    all the while, so the standby waited out the grace period and the lease. Kopf's cleanup activity runs on
    every stop, before that shutdown: raising the flag there lets `kopf.run` return and the Lease be released."""

    @kopf.on.cleanup(id="keyfob-raise-stop-flag")
    async def raise_stop_flag(**_: Any) -> None:
        stop_flag.set()


def run_elected(election: ElectionSettings, fence: Fence, run_leader: Callable[[threading.Event], None],
                liveness: str | None = None) -> int:
    """Block as a candidate; once leading, call `run_leader(stop_flag)` (Kopf) in this thread. The flag is set
    when the lease is lost; the fence is closed before that, so no write starts after the loss is known."""
    lock = LeaseLock(load_api_client(), election.lease_name, election.lease_namespace, election.identity, fence,
                     timeout=max(1.0, election.retry_seconds))
    leading, stop_flag, lost = threading.Event(), threading.Event(), threading.Event()

    def stopped_leading() -> None:
        fence.lose()
        if not stop_flag.is_set():
            lost.set()
            stop_flag.set()
        leading.set()  # wake the main thread if it still waits

    config = electionconfig.Config(lock, election.lease_seconds, election.renew_deadline, election.retry_seconds,
                                   onstarted_leading=leading.set, onstopped_leading=stopped_leading)

    def elect() -> None:
        try:
            leaderelection.LeaderElection(config).run()
        finally:
            stopped_leading()

    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        logging.getLogger("leaderelection").setLevel(logging.WARNING)  # it logs every retry period at INFO
    health = _serve_standby_health(liveness)
    log.info("standby for lease %s/%s as %s", election.lease_namespace, election.lease_name, election.identity)
    threading.Thread(target=elect, name="leader-election", daemon=True).start()
    leading.wait()
    if health is not None:
        health.shutdown()
        health.server_close()  # Kopf serves the same port from now on
    if lost.is_set():
        log.error("leader election ended before leading: exiting")
        return LOST_EXIT_CODE
    log.info("leading with lease %s/%s", election.lease_namespace, election.lease_name)
    _raise_stop_flag_on_cleanup(stop_flag)
    try:
        run_leader(stop_flag)
    finally:
        if not lost.is_set():  # a clean stop (SIGTERM): hand over now instead of after the lease's duration
            stop_flag.set()
            fence.lose()
            lock.release()
    if lost.is_set():
        log.error("lost lease %s/%s: stopped writing, exiting to restart as a standby",
                  election.lease_namespace, election.lease_name)
        return LOST_EXIT_CODE
    return 0
