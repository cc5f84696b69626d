"""Turn a lifecycle Outcome into Kubernetes events and log lines (named after the object, Kopf's format)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import kopf
from kubernetes.client.exceptions import ApiException

from keyfob.leadership import Fence
from keyfob.lifecycle.outcome import Outcome
from keyfob.runtime import Runtime

# Kopf's formatter prefixes lines carrying `k8s_ref` with "[namespace/name]" (text) or puts it in `object` (JSON).
_objects = logging.getLogger("kopf.objects")


def ensure_leading(fence: Fence) -> None:
    """Fencing, before anything that may write to a provider: a replica that lost its lease stops here (Kopf
    retries later, by which time this process has exited and the new leader handles the object)."""
    if not fence.leading():
        raise kopf.TemporaryError("not the leader (lease lost): no write", delay=60)


def object_log(body: Mapping[str, Any], level: int, message: str) -> None:
    meta = body.get("metadata") or {}
    ref = {"apiVersion": body.get("apiVersion"), "kind": body.get("kind"), "name": meta.get("name"),
           "uid": meta.get("uid"), "namespace": meta.get("namespace")}
    _objects.log(level, message, extra={"k8s_ref": ref, "k8s_skip": True})


def post_outcome(runtime: Runtime, body: Mapping[str, Any], outcome: Outcome) -> None:
    """Post each event of `outcome` on the request and log it; texts carry no secrets."""
    for event in outcome.events:
        object_log(body, logging.WARNING if event.type == "Warning" else logging.INFO,
                   f"{event.reason}: {event.message}")
        try:
            runtime.kube.post_event(body, event.type, event.reason, event.message)
        except ApiException as err:  # an event is a report, not state: losing one must not fail the reconcile
            object_log(body, logging.WARNING, f"could not post event {event.reason}: HTTP {err.status} {err.reason}")
