"""Storj macaroon caveats: the protobuf message (storj.io/common macaroon/types.proto) and its evaluation
(Caveat.Allows in macaroon/apikey.go).

Field numbers (types.proto): 1 disallow_reads, 2 disallow_writes, 3 disallow_lists, 4 disallow_deletes,
5 disallow_locks (deprecated), 6 disallow_put_retention, 7 disallow_get_retention, 8 disallow_put_legal_hold,
9 disallow_get_legal_hold, 10 allowed_paths (Path{1 bucket, 2 encrypted_path_prefix}),
11 disallow_bypass_governance_retention, 12/13 disallow_put/get_bucket_object_lock_configuration,
14/15 disallow_put/get_bucket_notification_configuration, 20 not_after, 21 not_before
(google.protobuf.Timestamp), 22 max_object_ttl (google.protobuf.Duration), 30 nonce.
Encoding follows the generated pico encoder's field order so equal caveats give equal bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum

from keyfob.providers.storj.wire import (
    WireError,
    bool_field,
    bytes_field,
    iter_fields,
    to_int32,
    to_int64,
    varint_field,
)


class ActionType(IntEnum):
    """macaroon.ActionType: what a satellite request asks to do (values are persisted, never renumbered)."""

    READ = 1
    WRITE = 2
    LIST = 3
    DELETE = 4
    PROJECT_INFO = 5
    LOCK = 6  # deprecated umbrella for retention + bucket object-lock configuration
    PUT_OBJECT_RETENTION = 7
    GET_OBJECT_RETENTION = 8
    PUT_OBJECT_LEGAL_HOLD = 9
    GET_OBJECT_LEGAL_HOLD = 10
    BYPASS_GOVERNANCE_RETENTION = 11
    PUT_BUCKET_OBJECT_LOCK_CONFIGURATION = 12
    GET_BUCKET_OBJECT_LOCK_CONFIGURATION = 13
    PUT_BUCKET_NOTIFICATION_CONFIGURATION = 14
    GET_BUCKET_NOTIFICATION_CONFIGURATION = 15


@dataclass(frozen=True, order=True)
class Timestamp:
    """google.protobuf.Timestamp, kept exact (Python datetimes stop at microseconds)."""

    seconds: int
    nanos: int = 0

    @classmethod
    def from_datetime(cls, value: datetime) -> Timestamp:
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        delta = value.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
        seconds = delta.days * 86400 + delta.seconds
        return cls(seconds, delta.microseconds * 1000)

    def to_datetime(self) -> datetime:
        return datetime.fromtimestamp(self.seconds, UTC).replace(microsecond=self.nanos // 1000)

    def encode(self) -> bytes:
        return varint_field(1, self.seconds) + varint_field(2, self.nanos)

    @classmethod
    def decode(cls, data: bytes) -> Timestamp:
        seconds = nanos = 0
        for item in iter_fields(data):
            if item.number == 1:
                seconds = to_int64(item.as_varint())
            elif item.number == 2:
                nanos = to_int32(item.as_varint())
        return cls(seconds, nanos)


class Duration(Timestamp):
    """google.protobuf.Duration: the same (seconds, nanos) shape on the wire."""


@dataclass(frozen=True)
class AllowedPath:
    bucket: bytes
    encrypted_path_prefix: bytes = b""

    def encode(self) -> bytes:
        return bytes_field(1, self.bucket) + bytes_field(2, self.encrypted_path_prefix)

    @classmethod
    def decode(cls, data: bytes) -> AllowedPath:
        bucket = prefix = b""
        for item in iter_fields(data):
            if item.number == 1:
                bucket = item.as_bytes()
            elif item.number == 2:
                prefix = item.as_bytes()
        return cls(bucket, prefix)


# (field number, attribute) of every bool flag, in encoding order around allowed_paths (10).
_FLAGS_BEFORE_PATHS = (
    (1, "disallow_reads"),
    (2, "disallow_writes"),
    (3, "disallow_lists"),
    (4, "disallow_deletes"),
    (5, "disallow_locks"),
    (6, "disallow_put_retention"),
    (7, "disallow_get_retention"),
    (8, "disallow_put_legal_hold"),
    (9, "disallow_get_legal_hold"),
)
_FLAGS_AFTER_PATHS = (
    (11, "disallow_bypass_governance_retention"),
    (12, "disallow_put_bucket_object_lock_configuration"),
    (13, "disallow_get_bucket_object_lock_configuration"),
    (14, "disallow_put_bucket_notification_configuration"),
    (15, "disallow_get_bucket_notification_configuration"),
)
FLAG_FIELDS: dict[int, str] = dict(_FLAGS_BEFORE_PATHS + _FLAGS_AFTER_PATHS)


@dataclass(frozen=True)
class Caveat:
    disallow_reads: bool = False
    disallow_writes: bool = False
    disallow_lists: bool = False
    disallow_deletes: bool = False
    disallow_locks: bool = False
    disallow_put_retention: bool = False
    disallow_get_retention: bool = False
    disallow_put_legal_hold: bool = False
    disallow_get_legal_hold: bool = False
    disallow_bypass_governance_retention: bool = False
    disallow_put_bucket_object_lock_configuration: bool = False
    disallow_get_bucket_object_lock_configuration: bool = False
    disallow_put_bucket_notification_configuration: bool = False
    disallow_get_bucket_notification_configuration: bool = False
    allowed_paths: tuple[AllowedPath, ...] = ()
    not_after: Timestamp | None = None
    not_before: Timestamp | None = None
    max_object_ttl: Duration | None = None
    nonce: bytes = b""
    unknown_fields: tuple[int, ...] = field(default=(), compare=False)

    def encode(self) -> bytes:
        out = bytearray()
        for number, name in _FLAGS_BEFORE_PATHS:
            out += bool_field(number, getattr(self, name))
        for path in self.allowed_paths:
            out += bytes_field(10, path.encode(), always=True)
        for number, name in _FLAGS_AFTER_PATHS:
            out += bool_field(number, getattr(self, name))
        for number, stamp in ((20, self.not_after), (21, self.not_before), (22, self.max_object_ttl)):
            if stamp is not None:
                out += bytes_field(number, stamp.encode(), always=True)
        out += bytes_field(30, self.nonce)
        return bytes(out)

    @classmethod
    def decode(cls, data: bytes) -> Caveat:
        values: dict[str, object] = {}
        paths: list[AllowedPath] = []
        unknown: list[int] = []
        stamps: dict[int, tuple[str, type[Timestamp]]] = {
            20: ("not_after", Timestamp),
            21: ("not_before", Timestamp),
            22: ("max_object_ttl", Duration),
        }
        for item in iter_fields(data):
            if item.number in FLAG_FIELDS:
                values[FLAG_FIELDS[item.number]] = item.as_bool()
            elif item.number == 10:
                paths.append(AllowedPath.decode(item.as_bytes()))
            elif item.number in stamps:
                name, kind = stamps[item.number]
                values[name] = kind.decode(item.as_bytes())
            elif item.number == 30:
                values["nonce"] = item.as_bytes()
            else:
                unknown.append(item.number)
        return cls(**values, allowed_paths=tuple(paths), unknown_fields=tuple(unknown))  # type: ignore[arg-type]

    def allows(self, action: Action) -> bool:
        """Storj's Caveat.Allows, rule for rule."""
        when = Timestamp.from_datetime(action.time)
        if self.not_after is not None and when > self.not_after:
            return False
        if self.not_before is not None and self.not_before > when:
            return False
        # Bucket metadata reads (no object path) are always allowed, filtered only by the allowed buckets.
        if action.op == ActionType.READ and not action.encrypted_path:
            if not self.allowed_paths or not action.bucket:
                return True
            return any(path.bucket == action.bucket for path in self.allowed_paths)
        if not self._op_allowed(action.op):
            return False
        if self.allowed_paths and action.op != ActionType.PROJECT_INFO:
            return any(
                path.bucket == action.bucket and action.encrypted_path.startswith(path.encrypted_path_prefix)
                for path in self.allowed_paths
            )
        return True

    def _op_allowed(self, op: int) -> bool:
        if op == ActionType.PROJECT_INFO:
            return True
        if op == ActionType.GET_OBJECT_RETENTION:
            # Storj: a key that may put retention may also read it.
            return not (self.disallow_put_retention and self.disallow_get_retention)
        flag = _DISALLOW_FLAG_FOR.get(op)
        return flag is not None and not getattr(self, flag)


_DISALLOW_FLAG_FOR: dict[int, str] = {
    ActionType.READ: "disallow_reads",
    ActionType.WRITE: "disallow_writes",
    ActionType.LIST: "disallow_lists",
    ActionType.DELETE: "disallow_deletes",
    ActionType.LOCK: "disallow_locks",
    ActionType.PUT_OBJECT_RETENTION: "disallow_put_retention",
    ActionType.PUT_OBJECT_LEGAL_HOLD: "disallow_put_legal_hold",
    ActionType.GET_OBJECT_LEGAL_HOLD: "disallow_get_legal_hold",
    ActionType.BYPASS_GOVERNANCE_RETENTION: "disallow_bypass_governance_retention",
    ActionType.PUT_BUCKET_OBJECT_LOCK_CONFIGURATION: "disallow_put_bucket_object_lock_configuration",
    ActionType.GET_BUCKET_OBJECT_LOCK_CONFIGURATION: "disallow_get_bucket_object_lock_configuration",
    ActionType.PUT_BUCKET_NOTIFICATION_CONFIGURATION: "disallow_put_bucket_notification_configuration",
    ActionType.GET_BUCKET_NOTIFICATION_CONFIGURATION: "disallow_get_bucket_notification_configuration",
}


@dataclass(frozen=True)
class Action:
    """macaroon.Action: one request the satellite authorizes."""

    op: int
    bucket: bytes
    encrypted_path: bytes
    time: datetime


def parse_caveat(data: bytes) -> Caveat:
    try:
        return Caveat.decode(data)
    except WireError as err:
        raise ValueError(f"invalid caveat format: {err}") from None
