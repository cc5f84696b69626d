"""Operator start: Kopf settings that keep secrets out of Kopf's own storage, and the shared runtime."""

from __future__ import annotations

import logging
from typing import Any

import kopf

from keyfob.config import Settings
from keyfob.runtime import Runtime


def configure(cfg: Settings, settings: kopf.OperatorSettings, memo: kopf.Memo) -> None:
    # Kopf's progress and diff-base go to annotations under their own prefix (Kopf ignores every annotation under
    # a prefix it stores into, and keyfob.dev/rotate must stay visible); status belongs to keyfob alone.
    settings.persistence.finalizer = "keyfob.dev/revoke"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="kopf.keyfob.dev")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix="kopf.keyfob.dev", key="last-handled-configuration"
    )
    settings.posting.level = logging.WARNING  # our own events say what happened; Kopf's add only failures
    settings.execution.max_workers = cfg.max_workers
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.networking.request_timeout = 60
    # A timer mid-tick when its request is deleted is re-checked after this long before the finalizer goes
    # (Kopf's default is 60 s, which made every deletion wait a minute).
    settings.background.cancellation_polling = 1
    settings.scanning.disabled = True  # no cluster-wide CRD/namespace watching: the chart grants no such RBAC
    runtime = Runtime.create(cfg)
    if cfg.metrics_port:
        runtime.metrics.serve(cfg.metrics_port)
    memo.runtime = runtime


def register(cfg: Settings) -> None:
    @kopf.on.startup()
    def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
        configure(cfg, settings, memo)
