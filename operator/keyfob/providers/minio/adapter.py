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
- credentialType sts: an STS session (AssumeRole, see sts.py) of the admin identity, its session policy the same
  document a service account would get, its TokenRevokeType keyfob's key name; revoke ends it through the admin
  API's revoke-tokens (servers without that API: it is left to its own expiry, and the event says so).
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
from keyfob.contract.keys import Revoked
from keyfob.contract.naming import check_cluster_id, names_request
from keyfob.providers.minio import scope, sts
from keyfob.providers.minio.admin import (
    AccessKeyTaken,
    AccountInfo,
    AccountSpec,
    MinioAdminClient,
    ServiceAccountGone,
    TlsOptions,
    http_pool,
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
    capabilities = Capabilities(permissions=frozenset(Permission), prefix_scope=True, native_expiry=True,
                                sessions=True)

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
        tls = TlsOptions(secure=block.use_tls(), ca_pem=ca_pem, verify=not block.tls.insecure_skip_verify)
        self.admin = MinioAdminClient(block.host_port(), admin[ACCESS_KEY_KEY], admin[SECRET_KEY_KEY], tls,
                                      region=block.region)
        self.parent_user = block.parent_user or admin[ACCESS_KEY_KEY]
        self._admin_key = admin[ACCESS_KEY_KEY]
        self._admin_secret = admin[SECRET_KEY_KEY]
        self._sts_pool = http_pool(tls, 5.0, 30.0)

    def __repr__(self) -> str:
        return f"MinioServiceAccountProvider(endpoint={self.block.endpoint!r}, cluster={self.cluster_id!r})"

    def connection(self) -> ConnectionInfo:
        return ConnectionInfo(endpoint=self.block.consumer_endpoint(), region=self.block.region)

    def unsupported(self, grant: Grant) -> list[str]:
        if grant.is_session:
            return self._session_refusals(grant)
        # Every bucket/prefix/permission is expressible; only a lifetime outside MinIO's window is not.
        try:
            expiration_for(grant.expires_at, self._clock())
        except ProviderRejected as err:
            return [str(err)]
        return []

    def describe(self, grant: Grant) -> GrantPreview:
        if grant.is_session:
            return scope.session_preview(grant, self._admin_key, self._session_refusals(grant))
        return scope.preview(grant, self.parent_user, self.access_key_for(grant.key_name), self._clock())

    def check(self) -> None:
        self.admin.list(self.block.parent_user)

    def access_key_for(self, key_name: str) -> str:
        return access_key_for(self.cluster_id, key_name)

    def _session_refusals(self, grant: Grant) -> list[str]:
        found: list[str] = []
        if self.parent_user != self._admin_key:
            found.append(f"STS sessions capped by parentUser {self.parent_user}: a MinIO session derives from the "
                         "identity that assumes it (the admin credentials), so keyfob makes none for a provider "
                         "with another parentUser")
        size = len(sts.session_policy(scope.policy_for(grant)).encode())
        if size > sts.MAX_SESSION_POLICY_BYTES:
            found.append(f"the session policy for {len(grant.buckets)} bucket(s) is {size} bytes; MinIO's STS allows "
                         f"{sts.MAX_SESSION_POLICY_BYTES}: ask for fewer buckets or permissions")
        return found

    def _assume(self, grant: Grant) -> IssuedKey:
        refused = self._session_refusals(grant)
        if refused or grant.session_seconds is None:
            raise ProviderRejected("; ".join(refused) or "no session length")
        if not names_request(grant.key_name, grant.request.uid):
            raise OwnershipUnproven(f"{grant.key_name!r} is not a key name keyfob derives for this request")
        # A crashed earlier attempt under this name may have made a service account (credentialType changed while
        # the issue was pending): it goes first, once MinIO's record proves it is keyfob's.
        self._delete_account(KeyRef(grant.key_name, grant.request.uid))
        session = sts.assume_role(
            self._sts_pool, self._admin_url(),
            self.block.region, self._admin_key, self._admin_secret,
            policy=sts.session_policy(scope.policy_for(grant)), duration_seconds=grant.session_seconds,
            token_revoke_type=grant.key_name,
        )
        return IssuedKey(
            key_name=grant.key_name,
            access_key_id=session.access_key,
            secret_access_key=SecretStr(session.secret_key),
            expires_at=session.expiration,
            expiry_native=True,
            session_token=SecretStr(session.session_token),
        )

    def _admin_url(self) -> str:
        return f"{'https' if self.block.use_tls() else 'http'}://{self.block.host_port()}"

    def issue(self, grant: Grant) -> IssuedKey:
        if grant.is_session:
            return self._assume(grant)
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

    def revoke(self, ref: KeyRef) -> Revoked | None:
        """Delete the service account keyfob derives from the key name, after MinIO's own record (description,
        parent user) shows it is keyfob's for this request. The access key id in `ref` is never used: it comes
        from status, which is memory, not proof. An STS session (ref.session) is ended by revoke-tokens for the
        admin identity and keyfob's key name as token type: only sessions keyfob made under that name end."""
        if self._delete_account(ref):
            return None
        return self._revoke_session(ref)

    def _revoke_session(self, ref: KeyRef) -> Revoked | None:
        """End the sessions of this key name whatever status says the key was (status is memory: a record that
        lost its credentialType must not keep a session alive); the hint only chooses the words."""
        try:
            self.admin.revoke_tokens(self._admin_key, ref.key_name)
        except ProviderRejected as err:  # a server without revoke-tokens, or an admin without the right to it
            if not ref.session:
                return None  # an access key already gone
            return Revoked(how="expire", detail=f"MinIO refused to end the session ({err}); keyfob dropped it from "
                           "the Secret and it ends at its own session end")
        return Revoked(how="delete", detail="through MinIO's revoke-tokens") if ref.session else None

    def _delete_account(self, ref: KeyRef) -> bool:
        """Delete the service account of this key name once MinIO's record proves it is keyfob's; False when
        there is none."""
        if not names_request(ref.key_name, ref.owner_uid):
            raise OwnershipUnproven(f"{ref.key_name!r} is not a key name keyfob derives for this request")
        access_key = self.access_key_for(ref.key_name)
        try:
            current = self.admin.info(access_key)
        except ServiceAccountGone:
            return False
        if not self._ours(current, ref.key_name):
            raise OwnershipUnproven(f"MinIO access key {access_key} was not created by keyfob for {ref.key_name}")
        with contextlib.suppress(ServiceAccountGone):
            self.admin.delete(access_key)
        return True

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
