"""The fakes' stand-in for an S3 endpoint, and the client side of it.

A real S3 endpoint checks SigV4 signatures; the contract fakes only need to answer "does this key pair work on
this bucket (for this right)?", so their stand-in accepts `GET <s3 base>/<bucket>[?need=read|write|list|delete]`
with the header `Authorization: FakeS3 <access key>:<secret key>` and answers 200, 403 (unknown or dead key, wrong
secret, no grant) or 404 (no such bucket). This is NOT S3 and exists only on loopback in tests.
"""

from __future__ import annotations

import httpx

SCHEME = "FakeS3"


def auth_header(access_key: str, secret_key: str) -> dict[str, str]:
    return {"Authorization": f"{SCHEME} {access_key}:{secret_key}"}


def parse_auth(value: str | None) -> tuple[str, str] | None:
    if not value or not value.startswith(SCHEME + " ") or ":" not in value:
        return None
    access, _, secret = value[len(SCHEME) + 1 :].partition(":")
    return access, secret


def probe(endpoint: str, bucket: str, access_key: str, secret_key: str, need: str | None = None) -> int:
    """HTTP status of one stand-in call with only the key pair (200 = the key works there)."""
    params = {"need": need} if need else None
    response = httpx.get(
        f"{endpoint.rstrip('/')}/{bucket}", headers=auth_header(access_key, secret_key), params=params, timeout=10
    )
    return response.status_code
