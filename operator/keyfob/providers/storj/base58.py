"""Base58 (Bitcoin alphabet) and base58check, the text form of Storj access grants and API keys.

base58check(version, payload) = base58(version || payload || first 4 bytes of sha256(sha256(version || payload))).
Storj uses version 0 for both access grants and API keys (storj.io/common base58/base58check.go).
"""

from __future__ import annotations

import hashlib

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_INDEX = {char: index for index, char in enumerate(ALPHABET)}


class Base58Error(ValueError):
    """Not valid base58 / base58check text."""


def encode(data: bytes) -> str:
    zeros = len(data) - len(data.lstrip(b"\0"))
    number = int.from_bytes(data, "big")
    digits: list[str] = []
    while number:
        number, remainder = divmod(number, 58)
        digits.append(ALPHABET[remainder])
    return "1" * zeros + "".join(reversed(digits))


def decode(text: str) -> bytes:
    zeros = len(text) - len(text.lstrip("1"))
    number = 0
    for char in text:
        try:
            number = number * 58 + _INDEX[char]
        except KeyError:
            raise Base58Error("invalid base58 character") from None
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * zeros + body


def checksum(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()[:4]


def check_encode(payload: bytes, version: int = 0) -> str:
    if not 0 <= version <= 255:
        raise ValueError("version is one byte")
    body = bytes([version]) + payload
    return encode(body + checksum(body))


def check_decode(text: str) -> tuple[int, bytes]:
    """(version, payload); raises Base58Error on bad characters, short input or a checksum mismatch."""
    raw = decode(text)
    if len(raw) < 5:
        raise Base58Error("too short for version and checksum")
    body, check = raw[:-4], raw[-4:]
    if checksum(body) != check:
        raise Base58Error("checksum mismatch")
    return body[0], body[1:]
