"""Orphan sweep: which keys found at the provider under keyfob's naming convention nobody holds any more.

A key is held when a live AccessKeyRequest names it (current, pending or previous) or a Secret keyfob wrote
names it (annotation keyfob.dev/key-name; this keeps keys of requests deleted with deletionPolicy Retain).
Callers list the provider's keys BEFORE listing requests: a key's name is written to its request's
status.pending before the key is created, so any key seen in the first listing is visible in the second.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from keyfob.contract import KeyRef, OwnedKey, OwnershipUnproven, Provider, ProviderError
from keyfob.contract.keys import revocation_words
from keyfob.contract.naming import parse_key_name
from keyfob.lifecycle.outcome import Outcome
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


def sweep_orphans(
    adapter: Provider,
    list_requests: Callable[[], Iterable[Mapping[str, Any]]],
    list_secret_key_names: Callable[[], Iterable[str]],
) -> Outcome:
    """Revoke what the provider shows as keyfob's that nobody holds. The provider is listed first (see above);
    each revoke is proven at the provider by the adapter, so a look-alike is never touched."""
    out = Outcome()
    if not adapter.capabilities.revocable:
        return out
    try:
        owned = adapter.list_owned()
    except ProviderError as err:
        out.warning("SweepSkipped", f"orphan sweep skipped: {err}")
        return out
    if not owned:
        return out
    held = held_key_names(list_requests(), list_secret_key_names())
    caps = adapter.capabilities
    for key in orphans(owned, held):
        try:
            result = adapter.revoke(orphan_ref(key))
        except OwnershipUnproven as err:
            out.warning("OrphanNotOurs", f"{key.key_name} left alone: {err}")
            continue
        except ProviderError as err:
            out.warning("OrphanNotRevoked", f"orphan {key.key_name} not revoked yet: {err}")
            continue
        words = revocation_words(result, caps.revoked_word, caps.revocation_delay)
        out.normal("OrphanRevoked", f"{words} orphaned key {key.key_name} (no request or Secret holds it)")
        out.revoked += 1
    return out
