"""Turn a lifecycle Outcome into Kubernetes events and Kopf's retry signal."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import kopf

from keyfob.leadership import Fence
from keyfob.lifecycle.outcome import Outcome


def ensure_leading(fence: Fence) -> None:
    """Fencing, before anything that may write to a provider: a replica that lost its lease stops here (Kopf
    retries later, by which time this process has exited and the new leader handles the object)."""
    if not fence.leading():
        raise kopf.TemporaryError("not the leader (lease lost): no write", delay=60)


def report(body: Mapping[str, Any], outcome: Outcome, logger: Any) -> None:
    for event in outcome.events:
        kopf.event(cast(kopf.Body, body), type=event.type, reason=event.reason, message=event.message)
        (logger.warning if event.type == "Warning" else logger.info)(f"{event.reason}: {event.message}")
    if outcome.retry_after is not None:
        raise kopf.TemporaryError("will retry", delay=outcome.retry_after)
