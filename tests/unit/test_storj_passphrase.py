"""Storj passphrases: the root-key derivation against vectors Storj's own Go code produced, the provider block's
salt rules, and the adapter issuing grants whose encryption access holds keys derived from the passphrase.

The vectors were printed by `storj-crosscheck derive` (tests/storj_crosscheck, storj.io/common
encryption.DeriveRootKey with concurrency 8, as uplink and the console call it); tests/integration/
test_storj_crosscheck.py re-runs the same comparison against the Go program on fresh random inputs.
"""

from __future__ import annotations

import base64
import dataclasses
import secrets
import uuid
from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from keyfob.api.blocks.storj import StorjConsole, StorjPassphrase, StorjProviderBlock
from keyfob.api.common import SecretKeySelector
from keyfob.api.request import AccessKeyRequestSpec
from keyfob.api.vocabulary import Permission
from keyfob.contract import BucketGrant, Capabilities, Grant, ProviderRejected
from keyfob.lifecycle.fingerprint import scope_hash, scope_lines
from keyfob.lifecycle.policies.expressible import beyond_capabilities
from keyfob.providers.storj.adapter import StorjProvider
from keyfob.providers.storj.grant import CIPHER_AESGCM, CIPHER_NULL, AccessGrant, EncryptionAccess, derive_key
from keyfob.providers.storj.passphrase import (
    PassphraseError,
    derive_access,
    derive_root_key,
    legacy_project_salt,
)
from keyfob_testbed.storj_fakes import FakeAuthService, FakeConsole, SatelliteKeys

from .test_storj_adapter import SATELLITE, grant

# (passphrase, salt hex, path, root key hex) from storj.io/common encryption.DeriveRootKey(..., 8).
GO_VECTORS = [
    ("password", "73616c74", "", "70be422575999f1bdb4ec425538facf36874f52bff06c6664c736f3c241c7266"),
    ("password", "73616c74", "any/path", "9c60e41d3aa4a1fde19bc1bf95cee10e14c0b174e7cce4005aad08391bf2bb0a"),
    (
        "correct horse battery staple",
        "5b0f3c9e2a7d4e1f8c6b0a9d3e2f1c4b",
        "",
        "76115839638a7e59ae967a5cd1919464a79c67a1792d87b40e9265f5e8542ac6",
    ),
    (
        "pässwörd ✓ 密码",
        "00112233445566778899aabbccddeeff",
        "",
        "f7ed6ce1a4cd630cc678b1586c6db525a0489766024e03b6d534785d54d9b958",
    ),
    ("x", "", "", "b2426c7e2994b0aafd18dc09da6e3487d6e652ab0735c3750ff0f6028f0cb876"),
]
# satellite/satellitedb/consoledb/projects.go GetSalt for a project without a stored salt, computed by the Go program.
LEGACY_PROJECT = "3b8c2f5e-1d4a-4c7b-9e6f-0a2b3c4d5e6f"
LEGACY_SALT = "93ec59493edfad7a89c771af8a0ef8fa8e8e92f0cd21d8aab49656efeb49e0c9"
LEGACY_KEY = "ff0d6baa81fbe65b346951f711aee8a1c7c32e7aca9e321259448c93f13830ee"  # passphrase below, that salt
LEGACY_PASSPHRASE = "legacy-project-passphrase"


@pytest.mark.parametrize(("passphrase", "salt", "path", "expected"), GO_VECTORS)
def test_root_key_equals_storj_go_derivation(passphrase: str, salt: str, path: str, expected: str) -> None:
    assert derive_root_key(passphrase.encode(), bytes.fromhex(salt), path.encode()).hex() == expected


def test_legacy_salt_is_sha256_of_the_project_id_bytes_as_the_satellite_computes_it() -> None:
    assert legacy_project_salt(LEGACY_PROJECT).hex() == LEGACY_SALT
    assert legacy_project_salt(LEGACY_PROJECT.replace("-", "")) == legacy_project_salt(LEGACY_PROJECT)
    derived = derive_access(LEGACY_PASSPHRASE, legacy_project_salt(LEGACY_PROJECT))
    assert derived.root_key.hex() == LEGACY_KEY


def test_one_changed_input_changes_the_key() -> None:
    base = derive_root_key(b"password", b"salt")
    assert derive_root_key(b"password", b"salt!") != base
    assert derive_root_key(b"passwore", b"salt") != base


def test_the_project_path_cipher_follows_encrypt_path() -> None:
    assert derive_access("p", b"s").encryption_access().default_path_cipher == CIPHER_AESGCM
    assert derive_access("p", b"s", encrypt_path=False).encryption_access().default_path_cipher == CIPHER_NULL


def test_derived_material_never_shows_in_reprs_or_errors() -> None:
    derived = derive_access("hunter2-passphrase", b"salt")
    for text in (repr(derived), str(derived), repr(derived.encryption_access())):
        assert derived.root_key.hex() not in text and "hunter2" not in text
    with pytest.raises(PassphraseError) as empty:
        derive_root_key(b"", b"salt")
    assert "empty" in str(empty.value)
    with pytest.raises(PassphraseError) as bad:
        legacy_project_salt("hunter2-not-a-uuid")
    assert "hunter2" not in str(bad.value)


# ---- the provider block -------------------------------------------------------------------------------------


def test_the_block_needs_exactly_one_salt_source() -> None:
    salt = base64.b64encode(uuid.uuid4().bytes).decode()
    assert StorjPassphrase(project_salt=salt).passphrase_key == "passphrase"
    assert StorjPassphrase(legacy_salt_project_id=LEGACY_PROJECT).encrypt_path is True
    with pytest.raises(ValidationError, match="exactly one"):
        StorjPassphrase()
    with pytest.raises(ValidationError, match="exactly one"):
        StorjPassphrase(project_salt=salt, legacy_salt_project_id=LEGACY_PROJECT)
    with pytest.raises(ValidationError):
        StorjPassphrase(project_salt="not base64!")


def test_the_crd_schema_says_the_same() -> None:
    schema = StorjPassphrase.model_json_schema(by_alias=True)
    rules = schema["x-kubernetes-validations"]
    assert rules == [
        {"rule": "has(self.projectSalt) != has(self.legacySaltProjectId)",
         "message": "set exactly one of projectSalt and legacySaltProjectId"}
    ]


# ---- the adapter --------------------------------------------------------------------------------------------


@pytest.fixture
def keys() -> SatelliteKeys:
    return SatelliteKeys()


@pytest.fixture
def auth(keys: SatelliteKeys) -> Iterator[FakeAuthService]:
    with FakeAuthService(keys, endpoint="https://gateway.test.invalid", allowed_satellites={SATELLITE}) as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture
def console(keys: SatelliteKeys) -> Iterator[FakeConsole]:
    with FakeConsole(keys) as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


SALT = uuid.UUID("5b0f3c9e-2a7d-4e1f-8c6b-0a9d3e2f1c4b").bytes
VECTOR_KEY = "76115839638a7e59ae967a5cd1919464a79c67a1792d87b40e9265f5e8542ac6"  # GO_VECTORS[2]


def passphrase_provider(
    keys: SatelliteKeys,
    auth: FakeAuthService,
    console: FakeConsole,
    http: httpx.Client,
    admin_extra: dict[str, str],
    **config: object,
) -> StorjProvider:
    parent = AccessGrant(SATELLITE, keys.new_root(), EncryptionAccess(secrets.token_bytes(32), CIPHER_AESGCM))
    settings = StorjProviderBlock(
        auth_service_url=auth.url,
        credentials_secret_ref=SecretKeySelector(name="storj-admin"),
        console=StorjConsole(url=console.url, project_id=console.project_id),
        passphrase=StorjPassphrase(**{"project_salt": base64.b64encode(SALT).decode(), **config}),  # type: ignore[arg-type]
    )
    admin = {"accessGrant": parent.serialize(), "consoleRestKey": console.rest_key, **admin_extra}
    return StorjProvider(settings, admin, "cluster-a", http=http)


def test_issued_grant_carries_bucket_keys_derived_from_the_passphrase(
    keys: SatelliteKeys, auth: FakeAuthService, console: FakeConsole, http: httpx.Client
) -> None:
    provider = passphrase_provider(keys, auth, console, http, {"passphrase": "correct horse battery staple\n"})
    issued = provider.issue(grant(buckets=(BucketGrant("alpha"), BucketGrant("beta"))))
    registered = auth.registrations[issued.access_key_id].grant.encryption_access
    root = bytes.fromhex(VECTOR_KEY)  # the trailing newline of a file-made Secret is not part of the passphrase
    assert registered.default_key is None, "the root key itself never leaves keyfob"
    assert {(e.bucket, e.unencrypted_path, e.key, e.path_cipher) for e in registered.entries} == {
        (b"alpha", b"", derive_key(root, b"path:alpha"), CIPHER_AESGCM),
        (b"beta", b"", derive_key(root, b"path:beta"), CIPHER_AESGCM),
    }
    assert "passphrase" in provider.describe(grant()).words[-1]


def test_a_project_without_path_encryption_gets_the_null_path_cipher(
    keys: SatelliteKeys, auth: FakeAuthService, console: FakeConsole, http: httpx.Client
) -> None:
    provider = passphrase_provider(keys, auth, console, http, {"passphrase": "p"}, encrypt_path=False)
    issued = provider.issue(grant())
    (entry,) = auth.registrations[issued.access_key_id].grant.encryption_access.entries
    assert entry.path_cipher == CIPHER_NULL


def test_a_missing_passphrase_or_bad_salt_is_refused_without_showing_values(
    keys: SatelliteKeys, auth: FakeAuthService, console: FakeConsole, http: httpx.Client
) -> None:
    with pytest.raises(ProviderRejected, match="lacks key 'passphrase'"):
        passphrase_provider(keys, auth, console, http, {})
    with pytest.raises(ProviderRejected, match="lacks key 'other'"):
        passphrase_provider(keys, auth, console, http, {"passphrase": "p"}, passphrase_key="other")
    with pytest.raises(ProviderRejected, match="not valid base64") as bad:
        passphrase_provider(keys, auth, console, http, {"passphrase": "hunter2"}, project_salt="AAA")
    assert "hunter2" not in str(bad.value)


# ---- a passphrase per request (spec.passphraseSecretRef) ------------------------------------------------------


def with_passphrase(base: Grant, value: str | None) -> Grant:
    return dataclasses.replace(
        base, passphrase_ref="Secret team-a/tenant-pp key 'passphrase'",
        passphrase=SecretStr(value) if value is not None else None,
    )


def test_a_request_passphrase_is_used_where_the_provider_allows_it(
    keys: SatelliteKeys, auth: FakeAuthService, console: FakeConsole, http: httpx.Client
) -> None:
    provider = passphrase_provider(
        keys, auth, console, http, {"passphrase": "the admin's"}, allow_request_passphrases=True
    )
    assert provider.capabilities.request_passphrase
    issued = provider.issue(with_passphrase(grant(), "correct horse battery staple"))
    (entry,) = auth.registrations[issued.access_key_id].grant.encryption_access.entries
    assert entry.key == derive_key(bytes.fromhex(VECTOR_KEY), b"path:alpha")  # the request's, not the admin's
    plain = provider.issue(grant())
    (admin_entry,) = auth.registrations[plain.access_key_id].grant.encryption_access.entries
    assert admin_entry.key == derive_key(derive_root_key(b"the admin's", SALT), b"path:alpha")
    assert "derived from the request's passphrase" in provider.describe(with_passphrase(grant(), None)).words[-1]


def test_a_request_passphrase_is_refused_unless_allowed_and_never_half_issued(
    keys: SatelliteKeys, auth: FakeAuthService, console: FakeConsole, http: httpx.Client
) -> None:
    provider = passphrase_provider(keys, auth, console, http, {"passphrase": "p"})
    asked = with_passphrase(grant(), "hunter2")
    assert not provider.capabilities.request_passphrase
    assert any("allowRequestPassphrases" in p for p in provider.unsupported(asked))
    with pytest.raises(ProviderRejected, match="allowRequestPassphrases") as refused:
        provider.issue(asked)
    assert "hunter2" not in str(refused.value)
    allowing = passphrase_provider(keys, auth, console, http, {"passphrase": "p"}, allow_request_passphrases=True)
    with pytest.raises(ProviderRejected, match="no passphrase was read"):
        allowing.issue(with_passphrase(grant(), None))
    assert console.names() == [] and auth.registrations == {}, "nothing was created at the provider"


def test_every_other_provider_refuses_a_request_passphrase() -> None:
    plain = Capabilities(permissions=frozenset(Permission), prefix_scope=True, native_expiry=True)
    asked = with_passphrase(grant(), "x")
    assert any("passphraseSecretRef" in p for p in beyond_capabilities(plain, asked))
    unscoped = dataclasses.replace(plain, unscoped=True)
    assert any("passphraseSecretRef" in p for p in beyond_capabilities(unscoped, asked))
    assert beyond_capabilities(dataclasses.replace(plain, request_passphrase=True), asked) == []
    assert "x'" not in repr(asked) and "SecretStr" not in repr(asked)


def test_the_passphrase_ref_is_part_of_the_scope_only_when_set() -> None:
    base = {"providerRef": {"name": "storj"}, "buckets": [{"name": "alpha"}], "permissions": ["read"],
            "secretName": "out"}
    plain = AccessKeyRequestSpec.model_validate(base)
    named = AccessKeyRequestSpec.model_validate({**base, "passphraseSecretRef": {"name": "pp"}})
    other = AccessKeyRequestSpec.model_validate({**base, "passphraseSecretRef": {"name": "pp", "key": "k"}})
    assert len({scope_hash(plain), scope_hash(named), scope_hash(other)}) == 3
    assert scope_hash(plain) == scope_hash(AccessKeyRequestSpec.model_validate(base))
    assert "passphrase from Secret pp key passphrase" in scope_lines(named)
