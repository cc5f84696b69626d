"""The `aws` provider block: AWS IAM or an IAM-compatible API (moto, Ceph RGW).

Each block is one optional field of ProviderSpec; exactly one is set (a CEL rule says so).
"""

from __future__ import annotations

from pydantic import Field

from keyfob.api.common import CamelModel, SecretKeySelector
from keyfob.api.vocabulary import REGION_PATTERN, URL_PATTERN

ROLE_ARN_PATTERN = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$"


class AwsStsSettings(CamelModel):
    """STS sessions (requests with credentialType sts): keyfob assumes this role with the provider's admin
    credentials, passing the request's scope as the session policy (the session may do what the role's policies
    AND the session policy allow: never more than the request asks). Only the provider names the role."""

    role_arn: str = Field(
        description="ARN of the role keyfob assumes for every session; its trust policy must let the admin "
        "identity assume it, and its policies cap every session.",
        pattern=ROLE_ARN_PATTERN, max_length=2048,
    )
    endpoint: str | None = Field(
        default=None, description="STS endpoint URL; omit for AWS itself (the region's endpoint).",
        pattern=URL_PATTERN, max_length=2048,
    )
    external_id: str | None = Field(
        default=None, description="ExternalId the role's trust policy asks for, if any.",
        pattern=r"^[A-Za-z0-9+=,.@:/-]+$", min_length=2, max_length=1224,
    )
    max_session_duration: str = Field(
        default="1h", description="The role's MaxSessionDuration (AWS's default is 1h): longer sessionDurations "
        "are refused.", pattern=r"^([0-9]{1,9}(h|m|s))+$", max_length=32,
    )


class AwsProviderBlock(CamelModel):
    """AWS IAM (or an IAM-compatible API such as moto or Ceph RGW): one IAM user per issued key."""

    region: str = Field(
        default="us-east-1", description="Region written to the Secret and used for signing.",
        pattern=REGION_PATTERN, max_length=64,
    )
    iam_endpoint: str | None = Field(
        default=None, description="IAM endpoint URL; omit for AWS itself.", pattern=URL_PATTERN, max_length=2048
    )
    s3_endpoint: str | None = Field(
        default=None,
        description="S3 endpoint URL written to the Secret for consumers; omit for AWS itself.",
        pattern=URL_PATTERN,
        max_length=2048,
    )
    user_path: str = Field(
        default="/keyfob/",
        description="IAM path prefix for users keyfob creates; the cluster id is appended.",
        pattern=r"^/([A-Za-z0-9_+=,.@-]+/)*$",
        max_length=256,
    )
    permissions_boundary: str | None = Field(
        default=None, description="ARN of a managed policy set as permissions boundary on created users."
    )
    credentials_secret_ref: SecretKeySelector = Field(
        description="Secret with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY of an IAM admin identity."
    )
    sts: AwsStsSettings | None = Field(
        default=None, description="The role STS sessions are assumed from (credentialType sts); without it, "
        "sts requests are refused.",
    )
