"""MinIO adapter: one service account per issued key, with an inline policy and MinIO's native expiration.

- issue: add-service-account with a deterministic access key (see minio_naming) and a secret we generate. If the
  access key exists (a crashed earlier attempt for the same key name), it is adopted only when its description
  says it is ours; it then gets a fresh secret, the policy, the name/description and the expiration by
  update-service-account, so exactly one account exists and only the newest secret works.
- revoke: delete-service-account; "no such account" is success.
- list_owned: the parent user's service accounts whose description carries this cluster id and whose access
  key is the one derived from the described key name.
- Expiry is native (MinIO refuses the key after `expiration`), so the policy carries no aws:CurrentTime
  condition: it would duplicate what MinIO enforces, go stale if the expiration is updated, and spend the
  4096-byte inline-policy budget.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import ClassVar

from pydantic import SecretStr

from keyfob.api.blocks.minio import ACCESS_KEY_KEY, SECRET_KEY_KEY, MinioProviderBlock
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
    ProviderError,
    ProviderRejected,
)
from keyfob.contract.naming import check_cluster_id, names_request
from keyfob.providers.minio import scope
from keyfob.providers.minio.admin import (
    AccessKeyTaken,
    AccountInfo,
    AccountSpec,
    MinioAdminClient,
    ServiceAccountGone,
    TlsOptions,
)
from keyfob.providers.minio.naming import (
    access_key_for,
    description_for,
    display_name,
    expiration_for,
    new_secret_key,
    parse_description,
    rfc3339,
)


@contextlib.contextmanager
def _scrubbed(secret: str) -> Iterator[None]:
    """Belt and braces: no provider error raised while the secret is in flight may quote it."""
    try:
        yield
    except ProviderError as err:
        text = str(err)
        if secret and secret in text:
            raise type(err)(text.replace(secret, "***")) from None
        raise


class MinioServiceAccountProvider:
    kind: ClassVar[str] = "minio"
    # Every permission maps to an action MinIO's policy engine knows (object-lock ones included).
    capabilities = Capabilities(permissions=frozenset(Permission), prefix_scope=True, native_expiry=True)

    def __init__(
        self,
        block: MinioProviderBlock,
        admin: Mapping[str, str],
        cluster_id: str,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        missing = [k for k in (ACCESS_KEY_KEY, SECRET_KEY_KEY) if not admin.get(k)]
        if missing:
            raise ProviderRejected(f"admin credentials Secret lacks key(s): {', '.join(missing)}")
        ca_pem = None
        if block.tls.ca_bundle_key:
            ca_pem = admin.get(block.tls.ca_bundle_key)
            if not ca_pem:
                raise ProviderRejected(f"admin credentials Secret lacks the CA bundle key {block.tls.ca_bundle_key!r}")
        self.block = block
        self.cluster_id = check_cluster_id(cluster_id)
        self._clock = clock or (lambda: datetime.now(UTC))
        self.admin = MinioAdminClient(
            block.host_port(),
            admin[ACCESS_KEY_KEY],
            admin[SECRET_KEY_KEY],
            TlsOptions(secure=block.use_tls(), ca_pem=ca_pem, verify=not block.tls.insecure_skip_verify),
            region=block.region,
        )
        self.parent_user = block.parent_user or admin[ACCESS_KEY_KEY]

    def __repr__(self) -> str:
        return f"MinioServiceAccountProvider(endpoint={self.block.endpoint!r}, cluster={self.cluster_id!r})"

    def connection(self) -> ConnectionInfo:
        return ConnectionInfo(endpoint=self.block.consumer_endpoint(), region=self.block.region)

    def unsupported(self, grant: Grant) -> list[str]:
        # Every bucket/prefix/permission is expressible; only a lifetime outside MinIO's window is not.
        try:
            expiration_for(grant.expires_at, self._clock())
        except ProviderRejected as err:
            return [str(err)]
        return []

    def describe(self, grant: Grant) -> GrantPreview:
        return scope.preview(grant, self.parent_user, self.access_key_for(grant.key_name), self._clock())

    def check(self) -> None:
        self.admin.list(self.block.parent_user)

    def access_key_for(self, key_name: str) -> str:
        return access_key_for(self.cluster_id, key_name)

    def issue(self, grant: Grant) -> IssuedKey:
        expiration = expiration_for(grant.expires_at, self._clock())
        policy = scope.policy_for(grant)
        size = scope.policy_size(policy)
        if size > scope.MAX_POLICY_BYTES:
            raise ProviderRejected(
                f"the access policy for {len(grant.buckets)} bucket(s) is {size} bytes; MinIO allows "
                f"{scope.MAX_POLICY_BYTES} for one service account: ask for fewer buckets or permissions"
            )
        access_key = self.access_key_for(grant.key_name)
        secret = new_secret_key()
        spec = AccountSpec(
            secret_key=secret,
            name=display_name(grant),
            description=description_for(self.cluster_id, grant),
            policy=policy,
            expiration=rfc3339(expiration) if expiration else None,
        )
        with _scrubbed(secret):
            try:
                self.admin.add(access_key, spec, self.block.parent_user)
            except AccessKeyTaken:
                self._adopt(access_key, grant.key_name, spec)
        return IssuedKey(
            key_name=grant.key_name,
            access_key_id=access_key,
            secret_access_key=SecretStr(secret),
            expires_at=expiration,
            expiry_native=expiration is not None,
        )

    def _adopt(self, access_key: str, key_name: str, spec: AccountSpec) -> None:
        """The access key exists: give it our secret, policy and expiry if it is ours, refuse otherwise."""
        try:
            current = self.admin.info(access_key)
        except ServiceAccountGone:  # deleted (or expired and purged) since: create it again
            self.admin.add(access_key, spec, self.block.parent_user)
            return
        if not self._ours(current, key_name):
            raise OwnershipUnproven(
                f"MinIO access key {access_key} already exists and was not created by keyfob for {key_name}"
            )
        try:
            self.admin.update(access_key, spec)
        except ServiceAccountGone:
            self.admin.add(access_key, spec, self.block.parent_user)

    def _ours(self, account: AccountInfo, key_name: str) -> bool:
        described = parse_description(account.description)
        return (
            described is not None
            and described.cluster_id == self.cluster_id
            and described.key_name == key_name
            and (account.parent_user is None or account.parent_user == self.parent_user)
        )

    def revoke(self, ref: KeyRef) -> None:
        """Delete the service account keyfob derives from the key name, after MinIO's own record (description,
        parent user) shows it is keyfob's for this request. The access key id in `ref` is never used: it comes
        from status, which is memory, not proof."""
        if not names_request(ref.key_name, ref.owner_uid):
            raise OwnershipUnproven(f"{ref.key_name!r} is not a key name keyfob derives for this request")
        access_key = self.access_key_for(ref.key_name)
        try:
            current = self.admin.info(access_key)
        except ServiceAccountGone:
            return
        if not self._ours(current, ref.key_name):
            raise OwnershipUnproven(f"MinIO access key {access_key} was not created by keyfob for {ref.key_name}")
        with contextlib.suppress(ServiceAccountGone):
            self.admin.delete(access_key)

    def list_owned(self) -> list[OwnedKey]:
        owned: list[OwnedKey] = []
        for account in self.admin.list(self.block.parent_user):
            if not account.access_key.startswith("KF"):
                continue
            if account.description is None:  # older servers list without descriptions
                with contextlib.suppress(ServiceAccountGone):
                    account = self.admin.info(account.access_key)
            described = parse_description(account.description)
            if described is None or described.cluster_id != self.cluster_id:
                continue
            if account.access_key != self.access_key_for(described.key_name):
                continue  # a description copied onto some other account: not ours to sweep
            owned.append(
                OwnedKey(
                    key_name=described.key_name,
                    access_key_ids=(account.access_key,),
                    request_uid=described.request_uid,
                )
            )
        return owned
