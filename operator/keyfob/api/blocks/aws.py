"""The `aws` provider block: AWS IAM or an IAM-compatible API (moto, Ceph RGW).

Each block is one optional field of ProviderSpec; exactly one is set (a CEL rule says so).
"""

from __future__ import annotations

from pydantic import Field

from keyfob.api.common import CamelModel, SecretKeySelector
from keyfob.api.vocabulary import REGION_PATTERN, URL_PATTERN


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
