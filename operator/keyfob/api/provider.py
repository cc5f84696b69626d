"""AccessKeyProvider / ClusterAccessKeyProvider: where keys come from, and what may be asked of it."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from keyfob.api.blocks.aws import AwsProviderBlock
from keyfob.api.blocks.ionos import IonosProviderBlock
from keyfob.api.blocks.minio import MinioProviderBlock
from keyfob.api.blocks.storj import StorjProviderBlock
from keyfob.api.blocks.utho import UthoProviderBlock
from keyfob.api.common import CamelModel, Condition, LabelSelector
from keyfob.api.request import Duration
from keyfob.api.vocabulary import Permission


class AllowedNamespaces(CamelModel):
    """Namespaces whose requests a cluster-scoped provider serves (names OR selector match)."""

    names: list[Annotated[str, Field(max_length=63)]] = Field(
        default_factory=list, description="Namespace names.", max_length=256
    )
    selector: LabelSelector | None = Field(default=None, description="Namespace label selector.")


class Guardrails(CamelModel):
    """Limits every request must satisfy before any provider call."""

    allowed_namespaces: AllowedNamespaces | None = Field(
        default=None,
        description="Only for ClusterAccessKeyProvider: which namespaces may use it. Omit to allow all.",
    )
    allowed_buckets: list[Annotated[str, Field(max_length=128)]] = Field(
        default_factory=list,
        description=(
            "Bucket name patterns ('*' matches any run of characters, '{namespace}' the request's "
            "namespace). Omit to allow every bucket."
        ),
        max_length=64,
    )
    allowed_permissions: list[Permission] = Field(
        default_factory=lambda: [Permission.READ, Permission.WRITE, Permission.LIST, Permission.DELETE],
        description="Permissions requests may ask for. Object-lock rights must be listed explicitly.",
        max_length=16,
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    max_ttl: Duration | None = Field(
        default=None, alias="maxTTL", description="Longest lifetime a request may ask for."
    )
    require_approval: bool = Field(
        default=False,
        description=(
            "Issue a key for a new or re-scoped request only after an approver set the request's Approved "
            "condition (status subresource; see `keyfob approve`) for its current generation."
        ),
    )
    default_ttl: Duration = Field(
        default="720h", alias="defaultTTL", description="Lifetime when a request names none."
    )


PROVIDER_BLOCKS: tuple[str, ...] = ("aws", "minio", "storj", "ionos", "utho")


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
    guardrails: Guardrails = Field(default_factory=Guardrails, description="What requests may ask for.")

    def block_name(self) -> str:
        names = [name for name in PROVIDER_BLOCKS if getattr(self, name) is not None]
        if len(names) != 1:
            raise ValueError(f"exactly one provider block must be set, found {names or 'none'}")
        return names[0]


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
