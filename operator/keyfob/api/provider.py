"""AccessKeyProvider / ClusterAccessKeyProvider: where keys come from, and what may be asked of it."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from keyfob.api.blocks.aws import AwsProviderBlock
from keyfob.api.blocks.ceph import CephProviderBlock
from keyfob.api.blocks.ionos import IonosProviderBlock
from keyfob.api.blocks.minio import MinioProviderBlock
from keyfob.api.blocks.storj import StorjProviderBlock
from keyfob.api.blocks.utho import UthoProviderBlock
from keyfob.api.common import CamelModel, Condition, LabelSelector
from keyfob.api.request import Lifetime
from keyfob.api.vocabulary import Permission

# Guardrail patterns: the characters of a bucket name / prefix, plus '*' and the '{namespace}' placeholder.
BUCKET_GUARD_PATTERN = r"^([a-z0-9.*-]|\{namespace\})+$"
PREFIX_GUARD_PATTERN = r"^([A-Za-z0-9!_.()/*-]|\{namespace\})+$"
# '{namespace}' only between separators a namespace name cannot contain, so patterns cannot collide across
# namespaces: 'team' and 'team-a' are both namespaces, and '{namespace}-*' for 'team' matches 'team-a-x'.
NAMESPACE_PLACEHOLDER_RULE_BUCKET = {
    "rule": "!self.matches('[^.][{]namespace[}]|[{]namespace[}][^.]')",
    "message": "'{namespace}' must stand between '.' separators or at the ends, e.g. '{namespace}.*'",
}
NAMESPACE_PLACEHOLDER_RULE_PREFIX = {
    "rule": "!self.matches('[^/][{]namespace[}]|[{]namespace[}][^/]')",
    "message": "'{namespace}' must stand between '/' separators or at the ends, e.g. '{namespace}/*'",
}

BucketGuard = Annotated[str, Field(max_length=128, pattern=BUCKET_GUARD_PATTERN,
                                   json_schema_extra={"x-kubernetes-validations": [NAMESPACE_PLACEHOLDER_RULE_BUCKET]})]
PrefixGuard = Annotated[str, Field(max_length=512, pattern=PREFIX_GUARD_PATTERN,
                                   json_schema_extra={"x-kubernetes-validations": [NAMESPACE_PLACEHOLDER_RULE_PREFIX]})]


class AllowedNamespaces(CamelModel):
    """Namespaces whose requests a cluster-scoped provider serves (names OR selector match)."""

    names: list[Annotated[str, Field(max_length=63)]] = Field(
        default_factory=list, description="Namespace names; '*' allows every namespace.", max_length=256
    )
    selector: LabelSelector | None = Field(default=None, description="Namespace label selector.")


class Guardrails(CamelModel):
    """Limits every request must satisfy before any provider call."""

    allowed_namespaces: AllowedNamespaces | None = Field(
        default=None,
        description=(
            "Only for ClusterAccessKeyProvider: which namespaces may use it. A ClusterAccessKeyProvider without "
            "it serves nobody (fail closed): write names: ['*'] to allow every namespace."
        ),
    )
    allowed_buckets: list[BucketGuard] = Field(
        default_factory=list,
        description=(
            "Bucket name patterns: '*' matches any run of characters, '{namespace}' the request's namespace and "
            "must stand between '.' separators or the ends (namespace names cannot contain '.', so no two "
            "namespaces can match one bucket), e.g. '{namespace}.*'. Omit on an AccessKeyProvider to allow "
            "every bucket; a ClusterAccessKeyProvider without it serves nobody: write ['*'] to allow all."
        ),
        max_length=64,
    )
    allowed_prefixes: list[PrefixGuard] = Field(
        default_factory=list,
        description=(
            "Object-key prefix patterns each requested bucket's prefix must match ('*' any run of characters, "
            "'{namespace}' the request's namespace, between '/' separators or the ends, e.g. '{namespace}/*'). "
            "When set, a request for a whole bucket (no prefix) is denied. Omit to allow any prefix."
        ),
        max_length=64,
    )
    allowed_permissions: list[Permission] = Field(
        default_factory=lambda: [Permission.READ, Permission.WRITE, Permission.LIST, Permission.DELETE],
        description="Permissions requests may ask for. Object-lock rights must be listed explicitly.",
        max_length=16,
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    max_ttl: Lifetime | None = Field(
        default=None, alias="maxTTL", description="Longest lifetime a request may ask for."
    )
    min_ttl: Lifetime | None = Field(
        default=None, alias="minTTL", description="Shortest lifetime a request may ask for (keyfob's own floor is 5m)."
    )
    require_approval: bool = Field(
        default=False,
        description=(
            "Issue a key only for a scope an approver approved (status.approval, written by `keyfob approve` by "
            "someone holding the 'approve' verb on this provider). Rotations of an approved scope need none."
        ),
    )
    default_ttl: Lifetime = Field(
        default="720h", alias="defaultTTL", description="Lifetime when a request names none."
    )
    allow_retain: bool = Field(
        default=False,
        description=(
            "Allow deletionPolicy: Retain. On a provider without native expiry a retained key would outlive "
            "every control keyfob has over it, so it is denied unless this is true."
        ),
    )
    max_keys_per_namespace: int | None = Field(
        default=None,
        ge=1,
        le=100000,
        description="Most live keys (current, pending and in grace) one namespace may hold at this provider.",
    )
    max_issues_per_hour_per_namespace: int | None = Field(
        default=None,
        ge=1,
        le=100000,
        description="Most keys keyfob issues per hour for one namespace at this provider (rotations included).",
    )




class ProviderSpec(CamelModel):
    """Exactly one provider block plus the guardrails."""

    aws: AwsProviderBlock | None = Field(default=None, description="AWS IAM or an IAM-compatible API.")
    minio: MinioProviderBlock | None = Field(default=None, description="A MinIO server (service accounts).")
    storj: StorjProviderBlock | None = Field(
        default=None, description="Storj: access grants restricted per key, registered at the auth service."
    )
    ionos: IonosProviderBlock | None = Field(
        default=None, description="IONOS Object Storage: unscoped access keys of the token's user (opt-in)."
    )
    utho: UthoProviderBlock | None = Field(
        default=None, description="Utho Object Storage: named access keys with a permission per bucket."
    )
    ceph: CephProviderBlock | None = Field(
        default=None, description="A Ceph RADOS Gateway: one RGW user with a user policy per key."
    )
    guardrails: Guardrails = Field(default_factory=Guardrails, description="What requests may ask for.")
    suspend: bool = Field(
        default=False,
        description="Break-glass: revoke every key this provider issued, now, and issue none until set back to false.",
    )
    suspend_reason: str = Field(
        default="", max_length=1024, description="Who suspended the provider and why (shown in events and status)."
    )

    def block_name(self) -> str:
        names = [name for name in PROVIDER_BLOCKS if getattr(self, name) is not None]
        if len(names) != 1:
            raise ValueError(f"exactly one provider block must be set, found {names or 'none'}")
        return names[0]


# Every field of ProviderSpec but these is a provider block: adding a provider adds one field above.
NOT_BLOCKS = frozenset({"guardrails", "suspend", "suspend_reason"})
PROVIDER_BLOCKS: tuple[str, ...] = tuple(name for name in ProviderSpec.model_fields if name not in NOT_BLOCKS)


def exactly_one_block_rule() -> dict[str, str]:
    terms = " + ".join(f"(has(self.{name}) ? 1 : 0)" for name in PROVIDER_BLOCKS)
    return {
        "rule": f"{terms} == 1",
        "message": f"exactly one provider block must be set: {', '.join(PROVIDER_BLOCKS)}",
    }


class ProviderStatus(CamelModel):
    """Whether the admin credentials work (the console's "Verify Credentials")."""

    conditions: list[Condition] = Field(default_factory=list, description="Ready says whether check() passed.")
    observed_generation: int | None = Field(default=None, description="Last spec generation checked.")
