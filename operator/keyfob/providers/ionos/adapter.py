"""IONOS adapter: one IONOS Object Storage access key (of the token's user) per issued key.

- Scope: none. An IONOS key has every right of its user, so unsupported() refuses every grant unless the block
  sets allowUnscopedKeys; then the key's description says `scope=unscoped` (see ionos_naming).
- Expiry: none at IONOS; keyfob revokes at expiry (capabilities.native_expiry is False).
- issue: keys whose description names this cluster and key name are leftovers of a crashed attempt (their secret
  is lost): they are deleted first (adopt-or-replace). Then the user's keys are counted against keysPerUser
  (IONOS allows five per user, its other keys included) and a new key is created and polled until AVAILABLE,
  with exponential backoff, bounded by provisioningTimeout. A key that FAILED or never became AVAILABLE is
  deleted again before the error is raised.
- revoke: DELETE every key matching the access key id or the key name, then wait until GET answers 404;
  already gone is success.
- list_owned: the user's keys (all pages) whose description names this cluster, grouped by key name.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import ClassVar

import httpx
from pydantic import SecretStr

from keyfob.api.blocks.ionos import TOKEN_KEY, IonosProviderBlock
from keyfob.api.vocabulary import parse_duration
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
from keyfob.contract.naming import check_cluster_id
from keyfob.providers.common.http import shared_client
from keyfob.providers.ionos.api import (
    AVAILABLE,
    DESTROYING,
    FAILED,
    CreatedKey,
    IonosApi,
    IonosKey,
    KeyGone,
)
from keyfob.providers.ionos.naming import description_for, parse_description

UNSCOPED = (
    "per-key scope: IONOS access keys cannot be limited to buckets, prefixes or permissions; every key has all "
    "the rights of the IONOS user that owns the API token (set spec.ionos.allowUnscopedKeys: true to issue such "
    "keys anyway)"
)
# A FAILED key whose statusMessage says this is refused for good; any other failure is worth a retry.
_PERMANENT_FAILURE = re.compile(r"limit|quota|not allowed|forbidden|denied|invalid", re.IGNORECASE)


UNSCOPED_WARNING = "unscoped: IONOS keys cannot be scoped, this key has every right of its IONOS user"


class IonosProvider:
    kind: ClassVar[str] = "ionos"
    # Nothing is enforced per key: the permissions a key has are its user's, whatever the request says.
    capabilities = Capabilities(permissions=frozenset(), prefix_scope=False, native_expiry=False, revocable=True)

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
        self._poll_initial = poll_initial
        self._poll_max = poll_max
        self._sleep = sleep
        self._monotonic = monotonic

    def __repr__(self) -> str:
        return f"IonosProvider(api_url={self.block.api_url!r}, cluster={self.cluster_id!r})"

    # ---- Provider protocol --------------------------------------------------------------------------------

    def connection(self) -> ConnectionInfo:
        return ConnectionInfo(endpoint=self.block.s3_endpoint, region=self.block.region)

    def unsupported(self, grant: Grant) -> list[str]:
        return [] if self.block.allow_unscoped_keys else [UNSCOPED]

    def check(self) -> None:
        self.api.probe()

    def issue(self, grant: Grant) -> IssuedKey:
        problems = self.unsupported(grant)
        if problems:
            raise ProviderRejected("IONOS cannot express: " + "; ".join(problems))
        description = description_for(self.cluster_id, grant)
        keys = self.api.list_all()
        leftovers = [key for key in keys if self._ours(key, grant.key_name)]
        if leftovers:  # a crashed attempt for this same name: its secret is lost, replace it
            self._delete_and_wait(leftovers)
        in_use = len(keys) - len(leftovers)
        limit = self.block.keys_per_user
        if in_use + 1 > limit:
            raise ProviderRejected(
                f"IONOS allows {limit} access keys per user; {in_use} are in use. A rotation needs one free slot "
                "(keyfob issues the new key before it revokes the old one): delete an unused key of this user"
            )
        created = self.api.create(description)
        try:
            access_key, secret = self._await_available(created)
        except ProviderError:
            self._discard(created.key.id)
            raise
        return IssuedKey(
            key_name=grant.key_name,
            access_key_id=access_key,
            secret_access_key=secret,
            expires_at=grant.expires_at,
            expiry_native=False,
            warnings=(UNSCOPED_WARNING,),
        )

    def revoke(self, ref: KeyRef) -> None:
        targets = [
            key
            for key in self.api.list_all()
            if (ref.access_key_id is not None and key.access_key == ref.access_key_id) or self._ours(key, ref.key_name)
        ]
        self._delete_and_wait(targets)

    def list_owned(self) -> list[OwnedKey]:
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

    def _ours(self, key: IonosKey, key_name: str) -> bool:
        described = parse_description(key.description)
        return described is not None and described.cluster_id == self.cluster_id and described.key_name == key_name

    def _backoff(self) -> Iterable[float]:
        """Pauses between polls: exponential from poll_initial, capped at poll_max, until the deadline."""
        deadline = self._monotonic() + self.timeout
        interval = self._poll_initial
        while (remaining := deadline - self._monotonic()) > 0:
            yield min(interval, remaining)
            interval = min(interval * 2, self._poll_max)

    def _await_available(self, created: CreatedKey) -> tuple[str, SecretStr]:
        key_id = created.key.id
        for pause in itertools.chain([0.0], self._backoff()):
            self._sleep(pause)
            try:
                key, secret = self.api.get(key_id)
            except KeyGone:
                raise ProviderUnavailable(f"IONOS access key {key_id} disappeared while provisioning") from None
            if key.status == AVAILABLE:
                access_key = key.access_key or created.key.access_key
                secret = created.secret_key or secret
                if not access_key or secret is None:
                    raise ProviderUnavailable(f"IONOS returned no access key or secret for access key {key_id}")
                return access_key, secret
            if key.status == FAILED:
                why = f"IONOS access key {key_id} FAILED: {key.status_message or 'no reason given'}"
                permanent = _PERMANENT_FAILURE.search(key.status_message or "")
                raise ProviderRejected(why) if permanent else ProviderUnavailable(why)
            if key.status == DESTROYING:
                raise ProviderUnavailable(f"IONOS access key {key_id} is being deleted while provisioning")
        raise ProviderUnavailable(
            f"IONOS access key {key_id} did not become AVAILABLE within {self.block.provisioning_timeout}"
        )

    def _delete_and_wait(self, keys: list[IonosKey]) -> None:
        """Delete each key (404 = done), then wait until every one is gone."""
        for key in keys:
            if key.status != DESTROYING:
                self.api.delete(key.id)
        pending = {key.id for key in keys}
        for pause in itertools.chain([0.0], self._backoff()):
            self._sleep(pause)
            for key_id in sorted(pending):
                try:
                    self.api.get(key_id)
                except KeyGone:
                    pending.discard(key_id)
            if not pending:
                return
        raise ProviderUnavailable(
            f"IONOS access key(s) {', '.join(sorted(pending))} still present {self.block.provisioning_timeout} "
            "after delete; will check again"
        )

    def _discard(self, key_id: str) -> None:
        """Best effort: a key we cannot hand out goes again (its description lets the next issue find it)."""
        with contextlib.suppress(ProviderError):
            self.api.delete(key_id)
