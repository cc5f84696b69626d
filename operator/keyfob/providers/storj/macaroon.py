"""Storj's macaroons: the binary API key inside an access grant (storj.io/common macaroon/macaroon.go and
macaroon/serialize.go).

Binary layout (version 2, libmacaroons-style packets, packet = uvarint(field) uvarint(len) data):

    0x02 | pkt(2, head) 0x00 | for each caveat: pkt(2, caveat) 0x00 | 0x00 | pkt(6, tail)

Signature chain: tail0 = HMAC-SHA256(key=root secret, msg=head); each caveat c: tail = HMAC-SHA256(key=tail, msg=c).
Anyone holding a macaroon can append caveats (that only needs the current tail); only the satellite, which
holds the root secret, can validate one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from keyfob.providers.storj import base58
from keyfob.providers.storj.wire import WireError, decode_varint, encode_varint

VERSION = 2
TAIL_SIZE = 32
_EOS = 0
_LOCATION = 1
_IDENTIFIER = 2
_VERIFICATION_ID = 4
_SIGNATURE = 6


class MacaroonError(ValueError):
    """Malformed macaroon bytes."""


def sign(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


@dataclass(frozen=True)
class Macaroon:
    head: bytes
    caveats: tuple[bytes, ...]
    tail: bytes

    def __repr__(self) -> str:  # the tail is a bearer credential: never print it
        return f"Macaroon(head={self.head.hex()[:16]}..., caveats={len(self.caveats)})"

    @classmethod
    def unrestricted(cls, secret: bytes, head: bytes | None = None) -> Macaroon:
        """A root macaroon as the satellite makes one (random 32-byte head unless given)."""
        head = secrets.token_bytes(32) if head is None else head
        return cls(head=head, caveats=(), tail=sign(secret, head))

    def add_caveat(self, caveat: bytes) -> Macaroon:
        return Macaroon(self.head, (*self.caveats, caveat), sign(self.tail, caveat))

    def tails(self, secret: bytes) -> list[bytes]:
        """Every tail of the chain, root first (what the satellite checks against its revocation list)."""
        tail = sign(secret, self.head)
        chain = [tail]
        for caveat in self.caveats:
            tail = sign(tail, caveat)
            chain.append(tail)
        return chain

    def validate(self, secret: bytes) -> bool:
        return hmac.compare_digest(self.tails(secret)[-1], self.tail)

    def serialize(self) -> bytes:
        out = bytearray([VERSION])
        out += _packet(_IDENTIFIER, self.head) + b"\0"
        for caveat in self.caveats:
            out += _packet(_IDENTIFIER, caveat) + b"\0"
        out += b"\0"
        out += _packet(_SIGNATURE, self.tail)
        return bytes(out)

    @classmethod
    def parse(cls, data: bytes) -> Macaroon:
        try:
            return _parse(data)
        except WireError as err:
            raise MacaroonError(str(err)) from None

    # The text form of a bare API key (what the console's "create API key" returns).
    def to_api_key(self) -> str:
        return base58.check_encode(self.serialize(), 0)

    @classmethod
    def from_api_key(cls, text: str) -> Macaroon:
        try:
            version, payload = base58.check_decode(text)
        except base58.Base58Error as err:
            raise MacaroonError(f"invalid api key format: {err}") from None
        if version != 0:
            raise MacaroonError("invalid api key format: version is not 0")
        return cls.parse(payload)


def _packet(field: int, data: bytes) -> bytes:
    return encode_varint(field) + encode_varint(len(data)) + data


def _read_packet(data: bytes, offset: int) -> tuple[int, bytes, int]:
    field, offset = decode_varint(data, offset)
    if field > 0x7FFFFFFF:
        raise MacaroonError("varint error")
    if field == _EOS:
        return field, b"", offset
    length, offset = decode_varint(data, offset)
    if length > 0x7FFFFFFF or offset + length > len(data):
        raise MacaroonError("packet out of bounds")
    return field, data[offset : offset + length], offset + length


def _read_section(data: bytes, offset: int) -> tuple[list[tuple[int, bytes]], int]:
    """Packets up to an end-of-section marker; field numbers must strictly increase (as Storj checks)."""
    packets: list[tuple[int, bytes]] = []
    previous = -1
    while True:
        if offset >= len(data):
            raise MacaroonError("section extends past end of buffer")
        field, value, offset = _read_packet(data, offset)
        if field == _EOS:
            return packets, offset
        if field <= previous:
            raise MacaroonError("fields out of order")
        packets.append((field, value))
        previous = field


def _parse(data: bytes) -> Macaroon:
    if len(data) < 2:
        raise MacaroonError("empty macaroon")
    if data[0] != VERSION:
        raise MacaroonError("invalid macaroon version")
    section, offset = _read_section(data, 1)
    if section and section[0][0] == _LOCATION:
        section = section[1:]
    if len(section) != 1 or section[0][0] != _IDENTIFIER:
        raise MacaroonError("invalid macaroon header")
    head = section[0][1]
    caveats: list[bytes] = []
    while True:
        section, offset = _read_section(data, offset)
        if not section:
            break
        if section[0][0] == _LOCATION:
            section = section[1:]
        if not section or section[0][0] != _IDENTIFIER:
            raise MacaroonError("no identifier in caveat")
        if len(section) > 2 or (len(section) == 2 and section[1][0] != _VERIFICATION_ID):
            raise MacaroonError("unexpected fields in caveat")
        caveats.append(section[0][1])
    field, tail, offset = _read_packet(data, offset)
    if field != _SIGNATURE:
        raise MacaroonError("unexpected field found instead of signature")
    if len(tail) != TAIL_SIZE:
        raise MacaroonError("signature has unexpected length")
    return Macaroon(head=head, caveats=tuple(caveats), tail=tail)
