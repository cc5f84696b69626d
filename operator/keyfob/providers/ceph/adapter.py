"""Ceph RGW adapter: one RGW user per issued key, with an IAM-style user policy and one S3 key.

- issue: the user 'keyfob-<cluster id>-<key name>' (see naming) is created without keys and unable to create
  buckets; one key is generated; then its user policy (scope.render) is set through RGW's IAM endpoint, last,
  because Admin Ops changes to a user drop its user policies (measured on 16.2.15). If the
  user exists (a crashed earlier attempt for the same key name) it is adopted only when its display name proves
  keyfob made it for this request; its old keys are removed first, so exactly one key of it works.
- revoke: remove the user (with its keys and policy) after the same proof; already gone is success.
- list_owned: users listed under this cluster's prefix whose display name proves the key name they carry.
- Expiry: RGW keys do not expire. The policy carries aws:CurrentTime DateLessThan (RGW enforces it) and keyfob
  revokes at expiry, so the key is reported as not natively expiring.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from pydantic import SecretStr

from keyfob.api.blocks.ceph import ACCESS_KEY_KEY, SECRET_KEY_KEY, CephProviderBlock
from keyfob.api.vocabulary import Permission
from keyfob.contract import (
    Capabilities,
    ConnectionInfo,
    Grant,
    GrantPreview,
    IssuedKey,
    KeyRef,
    OwnedKey,
    OwnershipUnproven,
    ProviderRejected,
    ProviderUnavailable,
)
from keyfob.contract.naming import check_cluster_id, names_request, parse_key_name
from keyfob.providers.ceph import naming, scope
from keyfob.providers.ceph.admin_ops import RgwAdmin, UserGone, UserRecord


class CephRgwProvider:
    kind: ClassVar[str] = "ceph"
    capabilities = Capabilities(
        permissions=frozenset(Permission) - {Permission.BYPASS_GOVERNANCE_RETENTION},
        prefix_scope=True,
        native_expiry=False,
    )

    def __init__(self, block: CephProviderBlock, admin: Mapping[str, str], cluster_id: str) -> None:
        missing = [k for k in (ACCESS_KEY_KEY, SECRET_KEY_KEY) if not admin.get(k)]
        if missing:
            raise ProviderRejected(f"admin credentials Secret lacks key(s): {', '.join(missing)}")
        self.block = block
        self.cluster_id = check_cluster_id(cluster_id)
        self.admin = RgwAdmin(
            block.base_url(), block.host_port(), admin[ACCESS_KEY_KEY], admin[SECRET_KEY_KEY],
            secure=block.secure(), verify=not block.insecure_skip_verify, region=block.region,
        )  # fmt: skip

    def __repr__(self) -> str:
        return f"CephRgwProvider(endpoint={self.block.endpoint!r}, cluster={self.cluster_id!r})"

    def connection(self) -> ConnectionInfo:
        return ConnectionInfo(endpoint=self.block.consumer_endpoint(), region=self.block.region)

    def unsupported(self, grant: Grant) -> list[str]:
        return scope.unsupported(grant, allow_object_acls_on_write=self.block.allow_object_acls_on_write)

    def describe(self, grant: Grant) -> GrantPreview:
        return scope.preview(grant, self.uid_for(grant.key_name), self.block.allow_object_acls_on_write)

    def check(self) -> None:
        next(iter(self.admin.list_user_ids()), None)

    def uid_for(self, key_name: str) -> str:
        return naming.wire_uid(self.block.tenant, naming.user_id(self.cluster_id, key_name))

    def issue(self, grant: Grant) -> IssuedKey:
        if not names_request(grant.key_name, grant.request.uid):
            raise OwnershipUnproven(f"{grant.key_name!r} is not a key name keyfob derives for this request")
        problems = self.unsupported(grant)
        if problems:
            raise ProviderRejected("; ".join(problems))
        policy = scope.render(grant)
        uid = self.uid_for(grant.key_name)
        existing = self._record(uid)
        if existing is None:
            self.admin.create_user(uid, naming.display_name_for(self.cluster_id, grant))
            known: tuple[str, ...] = ()
        else:
            self._prove(existing, grant.key_name, grant.request.uid)
            for access_key in existing.access_key_ids:  # their secrets were lost with the crashed attempt
                self.admin.remove_key(uid, access_key)
            known = existing.access_key_ids
        try:
            # Key first, policy last: on 16.2 every Admin Ops change to a user (a key created or removed, a
            # modify) drops its IAM user policies. Until the policy lands the key may do nothing at all.
            access_key, secret = self.admin.create_key(uid, known)
            self.admin.put_user_policy(uid, scope.POLICY_NAME, policy)
        except UserGone:
            raise ProviderUnavailable(f"RGW user {uid} vanished while being issued") from None
        return IssuedKey(
            key_name=grant.key_name,
            access_key_id=access_key,
            secret_access_key=SecretStr(secret),
            expires_at=grant.expires_at,
            expiry_native=False,
            warnings=scope.warnings(grant),
        )

    def _record(self, uid: str) -> UserRecord | None:
        try:
            return self.admin.get_user(uid)
        except UserGone:
            return None

    def _prove(self, record: UserRecord, key_name: str, owner_uid: str) -> None:
        if not naming.proves(self.cluster_id, key_name, owner_uid, record.display_name):
            raise OwnershipUnproven(
                f"RGW user {record.uid} exists but its display name does not show keyfob made it for this request"
            )

    def revoke(self, ref: KeyRef) -> None:
        """Remove the user keyfob derives from the key name (keys and policy go with it), once RGW's record shows
        it is keyfob's for ref.owner_uid. ref.access_key_id is never used: it is status memory, not proof."""
        if not names_request(ref.key_name, ref.owner_uid):
            raise OwnershipUnproven(f"{ref.key_name!r} is not a key name keyfob derives for this request")
        uid = self.uid_for(ref.key_name)
        record = self._record(uid)
        if record is None:
            return
        self._prove(record, ref.key_name, ref.owner_uid)
        self.admin.remove_user(uid)

    def list_owned(self) -> list[OwnedKey]:
        owned: list[OwnedKey] = []
        for listed in self.admin.list_user_ids():
            key_name = naming.key_name_of(self.cluster_id, self.block.tenant, listed)
            if key_name is None:
                continue
            record = self._record(self.uid_for(key_name))
            parsed = parse_key_name(key_name)
            if record is None or parsed is None or not naming.proves(
                self.cluster_id, key_name, parsed[0], record.display_name
            ):
                continue  # gone since, or a user that only looks like ours: never swept
            owned.append(OwnedKey(key_name=key_name, access_key_ids=record.access_key_ids, request_uid=parsed[0]))
        return owned
