"""Storj access grants: base58check(version 0, Scope) (storj.io/common grant/access.go, grant/internal/pb).

    Scope            {1 satellite_addr string, 2 api_key bytes (raw macaroon), 3 encryption_access}
    EncryptionAccess {1 default_key bytes, 2 store_entries repeated StoreEntry, 3 default_path_cipher enum,
                      4 default_encryption_parameters (ignored by Storj's own serializer, and by us)}
    StoreEntry       {1 bucket, 2 unencrypted_path, 3 encrypted_path, 4 key, 5 path_cipher, 6 encryption_parameters}

Encryption keys are secret material: reprs never show them.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from keyfob.providers.storj import base58
from keyfob.providers.storj.macaroon import Macaroon, MacaroonError
from keyfob.providers.storj.wire import WireError, bytes_field, iter_fields, to_int32, varint_field

KEY_SIZE = 32
CIPHER_UNSPECIFIED = 0
CIPHER_NULL = 1
CIPHER_AESGCM = 2
CIPHER_SECRETBOX = 3


class GrantError(ValueError):
    """An access grant that cannot be parsed or serialized; the message never contains key material."""


@dataclass(frozen=True)
class StoreEntry:
    bucket: bytes
    unencrypted_path: bytes
    encrypted_path: bytes
    key: bytes
    path_cipher: int

    def __repr__(self) -> str:
        return f"StoreEntry(bucket={self.bucket!r}, unencrypted_path={self.unencrypted_path!r}, key=<hidden>)"

    def encode(self) -> bytes:
        return (
            bytes_field(1, self.bucket)
            + bytes_field(2, self.unencrypted_path)
            + bytes_field(3, self.encrypted_path)
            + bytes_field(4, self.key)
            + varint_field(5, self.path_cipher)
        )

    @classmethod
    def decode(cls, data: bytes) -> StoreEntry:
        values: dict[int, bytes] = {}
        cipher = CIPHER_UNSPECIFIED
        for item in iter_fields(data):
            if item.number in (1, 2, 3, 4):
                values[item.number] = item.as_bytes()
            elif item.number == 5:
                cipher = to_int32(item.as_varint())
        key = values.get(4, b"")
        if len(key) != KEY_SIZE:
            raise GrantError("invalid key in encryption access entry")
        return cls(values.get(1, b""), values.get(2, b""), values.get(3, b""), key, cipher)


def derive_key(key: bytes, message: bytes) -> bytes:
    """storj.io/common encryption.DeriveKey: the first 32 bytes of HMAC-SHA512(key, message)."""
    return hmac.new(key, message, hashlib.sha512).digest()[:KEY_SIZE]


@dataclass(frozen=True)
class EncryptionAccess:
    default_key: bytes | None
    default_path_cipher: int
    entries: tuple[StoreEntry, ...] = ()

    def __repr__(self) -> str:
        buckets = sorted({entry.bucket for entry in self.entries})
        return f"EncryptionAccess(default_key={'<hidden>' if self.default_key else None}, buckets={buckets})"

    def encode(self) -> bytes:
        out = bytes_field(1, self.default_key or b"")
        for entry in self.entries:
            out += bytes_field(2, entry.encode(), always=True)
        return out + varint_field(3, self.default_path_cipher)

    @classmethod
    def decode(cls, data: bytes) -> EncryptionAccess:
        default_key: bytes | None = None
        cipher = CIPHER_UNSPECIFIED
        entries: list[StoreEntry] = []
        for item in iter_fields(data):
            if item.number == 1:
                default_key = item.as_bytes() or None
            elif item.number == 2:
                entries.append(StoreEntry.decode(item.as_bytes()))
            elif item.number == 3:
                cipher = to_int32(item.as_varint())
        if default_key is not None and len(default_key) != KEY_SIZE:
            raise GrantError("invalid default key in encryption access")
        # As Storj does: unspecified means serialized before the path cipher moved here, i.e. AES-GCM.
        if cipher == CIPHER_UNSPECIFIED:
            cipher = CIPHER_AESGCM
        return cls(default_key, cipher, tuple(entries))

    def bucket_root(self, bucket: bytes) -> tuple[bytes, int] | None:
        """(key, path cipher) for a whole bucket, found as Storj's Store lookup + DerivePathKey would.

        An entry for the bucket's root wins; otherwise the default key, with the bucket name folded in
        (key = DeriveKey(default, "path:" + bucket)). None when this access holds no key for the bucket root
        (e.g. it only holds keys for prefixes inside it).
        """
        for entry in self.entries:
            if entry.bucket == bucket and not entry.unencrypted_path:
                return entry.key, entry.path_cipher
        if self.default_key is not None:
            return derive_key(self.default_key, b"path:" + bucket), self.default_path_cipher
        return None

    def limited_to_buckets(self, buckets: list[bytes]) -> EncryptionAccess:
        """Only the keys needed for these whole buckets, no default key (what Storj's LimitTo yields for
        allowed paths with an empty encrypted prefix). Raises GrantError when a bucket has no key."""
        entries: list[StoreEntry] = []
        for bucket in dict.fromkeys(buckets):
            found = self.bucket_root(bucket)
            if found is None:
                raise GrantError(f"the parent access grant holds no encryption key for bucket {bucket.decode()!r}")
            key, cipher = found
            entries.append(StoreEntry(bucket, b"", b"", key, cipher))
        return EncryptionAccess(None, self.default_path_cipher, tuple(entries))


@dataclass(frozen=True)
class AccessGrant:
    satellite_address: str
    api_key: Macaroon
    encryption_access: EncryptionAccess

    def __repr__(self) -> str:
        return f"AccessGrant(satellite={self.satellite_address!r}, api_key={self.api_key!r})"

    def serialize(self) -> str:
        if not self.satellite_address:
            raise GrantError("access grant is missing satellite address")
        scope = (
            bytes_field(1, self.satellite_address.encode())
            + bytes_field(2, self.api_key.serialize())
            + bytes_field(3, self.encryption_access.encode(), always=True)
        )
        return base58.check_encode(scope, 0)

    @classmethod
    def parse(cls, text: str) -> AccessGrant:
        try:
            version, payload = base58.check_decode(text.strip())
        except base58.Base58Error:
            raise GrantError("invalid access grant format") from None
        if version != 0:
            raise GrantError("invalid access grant format")
        satellite = ""
        raw_key = b""
        enc = b""
        try:
            for item in iter_fields(payload):
                if item.number == 1:
                    satellite = item.as_bytes().decode()
                elif item.number == 2:
                    raw_key = item.as_bytes()
                elif item.number == 3:
                    enc = item.as_bytes()
            if not satellite:
                raise GrantError("access grant is missing satellite address")
            api_key = Macaroon.parse(raw_key)
            encryption_access = EncryptionAccess.decode(enc)
        except (WireError, UnicodeDecodeError) as err:
            raise GrantError(f"unable to unmarshal access grant: {err}") from None
        except MacaroonError as err:
            raise GrantError(f"access grant has malformed api key: {err}") from None
        return cls(satellite, api_key, encryption_access)
