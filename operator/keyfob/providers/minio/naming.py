"""Pure rules of the MinIO adapter: service-account ids, names, descriptions, expiry window, secrets.

- access key: 'KF' + short_id(cluster id, key name, 18) = 20 characters (MinIO allows 3..20), deterministic,
  so a retried issue lands on the same service account and adopts it instead of creating a second one;
- name (<= 32, [A-Za-z][A-Za-z0-9_-]*): 'kf-' + the request uid's first 20 hex digits + '-r<revision>', for people;
- description (<= 256 bytes): 'keyfob/v1 cluster=<id> key=<key name> request=<namespace>/<name>': what
  list_owned() parses (the request name is cut to fit, the parts before it never are);
- expiration: MinIO accepts 15 min .. 365 d from its own clock and truncates to the second.
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from keyfob.contract import Grant, ProviderRejected
from keyfob.contract.naming import parse_key_name, short_id

ACCESS_KEY_PREFIX = "KF"
ACCESS_KEY_LENGTH = 20
NAME_MAX = 32
DESCRIPTION_MAX_BYTES = 256
DESCRIPTION_TAG = "keyfob/v1"
SECRET_LENGTH = 40  # MinIO allows 8..40
MIN_LIFETIME = timedelta(minutes=15)
MAX_LIFETIME = timedelta(days=365)
# Our clock and MinIO's differ and the request takes time: keep this far inside MinIO's window.
CLOCK_MARGIN = timedelta(seconds=60)
_DESCRIPTION_RE = re.compile(r"^keyfob/v1 cluster=(\S+) key=(\S+)(?: request=(\S*))?$")
_SECRET_ALPHABET = string.ascii_letters + string.digits




def access_key_for(cluster_id: str, key_name: str) -> str:
    return ACCESS_KEY_PREFIX + short_id(cluster_id, key_name, ACCESS_KEY_LENGTH - len(ACCESS_KEY_PREFIX))


def display_name(grant: Grant) -> str:
    uid = grant.request.uid.replace("-", "").lower()
    name = f"kf-{re.sub(r'[^a-z0-9]', '', uid)[:20]}-r{grant.revision}"
    return name[:NAME_MAX]


def description_for(cluster_id: str, grant: Grant) -> str:
    head = f"{DESCRIPTION_TAG} cluster={cluster_id} key={grant.key_name} request="
    if len(head.encode()) > DESCRIPTION_MAX_BYTES:
        raise ProviderRejected(f"cluster id and key name are too long for a MinIO description ({len(head)} bytes)")
    request = f"{grant.request.namespace}/{grant.request.name}"
    room = DESCRIPTION_MAX_BYTES - len(head.encode())
    return head + request.encode()[:room].decode(errors="ignore")


@dataclass(frozen=True)
class Described:
    """What a keyfob description says."""

    cluster_id: str
    key_name: str
    request: str | None
    request_uid: str | None


def parse_description(text: str | None) -> Described | None:
    """The parts of a description keyfob wrote; None for anything else."""
    match = _DESCRIPTION_RE.fullmatch(text or "")
    if not match:
        return None
    cluster_id, key, request = match.groups()
    parsed = parse_key_name(key)
    return Described(cluster_id, key, request or None, parsed[0] if parsed else None)


def expiration_for(expires_at: datetime | None, now: datetime) -> datetime | None:
    """The expiration to ask MinIO for (truncated to the second, never later than asked), or a refusal.

    MinIO only accepts 15 min .. 365 d from now. Out of that window the grant is refused rather than clamped:
    a shorter key than asked would surprise the workload, a longer one would break "never broader than asked".
    """
    if expires_at is None:
        return None
    if expires_at.tzinfo is None:
        raise ProviderRejected("expiry must carry a time zone")
    expiration = expires_at.astimezone(UTC).replace(microsecond=0)
    lifetime = expiration - now.astimezone(UTC)
    if lifetime < MIN_LIFETIME + CLOCK_MARGIN:
        raise ProviderRejected(
            f"MinIO service accounts must expire between 15m and 365d from now (keyfob keeps a "
            f"{int(CLOCK_MARGIN.total_seconds())}s margin); {expiration.isoformat()} is only "
            f"{max(int(lifetime.total_seconds()), 0)}s away"
        )
    if lifetime > MAX_LIFETIME - CLOCK_MARGIN:
        raise ProviderRejected(
            f"MinIO service accounts must expire between 15m and 365d from now (keyfob keeps a "
            f"{int(CLOCK_MARGIN.total_seconds())}s margin); {expiration.isoformat()} is {lifetime.days}d away"
        )
    return expiration


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_secret_key() -> str:
    """A fresh secret we choose ourselves, so an adopted service account can be given a known one."""
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(SECRET_LENGTH))
