"""Operator start: Kopf settings that keep secrets out of Kopf's own storage, and the shared runtime."""

from __future__ import annotations

import logging
from typing import Any

import kopf

from keyfob.config import Settings
from keyfob.leadership import Fence
from keyfob.runtime import Runtime


def configure(cfg: Settings, settings: kopf.OperatorSettings, memo: kopf.Memo, fence: Fence | None = None) -> None:
    # Kopf's progress and diff-base go to annotations under their own prefix (Kopf ignores every annotation under
    # a prefix it stores into, and keyfob.dev/rotate must stay visible); status belongs to keyfob alone.
    settings.persistence.finalizer = "keyfob.dev/revoke"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="kopf.keyfob.dev")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix="kopf.keyfob.dev", key="last-handled-configuration"
    )
    settings.posting.level = logging.WARNING  # our own events say what happened; Kopf's add only failures
    settings.execution.max_workers = cfg.max_workers
    # Watch health: the API server ends each watch after server_timeout (300 s) and the client abandons one after
    # client_timeout (330 s), whatever happens; Kopf asks for bookmarks, which the API server sends about every
    # 60 s even when nothing changes, so a watch silent for inactivity_timeout (90 s by default,
    # KEYFOB_WATCH_INACTIVITY_SECONDS: an open connection that neither delivers nor closes, e.g. behind a dead
    # proxy) is a zombie and is replaced. Kopf resumes from the last resourceVersion it saw, so a replaced watch
    # loses no event.
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 30
    settings.watching.inactivity_timeout = cfg.watch_inactivity_seconds
    settings.networking.request_timeout = 60
    # A timer mid-tick when its request is deleted is re-checked after this long before the finalizer goes
    # (Kopf's default is 60 s, which made every deletion wait a minute).
    settings.background.cancellation_polling = 1
    settings.scanning.disabled = True  # no cluster-wide CRD/namespace watching: the chart grants no such RBAC
    runtime = Runtime.create(cfg, fence)
    if cfg.metrics_port:
        runtime.metrics.serve(cfg.metrics_port)
    memo.runtime = runtime


def register(cfg: Settings, fence: Fence | None = None) -> None:
    @kopf.on.startup()
    def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
        configure(cfg, settings, memo, fence)
