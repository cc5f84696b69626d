"""One renderer per Secret format. Each returns string data keys; keys never collide across formats.

- env:      AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_DEFAULT_REGION, AWS_ENDPOINT_URL (when the
            provider has an endpoint), BUCKET_NAME (first bucket), BUCKET_NAMES (comma-separated). Load with envFrom.
- awsFiles: `credentials` and `config` (profile `default`), mount the Secret at ~/.aws.
- rclone:   `rclone.conf` with a remote named `keyfob`.
- s3cmd:    `.s3cfg`.
- cosi:     `BucketInfo` (JSON, the COSI BucketInfo shape with secretS3).

An STS session (credentialType sts) adds its token where the format has a field for one: AWS_SESSION_TOKEN (env),
aws_session_token (awsFiles credentials), session_token (rclone), access_token (s3cmd). COSI's BucketInfo has no
such field: `render_data` refuses cosi for a session (the lifecycle refuses it earlier, as InvalidSpec).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import urlsplit

from pydantic import SecretStr

from keyfob.api.request import SecretFormat


@dataclass(frozen=True)
class Credential:
    access_key_id: str
    secret_access_key: SecretStr
    endpoint: str | None
    region: str | None
    buckets: tuple[str, ...]
    expires_at: datetime | None
    session_token: SecretStr | None = None  # an STS session's token; None for an access key


def _secret(cred: Credential) -> str:
    return cred.secret_access_key.get_secret_value()


def _token(cred: Credential) -> str | None:
    return cred.session_token.get_secret_value() if cred.session_token is not None else None


class FormatCannotCarrySession(ValueError):
    """A format without a field for a session token was asked to hold an STS session."""


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _line(value: str) -> str:
    """A value as it may stand on one line of an INI-style file: control characters (a newline would start a
    new key or section) are written as \\xNN escapes. The API server refuses them already; this is the second
    line of defence for values that reach a file from elsewhere (a provider's answer)."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", value)


def _file_safe(cred: Credential) -> Credential:
    return replace(
        cred,
        access_key_id=_line(cred.access_key_id),
        endpoint=_line(cred.endpoint) if cred.endpoint else cred.endpoint,
        region=_line(cred.region) if cred.region else cred.region,
        buckets=tuple(_line(b) for b in cred.buckets),
    )


def render_env(cred: Credential) -> dict[str, str]:
    data = {
        "AWS_ACCESS_KEY_ID": cred.access_key_id,
        "AWS_SECRET_ACCESS_KEY": _secret(cred),
        "BUCKET_NAME": cred.buckets[0],
        "BUCKET_NAMES": ",".join(cred.buckets),
    }
    if (token := _token(cred)) is not None:
        data["AWS_SESSION_TOKEN"] = token
    if cred.region:
        data["AWS_REGION"] = data["AWS_DEFAULT_REGION"] = cred.region
    if cred.endpoint:
        data["AWS_ENDPOINT_URL"] = cred.endpoint
    return data


def render_aws_files(cred: Credential) -> dict[str, str]:
    cred = _file_safe(cred)
    credentials = f"[default]\naws_access_key_id = {cred.access_key_id}\naws_secret_access_key = {_secret(cred)}\n"
    if (token := _token(cred)) is not None:
        credentials += f"aws_session_token = {_line(token)}\n"
    config = "[default]\n"
    if cred.region:
        config += f"region = {cred.region}\n"
    if cred.endpoint:
        config += f"endpoint_url = {cred.endpoint}\n"
    return {"credentials": credentials, "config": config}


def render_rclone(cred: Credential) -> dict[str, str]:
    cred = _file_safe(cred)
    provider = "AWS" if not cred.endpoint else "Other"
    lines = [
        "[keyfob]",
        "type = s3",
        f"provider = {provider}",
        "env_auth = false",
        f"access_key_id = {cred.access_key_id}",
        f"secret_access_key = {_secret(cred)}",
        *([f"session_token = {_line(token)}"] if (token := _token(cred)) is not None else []),
        # keyfob's keys may not create buckets: without this, rclone's first upload tries CreateBucket and fails
        "no_check_bucket = true",
    ]
    if cred.region:
        lines.append(f"region = {cred.region}")
    if cred.endpoint:
        lines.append(f"endpoint = {cred.endpoint}")
    return {"rclone.conf": "\n".join(lines) + "\n"}


def render_s3cmd(cred: Credential) -> dict[str, str]:
    cred = _file_safe(cred)
    if cred.endpoint:
        parts = urlsplit(cred.endpoint)
        host, https = parts.netloc, parts.scheme == "https"
    else:
        host, https = "s3.amazonaws.com", True
    lines = [
        "[default]",
        f"access_key = {cred.access_key_id}",
        f"secret_key = {_secret(cred)}",
        *([f"access_token = {_line(token)}"] if (token := _token(cred)) is not None else []),
        f"host_base = {host}",
        f"host_bucket = {host}",
        f"use_https = {'True' if https else 'False'}",
        "signature_v2 = False",
    ]
    if cred.region:
        lines.append(f"bucket_location = {cred.region}")
    return {".s3cfg": "\n".join(lines) + "\n"}


def render_cosi(cred: Credential) -> dict[str, str]:
    info = {
        "metadata": {"name": cred.buckets[0]},
        "spec": {
            "bucketName": cred.buckets[0],
            "authenticationType": "KEY",
            "protocols": ["s3"],
            "secretS3": {
                "endpoint": cred.endpoint or "https://s3.amazonaws.com",
                "region": cred.region or "",
                "accessKeyID": cred.access_key_id,
                "accessSecretKey": _secret(cred),
            },
        },
    }
    return {"BucketInfo": json.dumps(info, sort_keys=True)}


RENDERERS: dict[SecretFormat, Callable[[Credential], dict[str, str]]] = {
    SecretFormat.ENV: render_env,
    SecretFormat.AWS_FILES: render_aws_files,
    SecretFormat.RCLONE: render_rclone,
    SecretFormat.S3CMD: render_s3cmd,
    SecretFormat.COSI: render_cosi,
}


# The formats that can carry an STS session token (credentialType sts may use only these).
SESSION_FORMATS: tuple[SecretFormat, ...] = (
    SecretFormat.ENV, SecretFormat.AWS_FILES, SecretFormat.RCLONE, SecretFormat.S3CMD,
)


def render_data(formats: list[SecretFormat], cred: Credential) -> dict[str, str]:
    if cred.session_token is not None and (unfit := [str(f) for f in formats if f not in SESSION_FORMATS]):
        raise FormatCannotCarrySession(f"secretFormats {', '.join(unfit)} cannot carry an STS session token")
    data: dict[str, str] = {}
    for fmt in formats:
        data.update(RENDERERS[fmt](cred))
    return data
