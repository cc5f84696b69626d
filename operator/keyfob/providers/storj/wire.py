"""The few pieces of the protobuf wire format that Storj's access grants and macaroon caveats use.

Hand-rolled on purpose: the messages involved (Scope, EncryptionAccess, Caveat, Caveat.Path, Timestamp) have
a handful of scalar, bytes and sub-message fields, so a 100-line codec is easier to audit than generated code
whose provenance and runtime version would have to be tracked. Correctness is proven against Storj's own Go
code by tests/integration/test_storj_crosscheck.py.

Decoding is strict about structure (truncation, overlong varints, wrong wire types for known fields) and
skips unknown fields, as protobuf requires.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

VARINT = 0
I64 = 1
LEN = 2
I32 = 5
_MAX_VARINT_BYTES = 10


class WireError(ValueError):
    """Malformed protobuf bytes."""


def encode_varint(value: int) -> bytes:
    """Unsigned LEB128; negative int64 values are encoded as their two's complement (10 bytes), like protobuf."""
    if value < 0:
        value += 1 << 64
    if value >= 1 << 64:
        raise WireError("varint out of range")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def decode_varint(data: bytes, offset: int) -> tuple[int, int]:
    """(value, new offset); raises WireError on truncation or more than 10 bytes."""
    result = 0
    for index in range(_MAX_VARINT_BYTES):
        position = offset + index
        if position >= len(data):
            raise WireError("truncated varint")
        byte = data[position]
        result |= (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            if result >= 1 << 64:
                raise WireError("varint overflows 64 bits")
            return result, position + 1
    raise WireError("varint longer than 10 bytes")


def to_int64(value: int) -> int:
    """Reinterpret a decoded 64-bit varint as a signed int64."""
    return value - (1 << 64) if value >= 1 << 63 else value


def to_int32(value: int) -> int:
    """Reinterpret a decoded varint as a signed int32 (protobuf sign-extends int32 to 64 bits)."""
    value &= (1 << 64) - 1
    signed = to_int64(value)
    if not -(1 << 31) <= signed < 1 << 31:
        raise WireError("int32 out of range")
    return signed


@dataclass(frozen=True)
class Field:
    number: int
    wire_type: int
    value: int | bytes  # int for VARINT/I64/I32, bytes for LEN

    def as_bytes(self) -> bytes:
        if self.wire_type != LEN or not isinstance(self.value, bytes):
            raise WireError(f"field {self.number}: expected length-delimited, got wire type {self.wire_type}")
        return self.value

    def as_varint(self) -> int:
        if self.wire_type != VARINT or not isinstance(self.value, int):
            raise WireError(f"field {self.number}: expected varint, got wire type {self.wire_type}")
        return self.value

    def as_bool(self) -> bool:
        return self.as_varint() != 0


def iter_fields(data: bytes) -> Iterator[Field]:
    """Every field of one message, in wire order. Groups (wire types 3/4) are refused."""
    offset = 0
    while offset < len(data):
        key, offset = decode_varint(data, offset)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise WireError("field number 0")
        if wire_type == VARINT:
            value, offset = decode_varint(data, offset)
            yield Field(number, wire_type, value)
        elif wire_type == LEN:
            length, offset = decode_varint(data, offset)
            end = offset + length
            if end > len(data):
                raise WireError(f"field {number}: length {length} runs past the end")
            yield Field(number, wire_type, bytes(data[offset:end]))
            offset = end
        elif wire_type in (I64, I32):
            size = 8 if wire_type == I64 else 4
            if offset + size > len(data):
                raise WireError(f"field {number}: truncated fixed-width value")
            yield Field(number, wire_type, int.from_bytes(data[offset : offset + size], "little"))
            offset += size
        else:
            raise WireError(f"field {number}: unsupported wire type {wire_type}")


def tag(number: int, wire_type: int) -> bytes:
    return encode_varint((number << 3) | wire_type)


def varint_field(number: int, value: int) -> bytes:
    """A varint field, omitted when zero (proto3 default)."""
    return tag(number, VARINT) + encode_varint(value) if value else b""


def bool_field(number: int, value: bool) -> bytes:
    return varint_field(number, 1 if value else 0)


def bytes_field(number: int, value: bytes, always: bool = False) -> bytes:
    """A length-delimited field (bytes, string or sub-message), omitted when empty unless `always`."""
    if not value and not always:
        return b""
    return tag(number, LEN) + encode_varint(len(value)) + value
