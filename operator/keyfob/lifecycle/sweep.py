"""Orphan sweep: which keys found at the provider under keyfob's naming convention nobody holds any more.

A key is held when a live AccessKeyRequest names it (current, pending or previous) or a Secret keyfob wrote
names it (annotation keyfob.dev/key-name; this keeps keys of requests deleted with deletionPolicy Retain).
Callers list the provider's keys BEFORE listing requests: a key's name is written to its request's
status.pending before the key is created, so any key seen in the first listing is visible in the second.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from keyfob.contract import KeyRef, OwnedKey
from keyfob.contract.naming import parse_key_name
from keyfob.lifecycle.request_view import parse_status


def held_key_names(requests: Iterable[Mapping[str, Any]], secrets_key_names: Iterable[str]) -> set[str]:
    held = set(secrets_key_names)
    for body in requests:
        status = parse_status(body.get("status"))
        held.update(k.key_name for k in status.previous_keys)
        if status.key_name:
            held.add(status.key_name)
        if status.pending:
            held.add(status.pending.key_name)
    return held


def orphans(owned: Iterable[OwnedKey], held: set[str]) -> list[OwnedKey]:
    return [key for key in owned if key.key_name not in held]


def orphan_ref(key: OwnedKey) -> KeyRef:
    """The reference to revoke an orphan by: its owner is what the provider's own record (or the name keyfob
    derived) says, so the adapter's ownership proof checks the provider against itself, never against status."""
    parsed = parse_key_name(key.key_name)
    owner = key.request_uid or (parsed[0] if parsed else "")
    return KeyRef(key.key_name, owner, key.access_key_ids[0] if key.access_key_ids else None)
