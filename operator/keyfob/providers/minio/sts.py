"""MinIO's STS AssumeRole for credentialType sts (cmd/sts-handlers.go AssumeRole at the pinned server).

What MinIO does with it: the caller must be a regular user or the root user (temporary credentials and service
accounts are refused, checkAssumeRoleAuth); the session's parent is the caller; DurationSeconds must lie within
900 s .. 365 d (internal/config/identity/openid GetDefaultExpiration); the session policy is at most 2048 bytes
(maxSTSSessionPolicySize) and MinIO evaluates it: a session may do what its parent may AND what the session
policy allows (IAMSys.IsAllowedSTS; a root-derived session with a session policy is not treated as the owner,
signature-v4-utils.go). keyfob always sends a session policy: without one a session would have all its
parent's rights. `TokenRevokeType` (set to keyfob's key name) lets the admin API's revoke-tokens end exactly
this session later.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit
from xml.etree import ElementTree

import urllib3
from minio.credentials.credentials import Credentials
from minio.helpers import sha256_hash
from minio.signer import sign_v4_sts
from minio.time import to_amz_date, utcnow

from keyfob.contract import ProviderRejected, ProviderThrottled, ProviderUnavailable

STS_VERSION = "2011-06-15"
MAX_SESSION_POLICY_BYTES = 2048
_NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"


@dataclass(frozen=True)
class Session:
    access_key: str
    secret_key: str = field(repr=False)
    session_token: str = field(repr=False)
    expiration: datetime


def session_policy(policy: dict[str, Any]) -> str:
    return json.dumps(policy, separators=(",", ":"))


def _text(root: ElementTree.Element, name: str) -> str:
    for element in root.iter():
        if element.tag in (name, _NS + name) and element.text:
            return element.text
    return ""


def assume_role(
    pool: urllib3.PoolManager,
    endpoint: str,
    region: str,
    access_key: str,
    secret_key: str,
    *,
    policy: str,
    duration_seconds: int,
    token_revoke_type: str,
) -> Session:
    """POST AssumeRole, signed with the admin identity; the answer's credentials as a Session."""
    if not policy:
        raise ProviderRejected("refusing an STS session without a session policy (it would have all of its "
                               "parent's rights)")
    body = urlencode({
        "Action": "AssumeRole", "Version": STS_VERSION, "DurationSeconds": str(duration_seconds),
        "Policy": policy, "TokenRevokeType": token_revoke_type,
    })
    url = urlsplit(endpoint.rstrip("/") + "/")
    now = utcnow()
    headers = sign_v4_sts(
        method="POST",
        url=url,
        region=region,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Host": url.netloc,
                 "X-Amz-Date": to_amz_date(now)},
        credentials=Credentials(access_key=access_key, secret_key=secret_key),
        content_sha256=sha256_hash(body),
        date=now,
    )
    try:
        response = pool.urlopen("POST", url.geturl(), body=body, headers=headers, redirect=False)
    except (urllib3.exceptions.HTTPError, OSError) as err:
        raise ProviderUnavailable(f"MinIO AssumeRole failed: {type(err).__name__}") from None
    data = response.data.decode(errors="replace")
    try:
        # The provider's own answer (minio-py parses it the same way); expat >= 2.4 refuses entity expansion bombs.
        root = ElementTree.fromstring(data) if data else None  # noqa: S314
    except ElementTree.ParseError:
        root = None
    if response.status != 200 or root is None:
        code = _text(root, "Code") if root is not None else ""
        message = (_text(root, "Message") if root is not None else "")[:300]
        text = f"MinIO AssumeRole failed: HTTP {response.status} {code or 'error'}" + (f": {message}" * bool(message))
        if response.status == 429 or code in ("SlowDown", "Throttling"):
            raise ProviderThrottled(text)
        if response.status >= 500 or response.status == 0:
            raise ProviderUnavailable(text)
        raise ProviderRejected(text)
    expiration = _text(root, "Expiration")
    session = Session(
        access_key=_text(root, "AccessKeyId"),
        secret_key=_text(root, "SecretAccessKey"),
        session_token=_text(root, "SessionToken"),
        expiration=datetime.fromisoformat(expiration.replace("Z", "+00:00")) if expiration else now,
    )
    if not (session.access_key and session.secret_key and session.session_token and expiration):
        raise ProviderUnavailable("MinIO AssumeRole answered without complete credentials")
    return session
