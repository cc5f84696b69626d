"""Logging: Kopf's formats (text or JSON, with the object's namespace/name on every handler line), and the
libraries that would print HTTP bodies at DEBUG (Secret data, IAM CreateAccessKey responses) held at WARNING
whatever level the operator runs at."""

from __future__ import annotations

import logging

import kopf

# These log full request/response bodies at DEBUG: never let them, the bodies carry key material.
BODY_LOGGERS = ("kubernetes.client.rest", "botocore", "boto3", "s3transfer", "urllib3", "httpx", "httpcore", "minio")


# Kopf's "... succeeded" lines for the watch handlers that only feed the schedule and the caches: one per watch
# event of every request and Secret says nothing (keyfob logs what its jobs did).
QUIET_PREFIXES = ("Timer 'recheck-", "Handler 'schedule-requests'", "Handler 'watch-", "Indexer 'keyfob-")


class QuietTimers(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.msg if isinstance(record.msg, str) else record.getMessage()
        return not any(prefix in message[:120] for prefix in QUIET_PREFIXES)


def configure(*, verbose: bool, debug: bool, json: bool) -> None:
    kopf.configure(
        verbose=verbose,
        debug=debug,
        log_format=kopf.LogFormat.JSON if json else kopf.LogFormat.FULL,
        log_prefix=None,  # Kopf: text lines name the object ("[namespace/name] Denied: ..."); JSON carries a field
        log_refkey="object",
    )
    logging.getLogger("kopf.objects").addFilter(QuietTimers())
    for name in BODY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
