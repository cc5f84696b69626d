"""Deterministic provider-side names: derived from the request UID and revision, so a retried issue after a
crash finds (and adopts or replaces) what the crashed attempt created instead of creating a second key."""

from __future__ import annotations

import hashlib
import re

KEY_NAME_PREFIX = "kf-"
_KEY_NAME_RE = re.compile(r"^kf-([0-9a-f-]{36})-r([0-9]+)$")


def key_name(request_uid: str, revision: int) -> str:
    """'kf-<uid>-r<revision>': at most 46 characters, valid as an IAM user name and most key names."""
    if revision < 1:
        raise ValueError("revision starts at 1")
    return f"{KEY_NAME_PREFIX}{request_uid}-r{revision}"


def parse_key_name(name: str) -> tuple[str, int] | None:
    """(request uid, revision) for a name keyfob made, None for anything else."""
    match = _KEY_NAME_RE.fullmatch(name)
    return (match.group(1), int(match.group(2))) if match else None


def short_id(cluster_id: str, name: str, length: int = 16) -> str:
    """A short, stable, provider-safe id (uppercase base32 of a hash) for providers with tight limits."""
    import base64

    digest = hashlib.sha256(f"{cluster_id}/{name}".encode()).digest()
    return base64.b32encode(digest).decode().rstrip("=")[:length]
