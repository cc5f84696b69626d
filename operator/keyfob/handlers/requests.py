"""AccessKeyRequest watch: every event goes to the one in-process schedule (keyfob.scheduler), which runs the
jobs in handlers.request_jobs. No Kopf change handler, timer or finalizer logic per request: keyfob holds its own
finalizer and decides from each event's body alone whether anything is due."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import kopf

from keyfob.api.vocabulary import GROUP, VERSION
from keyfob.config import Settings
from keyfob.handlers.reporting import object_log
from keyfob.runtime import Runtime

PLURAL = "accesskeyrequests"


def resumed(runtime: Runtime, body: Mapping[str, Any]) -> None:
    """A request found settled at start-up: nothing is read or written for it now."""
    runtime.metrics.observe_status(body)
    object_log(body, logging.INFO, "Resumed: settled, nothing due")


def register(settings: Settings) -> None:
    labels = settings.shard_labels or None

    @kopf.on.event(GROUP, VERSION, PLURAL, labels=labels, id="schedule-requests")
    async def schedule(event: Mapping[str, Any], memo: kopf.Memo, **_: Any) -> None:
        runtime: Runtime = memo.runtime
        runtime.scheduler.observe(event.get("type"), event["object"])
