"""Bucket policies at the IONOS S3 endpoint, with an administrator's Object Storage key (scoped mode).

S3 API (IONOS "Object Storage API for contract-owned buckets", Policy: GetBucketPolicy `GET /{Bucket}?policy`,
PutBucketPolicy `PUT /{Bucket}?policy`, DeleteBucketPolicy `DELETE /{Bucket}?policy`; "You must be the contract
owner or an administrator to perform this operation" unless a bucket policy grants s3:PutBucketPolicy; the same
paths in ionos-cloud/terraform-provider-ionoscloud vendor/.../sdk-go-bundle/products/objectstorage/v2/
api_policy.go), SigV4-signed, through boto3. ListBuckets finds every bucket a revoke must clean.
NoSuchBucketPolicy (404) is "no policy yet".
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import boto3
import botocore.exceptions
from botocore.config import Config

from keyfob.contract import ProviderRejected, ProviderThrottled, ProviderUnavailable

T = TypeVar("T")
# Bucket policies have no conditional write: a read-merge-write of two handlers at once on one bucket could drop
# one's statement, or put back one a revoke had just removed. One lock per (endpoint, bucket) in this process
# (one active operator replica holds the lease) serialises them.
_locks: dict[tuple[str, str], threading.Lock] = {}
_locks_guard = threading.Lock()
TIMEOUT = 30
_THROTTLED = {"SlowDown", "Throttling", "TooManyRequests", "RequestLimitExceeded"}


def _classified(what: str, err: botocore.exceptions.ClientError) -> Exception:
    code = err.response.get("Error", {}).get("Code", "Unknown")
    status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if code in _THROTTLED or status == 429:
        return ProviderThrottled(f"IONOS S3 {what}: {code}")
    if status >= 500:
        return ProviderUnavailable(f"IONOS S3 {what}: {code}")
    hint = " (the IONOS_S3_ACCESS_KEY must be an administrator's)" if status in (401, 403) else ""
    return ProviderRejected(f"IONOS S3 {what}: {code}{hint}")


def _s3_call(what: str, fn: Callable[[], T]) -> T:
    try:
        return fn()
    except botocore.exceptions.ClientError as err:
        raise _classified(what, err) from None
    except (botocore.exceptions.BotoCoreError, OSError) as err:
        raise ProviderUnavailable(f"IONOS S3 {what}: {type(err).__name__}") from None


class PolicyStore:
    def __init__(self, endpoint: str, region: str, access_key: str, secret_key: str) -> None:
        self._s3 = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint,
            region_name=region or None,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=Config(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 4, "mode": "standard"},
                connect_timeout=5,
                read_timeout=TIMEOUT,
            ),
        )
        self.endpoint = endpoint

    def __repr__(self) -> str:
        return f"PolicyStore({self.endpoint!r})"

    @contextmanager
    def editing(self, bucket: str) -> Iterator[None]:
        """Hold while reading, merging and writing one bucket's policy."""
        with _locks_guard:
            lock = _locks.setdefault((self.endpoint, bucket), threading.Lock())
        with lock:
            yield

    def buckets(self) -> list[str]:
        answer: dict[str, Any] = _s3_call("ListBuckets", lambda: self._s3.list_buckets())
        return [str(b["Name"]) for b in answer.get("Buckets") or [] if b.get("Name")]

    def get(self, bucket: str) -> dict[str, Any] | None:
        try:
            answer: dict[str, Any] = self._s3.get_bucket_policy(Bucket=bucket)
        except botocore.exceptions.ClientError as err:
            if err.response.get("Error", {}).get("Code") == "NoSuchBucketPolicy":
                return None
            raise _classified("GetBucketPolicy", err) from None
        except (botocore.exceptions.BotoCoreError, OSError) as err:
            raise ProviderUnavailable(f"IONOS S3 GetBucketPolicy: {type(err).__name__}") from None
        try:
            policy = json.loads(answer.get("Policy") or "null")
        except ValueError:
            raise ProviderRejected(f"bucket {bucket}'s policy is not JSON; keyfob left it alone") from None
        if policy is not None and not isinstance(policy, dict):
            raise ProviderRejected(f"bucket {bucket}'s policy is not a JSON object; keyfob left it alone")
        return policy

    def put(self, bucket: str, policy: dict[str, Any]) -> None:
        body = json.dumps(policy, separators=(",", ":"))
        _s3_call("PutBucketPolicy", lambda: self._s3.put_bucket_policy(Bucket=bucket, Policy=body))

    def delete(self, bucket: str) -> None:
        _s3_call("DeleteBucketPolicy", lambda: self._s3.delete_bucket_policy(Bucket=bucket))
