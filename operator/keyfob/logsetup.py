"""Logging: Kopf's formats (text or JSON, with the object's namespace/name on every handler line), and the
libraries that would print HTTP bodies at DEBUG (Secret data, IAM CreateAccessKey responses) held at WARNING
whatever level the operator runs at."""

from __future__ import annotations

import logging

import kopf

# These log full request/response bodies at DEBUG: never let them, the bodies carry key material.
BODY_LOGGERS = ("kubernetes.client.rest", "botocore", "boto3", "s3transfer", "urllib3", "httpx", "httpcore", "minio")


class QuietTimers(logging.Filter):
    """Drop Kopf's per-tick "Timer 'check_due' succeeded" lines: one per request per tick says nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (message.startswith("Timer 'check_due'") or message.startswith("Timer 'recheck-"))


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
