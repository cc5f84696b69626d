"""What a Ceph RGW (Pacific, 16.2) user policy can and cannot hold a key to; the policy keyfob sets.

Measured against a real radosgw 16.2.15 (tests/integration/test_ceph_provider.py, docs/providers/ceph.md):
- bucket and prefix scope (object ARNs, s3:prefix on ListBucket), aws:CurrentTime DateLessThan, the retention
  and legal-hold actions and the bucket object-lock configuration actions are enforced;
- s3:BypassGovernanceRetention is not evaluated: a key allowed s3:DeleteObjectVersion deletes a
  GOVERNANCE-retained version with the bypass header whether or not the policy grants the bypass. keyfob never
  grants DeleteObjectVersion, so the permission could never be used: refused;
- the uploader owns what it writes, and RGW falls back to object ACLs when no policy statement allows: a
  write-only key reads, re-ACLs and tags its own objects. Explicit Deny statements close that;
- a key that may write can still attach ACL grants while uploading (x-amz-grant-* headers, multipart initiate
  or copy with a canned ACL): no user-policy condition stops it. 'write' is refused unless the provider opts in.
"""

from __future__ import annotations

from typing import Any

from keyfob.api.vocabulary import Permission
from keyfob.contract import Grant, GrantPreview
from keyfob.contract.preview import scope_words
from keyfob.providers.common.s3_policy import render_policy

POLICY_NAME = "keyfob-scope"

# Object actions an uploader gets through object ownership (ACL fallback) unless a Deny says otherwise.
OWNER_IMPLIED = (
    "s3:GetObjectVersion",
    "s3:GetObjectAcl",
    "s3:GetObjectVersionAcl",
    "s3:PutObjectAcl",
    "s3:PutObjectVersionAcl",
    "s3:GetObjectTagging",
    "s3:GetObjectVersionTagging",
    "s3:PutObjectTagging",
    "s3:PutObjectVersionTagging",
    "s3:DeleteObjectTagging",
    "s3:DeleteObjectVersionTagging",
    "s3:DeleteObjectVersion",
)
PUBLIC_CANNED_ACLS = ("public-read", "public-read-write", "authenticated-read")

BYPASS_NOT_ENFORCED = (
    "bypassGovernanceRetention: Ceph RGW (Pacific) does not evaluate s3:BypassGovernanceRetention in user "
    "policies, so it cannot be granted or withheld per key"
)
WRITE_PUBLISHES = (
    "write: Ceph RGW cannot stop a key that may write from setting ACLs on the objects it uploads (making them "
    "readable by others); set allowObjectAclsOnWrite on the provider to accept that"
)
WRITE_WARNING = (
    "Ceph RGW: this key may write, and RGW cannot stop it from setting ACLs on the objects it uploads "
    "(allowObjectAclsOnWrite)"
)


def unsupported(grant: Grant, *, allow_object_acls_on_write: bool) -> list[str]:
    problems: list[str] = []
    if Permission.BYPASS_GOVERNANCE_RETENTION in grant.permissions:
        problems.append(BYPASS_NOT_ENFORCED)
    if Permission.WRITE in grant.permissions and not allow_object_acls_on_write:
        problems.append(WRITE_PUBLISHES)
    return problems


def warnings(grant: Grant) -> tuple[str, ...]:
    return (WRITE_WARNING,) if Permission.WRITE in grant.permissions else ()


def render(grant: Grant) -> dict[str, Any]:
    """The shared S3 policy for the grant, plus the Deny statements RGW needs to keep it that narrow."""
    policy = render_policy(grant.buckets, grant.permissions, grant.expires_at)
    denied = list(OWNER_IMPLIED)
    if Permission.READ not in grant.permissions:
        denied.insert(0, "s3:GetObject")
    statements = policy["Statement"]
    statements.append({"Sid": "DenyOwnerImplied", "Effect": "Deny", "Action": denied, "Resource": ["arn:aws:s3:::*"]})
    if Permission.WRITE in grant.permissions:
        statements.append(
            {
                "Sid": "DenyPublicCannedAcl",
                "Effect": "Deny",
                "Action": ["s3:PutObject"],
                "Resource": ["arn:aws:s3:::*"],
                "Condition": {"StringEquals": {"s3:x-amz-acl": list(PUBLIC_CANNED_ACLS)}},
            }
        )
    return policy


def preview(grant: Grant, uid: str, allow_object_acls_on_write: bool) -> GrantPreview:
    """What issue() would set: the same render(), or the refusal issue() would raise."""
    problems = unsupported(grant, allow_object_acls_on_write=allow_object_acls_on_write)
    if problems:
        return GrantPreview(summary=f"RGW user {uid}: refused: {'; '.join(problems)}", native={"refused": problems})
    until = f" until {grant.expires_at.isoformat()} (aws:CurrentTime; keyfob revokes then)" if grant.expires_at else ""
    return GrantPreview(
        summary=f"RGW user {uid}, user policy {POLICY_NAME}: {scope_words(grant)}{until}",
        native={"uid": uid, "policyName": POLICY_NAME, "policy": render(grant)},
    )
