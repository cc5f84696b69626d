"""Operator start: Kopf settings that keep secrets out of Kopf's own storage, and the shared runtime."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import kopf

from keyfob.api.vocabulary import GROUP
from keyfob.config import Settings
from keyfob.handlers.caches import MANAGED_SELECTOR
from keyfob.handlers.request_jobs import run_request_job
from keyfob.handlers.requests import PLURAL, resumed
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
    # A provider's timer (check, sweep) mid-tick when its object is deleted is re-checked after this long.
    settings.background.cancellation_polling = 1
    settings.scanning.disabled = True  # no cluster-wide CRD/namespace watching: the chart grants no such RBAC
    # Server-side selectors: only keyfob's own Secrets are listed and watched, and a shard lists only its own
    # requests (the `labels=` filters of the handlers say the same again on the client side).
    settings.watching.label_selectors["v1", "secrets"] = MANAGED_SELECTOR
    if cfg.shard_labels:
        settings.watching.label_selectors[GROUP, PLURAL] = ",".join(f"{k}={v}" for k, v in cfg.shard_labels.items())
    runtime = Runtime.create(cfg, fence, run_request_job)
    scheduler = runtime.scheduler

    def on_resumed(body: Mapping[str, Any]) -> None:
        resumed(runtime, body)

    scheduler.on_resumed = on_resumed
    scheduler.on_gone = lambda namespace, name, _uid: runtime.metrics.forget(namespace, name)
    if cfg.metrics_port:
        runtime.metrics.serve(cfg.metrics_port)
    memo.runtime = runtime


def register(cfg: Settings, fence: Fence | None = None) -> None:
    @kopf.on.startup()
    async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
        configure(cfg, settings, memo, fence)
        memo.runtime.scheduler.start()

    @kopf.on.cleanup()
    async def cleanup(memo: kopf.Memo, **_: Any) -> None:
        runtime: Runtime | None = getattr(memo, "runtime", None)
        if runtime is not None:
            await runtime.scheduler.stop()
