"""Storj adapter: a parent access grant, restricted per credential with a macaroon caveat, registered at the
auth service for S3 credentials (Gateway-MT).

With a console REST key (revocable mode), each credential is built on its own root API key named
'<keyNamePrefix><cluster id>/<key name>': the parent grant's caveats are replayed onto it, keyfob's caveat is
added, and revoking deletes that root key, which kills the credential at the satellite. The orphan sweep lists
the project's keys by that name prefix. Issuing again under the same name replaces the root key (its
secret died with the crashed attempt) instead of creating a second one.

Revocation is not instant: the satellite caches API keys (storj/storj satellite/satellitedb/mud.go,
APIKeysCache.Expiration, default 60s), so a deleted root key keeps working for up to a minute. Capabilities
.revocation_delay, every issued key's warnings and every Revoked result say so.

Ownership (invariant 7): revoke() and the replace in issue() act only when the key name names the request and
the console's own record, the root key's exact name, is '<prefix><this cluster>/<that key name>'.

Without a console key the parent grant is restricted directly. Such credentials cannot be revoked: they stop
at their not_after, so every request needs an expiry and revoke() refuses.

Encryption: the credential's grant carries the parent grant's encryption keys, limited to the requested buckets;
with a `passphrase` block it carries keys derived from the passphrase in the credentials Secret instead
(passphrase.py, as uplink's RequestAccessWithPassphrase does). The adapter derives the root key once, when it is
built: provider_access rebuilds adapters when the credentials Secret changes, so a changed passphrase applies to
every key issued afterwards, and keys issued before keep theirs (Storj does not re-encrypt data: moving a running
workload to another passphrase hides the objects it wrote). Rotate a request to move it over.

Inherent in Storj (not keyfob's choice): a key may read bucket metadata of its allowed buckets and project
info regardless of permissions; a key allowed putObjectRetention may also read retention (keyfob refuses
requests that would rely on the difference); object-lock rights need a root key whose version carries the
satellite's Object Lock bit.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import httpx
from pydantic import SecretStr

from keyfob.api.blocks.storj import StorjPassphrase, StorjProviderBlock
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
from keyfob.contract.naming import names_request, parse_key_name
from keyfob.providers.storj.auth_service import AuthServiceClient
from keyfob.providers.storj.authorize import VERSION_OBJECT_LOCK
from keyfob.providers.storj.console import ConsoleClient, ConsoleKey, CreatedKey, NameTaken
from keyfob.providers.storj.grant import AccessGrant, GrantError
from keyfob.providers.storj.macaroon import Macaroon, MacaroonError
from keyfob.providers.storj.passphrase import DerivedAccess, PassphraseError, derive_access, legacy_project_salt
from keyfob.providers.storj.preview import preview
from keyfob.providers.storj.restrict import parent_expiry, parent_gaps, restrict, violations
from keyfob.providers.storj.scope import build_caveat, not_after, scope_problems

# The auth service refuses grants that expire within a minute; keep a margin for the round trip.
MIN_LIFETIME = timedelta(minutes=1, seconds=30)
HTTP_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
_shared_http: httpx.Client | None = None
_shared_http_lock = threading.Lock()

Clock = Callable[[], datetime]
REVOCATION_DELAY = "within about a minute"
DELAY_WARNING = (
    "revocation is delayed: Storj satellites cache API keys for about a minute, so this key keeps working for up "
    "to a minute after keyfob revokes it"
)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def shared_http() -> httpx.Client:
    """One connection pool for every Storj adapter: adapters are rebuilt whenever their provider object or
    Secret changes, and a client per instance would leave its pool behind each time. httpx.Client is
    thread-safe."""
    global _shared_http
    with _shared_http_lock:
        if _shared_http is None:
            _shared_http = httpx.Client(timeout=HTTP_TIMEOUT, follow_redirects=False)
        return _shared_http


class StorjProvider:
    kind: ClassVar[str] = "storj"

    def __init__(
        self,
        block: StorjProviderBlock,
        admin: Mapping[str, str],
        cluster_id: str,
        *,
        http: httpx.Client | None = None,
        clock: Clock = _utcnow,
    ) -> None:
        self.block = block
        self.cluster_id = cluster_id
        self.name_prefix = f"{block.key_name_prefix}{cluster_id}/"
        self._clock = clock
        self._http = http or shared_http()
        self.parent = _parse_parent(admin, block.access_grant_key)
        self.derived: DerivedAccess | None = None
        self._salt: bytes | None = None
        if block.passphrase is not None:
            self._salt = _salt(block.passphrase)
            self.derived = _derive(_provider_passphrase(admin, block.passphrase), self._salt, block.passphrase)
            self.parent = dataclasses.replace(self.parent, encryption_access=self.derived.encryption_access())
        self.request_passphrases = block.passphrase is not None and block.passphrase.allow_request_passphrases
        self.auth = AuthServiceClient(block.auth_service_url, self._http)
        self.console: ConsoleClient | None = None
        if block.console is not None:
            rest_key = admin.get(block.console.rest_key_key, "").strip()
            if not rest_key:
                missing = block.console.rest_key_key
                raise ProviderRejected(f"credentials Secret lacks key {missing!r} (the console REST key)")
            self.console = ConsoleClient(block.console.url, rest_key, block.console.project_id, self._http)
        self.capabilities = Capabilities(
            permissions=frozenset(Permission),
            prefix_scope=False,
            native_expiry=True,
            revocable=self.console is not None,
            revocation_delay=REVOCATION_DELAY if self.console is not None else None,
            request_passphrase=self.request_passphrases,
        )
        self._reported_endpoint: str | None = None

    # ---- Provider protocol --------------------------------------------------------------------------------

    def connection(self) -> ConnectionInfo:
        return ConnectionInfo(endpoint=self.block.gateway_endpoint or self._reported_endpoint, region=self.block.region)

    def unsupported(self, grant: Grant) -> list[str]:
        problems = scope_problems(grant.buckets, grant.permissions)
        if grant.passphrase_ref is not None and not self.request_passphrases:
            problems.append(
                "an encryption passphrase per request (passphraseSecretRef): this provider does not allow it "
                "(spec.storj.passphrase.allowRequestPassphrases)"
            )
        if grant.expires_at is None and self.console is None:
            problems.append(
                "a key without expiry: this Storj provider has no console REST key, so keyfob cannot revoke its "
                "keys and every key must expire (set ttl or expiresAt, or configure spec.storj.console)"
            )
        if not problems:
            now = self._clock()
            problems += parent_gaps(self.parent.api_key, grant.buckets, grant.permissions, grant.expires_at, now)
        return problems

    def describe(self, grant: Grant) -> GrantPreview:
        source = "request" if grant.passphrase_ref is not None else "provider" if self.derived is not None else None
        return preview(grant, self.unsupported(grant), self.console is not None, source)

    def check(self) -> None:
        end = parent_expiry(self.parent.api_key)
        if end is not None and end <= self._clock():
            raise ProviderRejected(f"the parent access grant expired at {end.isoformat()}")
        self.auth.live()
        if self.console is not None:
            self.console.find(self.name_prefix)

    def issue(self, grant: Grant) -> IssuedKey:
        problems = self.unsupported(grant)
        if problems:
            raise ProviderRejected("Storj cannot express: " + "; ".join(problems))
        now = self._clock()
        if grant.expires_at is not None and grant.expires_at - now < MIN_LIFETIME:
            raise ProviderRejected("the key would expire in less than a minute; the Storj auth service refuses it")
        caveat = build_caveat(grant.buckets, grant.permissions, grant.expires_at)
        parent = self._encrypting_parent(grant)  # before any provider write: a bad passphrase costs nothing
        root: Macaroon | None = None
        created: CreatedKey | None = None
        if self.console is not None:
            if not names_request(grant.key_name, grant.request.uid):
                raise OwnershipUnproven(f"{grant.key_name!r} is not a key name keyfob derives for this request")
            created = self._fresh_root_key(self.root_key_name(grant.key_name))
            root = self._usable_root(created, grant)
        try:
            restricted = restrict(parent, caveat, root)
            wrong = violations(restricted.api_key, grant.buckets, grant.permissions, grant.expires_at, now)
            if wrong:
                raise ProviderRejected("keyfob built a Storj grant that differs from the request: " + "; ".join(wrong))
            registration = self.auth.register(SecretStr(restricted.serialize()))
        except (ProviderError, GrantError) as err:
            if created is not None:
                self._discard(created.info)
            if isinstance(err, GrantError):
                raise ProviderRejected(str(err)) from None
            raise
        self._reported_endpoint = registration.endpoint
        expires = not_after(grant.expires_at).to_datetime() if grant.expires_at is not None else None
        return IssuedKey(
            key_name=grant.key_name,
            access_key_id=registration.access_key_id,
            secret_access_key=registration.secret_key,
            expires_at=expires,
            expiry_native=True,
            warnings=(DELAY_WARNING,) if created is not None else (),
        )

    def revoke(self, ref: KeyRef) -> Revoked | None:
        if self.console is None:
            raise ProviderRejected(
                "this Storj provider has no console REST key, so keyfob cannot revoke "
                f"{ref.access_key_id or ref.key_name}; it stops working at its expiry (not_after caveat)"
            )
        if not names_request(ref.key_name, ref.owner_uid):
            raise OwnershipUnproven(f"{ref.key_name!r} is not a key name keyfob derives for this request")
        name = self.root_key_name(ref.key_name)
        found = [key for key in self.console.find(name) if key.name == name]  # the record: its exact name
        for key in found:
            self.console.delete(key.id)
        if not found:
            return None
        why = "the satellite caches API keys for up to 60 s"
        return Revoked("delete", effective=f"{REVOCATION_DELAY} ({why})")

    def list_owned(self) -> list[OwnedKey]:
        if self.console is None:
            return []  # nothing to find: registrations at the auth service cannot be listed
        owned: list[OwnedKey] = []
        for key in self.console.find(self.name_prefix):
            if not key.name.startswith(self.name_prefix):
                continue
            key_name = key.name[len(self.name_prefix) :]
            parsed = parse_key_name(key_name)
            if parsed is not None:
                owned.append(OwnedKey(key_name=key_name, request_uid=parsed[0]))
        return owned

    # ---- helpers ------------------------------------------------------------------------------------------

    def _encrypting_parent(self, grant: Grant) -> AccessGrant:
        """The parent grant with the encryption access this grant's credential gets: the request's passphrase
        when it names one (derived per issue: it is read from the request's Secret each time), else the
        provider's passphrase or the parent grant's own keys."""
        if grant.passphrase_ref is None:
            return self.parent
        config = self.block.passphrase
        if grant.passphrase is None or config is None or self._salt is None:
            raise ProviderRejected(f"no passphrase was read from the {grant.passphrase_ref}")
        derived = _derive(grant.passphrase.get_secret_value(), self._salt, config)
        return dataclasses.replace(self.parent, encryption_access=derived.encryption_access())

    def root_key_name(self, key_name: str) -> str:
        return self.name_prefix + key_name

    def _fresh_root_key(self, name: str) -> CreatedKey:
        assert self.console is not None
        try:
            return self.console.create(name)
        except NameTaken:
            pass
        # A crashed earlier attempt left this key; its secret is lost, so replace it.
        for key in self.console.find(name):
            if key.name == name:
                self.console.delete(key.id)
        try:
            return self.console.create(name)
        except NameTaken:
            raise ProviderRejected(f"console API key {name!r} still exists after deleting it; retry later") from None

    def _usable_root(self, created: CreatedKey, grant: Grant) -> Macaroon:
        try:
            root = Macaroon.from_api_key(created.api_key.get_secret_value())
        except MacaroonError as err:
            self._discard(created.info)
            raise ProviderRejected(f"the console returned an unreadable API key: {err}") from None
        wants_lock = bool(grant.permissions & OBJECT_LOCK_PERMISSIONS)
        version = created.info.version
        if wants_lock and version is not None and not version & VERSION_OBJECT_LOCK:
            self._discard(created.info)
            raise ProviderRejected(
                f"the satellite creates API keys without Object Lock support (version {version}); "
                "object-lock permissions cannot be granted"
            )
        return root

    def _discard(self, key: ConsoleKey) -> None:
        """Best effort: a leftover root key is found again by list_owned (the orphan sweep)."""
        assert self.console is not None
        with contextlib.suppress(ProviderError):
            self.console.delete(key.id)


def _provider_passphrase(admin: Mapping[str, str], config: StorjPassphrase) -> str:
    # A file-made Secret often ends in a newline nobody typed; other whitespace may be part of the passphrase.
    passphrase = admin.get(config.passphrase_key, "").removesuffix("\n").removesuffix("\r")
    if not passphrase:
        raise ProviderRejected(f"credentials Secret lacks key {config.passphrase_key!r} (the encryption passphrase)")
    return passphrase


def _salt(config: StorjPassphrase) -> bytes:
    try:
        if config.project_salt is not None:
            return base64.b64decode(config.project_salt, validate=True)
        assert config.legacy_salt_project_id is not None  # the block's validator: exactly one is set
        return legacy_project_salt(config.legacy_salt_project_id)
    except binascii.Error:
        raise ProviderRejected("spec.storj.passphrase.projectSalt is not valid base64") from None
    except PassphraseError as err:
        raise ProviderRejected(f"spec.storj.passphrase: {err}") from None


def _derive(passphrase: str, salt: bytes, config: StorjPassphrase) -> DerivedAccess:
    """The encryption access for a passphrase; errors name keys, never values."""
    try:
        return derive_access(passphrase, salt, config.encrypt_path)
    except PassphraseError as err:
        raise ProviderRejected(f"the encryption passphrase cannot be used: {err}") from None


def _parse_parent(admin: Mapping[str, str], key: str) -> AccessGrant:
    text = admin.get(key, "").strip()
    if not text:
        raise ProviderRejected(f"credentials Secret lacks key {key!r} (the parent access grant)")
    try:
        return AccessGrant.parse(text)
    except GrantError as err:
        raise ProviderRejected(f"the parent access grant in key {key!r} is invalid: {err}") from None
