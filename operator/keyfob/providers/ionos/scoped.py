"""Scoped IONOS keys: one dedicated IONOS user per issued key, granted exactly the request's buckets and
permissions by keyfob's statements in those buckets' policies (spec.ionos.scopedUsers.enabled).

- issue: find the user by its email (naming.user_email); one that exists is a crashed attempt's and is adopted
  only when its record proves it (naming.parse_user) and it is no administrator; otherwise the user is created
  (Cloud API v6, waited until DONE). It joins the configured Object Storage group, its old keys are deleted (their
  secrets are lost), one key is created (a "needs the ACCESS_S3_OBJECT_STORAGE privilege" answer is retried within
  provisioningTimeout: the privilege takes a moment to reach a new member), and each requested bucket's policy
  gets keyfob's statements for this key (bucket_policy.merged: the statements of anyone else are kept). If a step
  after the key's creation fails, the key is deleted again; the user stays for the next attempt or the sweep.
- revoke: only the user whose record proves it is this request's (an access key id from status that is not that
  user's key raises OwnershipUnproven and changes nothing). Its keys are deleted first (access ends), then
  keyfob's statements for the key name are removed from every bucket's policy (an emptied policy is deleted),
  then the user. Already gone is success.
- list_owned: users whose record names this cluster, with their key ids.
"""

from __future__ import annotations

import contextlib
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import SecretStr

from keyfob.api.blocks.ionos import BucketOwnership, IonosScopedUsers
from keyfob.contract import (
    Grant,
    IssuedKey,
    KeyRef,
    OwnedKey,
    OwnershipUnproven,
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
    Revoked,
)
from keyfob.contract.naming import names_request
from keyfob.providers.ionos import bucket_policy
from keyfob.providers.ionos.cloud_api import DONE, FAILED, CloudApi, IonosUser, NeedsPrivilege, UserGone
from keyfob.providers.ionos.naming import USER_FIRSTNAME, parse_user, user_email
from keyfob.providers.ionos.policy_store import PolicyStore
from keyfob.providers.ionos.polling import Poller

USER_OWNED_WARNING = (
    "user-owned buckets: the key's IONOS user has the Object Storage privilege and may create buckets of its own "
    "in regions with user-owned buckets; it can reach no other bucket than those granted"
)


def new_password() -> SecretStr:
    """A throwaway password for a user that never logs in (IONOS requires one); never stored or shown."""
    alphabet = string.ascii_letters + string.digits
    return SecretStr("Kf1!" + "".join(secrets.choice(alphabet) for _ in range(28)))


@dataclass
class ScopedUsers:
    settings: IonosScopedUsers
    cloud: CloudApi
    policies: PolicyStore
    cluster_id: str
    poll: Poller
    password: Callable[[], SecretStr] = new_password

    @property
    def domain(self) -> str:
        assert self.settings.email_domain is not None  # the block's validator makes it required
        return self.settings.email_domain

    @property
    def ownership(self) -> BucketOwnership:
        return self.settings.bucket_ownership

    # ---- issue --------------------------------------------------------------------------------------------------

    def issue(self, grant: Grant) -> IssuedKey:
        problems = bucket_policy.inexpressible(grant)
        if problems:
            raise ProviderRejected("IONOS bucket policies cannot express: " + "; ".join(problems))
        user = self._proven(grant.key_name, grant.request.uid) or self._create_user(grant.key_name)
        self._join_group(user)
        for key_id in self.cloud.key_ids(user.id):  # a crashed attempt's key: its secret is lost
            self.cloud.delete_key(user.id, key_id)
        key_id, secret = self._create_key(user)
        try:
            if user.canonical_id is None and self.ownership is BucketOwnership.USER_OWNED:
                user = self.cloud.get_user(user.id)
            principal = bucket_policy.Principal.for_user(
                self.ownership, self._contract(), user.id, user.canonical_id
            )
            for bucket in sorted({b.name for b in grant.buckets}):
                ours = bucket_policy.statements_for(self.cluster_id, grant, bucket, principal)
                with self.policies.editing(bucket):
                    policy = bucket_policy.merged(self.policies.get(bucket), ours, self.cluster_id, grant.key_name,
                                                  self.ownership)  # fmt: skip
                    self.policies.put(bucket, policy)
        except (ProviderError, UserGone) as err:
            self._discard_key(user.id, key_id)
            if isinstance(err, UserGone):
                raise ProviderUnavailable(f"IONOS user {user.id} disappeared while being granted") from None
            raise
        warnings = (USER_OWNED_WARNING,) if self.ownership is BucketOwnership.USER_OWNED else ()
        return IssuedKey(
            key_name=grant.key_name,
            access_key_id=key_id,
            secret_access_key=secret,
            expires_at=grant.expires_at,
            expiry_native=False,
            warnings=warnings,
        )

    def _contract(self) -> int:
        assert self.settings.contract_number is not None  # required by the block's validator
        return self.settings.contract_number

    def _proven(self, key_name: str, request_uid: str) -> IonosUser | None:
        """The existing user for key_name, if its record proves it is keyfob's for this request in this cluster;
        None when there is none; OwnershipUnproven when a user with keyfob's email says anything else."""
        email = user_email(self.cluster_id, key_name, self.domain)
        found = [u for u in self.cloud.list_users() if (u.email or "").lower() == email.lower()]
        if not found:
            return None
        user = found[0]
        named = parse_user(self.cluster_id, self.domain, user.email, user.lastname)
        if named is None or named.key_name != key_name or named.request_uid != request_uid:
            raise OwnershipUnproven(
                f"IONOS user {user.id} has keyfob's email for {key_name} but its record does not name this "
                "cluster; it was not touched"
            )
        if user.administrator is not False:
            raise OwnershipUnproven(
                f"IONOS user {user.id} for {key_name} is (or may be) an administrator: keyfob never makes one, "
                "so it was not touched"
            )
        return user

    def _create_user(self, key_name: str) -> IonosUser:
        email = user_email(self.cluster_id, key_name, self.domain)
        try:
            user, request = self.cloud.create_user(USER_FIRSTNAME, self.cluster_id, email, self.password())
        except ProviderRejected:
            # A user with this email that the list did not show yet (a create still being processed): temporary,
            # the next attempt finds it and adopts it after the proof.
            if any((u.email or "").lower() == email.lower() for u in self.cloud.list_users()):
                raise ProviderUnavailable(
                    f"IONOS user for {key_name} appeared while being created; the next attempt adopts it"
                ) from None
            raise
        self._wait(request, f"creating IONOS user {user.id}")
        return user

    def _join_group(self, user: IonosUser) -> None:
        group = self.settings.group_id
        assert group is not None  # required by the block's validator
        if user.id not in self.cloud.group_member_ids(group):
            self._wait(self.cloud.add_to_group(group, user.id), f"adding IONOS user {user.id} to group {group}")

    def _create_key(self, user: IonosUser) -> tuple[str, SecretStr]:
        last: ProviderError | None = None
        for pause in self.poll.pauses():
            self.poll.sleep(pause)
            try:
                return self.cloud.create_key(user.id)
            except NeedsPrivilege as err:  # a new group member's privilege is still on its way
                last = err
        raise ProviderUnavailable(
            f"{last}; still refused {self.poll.timeout_text} after user {user.id} joined group "
            f"{self.settings.group_id}: does that group have the Object Storage privilege?"
        )

    def _wait(self, request: str | None, what: str) -> None:
        """Until IONOS reports the asynchronous request DONE (no Location: nothing to wait for)."""
        if request is None:
            return
        for pause in self.poll.pauses():
            self.poll.sleep(pause)
            status, message = self.cloud.request_status(request)
            if status == DONE:
                return
            if status == FAILED:
                raise ProviderUnavailable(f"{what} FAILED at IONOS: {message or 'no reason given'}")
        raise ProviderUnavailable(f"{what} was not DONE within {self.poll.timeout_text}")

    def _discard_key(self, user_id: str, key_id: str) -> None:
        # On failure the next issue() deletes every key of this user first; the sweep finds the user otherwise.
        with contextlib.suppress(ProviderError):
            self.cloud.delete_key(user_id, key_id)

    # ---- revoke -------------------------------------------------------------------------------------------------

    def revoke(self, ref: KeyRef) -> Revoked | None:
        if not names_request(ref.key_name, ref.owner_uid):
            raise OwnershipUnproven(f"{ref.key_name!r} is not a key name keyfob derives for this request")
        user = self._proven(ref.key_name, ref.owner_uid)
        keys: list[str] = []
        if user is not None:
            try:
                keys = self.cloud.key_ids(user.id)
            except UserGone:
                user = None
        if user is not None and ref.access_key_id is not None and ref.access_key_id not in keys and keys:
            raise OwnershipUnproven(
                f"IONOS access key {ref.access_key_id} is not a key of user {user.id} (keyfob's user for "
                f"{ref.key_name}); nothing was touched"
            )
        if user is not None:
            for key_id in keys:
                self.cloud.delete_key(user.id, key_id)
        removed = self._remove_statements(ref.key_name)
        if user is not None:
            self._wait(self.cloud.delete_user(user.id), f"deleting IONOS user {user.id}")
        return Revoked("delete") if user is not None or removed else None

    def _remove_statements(self, key_name: str) -> int:
        removed = 0
        for bucket in self.policies.buckets():
            with self.policies.editing(bucket):
                kept, count = bucket_policy.without(self.policies.get(bucket), self.cluster_id, key_name)
                if not count:
                    continue
                if kept is None:
                    self.policies.delete(bucket)
                else:
                    self.policies.put(bucket, kept)
            removed += count
        return removed

    # ---- sweep / check ------------------------------------------------------------------------------------------

    def list_owned(self) -> list[OwnedKey]:
        owned = []
        for user in self.cloud.list_users():
            named = parse_user(self.cluster_id, self.domain, user.email, user.lastname)
            if named is None or user.administrator is not False:
                continue
            try:
                keys = tuple(self.cloud.key_ids(user.id))
            except UserGone:
                continue
            owned.append(OwnedKey(named.key_name, keys, named.request_uid))
        return owned

    def check(self) -> None:
        self.cloud.list_users()
        group = self.settings.group_id
        assert group is not None
        self.cloud.group_member_ids(group)
        self.policies.buckets()
