"""Prometheus metrics (prometheus-client), served on KEYFOB_METRICS_PORT.

Series (cert-manager style):
- keyfob_keys_issued_total{provider,reason}, keyfob_keys_revoked_total{provider},
  keyfob_provider_failures_total{provider,kind}
- keyfob_issue_duration_seconds{provider} (histogram of the provider's issue call)
- keyfob_key_expiration_timestamp_seconds{namespace,name} (like certmanager_certificate_expiration_timestamp_seconds)
- keyfob_requests{ready,reason}: requests by their Ready condition
- keyfob_revocations_pending: previous keys waiting for their grace period to end
- keyfob_suspension_revocations_total{provider}: keys revoked by a break-glass suspension
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from keyfob.lifecycle.conditions import READY
from keyfob.lifecycle.outcome import Outcome
from keyfob.lifecycle.request_view import parse_status


@dataclass
class _RequestState:
    ready: str
    reason: str
    pending_revocations: int


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    _states: dict[tuple[str, str], _RequestState] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        r = self.registry
        self.issued = Counter("keyfob_keys_issued", "Keys issued.", ["provider", "reason"], registry=r)
        self.revoked = Counter("keyfob_keys_revoked", "Keys revoked.", ["provider"], registry=r)
        self.failures = Counter("keyfob_provider_failures", "Failed provider calls.", ["provider", "kind"], registry=r)
        self.issue_seconds = Histogram(
            "keyfob_issue_duration_seconds", "Provider issue call latency.", ["provider"], registry=r,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.expiry = Gauge(
            "keyfob_key_expiration_timestamp_seconds", "Expiry of the current key (unix time).",
            ["namespace", "name"], registry=r,
        )
        self.requests = Gauge("keyfob_requests", "Requests by Ready condition.", ["ready", "reason"], registry=r)
        self.suspended = Counter(
            "keyfob_suspension_revocations", "Keys revoked by a break-glass suspension.", ["provider"], registry=r
        )
        self.pending = Gauge("keyfob_revocations_pending", "Previous keys awaiting revocation.", registry=r)

    def serve(self, port: int) -> None:
        start_http_server(port, registry=self.registry)

    def observe_status(self, body: Mapping[str, Any]) -> None:
        """A request seen settled at start-up: its series come from its status (no reconcile ran)."""
        meta = body.get("metadata") or {}
        self.observe(meta.get("namespace", ""), meta.get("name", ""), Outcome(status=parse_status(body.get("status"))))

    def observe(self, namespace: str, name: str, outcome: Outcome) -> None:
        provider = outcome.provider
        for reason in outcome.issued:
            self.issued.labels(provider, reason).inc()
        for seconds in outcome.issue_seconds:
            self.issue_seconds.labels(provider).observe(seconds)
        if outcome.revoked:
            self.revoked.labels(provider).inc(outcome.revoked)
        if outcome.suspended_revoked:
            self.suspended.labels(provider).inc(outcome.suspended_revoked)
        for kind in outcome.failures:
            self.failures.labels(provider, kind).inc()
        status = outcome.status
        if status is None:
            return
        if status.expires_at is not None and status.access_key_id is not None:
            self.expiry.labels(namespace, name).set(status.expires_at.timestamp())
        else:
            self.forget_expiry(namespace, name)
        ready = status.condition(READY)
        state = _RequestState(
            ready.status.value if ready else "Unknown", ready.reason if ready else "", len(status.previous_keys)
        )
        with self._lock:
            self._replace((namespace, name), state)

    def observe_revoked(self, provider: str, count: int) -> None:
        if count:
            self.revoked.labels(provider).inc(count)

    def forget(self, namespace: str, name: str) -> None:
        self.forget_expiry(namespace, name)
        with self._lock:
            self._replace((namespace, name), None)

    def forget_expiry(self, namespace: str, name: str) -> None:
        with contextlib.suppress(KeyError):
            self.expiry.remove(namespace, name)

    def _replace(self, key: tuple[str, str], state: _RequestState | None) -> None:
        """O(1) per request: adjust the two gauges by the difference instead of recounting every request."""
        old = self._states.pop(key, None)
        if old is not None:
            self.requests.labels(old.ready, old.reason).dec()
            self.pending.dec(old.pending_revocations)
        if state is not None:
            self._states[key] = state
            self.requests.labels(state.ready, state.reason).inc()
            self.pending.inc(state.pending_revocations)
