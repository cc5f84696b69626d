"""Stopping Utho access keys: remove them, and disable what Utho will not remove, each confirmed by listing.

Utho removes a key with status "remove" (utho-community/object-storage src/types.ts ModifyAccessKeyRequest;
terraform-provider-utho-prod internal/client/objectstorage.go DeleteAccessKey). uthoplatforms/utho-go has no
delete at all (its DeleteAccessKey is commented out in utho/object_storage.go), so a platform that refuses
"remove" is expected: such a key is disabled instead and the result says so. Every status change is confirmed by
listing again: a key counts as stopped only when Utho no longer lists it, or lists it with a dead status.

The status path names the key by name or, for the Terraform client's variant, by access key
(UthoApi.set_status). The access-key form is only tried when no listed key is NAMED like that access key, so a
status change can never land on another key than the one the listing tied to our name.
"""

from __future__ import annotations

import re

from keyfob.contract import ProviderRejected, ProviderUnavailable, Revoked
from keyfob.providers.utho.api import DISABLE, REMOVE, UthoApi, UthoKey

_NOT_FOUND = re.compile(r"not found|no such|does not exist", re.IGNORECASE)


def _set(api: UthoApi, key: UthoKey, status: str, listing: list[UthoKey]) -> ProviderRejected | None:
    """Ask Utho to set `status`; None when it agreed, else its refusal. When both path forms were refused, the
    one that is not "not found" says why (the other form named the key in a way this platform does not use)."""
    try:
        api.set_status(key, status)
        return None
    except ProviderRejected as refused:
        if any(other.name == key.access_key for other in listing):
            return refused
        try:
            api.set_status(key, status, by_access_key=True)
            return None
        except ProviderRejected as refused_again:
            return refused_again if _NOT_FOUND.search(str(refused)) else refused


def _still_live(api: UthoApi, keys: list[UthoKey]) -> list[UthoKey]:
    wanted = {key.access_key for key in keys}
    return [key for key in api.list_keys() if key.access_key in wanted and key.live]


def stop(api: UthoApi, keys: list[UthoKey], listing: list[UthoKey]) -> Revoked | None:
    """Remove `keys` (already proven ours), disabling any Utho refuses to remove. None when there was nothing to
    do; ProviderUnavailable (retried) while Utho still lists one of them as working."""
    live = [key for key in keys if key.live]
    if not live:
        return None
    refusals = {key.access_key: _set(api, key, REMOVE, listing) for key in live}
    leftover = _still_live(api, live)
    if not leftover:
        return Revoked("delete")
    for key in leftover:
        refused = _set(api, key, DISABLE, listing)
        if refused is not None:
            raise refused
    still = _still_live(api, leftover)
    if still:
        listed = ", ".join(f"{key.name} ({key.status or 'no status'})" for key in still)
        raise ProviderUnavailable(f"Utho still lists access key(s) as working after removing and disabling: {listed}")
    why = next((str(r) for k in leftover if (r := refusals.get(k.access_key)) is not None), None)
    detail = "Utho would not remove it" + (f": {why}" if why else "") + "; it stays in the Utho account, disabled"
    return Revoked("disable", detail=detail)
