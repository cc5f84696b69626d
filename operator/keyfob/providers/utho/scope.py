"""keyfob's permission vocabulary -> Utho's per-bucket permission, exactly or not at all.

Utho grants an access key one of three permissions per bucket: read, write, read-write ("Read, Write,
Read/Write" in the console; "read" and "write" are the strings in uthoplatforms/utho-go). What each one allows at
the S3 level is not documented, so keyfob assumes the broadest plausible reading and only maps a request whose
rights are exactly that (never broader than asked):

    read       = read + list          (an S3 read-only key lists the bucket)
    write      = write + delete       (an S3 write key may delete and overwrite)
    read-write = read + list + write + delete

Everything else is refused with a message naming it: a right alone that Utho bundles with another (list alone,
delete alone, read without list, write without delete), any object-lock right, any prefix.
"""

from __future__ import annotations

from collections.abc import Iterable

from keyfob.api.vocabulary import OBJECT_LOCK_PERMISSIONS, Permission
from keyfob.contract import BucketGrant

P = Permission
READ, WRITE, READ_WRITE = "read", "write", "read-write"
GRANTS: dict[str, frozenset[Permission]] = {
    READ: frozenset({P.READ, P.LIST}),
    WRITE: frozenset({P.WRITE, P.DELETE}),
    READ_WRITE: frozenset({P.READ, P.LIST, P.WRITE, P.DELETE}),
}


def _names(permissions: Iterable[Permission]) -> str:
    return ", ".join(sorted(p.value for p in permissions))


def utho_permission(permissions: frozenset[Permission]) -> str | None:
    """The Utho permission that grants exactly these rights, or None."""
    return next((name for name, grants in GRANTS.items() if grants == permissions), None)


def scope_problems(buckets: Iterable[BucketGrant], permissions: frozenset[Permission]) -> list[str]:
    problems: list[str] = []
    prefixed = [f"{b.name}/{b.prefix}" for b in buckets if b.prefix]
    if prefixed:
        problems.append(f"object prefixes ({', '.join(prefixed)}): Utho grants access to whole buckets only")
    locks = permissions & OBJECT_LOCK_PERMISSIONS
    if locks:
        problems.append(f"object-lock rights ({_names(locks)}): Utho access key permissions have none")
    basic = permissions - OBJECT_LOCK_PERMISSIONS
    if basic and utho_permission(basic) is None:
        covering = next((name for name, grants in GRANTS.items() if basic <= grants), READ_WRITE)
        extra = GRANTS[covering] - basic
        what = f"{_names(basic)} alone" if len(basic) == 1 else f"exactly {_names(basic)}"
        problems.append(
            f"{what}: Utho's narrowest permission covering it, '{covering}', also allows {_names(extra)} "
            f"(ask for {_names(GRANTS[covering])})"
        )
    return problems
