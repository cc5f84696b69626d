"""Utho adapter: one named Utho access key per issued key, granted one permission on each requested bucket.

- Scope: `read` = read+list, `write` = write+delete, mapped exactly (utho.scope); read+write together, prefixes
  and object-lock rights are refused by unsupported() before any key exists (Utho's `full` is never used: it may
  allow more than read+write).
- Expiry: none at Utho; keyfob revokes at expiry.
- Revocation (utho.revoke): status "remove", confirmed by listing; a key Utho will not remove is disabled and
  the Revoked result says "disable". Already gone is success.
- Ownership (invariant 7): a key is acted on only when the key name names the request (names_request) and Utho's
  own record, the key's name, decodes under this cluster to that key name (utho.naming). An access key id from
  status that Utho lists under another name is never touched: OwnershipUnproven, nothing changed.
- issue: working keys under this cluster and key name are leftovers of a crashed attempt (their secret is lost):
  they are removed first, and the new key gets the next attempt number. If a grant fails, the new key is
  removed again before the error is raised.
- list_owned: working keys whose name parses under this cluster (utho.naming), grouped by key name.
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
    GrantPreview,
    IssuedKey,
    KeyRef,
    OwnedKey,
    OwnershipUnproven,
    ProviderError,
    ProviderRejected,
    Revoked,
)
from keyfob.contract.naming import names_request
from keyfob.providers.common.http import shared_client
from keyfob.providers.utho.api import UthoApi, UthoKey
from keyfob.providers.utho.naming import MAX_ATTEMPT, name_for, parse_name
from keyfob.providers.utho.revoke import stop
from keyfob.providers.utho.scope import preview, scope_problems, utho_permission

P = Permission


class UthoProvider:
    kind: ClassVar[str] = "utho"
    # Revocation removes the key; where Utho refuses, revoke() disables it and its Revoked result says so.
    capabilities = Capabilities(
        permissions=frozenset({P.READ, P.LIST, P.WRITE, P.DELETE}),
        prefix_scope=False,
        native_expiry=False,
        revocable=True,
        revocation="delete",
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

    def describe(self, grant: Grant) -> GrantPreview:
        return preview(grant, name_for(self.cluster_id, grant.key_name, 1))

    def check(self) -> None:
        self.api.list_keys()

    def issue(self, grant: Grant) -> IssuedKey:
        problems = self.unsupported(grant)
        if problems:
            raise ProviderRejected("Utho cannot express: " + "; ".join(problems))
        permission = utho_permission(grant.permissions - OBJECT_LOCK_PERMISSIONS)
        if permission is None:  # unsupported() already refused it; keep the type checker and the reader sure
            raise ProviderRejected("Utho cannot express the requested permissions")
        if not names_request(grant.key_name, grant.request.uid):
            raise OwnershipUnproven(f"{grant.key_name!r} is not a key name keyfob derives for this request")
        listing = self.api.list_keys()
        earlier = [(p.attempt, key) for key in listing if (p := parse_name(self.cluster_id, key.name))
                   and p.key_name == grant.key_name]
        stop(self.api, [key for _, key in earlier], listing)  # a crashed attempt: its secret is lost
        attempt = max((n for n, _ in earlier), default=0) + 1
        if attempt > MAX_ATTEMPT:
            raise ProviderRejected(f"{grant.key_name} has been attempted {MAX_ATTEMPT} times at Utho; giving up")
        name = name_for(self.cluster_id, grant.key_name, attempt)
        access_key, secret = self.api.create_key(name)
        try:
            for bucket in grant.buckets:
                self.api.grant(bucket.name, permission, access_key)
        except ProviderError:
            with contextlib.suppress(ProviderError):  # the next issue() or revoke() removes it otherwise
                created = UthoKey(name, access_key, "Active")
                stop(self.api, [created], [created])
            raise
        return IssuedKey(
            key_name=grant.key_name,
            access_key_id=access_key,
            secret_access_key=secret,
            expires_at=grant.expires_at,
            expiry_native=False,
        )

    def revoke(self, ref: KeyRef) -> Revoked | None:
        listing = self.api.list_keys()
        return stop(self.api, self._proven(ref, listing), listing)

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

    def _proven(self, ref: KeyRef, listing: list[UthoKey]) -> list[UthoKey]:
        """The listed keys Utho's own record (their names) ties to ref.key_name under this cluster; refuses a ref
        whose name is not the request's, or whose access key id Utho lists under any other name."""
        if not names_request(ref.key_name, ref.owner_uid):
            raise OwnershipUnproven(f"{ref.key_name!r} is not a key name keyfob derives for this request")
        ours = [key for key in listing if (p := parse_name(self.cluster_id, key.name)) and p.key_name == ref.key_name]
        hinted = [key for key in listing if ref.access_key_id and key.access_key == ref.access_key_id]
        if any(key not in ours for key in hinted):
            raise OwnershipUnproven(
                f"Utho lists access key {ref.access_key_id} under a name that is not keyfob's for {ref.key_name} "
                "in this cluster; it was not touched"
            )
        return ours
