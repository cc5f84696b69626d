"""Fit a rendered S3 policy to MinIO's policy validator without ever widening it.

MinIO refuses a whole policy (XMinioMalformedIAMPolicy) when a statement applies a condition key that one of
its actions does not support; AWS accepts such a statement and it simply never matches for that action. The one
case render_policy produces: the `s3:prefix` condition of a prefix-scoped list statement also covers
`s3:ListBucketMultipartUploads`, which has no `s3:prefix` key. Dropping such actions from the conditioned
statement gives exactly the rights AWS would effectively grant (listing in-progress uploads stays denied for a
prefix-scoped key), and nothing more.
"""

from __future__ import annotations

import copy
from typing import Any

# Actions MinIO accepts with an s3:prefix condition (minio/pkg policy: ListBucket, ListBucketVersions).
PREFIX_CONDITION_ACTIONS = frozenset({"s3:ListBucket", "s3:ListBucketVersions"})


def _has_prefix_condition(statement: dict[str, Any]) -> bool:
    return any("s3:prefix" in keys for keys in (statement.get("Condition") or {}).values())


def for_minio(policy: dict[str, Any]) -> dict[str, Any]:
    """A copy of `policy` MinIO accepts, granting the same or less (never more)."""
    fitted = copy.deepcopy(policy)
    statements = []
    for statement in fitted.get("Statement", []):
        if _has_prefix_condition(statement):
            statement["Action"] = [a for a in statement["Action"] if a in PREFIX_CONDITION_ACTIONS]
            if not statement["Action"]:
                continue
        statements.append(statement)
    fitted["Statement"] = statements
    return fitted
