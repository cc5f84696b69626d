"""keyfob's permission vocabulary -> Utho's per-bucket permission, exactly or not at all.

What Utho's API accepts as a permission (POST .../bucket/{bucket}/permission/{permission}/accesskey/{key}):
- `read`, `write`, `full`, `none`: utho-community/object-storage src/types.ts (UpdatePermissionRequest) and the
  `permission` attribute of dharmajputho/terraform-provider-utho-prod internal/resources/objectstorage.go;
- `read` appears in uthoplatforms/utho-go utho/object_storage_test.go, `write` in its dummy data
  (utho/object_storage_test_dummy_data.go); the Terraform docs (terraform-provider-utho-prod
  docs/resources/object_storage_permission.md) list only `write` ("Write objects to the bucket") and `full`
  ("Full read and write access") and say `read` "is not currently supported by the Utho platform".
No source spells `read-write`. What each permission allows at the S3 level is documented nowhere, so keyfob
takes the broadest plausible reading of the two it uses and maps only requests asking for exactly that:

    read  = read + list        (an S3 read-only key lists the bucket)
    write = write + delete     (an S3 write key may overwrite, i.e. destroy, objects)

`full` is never used: "full access" may include changing the bucket's ACL or policy, which no keyfob
permission asks for, so read+write is refused rather than rounded up to it. `none` is what removing a grant
sends. Everything else is refused with a message naming the missing distinction.
"""

from __future__ import annotations

from collections.abc import Iterable

from keyfob.api.vocabulary import OBJECT_LOCK_PERMISSIONS, Permission
from keyfob.contract import BucketGrant, Grant, GrantPreview

P = Permission
READ, WRITE, FULL, NONE = "read", "write", "full", "none"
GRANTS: dict[str, frozenset[Permission]] = {
    READ: frozenset({P.READ, P.LIST}),
    WRITE: frozenset({P.WRITE, P.DELETE}),
}
FULL_REFUSED = (
    "read and write on the same key: Utho's only permission that grants both is 'full', documented as \"full "
    "read and write access\" with no word on whether it also lets the key change the bucket's ACL or policy, "
    "so keyfob will not round the request up to it (request one key with read+list and another with "
    "write+delete)"
)


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
    if not basic or utho_permission(basic) is not None:
        return problems
    covering = next((name for name, grants in GRANTS.items() if basic <= grants), None)
    if covering is None:
        problems.append(FULL_REFUSED)
        return problems
    extra = GRANTS[covering] - basic
    what = f"{_names(basic)} alone" if len(basic) == 1 else f"exactly {_names(basic)}"
    problems.append(
        f"{what}: Utho's narrowest permission covering it, '{covering}', also allows {_names(extra)} "
        f"(ask for {_names(GRANTS[covering])})"
    )
    return problems


def preview(grant: Grant, key_label: str) -> GrantPreview:
    """The per-bucket grants issue() would make (the same utho_permission()), or the refusal it would raise."""
    problems = scope_problems(grant.buckets, grant.permissions)
    permission = utho_permission(grant.permissions - OBJECT_LOCK_PERMISSIONS)
    if problems or permission is None:
        problems = problems or ["the requested permissions"]
        return GrantPreview(summary=f"Utho: refused: {'; '.join(problems)}", native={"refused": problems})
    grants = [{"bucket": b.name, "permission": permission} for b in grant.buckets]
    until = f" until {grant.expires_at.isoformat()} (keyfob revokes then)" if grant.expires_at else ""
    where = ", ".join(f"{g['bucket']}={permission}" for g in grants)
    return GrantPreview(summary=f"Utho key {key_label}: {where} ({'+'.join(sorted(GRANTS[permission]))}){until}",
                        native={"key": key_label, "grants": grants})
