"""IONOS adapter: one IONOS Object Storage access key (of the token's user) per issued key.

- Scope: none. An IONOS key has every right of its user, so unsupported() refuses every grant unless the block
  sets allowUnscopedKeys; then the key's description says `scope=unscoped` (see ionos.naming).
- Administrative keys: a key IONOS marks `metadata.administrative` (made with an administrator's or the contract
  owner's token) can also create buckets and set bucket policies. Unless allowAdministrativeKeys is true, such a
  key (or one whose record does not say) is deleted again and the request refused; when allowed, the key's
  warnings say so (Ready message, Warning event, Secret annotation).
- Expiry: none at IONOS; keyfob revokes at expiry (capabilities.native_expiry is False).
- issue: keys whose description names this cluster and key name are leftovers of a crashed attempt (their secret
  is lost): they are deleted first (adopt-or-replace). Then the user's keys are counted against keysPerUser
  (IONOS allows five per user, its other keys included) and a new key is created and polled until AVAILABLE
  (a 404 right after the create is waited out, ionos.polling), bounded by provisioningTimeout. A key that FAILED,
  never became AVAILABLE or is refused is deleted again before the error is raised.
- Ownership (invariant 7): revoke() acts only when the key name names the request and IONOS's own record, the
  key's description, names this cluster and that key name. An access key id from status whose record says
  anything else is never touched: OwnershipUnproven, nothing changed.
- list_owned: the user's keys (all pages) whose description names this cluster, grouped by key name.

Scoped mode (spec.ionos.scopedUsers.enabled): a dedicated IONOS user per key, scoped by bucket-policy statements;
everything above about unscoped and administrative keys does not apply, see ionos.scoped.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from typing import ClassVar

import httpx

from keyfob.api.blocks.ionos import S3_ACCESS_KEY_KEY, S3_SECRET_KEY_KEY, TOKEN_KEY, BucketOwnership, IonosProviderBlock
from keyfob.api.vocabulary import parse_duration
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
    ProviderUnavailable,
    Revoked,
)
from keyfob.contract.naming import check_cluster_id, names_request
from keyfob.contract.preview import scope_words
from keyfob.providers.common.http import shared_client
from keyfob.providers.ionos import bucket_policy
from keyfob.providers.ionos.api import DESTROYING, IonosApi, IonosKey
from keyfob.providers.ionos.cloud_api import CloudApi
from keyfob.providers.ionos.naming import description_for, parse_description
from keyfob.providers.ionos.policy_store import PolicyStore
from keyfob.providers.ionos.polling import Poller
from keyfob.providers.ionos.scoped import ScopedUsers

UNSCOPED = (
    "per-key scope: IONOS access keys cannot be limited to buckets, prefixes or permissions; every key has all "
    "the rights of the IONOS user that owns the API token (set spec.ionos.allowUnscopedKeys: true to issue such "
    "keys anyway)"
)
UNSCOPED_WARNING = "unscoped: IONOS keys cannot be scoped, this key has every right of its IONOS user"
ADMIN_WARNING = (
    "administrative: IONOS marks this key administrative (the token's user is an administrator or the contract "
    "owner), so it can also create buckets and set bucket policies (allowed by spec.ionos.allowAdministrativeKeys)"
)


class IonosProvider:
    kind: ClassVar[str] = "ionos"
    # Nothing is enforced per key: the permissions a key has are its user's, whatever the request says.
    capabilities = Capabilities(
        permissions=frozenset(), prefix_scope=False, native_expiry=False, revocable=True, unscoped=True
    )
    # Scoped mode: a dedicated user per key, granted by bucket-policy statements on whole buckets.
    scoped_capabilities = Capabilities(
        permissions=bucket_policy.SCOPED_PERMISSIONS, prefix_scope=False, native_expiry=False, revocable=True
    )

    def __init__(
        self,
        block: IonosProviderBlock,
        admin: Mapping[str, str],
        cluster_id: str,
        *,
        http: httpx.Client | None = None,
        poll_initial: float = 0.5,
        poll_max: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        token = (admin.get(TOKEN_KEY) or "").strip()
        if not token:
            raise ProviderRejected(f"admin credentials Secret lacks key {TOKEN_KEY!r} (an IONOS API token)")
        self.block = block
        self.cluster_id = check_cluster_id(cluster_id)
        self.api = IonosApi(block.api_url, token, http or shared_client())
        self.timeout = parse_duration(block.provisioning_timeout).total_seconds()
        self.poll = Poller(
            self.api, self.timeout, block.provisioning_timeout, sleep, monotonic, poll_initial, poll_max
        )
        self.scoped: ScopedUsers | None = None
        settings = block.scoped()
        if settings is not None:
            missing = [k for k in (S3_ACCESS_KEY_KEY, S3_SECRET_KEY_KEY) if not (admin.get(k) or "").strip()]
            if missing:
                raise ProviderRejected(
                    f"admin credentials Secret lacks key(s) {', '.join(missing)} (an administrator's Object Storage "
                    "key, to write bucket policies in scoped mode)"
                )
            assert settings.contract_number is not None  # required by the block's validator
            cloud = CloudApi(settings.cloud_api_url, token, settings.contract_number, http or shared_client())
            policies = PolicyStore(block.s3_endpoint, block.region, admin[S3_ACCESS_KEY_KEY].strip(),
                                   admin[S3_SECRET_KEY_KEY].strip())  # fmt: skip
            self.scoped = ScopedUsers(settings, cloud, policies, self.cluster_id, self.poll)
            self.capabilities = self.scoped_capabilities

    def __repr__(self) -> str:
        return f"IonosProvider(api_url={self.block.api_url!r}, cluster={self.cluster_id!r})"

    # ---- Provider protocol --------------------------------------------------------------------------------

    def connection(self) -> ConnectionInfo:
        return ConnectionInfo(endpoint=self.block.s3_endpoint, region=self.block.region)

    def unsupported(self, grant: Grant) -> list[str]:
        if self.scoped is not None:
            return bucket_policy.inexpressible(grant, beyond_capabilities=False)
        return [] if self.block.allow_unscoped_keys else [UNSCOPED]

    def describe(self, grant: Grant) -> GrantPreview:
        if self.scoped is not None:
            return self._describe_scoped(grant)
        if not self.block.allow_unscoped_keys:
            return GrantPreview(summary=f"IONOS: refused: {UNSCOPED}", native={"refused": [UNSCOPED]})
        return GrantPreview(
            summary="IONOS key: unscoped: the token's user's own rights on every bucket (the request's buckets and "
                    "permissions are not enforced); keyfob revokes at expiry",
            native={"scoped": False, "description": description_for(self.cluster_id, grant)},
        )

    def check(self) -> None:
        if self.scoped is not None:
            self.scoped.check()
            return
        self.api.probe()

    def issue(self, grant: Grant) -> IssuedKey:
        if self.scoped is not None:
            if not names_request(grant.key_name, grant.request.uid):
                raise OwnershipUnproven(f"{grant.key_name!r} is not a key name keyfob derives for this request")
            return self.scoped.issue(grant)
        problems = self.unsupported(grant)
        if problems:
            raise ProviderRejected("IONOS cannot express: " + "; ".join(problems))
        if not names_request(grant.key_name, grant.request.uid):
            raise OwnershipUnproven(f"{grant.key_name!r} is not a key name keyfob derives for this request")
        description = description_for(self.cluster_id, grant)
        keys = self.api.list_all()
        leftovers = [key for key in keys if self._ours(key, grant.key_name)]
        if leftovers:  # a crashed attempt for this same name: its secret is lost, replace it
            self.poll.deleted(leftovers)
        in_use = len(keys) - len(leftovers)
        limit = self.block.keys_per_user
        if in_use + 1 > limit:
            raise ProviderRejected(
                f"IONOS allows {limit} access keys per user; {in_use} are in use. A rotation needs one free slot "
                "(keyfob issues the new key before it revokes the old one): delete an unused key of this user"
            )
        created = self.api.create(description)
        try:
            key, read_secret = self.poll.available(created.key.id)
            warnings = (UNSCOPED_WARNING, *self._administrative(key, created.key))
            access_key, secret = key.access_key or created.key.access_key, created.secret_key or read_secret
            if not access_key or secret is None:
                raise ProviderUnavailable(f"IONOS returned no access key or secret for access key {key.id}")
        except ProviderError as err:
            self._discard(created.key, err)
            raise
        return IssuedKey(
            key_name=grant.key_name,
            access_key_id=access_key,
            secret_access_key=secret,
            expires_at=grant.expires_at,
            expiry_native=False,
            warnings=warnings,
        )

    def revoke(self, ref: KeyRef) -> Revoked | None:
        if not names_request(ref.key_name, ref.owner_uid):
            raise OwnershipUnproven(f"{ref.key_name!r} is not a key name keyfob derives for this request")
        if self.scoped is not None:
            return self.scoped.revoke(ref)
        keys = self.api.list_all()
        ours = [key for key in keys if self._ours(key, ref.key_name)]
        hinted = [key for key in keys if ref.access_key_id is not None and key.access_key == ref.access_key_id]
        if any(key not in ours for key in hinted):
            raise OwnershipUnproven(
                f"IONOS access key {ref.access_key_id} has a description that does not name this cluster and "
                f"{ref.key_name}; it was not touched"
            )
        if not ours:
            return None
        self.poll.deleted(ours)
        return Revoked("delete")

    def list_owned(self) -> list[OwnedKey]:
        if self.scoped is not None:
            return self.scoped.list_owned()
        grouped: dict[str, list[str]] = {}
        uids: dict[str, str] = {}
        for key in self.api.list_all():
            described = parse_description(key.description)
            if described is None or described.cluster_id != self.cluster_id or key.status == DESTROYING:
                continue
            grouped.setdefault(described.key_name, []).extend([key.access_key] if key.access_key else [])
            uids[described.key_name] = described.request_uid
        return [OwnedKey(name, tuple(ids), uids[name]) for name, ids in grouped.items()]

    # ---- helpers ------------------------------------------------------------------------------------------

    def _describe_scoped(self, grant: Grant) -> GrantPreview:
        assert self.scoped is not None
        problems = bucket_policy.inexpressible(grant)
        if problems:
            return GrantPreview(summary=f"IONOS: refused: {'; '.join(problems)}", native={"refused": problems})
        ownership = self.scoped.ownership
        user_owned = ownership is BucketOwnership.USER_OWNED
        contract = self.block.scoped_users.contract_number if self.block.scoped_users else None
        placeholder = "<the new user's s3CanonicalUserId>" if user_owned else f"arn:aws:iam:::user/{contract}:<user id>"
        principal = bucket_policy.Principal(ownership, placeholder)
        statements = {b.name: bucket_policy.statements_for(self.cluster_id, grant, b.name, principal)
                      for b in grant.buckets}  # fmt: skip
        return GrantPreview(
            summary=f"IONOS: a dedicated user with one key, granted {scope_words(grant)} by bucket-policy "
                    "statements; keyfob revokes at expiry",
            native={"scoped": True, "statements": statements},
        )

    def _ours(self, key: IonosKey, key_name: str) -> bool:
        described = parse_description(key.description)
        return described is not None and described.cluster_id == self.cluster_id and described.key_name == key_name

    def _administrative(self, key: IonosKey, created: IonosKey) -> tuple[str, ...]:
        """The warning for an allowed administrative key; ProviderRejected for one that is not allowed. A record
        that does not say counts as administrative (it could be, and nothing broader than asked may pass)."""
        flag = key.administrative if key.administrative is not None else created.administrative
        if flag is False:
            return ()
        if self.block.allow_administrative_keys:
            return (ADMIN_WARNING,) if flag else (ADMIN_WARNING.replace("marks", "does not say whether"),)
        said = "marks it administrative" if flag else "does not say whether it is administrative"
        raise ProviderRejected(
            f"IONOS {said} (metadata.administrative): an administrative key can also create buckets and set "
            f"bucket policies, so keyfob deleted access key {key.id}. Use an API token of a user who is neither "
            "an administrator nor the contract owner, or set spec.ionos.allowAdministrativeKeys: true"
        )

    def _discard(self, key: IonosKey, why: ProviderError) -> None:
        """Delete a key we cannot hand out and wait until it is gone. If that fails the error becomes temporary
        (keeping `why`), so the next issue() finds the key by its description and deletes it first."""
        try:
            self.poll.deleted([key])
        except ProviderError as err:
            with contextlib.suppress(ProviderError):
                self.api.delete(key.id)
            raise ProviderUnavailable(f"{why}; access key {key.id} could not be deleted yet: {err}") from None
