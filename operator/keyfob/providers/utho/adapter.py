"""Utho adapter: one named Utho access key per issued key, granted one permission on each requested bucket.

- Scope: read / write / read-write per bucket, mapped exactly (utho_scope); prefixes, object-lock rights and
  rights Utho bundles with others are refused by unsupported() before any key exists.
- Expiry: none at Utho; keyfob revokes at expiry.
- Revocation: Utho's API (uthoplatforms/utho-go) has no delete for access keys, only a status change, so
  revoke() DISABLES the key and then re-lists to confirm Utho no longer reports it as working; already disabled
  or gone is success. Disabled keys stay in the Utho account (docs/providers/utho.md).
- issue: keys under this cluster and key name that still work are leftovers of a crashed attempt (their secret
  is lost): they are disabled first, and the new key gets the next attempt number (names are unique and cannot
  be freed). If a grant fails, the new key is disabled again before the error is raised.
- list_owned: working keys whose name parses under this cluster (utho_naming), grouped by key name.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import ClassVar

import httpx

from keyfob.api.blocks.utho import TOKEN_KEY, UthoProviderBlock
from keyfob.api.vocabulary import OBJECT_LOCK_PERMISSIONS, Permission
from keyfob.contract import (
    Capabilities,
    ConnectionInfo,
    Grant,
    IssuedKey,
    KeyRef,
    OwnedKey,
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
)
from keyfob.providers.common.http import shared_client
from keyfob.providers.utho.api import UthoApi, UthoKey
from keyfob.providers.utho.naming import MAX_ATTEMPT, name_for, parse_name
from keyfob.providers.utho.scope import scope_problems, utho_permission

P = Permission


class UthoProvider:
    kind: ClassVar[str] = "utho"
    # revocable: disabling stops the key (confirmed by re-listing), though the key itself is not deleted.
    capabilities = Capabilities(
        permissions=frozenset({P.READ, P.LIST, P.WRITE, P.DELETE}),
        prefix_scope=False,
        native_expiry=False,
        revocable=True,
        revocation="disable",
    )

    def __init__(
        self,
        block: UthoProviderBlock,
        admin: Mapping[str, str],
        cluster_id: str,
        *,
        http: httpx.Client | None = None,
    ) -> None:
        token = (admin.get(TOKEN_KEY) or "").strip()
        if not token:
            raise ProviderRejected(f"admin credentials Secret lacks key {TOKEN_KEY!r} (a Utho API key)")
        self.block = block
        self.cluster_id = cluster_id
        self.api = UthoApi(block.api_url, block.dc_slug, token, http or shared_client())

    def __repr__(self) -> str:
        return f"UthoProvider(api_url={self.block.api_url!r}, dc={self.block.dc_slug!r}, cluster={self.cluster_id!r})"

    # ---- Provider protocol --------------------------------------------------------------------------------

    def connection(self) -> ConnectionInfo:
        return ConnectionInfo(endpoint=self.block.s3_endpoint, region=self.block.region)

    def unsupported(self, grant: Grant) -> list[str]:
        return scope_problems(grant.buckets, grant.permissions)

    def check(self) -> None:
        self.api.list_keys()

    def issue(self, grant: Grant) -> IssuedKey:
        problems = self.unsupported(grant)
        if problems:
            raise ProviderRejected("Utho cannot express: " + "; ".join(problems))
        permission = utho_permission(grant.permissions - OBJECT_LOCK_PERMISSIONS)
        if permission is None:  # unsupported() already refused it; keep the type checker and the reader sure
            raise ProviderRejected("Utho cannot express the requested permissions")
        earlier = [(p.attempt, key) for key in self.api.list_keys() if (p := parse_name(self.cluster_id, key.name))
                   and p.key_name == grant.key_name]
        self._disable_confirmed([key for _, key in earlier if key.live])  # a crashed attempt: its secret is lost
        attempt = max((n for n, _ in earlier), default=0) + 1
        if attempt > MAX_ATTEMPT:
            raise ProviderRejected(f"{grant.key_name} has been attempted {MAX_ATTEMPT} times at Utho; giving up")
        name = name_for(self.cluster_id, grant.key_name, attempt)
        access_key, secret = self.api.create_key(name)
        try:
            for bucket in grant.buckets:
                self.api.grant(bucket.name, permission, access_key)
        except ProviderError:
            with contextlib.suppress(ProviderError):  # the next issue() or revoke() disables it otherwise
                self.api.disable(UthoKey(name, access_key, "Active"))
            raise
        return IssuedKey(
            key_name=grant.key_name,
            access_key_id=access_key,
            secret_access_key=secret,
            expires_at=grant.expires_at,
            expiry_native=False,
        )

    def revoke(self, ref: KeyRef) -> None:
        targets = [key for key in self.api.list_keys() if key.live and self._matches(key, ref)]
        self._disable_confirmed(targets)

    def list_owned(self) -> list[OwnedKey]:
        grouped: dict[str, list[str]] = {}
        uids: dict[str, str] = {}
        for key in self.api.list_keys():
            parsed = parse_name(self.cluster_id, key.name)
            if parsed is None or not key.live:
                continue  # not ours, or already revoked (disabled)
            grouped.setdefault(parsed.key_name, []).append(key.access_key)
            uids[parsed.key_name] = parsed.request_uid
        return [OwnedKey(name, tuple(ids), uids[name]) for name, ids in grouped.items()]

    # ---- helpers ------------------------------------------------------------------------------------------

    def _matches(self, key: UthoKey, ref: KeyRef) -> bool:
        if ref.access_key_id and key.access_key == ref.access_key_id:
            return True
        parsed = parse_name(self.cluster_id, key.name)
        return parsed is not None and parsed.key_name == ref.key_name

    def _disable_confirmed(self, keys: list[UthoKey]) -> None:
        """Disable each key, then re-list: Utho must no longer report any of them as working."""
        if not keys:
            return
        for key in keys:
            self.api.disable(key)
        wanted = {key.access_key for key in keys}
        still = [key for key in self.api.list_keys() if key.access_key in wanted and key.live]
        if still:
            listed = ", ".join(f"{key.name} ({key.status or 'no status'})" for key in still)
            raise ProviderUnavailable(f"Utho still lists access key(s) as working after disabling them: {listed}")
