"""The provider-neutral vocabulary a request is written in: permissions, durations, names."""

from __future__ import annotations

import re
from datetime import timedelta
from enum import StrEnum

GROUP = "keyfob.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"


class Permission(StrEnum):
    """One right over objects in the requested buckets; every provider maps these to its own model."""

    READ = "read"
    WRITE = "write"
    LIST = "list"
    DELETE = "delete"
    PUT_OBJECT_RETENTION = "putObjectRetention"
    GET_OBJECT_RETENTION = "getObjectRetention"
    BYPASS_GOVERNANCE_RETENTION = "bypassGovernanceRetention"
    PUT_OBJECT_LEGAL_HOLD = "putObjectLegalHold"
    GET_OBJECT_LEGAL_HOLD = "getObjectLegalHold"
    PUT_OBJECT_LOCK_CONFIGURATION = "putObjectLockConfiguration"
    GET_OBJECT_LOCK_CONFIGURATION = "getObjectLockConfiguration"


OBJECT_LOCK_PERMISSIONS = frozenset(
    {
        Permission.PUT_OBJECT_RETENTION,
        Permission.GET_OBJECT_RETENTION,
        Permission.BYPASS_GOVERNANCE_RETENTION,
        Permission.PUT_OBJECT_LEGAL_HOLD,
        Permission.GET_OBJECT_LEGAL_HOLD,
        Permission.PUT_OBJECT_LOCK_CONFIGURATION,
        Permission.GET_OBJECT_LOCK_CONFIGURATION,
    }
)

# S3 bucket naming rules (the strictest common subset across providers): 3-63 chars, lowercase
# letters, digits, dots and hyphens, starting and ending with a letter or digit.
BUCKET_NAME_PATTERN = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
# Object-key prefixes: the characters S3 documents as safe, minus every wildcard and quote a policy
# language could interpret ('*', '?', '$', '"', '\''); '..' segments and a leading '/' are refused by CEL.
PREFIX_PATTERN = r"^[A-Za-z0-9!_.()/-]*$"
DURATION_PATTERN = r"^([0-9]{1,9}(d|h|m|s))+$"
# The shortest lifetime keyfob issues (the API server refuses less, so a 0s ttl never mints a key per tick) and
# the longest any duration may be (so an absurd value is InvalidSpec, never an overflow in a reconcile).
MIN_LIFETIME_SECONDS = 300
MAX_DURATION_DAYS = 36500
# CEL for a Duration field: at least MIN_LIFETIME (durations with a whole day part are always long enough; CEL's
# duration() knows no 'd', so those are judged by their pattern).
LIFETIME_RULE = {
    "rule": "self.matches('^[0-9]*[1-9][0-9]*d') || (!self.contains('d') && duration(self) >= duration('5m'))",
    "message": "a lifetime must be at least 5m (write days as a leading Nd part, e.g. 30d or 1d12h)",
}
# No control characters in strings that are rendered into a Secret's files (rclone.conf, .s3cfg, AWS config).
NO_CONTROL_CHARS_PATTERN = r"^[^\x00-\x1f\x7f]*$"
# Values rendered into Secret files: a region is a plain token; an endpoint URL has no space or control char.
REGION_PATTERN = r"^[A-Za-z0-9_.-]*$"
URL_PATTERN = r"^https?://[^\s\x00-\x1f\x7f]+$"
# keyfob's provider-side key names: 'kf-<request uid>-r<revision>' (see keyfob.contract.naming).
KEY_NAME_PATTERN = r"^kf-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-r[1-9][0-9]{0,8}$"
# Public ids and names keyfob writes to status: shapes only, so a forged value is refused by the API server.
ACCESS_KEY_ID_PATTERN = r"^[A-Za-z0-9+/=._:-]{1,128}$"
# Kubernetes object names (DNS-1123 subdomain) for Secrets and references.
K8S_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"

_BUCKET_RE = re.compile(BUCKET_NAME_PATTERN)
_PREFIX_RE = re.compile(PREFIX_PATTERN)
_DURATION_RE = re.compile(DURATION_PATTERN)
_DURATION_PART_RE = re.compile(r"([0-9]+)(d|h|m|s)")
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> timedelta:
    """Parse '90d', '1h30m', '45s' into a timedelta; raise ValueError for anything else."""
    if not _DURATION_RE.fullmatch(text):
        raise ValueError(f"invalid duration {text!r}: use digits with d, h, m or s, e.g. 24h or 1h30m")
    seconds = sum(int(n) * _UNITS[unit] for n, unit in _DURATION_PART_RE.findall(text))
    if seconds > MAX_DURATION_DAYS * 86400:
        raise ValueError(f"duration {text!r} is longer than {MAX_DURATION_DAYS} days")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """Render a timedelta in the same syntax parse_duration accepts (whole seconds)."""
    seconds = int(value.total_seconds())
    if seconds <= 0:
        return "0s"
    parts = []
    for unit, size in _UNITS.items():
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)


def bucket_name_problem(name: str) -> str | None:
    """Why a bucket name is unacceptable, or None. The operator re-checks what the CRD schema checks."""
    if not _BUCKET_RE.fullmatch(name):
        return f"bucket name {name!r} is not a valid S3 bucket name (3-63 of a-z, 0-9, '.', '-')"
    if ".." in name:
        return f"bucket name {name!r} contains '..'"
    if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", name):
        return f"bucket name {name!r} looks like an IP address"
    return None


def prefix_problem(prefix: str) -> str | None:
    """Why an object prefix is unacceptable (wildcards, quotes, traversal), or None."""
    if len(prefix) > 512:
        return "prefix is longer than 512 characters"
    if not _PREFIX_RE.fullmatch(prefix):
        return f"prefix {prefix!r} may only contain A-Z a-z 0-9 ! _ . ( ) / -"
    if prefix.startswith("/"):
        return f"prefix {prefix!r} must not start with '/'"
    if any(segment in {".", ".."} for segment in prefix.split("/")):
        return f"prefix {prefix!r} must not contain '.' or '..' path segments"
    return None
