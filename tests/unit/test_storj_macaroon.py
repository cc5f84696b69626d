"""Storj macaroons: binary layout, the HMAC tail chain, parsing edge cases, and APIKey.Check semantics."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta

import pytest

from keyfob.providers.storj.authorize import VERSION_OBJECT_LOCK, denial
from keyfob.providers.storj.caveat import Action, ActionType, Caveat, Timestamp
from keyfob.providers.storj.macaroon import Macaroon, MacaroonError


def _hmac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def test_binary_layout_matches_storj_serialize() -> None:
    secret, head = b"s" * 32, b"h" * 32
    mac = Macaroon.unrestricted(secret, head).add_caveat(b"cav1").add_caveat(b"")
    # 0x02 | 02 len head 00 | 02 len cav 00 (per caveat) | 00 | 06 32 tail
    expected = (
        b"\x02"
        + b"\x02\x20" + head + b"\x00"
        + b"\x02\x04cav1\x00"
        + b"\x02\x00\x00"
        + b"\x00"
        + b"\x06\x20" + mac.tail
    )  # fmt: skip
    assert mac.serialize() == expected
    assert Macaroon.parse(expected) == mac


def test_tail_chain_is_hmac_over_head_then_each_caveat() -> None:
    secret, head = secrets.token_bytes(32), secrets.token_bytes(32)
    caveats = [b"first", b"second", b"third"]
    mac = Macaroon.unrestricted(secret, head)
    for caveat in caveats:
        mac = mac.add_caveat(caveat)
    tail = _hmac(secret, head)
    chain = [tail]
    for caveat in caveats:
        tail = _hmac(tail, caveat)
        chain.append(tail)
    assert mac.tails(secret) == chain
    assert mac.tail == chain[-1]
    assert mac.validate(secret)
    # Restricting needs only the current tail, never the root secret.
    assert Macaroon(mac.head, mac.caveats, mac.tail).add_caveat(b"x").tail == _hmac(mac.tail, b"x")


def test_validation_fails_for_wrong_secret_or_tampering() -> None:
    secret = secrets.token_bytes(32)
    mac = Macaroon.unrestricted(secret).add_caveat(b"restrict")
    assert not mac.validate(secrets.token_bytes(32))
    assert not Macaroon(mac.head, (), mac.tail).validate(secret)  # caveat stripped
    assert not Macaroon(mac.head, (b"widen",), mac.tail).validate(secret)  # caveat replaced


def test_roundtrip_through_api_key_text() -> None:
    mac = Macaroon.unrestricted(secrets.token_bytes(32)).add_caveat(secrets.token_bytes(300))
    assert Macaroon.from_api_key(mac.to_api_key()) == mac
    assert Macaroon.parse(mac.serialize()) == mac


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\x01\x02\x01h\x00\x00\x06\x20" + b"t" * 32, "version"),
        (b"\x02\x02\x01h", "past end"),
        (b"\x02\x02\x01h\x00\x00\x06\x05short", "unexpected length"),
        (b"\x02\x02\x01h\x00\x00\x02\x20" + b"t" * 32, "instead of signature"),
        (b"\x02\x02\x01h\x01\x01l\x00\x00\x06\x20" + b"t" * 32, "out of order"),
        (b"\x02\x02\x01h\x00\x02\x01c\x06\x01x\x00\x00\x06\x20" + b"t" * 32, "unexpected fields"),
        (b"\x02\x02\x7fh\x00", "out of bounds"),
    ],
)
def test_malformed_macaroons_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(MacaroonError, match=message):
        Macaroon.parse(data)


def test_location_packets_are_tolerated_like_storj() -> None:
    tail = b"t" * 32
    with_location = b"\x02\x01\x03loc\x02\x01h\x00\x01\x03loc\x02\x01c\x00\x00\x06\x20" + tail
    assert Macaroon.parse(with_location) == Macaroon(b"h", (b"c",), tail)


def test_repr_hides_the_tail() -> None:
    mac = Macaroon.unrestricted(secrets.token_bytes(32))
    assert mac.tail.hex() not in repr(mac) and repr(mac.tail) not in repr(mac)


# ---- APIKey.Check ------------------------------------------------------------------------------------------------

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def test_check_requires_a_valid_signature_and_every_caveat() -> None:
    secret = secrets.token_bytes(32)
    read_only = Caveat(disallow_writes=True, nonce=b"1")
    expiring = Caveat(not_after=Timestamp.from_datetime(NOW), nonce=b"2")
    mac = Macaroon.unrestricted(secret).add_caveat(read_only.encode()).add_caveat(expiring.encode())
    read = Action(ActionType.READ, b"b", b"obj", NOW)
    write = Action(ActionType.WRITE, b"b", b"obj", NOW)
    late = Action(ActionType.READ, b"b", b"obj", NOW + timedelta(microseconds=1))
    assert denial(mac, secret, VERSION_OBJECT_LOCK, read) is None
    assert denial(mac, secret, VERSION_OBJECT_LOCK, write) == "action disallowed"
    assert denial(mac, secret, VERSION_OBJECT_LOCK, late) == "action disallowed"
    assert denial(mac, secrets.token_bytes(32), VERSION_OBJECT_LOCK, read) == "macaroon unauthorized"


def test_object_lock_actions_need_the_version_bit() -> None:
    secret = secrets.token_bytes(32)
    mac = Macaroon.unrestricted(secret)
    action = Action(ActionType.PUT_OBJECT_RETENTION, b"b", b"obj", NOW)
    assert denial(mac, secret, VERSION_OBJECT_LOCK, action) is None
    assert denial(mac, secret, 0, action) is not None


def test_unparseable_caveats_deny() -> None:
    secret = secrets.token_bytes(32)
    mac = Macaroon.unrestricted(secret).add_caveat(b"\x0a\x7f")
    assert denial(mac, secret, VERSION_OBJECT_LOCK, Action(ActionType.READ, b"b", b"o", NOW)) == (
        "invalid caveat format"
    )
