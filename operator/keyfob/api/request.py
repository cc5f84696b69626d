"""AccessKeyRequest: what a workload needs (spec) and what keyfob did about it (status)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from keyfob.api.common import CamelModel, K8sName, ObjectKind
from keyfob.api.vocabulary import (
    ACCESS_KEY_ID_PATTERN,
    BUCKET_NAME_PATTERN,
    DURATION_PATTERN,
    KEY_NAME_PATTERN,
    LIFETIME_RULE,
    PREFIX_PATTERN,
    Permission,
)

Duration = Annotated[str, Field(pattern=DURATION_PATTERN, max_length=32)]
Lifetime = Annotated[
    str, Field(pattern=DURATION_PATTERN, max_length=32, json_schema_extra={"x-kubernetes-validations": [LIFETIME_RULE]})
]
AccessKeyId = Annotated[str, Field(pattern=ACCESS_KEY_ID_PATTERN, max_length=128)]
KeyName = Annotated[str, Field(pattern=KEY_NAME_PATTERN, max_length=64)]
Hash = Annotated[str, Field(pattern=r"^[0-9a-f]{16}$", max_length=16)]


class ProviderRef(CamelModel):
    """Which provider object issues the key (like cert-manager's issuerRef)."""

    kind: ObjectKind = Field(
        default=ObjectKind.ACCESS_KEY_PROVIDER,
        description="AccessKeyProvider (same namespace) or ClusterAccessKeyProvider.",
    )
    name: K8sName = Field(description="Name of the provider object.")


class BucketScope(CamelModel):
    """One bucket the key may reach, optionally narrowed to an object-key prefix."""

    name: str = Field(
        description="Bucket name (S3 naming rules).", pattern=BUCKET_NAME_PATTERN, min_length=3, max_length=63
    )
    prefix: str | None = Field(
        default=None,
        description="Object-key prefix the key is limited to, e.g. 'reports/'. Omit for the whole bucket.",
        pattern=PREFIX_PATTERN,
        max_length=512,
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "!self.startsWith('/') && !self.matches('(^|/)[.][.]?(/|$)')",
                    "message": "prefix must not start with '/' or contain '.' or '..' segments",
                }
            ]
        },
    )


class SecretFormat(StrEnum):
    """How the credential is laid out in the Secret."""

    ENV = "env"
    AWS_FILES = "awsFiles"
    RCLONE = "rclone"
    S3CMD = "s3cmd"
    COSI = "cosi"


class CredentialType(StrEnum):
    """What kind of credential keyfob issues."""

    ACCESS_KEY = "accessKey"  # a long-lived key at the provider, rotated and revoked by keyfob
    STS = "sts"  # a short STS session (AssumeRole) whose session policy is exactly the request's scope


# STS session lengths: AWS and MinIO both refuse AssumeRole below 15 minutes; AWS allows at most 12 hours.
SESSION_MIN_SECONDS = 900
SESSION_MAX_SECONDS = 43200
SESSION_DEFAULT = "1h"
SessionDuration = Annotated[
    str,
    Field(
        pattern=r"^([0-9]{1,9}(h|m|s))+$",  # no 'd': CEL's duration() knows none, and a session is under a day
        max_length=32,
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "duration(self) >= duration('15m') && duration(self) <= duration('12h')",
                    "message": "a session lasts between 15m and 12h (STS's limits); write it in h/m/s",
                }
            ]
        },
    ),
]


# CEL on the spec (api/crd.py): a session token needs a format with a field for it.
STS_FORMATS_RULE = {
    "rule": "!has(self.credentialType) || self.credentialType != 'sts' || "
    "!has(self.secretFormats) || !self.secretFormats.exists(f, f == 'cosi')",
    "message": "credentialType sts needs formats that carry a session token: env, awsFiles, rclone or s3cmd "
    "(cosi's BucketInfo has no field for one)",
}


class DeletionPolicy(StrEnum):
    REVOKE = "Revoke"
    RETAIN = "Retain"


class SecretTemplate(CamelModel):
    """Extra metadata for the Secret keyfob writes."""

    labels: dict[str, str] = Field(default_factory=dict, description="Labels added to the Secret.")
    annotations: dict[str, str] = Field(default_factory=dict, description="Annotations added to the Secret.")


class RestartTarget(CamelModel):
    """A workload that reads the Secret as env vars: rolled (pod-template annotation) when the key rotates."""

    kind: str = Field(description="Deployment or StatefulSet.", pattern=r"^(Deployment|StatefulSet)$")
    name: K8sName = Field(description="Name of the workload in this namespace.")


class PassphraseSecretRef(CamelModel):
    """A key of a Secret in the request's own namespace holding an encryption passphrase."""

    name: K8sName = Field(description="Name of the Secret (in this namespace).")
    key: str = Field(
        default="passphrase", description="Key in that Secret.", pattern=r"^[-._a-zA-Z0-9]+$", max_length=253
    )


class AccessKeyRequestSpec(CamelModel):
    """The access key a workload needs."""

    provider_ref: ProviderRef = Field(description="The provider that issues the key.")
    buckets: list[BucketScope] = Field(
        description="Buckets (and optional prefixes) the key may reach; nothing else.",
        min_length=1,
        max_length=32,
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "self.all(b, self.exists_one(c, c.name == b.name))",
                    "message": "each bucket may be listed once",
                }
            ]
        },
    )
    permissions: list[Permission] = Field(
        description="Rights over objects in those buckets.",
        min_length=1,
        max_length=16,
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    ttl: Lifetime | None = Field(
        default=None,
        description="Lifetime of each issued key, e.g. 720h. Defaults to the provider's defaultTTL.",
    )
    expires_at: datetime | None = Field(
        default=None, description="Absolute expiry (RFC 3339) instead of a ttl; the key is not rotated."
    )
    renew_before: Duration | None = Field(
        default=None, description="Rotate this long before expiry. Defaults to a third of the lifetime."
    )
    rotation_grace_period: Duration = Field(
        default="10m", description="How long the previous key stays valid after a rotation."
    )
    secret_name: K8sName = Field(
        description="Name of the Secret (in this namespace) that receives the credential. Immutable.",
        json_schema_extra={
            "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "secretName is immutable"}]
        },
    )
    secret_template: SecretTemplate | None = Field(
        default=None, description="Labels and annotations for the Secret."
    )
    secret_formats: list[SecretFormat] = Field(
        default_factory=lambda: [SecretFormat.ENV],
        description="Layouts written into the Secret: env, awsFiles, rclone, s3cmd, cosi.",
        min_length=1,
        max_length=5,
        json_schema_extra={"x-kubernetes-list-type": "set", "default": [SecretFormat.ENV.value]},
    )
    credential_type: CredentialType = Field(
        default=CredentialType.ACCESS_KEY,
        description="accessKey: a key at the provider, rotated before its ttl ends. sts: a short STS session "
        "(AssumeRole on the provider's role) whose session policy is exactly this scope, refreshed continuously; "
        "the Secret also carries a session token. At AWS a session cannot be revoked: it ends at its own expiry.",
    )
    session_duration: SessionDuration | None = Field(
        default=None,
        description="credentialType sts: how long each session lasts (15m..12h, default 1h, never past the ttl "
        "or expiresAt); it is refreshed when two thirds of it have passed.",
    )
    restart_targets: list[RestartTarget] = Field(
        default_factory=list,
        description="Workloads to roll after each rotation (annotation keyfob.dev/revision on the pod template).",
        max_length=8,
    )
    deletion_policy: DeletionPolicy = Field(
        default=DeletionPolicy.REVOKE,
        description="Revoke the key and delete the Secret when the request is deleted, or Retain both.",
    )
    passphrase_secret_ref: PassphraseSecretRef | None = Field(
        default=None,
        description=(
            "Storj only, where the provider allows it: encrypt with keys derived from this passphrase instead of "
            "the provider's. Read when a key is issued; a changed passphrase applies from the next rotation."
        ),
    )

