"""Names keyfob gives Utho access keys: short, deterministic, reversible, bound to this cluster.

Utho keys have only a name (unique per account, chosen by the caller) and no description, so the name must
carry keyfob's key name ('kf-<uid>-r<revision>') exactly, the cluster, and an attempt counter:

    kf-<uid as 26 base32 chars>-<4-char cluster tag>-r<revision>-<attempt>      e.g. kf-b3x...q-7kqa-r2-1

- the uid is the request UID's 16 bytes in lowercase base32 (26 characters), so list_owned() recovers the key
  name exactly;
- the cluster tag is short_id(cluster id, key name, 4): another cluster's keys (or anyone's look-alike) fail the
  check with probability 32^-4 and are never touched;
- the attempt starts at 1 and grows when an earlier attempt for the same key name exists: Utho cannot delete
  keys (keyfob disables them) and names are unique, so a re-issue needs a fresh name.
Utho's name rules are not documented in its SDK; names stay within 48 characters of [a-z0-9-] starting with a
letter, a conservative assumption (see docs/providers/utho.md).
"""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass

from keyfob.contract.naming import key_name as make_key_name
from keyfob.contract.naming import parse_key_name, short_id

MAX_NAME = 48
MAX_ATTEMPT = 99
_NAME_RE = re.compile(r"^kf-([a-z2-7]{26})-([a-z2-7]{4})-r([1-9][0-9]{0,6})-([1-9][0-9]?)$")


@dataclass(frozen=True)
class UthoName:
    key_name: str
    request_uid: str
    attempt: int


def _tag(cluster_id: str, key_name: str) -> str:
    return short_id(cluster_id, key_name, 4).lower()


def name_for(cluster_id: str, key_name: str, attempt: int) -> str:
    parsed = parse_key_name(key_name)
    if parsed is None:
        raise ValueError(f"not a keyfob key name: {key_name!r}")
    if not 1 <= attempt <= MAX_ATTEMPT:
        raise ValueError(f"attempt {attempt} outside 1..{MAX_ATTEMPT}")
    uid, revision = parsed
    packed = base64.b32encode(uuid.UUID(uid).bytes).decode().rstrip("=").lower()
    name = f"kf-{packed}-{_tag(cluster_id, key_name)}-r{revision}-{attempt}"
    if len(name) > MAX_NAME:
        raise ValueError(f"Utho key name {name!r} is longer than {MAX_NAME}")
    return name


def parse_name(cluster_id: str, name: str) -> UthoName | None:
    """What a name keyfob gave in this cluster says; None for anything else (other clusters included)."""
    match = _NAME_RE.fullmatch(name)
    if not match:
        return None
    packed, tag, revision, attempt = match.groups()
    try:
        uid = str(uuid.UUID(bytes=base64.b32decode(packed.upper() + "======")))
    except ValueError:
        return None
    key_name = make_key_name(uid, int(revision))
    if tag != _tag(cluster_id, key_name):
        return None
    return UthoName(key_name=key_name, request_uid=uid, attempt=int(attempt))
