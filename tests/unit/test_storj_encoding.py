"""Storj encodings: base58 / base58check vectors, the protobuf wire subset, access-grant round trips."""

from __future__ import annotations

import hashlib
import hmac
import secrets

import pytest

from keyfob.providers.storj import base58
from keyfob.providers.storj.grant import (
    CIPHER_AESGCM,
    CIPHER_SECRETBOX,
    AccessGrant,
    EncryptionAccess,
    GrantError,
    StoreEntry,
)
from keyfob.providers.storj.macaroon import Macaroon
from keyfob.providers.storj.wire import (
    WireError,
    bytes_field,
    decode_varint,
    encode_varint,
    iter_fields,
    to_int32,
    to_int64,
    varint_field,
)

# ---- base58 -------------------------------------------------------------------------------------------------

# Bitcoin's published base58 vectors (leading zero bytes become '1's).
BASE58_VECTORS = [
    (b"", ""),
    (b"\x00", "1"),
    (b"\x00\x00\x00", "111"),
    (b"a", "2g"),
    (b"abc", "ZiCa"),
    (b"Hello World!", "2NEpo7TZRRrLZSi2U"),
    (bytes.fromhex("000000287fb4cd"), "111233QC4"),
    (bytes.fromhex("00eb15231dfceb60925886b67d065299925915aeb172c06647"), "1NS17iag9jJgTHD1VXjvLCEnZuQ3rJDE9L"),
]


@pytest.mark.parametrize(("raw", "text"), BASE58_VECTORS)
def test_base58_vectors(raw: bytes, text: str) -> None:
    assert base58.encode(raw) == text
    assert base58.decode(text) == raw


def test_base58check_vector_version_zero() -> None:
    # The classic P2PKH example: version 0 + hash160, checksum = sha256d[:4].
    payload = bytes.fromhex("010966776006953d5567439e5e39f86a0d273bee")
    assert base58.check_encode(payload, 0) == "16UwLL9Risc3QfPqBUvKofHmBQ7wMtjvM"
    assert base58.check_decode("16UwLL9Risc3QfPqBUvKofHmBQ7wMtjvM") == (0, payload)


def test_base58check_detects_corruption() -> None:
    text = base58.check_encode(b"storj access grant payload", 0)
    corrupted = text[:-1] + ("2" if text[-1] != "2" else "3")
    with pytest.raises(base58.Base58Error, match="checksum"):
        base58.check_decode(corrupted)
    with pytest.raises(base58.Base58Error, match="character"):
        base58.check_decode("0OIl")  # characters outside the Bitcoin alphabet
    with pytest.raises(base58.Base58Error, match="short"):
        base58.check_decode("1111")


def test_base58check_roundtrips_random_payloads() -> None:
    for size in (0, 1, 31, 32, 33, 200):
        payload = b"\0\0" + secrets.token_bytes(size)
        assert base58.check_decode(base58.check_encode(payload, 0)) == (0, payload)


# ---- protobuf wire subset ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "encoded"),
    [(0, "00"), (1, "01"), (127, "7f"), (128, "8001"), (300, "ac02"), (2**63, "80808080808080808001")],
)
def test_varint_vectors(value: int, encoded: str) -> None:
    assert encode_varint(value).hex() == encoded
    assert decode_varint(bytes.fromhex(encoded), 0) == (value, len(encoded) // 2)


def test_negative_values_use_twos_complement_like_protobuf() -> None:
    encoded = encode_varint(-1)
    assert encoded.hex() == "ffffffffffffffffff01"
    value, _ = decode_varint(encoded, 0)
    assert to_int64(value) == -1 and to_int32(value) == -1


def test_malformed_wire_data_is_refused() -> None:
    with pytest.raises(WireError):
        decode_varint(b"\x80", 0)  # truncated
    with pytest.raises(WireError):
        decode_varint(b"\xff" * 11, 0)  # longer than 10 bytes
    with pytest.raises(WireError):
        list(iter_fields(b"\x0a\x05abc"))  # length runs past the end
    with pytest.raises(WireError):
        list(iter_fields(b"\x0b"))  # group wire type


def test_fields_roundtrip_and_unknown_fields_are_yielded() -> None:
    data = varint_field(1, 5) + bytes_field(2, b"xyz") + bytes_field(99, b"future") + varint_field(3, 0)
    fields = list(iter_fields(data))
    assert [(f.number, f.value) for f in fields] == [(1, 5), (2, b"xyz"), (99, b"future")]
    with pytest.raises(WireError, match="expected varint"):
        fields[1].as_varint()


# ---- access grants --------------------------------------------------------------------------------------------

SATELLITE = "12EayRS2V1kEsWESU9QMRseFhdxYxKicsiFmxrsLZHeLUtdps3S@satellite.invalid:7777"


def _grant(default_key: bytes | None = None, entries: tuple[StoreEntry, ...] = ()) -> AccessGrant:
    mac = Macaroon.unrestricted(secrets.token_bytes(32))
    return AccessGrant(SATELLITE, mac, EncryptionAccess(default_key, CIPHER_AESGCM, entries))


def test_access_grant_roundtrip() -> None:
    entry = StoreEntry(b"bucket", b"", b"", secrets.token_bytes(32), CIPHER_SECRETBOX)
    grant = _grant(secrets.token_bytes(32), (entry,))
    text = grant.serialize()
    parsed = AccessGrant.parse(text)
    assert parsed == grant
    assert parsed.serialize() == text
    version, payload = base58.check_decode(text)
    assert version == 0 and payload.startswith(bytes_field(1, SATELLITE.encode()))


def test_unspecified_path_cipher_means_aes_gcm_as_in_storj() -> None:
    access = EncryptionAccess.decode(bytes_field(1, b"k" * 32))
    assert access.default_path_cipher == CIPHER_AESGCM


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda text: text[:-2] + "zz", "invalid access grant format"),
        (lambda text: base58.check_encode(base58.check_decode(text)[1], 1), "invalid access grant format"),
        (lambda text: base58.check_encode(bytes_field(2, b"\x02"), 0), "missing satellite address"),
        (lambda text: base58.check_encode(bytes_field(1, b"sat") + bytes_field(2, b"\x09"), 0), "malformed api key"),
    ],
)
def test_bad_access_grants_are_refused_with_a_reason(mutate: object, message: str) -> None:
    text = _grant(secrets.token_bytes(32)).serialize()
    with pytest.raises(GrantError, match=message):
        AccessGrant.parse(mutate(text))  # type: ignore[operator]


def test_short_encryption_keys_are_refused() -> None:
    bad = bytes_field(1, SATELLITE.encode()) + bytes_field(2, Macaroon.unrestricted(b"s").serialize())
    bad += bytes_field(3, bytes_field(1, b"short"))
    with pytest.raises(GrantError, match="invalid default key"):
        AccessGrant.parse(base58.check_encode(bad, 0))


def test_limiting_to_buckets_derives_bucket_keys_and_drops_the_default_key() -> None:
    default = secrets.token_bytes(32)
    pinned = StoreEntry(b"pinned", b"", b"", secrets.token_bytes(32), CIPHER_SECRETBOX)
    deeper = StoreEntry(b"deep", b"some/prefix", b"enc/prefix", secrets.token_bytes(32), CIPHER_AESGCM)
    access = EncryptionAccess(default, CIPHER_AESGCM, (pinned, deeper))
    limited = access.limited_to_buckets([b"alpha", b"pinned", b"alpha"])
    assert limited.default_key is None
    by_bucket = {e.bucket: e for e in limited.entries}
    assert sorted(by_bucket) == [b"alpha", b"pinned"]
    # storj.io/common encryption.DeriveKey(default, "path:" + bucket) = HMAC-SHA512(...)[:32]
    assert by_bucket[b"alpha"].key == hmac.new(default, b"path:alpha", hashlib.sha512).digest()[:32]
    assert by_bucket[b"alpha"].path_cipher == CIPHER_AESGCM
    assert by_bucket[b"pinned"].key == pinned.key and by_bucket[b"pinned"].path_cipher == CIPHER_SECRETBOX
    # Only a prefix key for "deep" and no default: no key for the whole bucket.
    with pytest.raises(GrantError, match="no encryption key for bucket 'deep'"):
        EncryptionAccess(None, CIPHER_AESGCM, (deeper,)).limited_to_buckets([b"deep"])


def test_reprs_never_show_key_material() -> None:
    default = secrets.token_bytes(32)
    grant = _grant(default, (StoreEntry(b"b", b"", b"", default, CIPHER_AESGCM),))
    shown = repr(grant) + repr(grant.encryption_access) + repr(grant.encryption_access.entries) + repr(grant.api_key)
    assert default.hex() not in shown and grant.api_key.tail.hex() not in shown
    assert repr(default) not in shown
