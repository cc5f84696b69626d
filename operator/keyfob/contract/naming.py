"""Deterministic provider-side names, derived from the request UID and revision, so a retried issue after a
crash finds (and adopts or replaces) what the crashed attempt created instead of creating a second key; and
the one cluster-id rule every provider-side name relies on.

A name is also the first half of every ownership proof (invariant 7): `parse_key_name` recovers the request
UID and revision, and a name that does not parse, or names another request, is never acted on.
"""

from __future__ import annotations

import base64
import hashlib
import re

from keyfob.api.vocabulary import KEY_NAME_PATTERN
from keyfob.contract.errors import ProviderRejected

__all__ = ["KEY_NAME_PATTERN", "check_cluster_id", "key_name", "names_request", "parse_key_name", "short_id"]

KEY_NAME_PREFIX = "kf-"
_KEY_NAME_RE = re.compile(r"^kf-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})-r([1-9][0-9]{0,8})$")

# The cluster id is part of every provider-side name, path, tag or description keyfob writes, so clusters that
# share an account keep apart. 40 characters of this set fit every provider's limits (IAM paths, MinIO and
# IONOS descriptions, Utho name tags) and never contain a space.
CLUSTER_ID_PATTERN = re.compile(r"^[A-Za-z0-9_+=,.@-]{1,40}$")
CLUSTER_ID_RULE = "1-40 characters of A-Z a-z 0-9 _ + = , . @ -"


class InvalidClusterId(ProviderRejected, ValueError):
    """A provider refuses to be built with it (ProviderRejected); settings refuse to start with it (ValueError)."""


def check_cluster_id(cluster_id: str) -> str:
    """The cluster id, if it follows the rule; InvalidClusterId otherwise (settings refuse to start with it,
    adapters refuse to be built with it)."""
    if not CLUSTER_ID_PATTERN.fullmatch(cluster_id):
        raise InvalidClusterId(f"cluster id {cluster_id!r} must be {CLUSTER_ID_RULE}")
    return cluster_id


def key_name(request_uid: str, revision: int) -> str:
    """'kf-<uid>-r<revision>': at most 50 characters, valid as an IAM user name and most key names."""
    if revision < 1:
        raise ValueError("revision starts at 1")
    return f"{KEY_NAME_PREFIX}{request_uid}-r{revision}"


def parse_key_name(name: str) -> tuple[str, int] | None:
    """(request uid, revision) for a name keyfob made, None for anything else."""
    match = _KEY_NAME_RE.fullmatch(name)
    return (match.group(1), int(match.group(2))) if match else None


def names_request(name: str, request_uid: str) -> bool:
    """Whether `name` is a key name keyfob derives for this request (any revision)."""
    parsed = parse_key_name(name)
    return parsed is not None and parsed[0] == request_uid


def short_id(cluster_id: str, name: str, length: int = 16) -> str:
    """A short, stable, provider-safe id (uppercase base32 of a hash) for providers with tight limits."""
    digest = hashlib.sha256(f"{cluster_id}/{name}".encode()).digest()
    return base64.b32encode(digest).decode().rstrip("=")[:length]
