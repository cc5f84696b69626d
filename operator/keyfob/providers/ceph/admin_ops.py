"""The RGW calls keyfob makes: Admin Ops (users and keys, through `rgwadmin`) and RGW's IAM endpoint (user
policies, through boto3), with one error taxonomy.

rgwadmin puts parameters into the query string as given, so every value is percent-encoded here. Its responses
to user calls carry every secret key of the user: they are read for access key ids only and never logged,
quoted or kept. Error messages name the call and RGW's error code, nothing from a body.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar, cast
from urllib.parse import quote

import boto3
import botocore.exceptions
import requests
from botocore.config import Config
from rgwadmin.exceptions import NoSuchUser, RGWAdminException, ServerDown
from rgwadmin.rgw import RGWAdmin

from keyfob.contract import ProviderRejected, ProviderThrottled, ProviderUnavailable

T = TypeVar("T")
TIMEOUT = 30.0
_THROTTLED = {"SlowDown", "Throttling", "TooManyRequests"}
_TEMPORARY = {"InternalError", "ServiceUnavailable", "RequestTimeout"}


class UserGone(Exception):
    """The RGW user does not exist."""


@dataclass(frozen=True)
class UserRecord:
    uid: str
    display_name: str | None
    access_key_ids: tuple[str, ...]
    max_buckets: int | None


def _q(value: str) -> str:
    return quote(value, safe="")


def _code(err: RGWAdminException) -> str:
    code = err.code
    if isinstance(code, dict):  # rgwadmin passes the error body as `code` for the exceptions it knows
        code = code.get("Code")
    return str(code or type(err).__name__)


def _admin_call(what: str, fn: Callable[[], T]) -> T:
    try:
        return fn()
    except NoSuchUser:
        raise UserGone(what) from None
    except ServerDown:
        raise ProviderUnavailable(f"RGW Admin Ops {what}: no usable answer") from None
    except RGWAdminException as err:
        code = _code(err)
        if code in _THROTTLED:
            raise ProviderThrottled(f"RGW Admin Ops {what}: {code}") from None
        if code in _TEMPORARY:
            raise ProviderUnavailable(f"RGW Admin Ops {what}: {code}") from None
        raise ProviderRejected(f"RGW Admin Ops {what}: {code}") from None
    except (requests.RequestException, OSError) as err:
        raise ProviderUnavailable(f"RGW Admin Ops {what}: {type(err).__name__}") from None


class RgwAdmin:
    """Admin Ops users and keys, and IAM user policies, with one admin identity."""

    def __init__(self, base_url: str, host_port: str, access_key: str, secret_key: str, *, secure: bool,
                 verify: bool, region: str) -> None:  # fmt: skip
        # rgwadmin is untyped (its py.typed covers no signatures): keep it behind Any, typed at this seam.
        self._ops: Any = cast(Any, RGWAdmin)(
            access_key=access_key, secret_key=secret_key, server=host_port, secure=secure, verify=verify,
            timeout=TIMEOUT, pool_connections=True,
        )  # fmt: skip
        self._iam = boto3.session.Session().client(
            "iam",
            endpoint_url=base_url,
            region_name=region,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            verify=verify,
            config=Config(retries={"max_attempts": 4, "mode": "standard"}, connect_timeout=5, read_timeout=TIMEOUT),
        )

    def __repr__(self) -> str:
        return f"RgwAdmin({self._ops.get_base_url()!r})"

    def get_user(self, uid: str) -> UserRecord:
        """The user's record (UserGone when absent). Secret keys in the answer are dropped here."""
        found: dict[str, Any] = _admin_call("get user", lambda: self._ops.get_user(uid=_q(uid)))
        return UserRecord(
            uid=uid,
            display_name=found.get("display_name"),
            access_key_ids=tuple(k["access_key"] for k in found.get("keys") or [] if k.get("access_key")),
            max_buckets=found.get("max_buckets"),
        )

    def create_user(self, uid: str, display_name: str) -> None:
        """A user without keys that may not create buckets (max-buckets -1): it owns nothing of its own."""
        _admin_call(
            "create user",
            lambda: self._ops.create_user(uid=_q(uid), display_name=_q(display_name), generate_key=False,
                                          max_buckets=-1),
        )  # fmt: skip

    def create_key(self, uid: str, known: tuple[str, ...]) -> tuple[str, str]:
        """Generate one S3 key for the user; (access key id, secret) of the key not in `known`."""
        keys: list[dict[str, Any]] = _admin_call("create key", lambda: self._ops.create_key(uid=_q(uid)))
        fresh = [k for k in keys or [] if k.get("access_key") not in known and k.get("user") in (uid, None)]
        if len(fresh) != 1:
            raise ProviderUnavailable(f"RGW Admin Ops create key: expected one new key, found {len(fresh)}")
        return str(fresh[0]["access_key"]), str(fresh[0]["secret_key"])

    def remove_key(self, uid: str, access_key: str) -> None:
        with contextlib.suppress(UserGone):
            _admin_call("remove key", lambda: self._ops.remove_key(_q(access_key), key_type="s3", uid=_q(uid)))

    def remove_user(self, uid: str) -> None:
        """Remove the user with its keys and policies; the objects it wrote stay (they are in others' buckets)."""
        with contextlib.suppress(UserGone):
            _admin_call("remove user", lambda: self._ops.remove_user(uid=_q(uid), purge_data=False))

    def list_user_ids(self) -> Iterator[str]:
        """Every user id ('[tenant$]uid') of the gateway, page by page (GET /admin/user?list, 'users' cap)."""
        marker: str | None = None
        while True:
            query = "/admin/user?list&format=json&max-entries=1000" + (f"&marker={_q(marker)}" if marker else "")
            page: dict[str, Any] = _admin_call("list users", lambda: self._ops.request("get", query))  # noqa: B023
            yield from (str(k) for k in page.get("keys") or [])
            marker = page.get("marker")
            if not page.get("truncated") or not marker:
                return

    def put_user_policy(self, uid: str, name: str, document: dict[str, Any]) -> None:
        body = json.dumps(document, separators=(",", ":"))
        _iam_call("PutUserPolicy", lambda: self._iam.put_user_policy(UserName=uid, PolicyName=name,
                                                                      PolicyDocument=body))  # fmt: skip


def _iam_call(what: str, fn: Callable[[], T]) -> T:
    try:
        return fn()
    except botocore.exceptions.ClientError as err:
        code = err.response.get("Error", {}).get("Code", "Unknown")
        if code == "NoSuchEntity":
            raise UserGone(what) from None
        if code in _THROTTLED:
            raise ProviderThrottled(f"RGW IAM {what}: {code}") from None
        if code in _TEMPORARY or err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500:
            raise ProviderUnavailable(f"RGW IAM {what}: {code}") from None
        raise ProviderRejected(f"RGW IAM {what}: {code}") from None
    except (botocore.exceptions.BotoCoreError, OSError) as err:
        raise ProviderUnavailable(f"RGW IAM {what}: {type(err).__name__}") from None
