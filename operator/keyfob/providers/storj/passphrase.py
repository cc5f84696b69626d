"""An encryption passphrase -> the root encryption key Storj derives from it, and the encryption access built on it.

As Storj does it (storj.io/common encryption/password.go DeriveRootKey, called with path "" and concurrency 8 by
uplink access.go RequestAccessWithPassphrase, by the console's wasm web/satellite/wasm/consolewasm/access.go
DeriveRootKey and by the satellite's own satellite/console/access.go createRestrictedAccess):

    mixed = HMAC-SHA256(key=passphrase, msg=project salt)
    salt' = HMAC-SHA256(key=mixed, msg=path)                      (path "" for a project's root key)
    root  = Argon2id(passphrase, salt', t=1, m=64 MiB, p=8, 32 bytes, version 0x13)

Argon2's parallelism is an input of the hash, not only a speed knob: p=8 is what every Storj client uses, so it
is fixed here. The Argon2 itself is argon2-cffi's binding of the reference implementation (hash_secret_raw).

The project salt is what the satellite answers in Metainfo.ProjectInfo (satellite/metainfo/endpoint.go) and in
the console's project config (satellite/console/service.go, base64): the project's stored salt (a random
UUID's 16 bytes for projects created since the column exists, satellite/satellitedb/consoledb/projects.go
Insert), or, where none is stored (older projects), SHA-256 of the project's 16-byte id (projects.go GetSalt).
keyfob cannot ask for it: ProjectInfo is DRPC and the console's salt endpoint needs a browser session, not a
REST key. The provider block carries it.

The derived key and the passphrase are secrets: nothing here puts either into a repr or an exception.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass, field

from argon2.low_level import Type, hash_secret_raw

from keyfob.providers.storj.grant import CIPHER_AESGCM, CIPHER_NULL, KEY_SIZE, EncryptionAccess

ARGON2_TIME = 1
ARGON2_MEMORY_KIB = 64 * 1024
ARGON2_PARALLELISM = 8  # uplink's and the console's `concurrency`
ARGON2_VERSION = 0x13  # golang.org/x/crypto/argon2's only version


class PassphraseError(ValueError):
    """A passphrase or salt keyfob cannot use; the message never contains either."""


def _hmac_sha256(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def derive_root_key(passphrase: bytes, salt: bytes, path: bytes = b"") -> bytes:
    """storj.io/common encryption.DeriveRootKey(passphrase, salt, path, 8)."""
    if not passphrase:
        raise PassphraseError("the encryption passphrase is empty")
    path_salt = _hmac_sha256(_hmac_sha256(passphrase, salt), path)
    key = hash_secret_raw(
        secret=passphrase,
        salt=path_salt,
        time_cost=ARGON2_TIME,
        memory_cost=ARGON2_MEMORY_KIB,
        parallelism=ARGON2_PARALLELISM,
        hash_len=KEY_SIZE,
        type=Type.ID,
        version=ARGON2_VERSION,
    )
    if len(key) != KEY_SIZE:  # pragma: no cover - argon2 returns hash_len bytes
        raise PassphraseError("invalid output from argon2id")
    return key


def legacy_project_salt(project_id: str) -> bytes:
    """The salt a satellite answers for a project with no stored salt: SHA-256 of its 16-byte id."""
    try:
        raw = uuid.UUID(project_id).bytes
    except ValueError:
        raise PassphraseError("the project id for the salt is not a UUID") from None
    return hashlib.sha256(raw).digest()


@dataclass(frozen=True)
class DerivedAccess:
    """The root key derived from a passphrase, and the path cipher the project uses. Never printed."""

    root_key: bytes = field(repr=False)
    path_cipher: int

    def __repr__(self) -> str:
        return f"DerivedAccess(root_key=<hidden>, path_cipher={self.path_cipher})"

    def encryption_access(self) -> EncryptionAccess:
        """What uplink's RequestAccessWithPassphrase builds before LimitTo: the root key as the default key."""
        return EncryptionAccess(self.root_key, self.path_cipher)


def derive_access(passphrase: str, salt: bytes, encrypt_path: bool = True) -> DerivedAccess:
    """The encryption access for a project passphrase: default key = DeriveRootKey(passphrase, salt, "", 8);
    default path cipher AES-GCM, or Null for a project without path encryption (satellite/console/access.go)."""
    key = derive_root_key(passphrase.encode(), salt)
    return DerivedAccess(key, CIPHER_AESGCM if encrypt_path else CIPHER_NULL)
