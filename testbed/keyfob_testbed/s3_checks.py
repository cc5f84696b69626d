"""What a consumer does with a keyfob Secret: build an S3 client from its data alone and try calls."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError


def s3_from(data: Mapping[str, str]) -> Any:
    """A client built ONLY from the Secret's env-format data, as a consumer pod would."""
    return boto3.session.Session().client(
        "s3",
        endpoint_url=data["AWS_ENDPOINT_URL"],
        region_name=data["AWS_REGION"],
        aws_access_key_id=data["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=data["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=data.get("AWS_SESSION_TOKEN"),  # an STS session's (credentialType sts)
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def code_of(call: Callable[[], Any]) -> str:
    """'OK', or the S3 error code the call failed with (AccessDenied, InvalidAccessKeyId, ...)."""
    try:
        call()
    except ClientError as err:
        return str(err.response["Error"]["Code"])
    return "OK"
