"""A thin, typed layer over minio-py's MinioAdmin (minio==7.2.20) for the service-account calls keyfob makes.

It owns the HTTP pool (short timeouts, CA bundle or no verification, no retries on HTTP status: the operator
retries) and translates every failure into the provider error taxonomy. Error messages carry the MinIO error
code and message only, never a request body (which is where secrets travel).

Where minio-py 7.2.20 falls short: `add_service_account` has no `target_user` (the admin API's `targetUser`);
for a configured parent user the same encrypted, signed PUT is made through MinioAdmin's request helper.
"""

from __future__ import annotations

import contextlib
import json
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import urllib3
from minio.credentials.providers import StaticProvider
from minio.crypto import decrypt, encrypt
from minio.error import MinioAdminException
from minio.minioadmin import _COMMAND, MinioAdmin
from urllib3.util import Retry, Timeout

from keyfob.contract import ProviderRejected, ProviderThrottled, ProviderUnavailable

# Codes that mean "no such service account" (the first is what current servers send for SA calls).
GONE_CODES = frozenset({"XMinioInvalidIAMCredentials", "XMinioAdminNoSuchAccessKey", "XMinioAdminNoSuchUser"})
TAKEN_CODE = "XMinioIAMServiceAccountNotAllowed"
THROTTLE_CODES = frozenset({"SlowDown", "SlowDownRead", "SlowDownWrite", "XMinioServerBusy", "RequestTimeTooSkewed"})


class ServiceAccountGone(ProviderRejected):
    """The service account does not exist (revoke treats this as success)."""


class AccessKeyTaken(ProviderRejected):
    """An account with this access key exists already (issue adopts it when it is ours)."""


@dataclass(frozen=True)
class TlsOptions:
    secure: bool
    ca_pem: str | None = None
    verify: bool = True


@dataclass(frozen=True)
class AccountSpec:
    """What keyfob sets on a service account. repr=False on the secret: it never shows in a repr."""

    secret_key: str = field(repr=False)
    name: str
    description: str
    policy: dict[str, Any]
    expiration: str | None  # RFC 3339, or None for no expiry


@dataclass(frozen=True)
class AccountInfo:
    access_key: str
    parent_user: str | None
    status: str | None
    name: str | None
    description: str | None
    expiration: datetime | None
    policy: dict[str, Any] | None

    @classmethod
    def from_json(cls, data: dict[str, Any], access_key: str | None = None) -> AccountInfo:
        expiration = _parse_time(data.get("expiration"))
        raw_policy = data.get("policy")
        policy = json.loads(raw_policy) if isinstance(raw_policy, str) and raw_policy else raw_policy or None
        return cls(
            access_key=data.get("accessKey") or access_key or "",
            parent_user=data.get("parentUser") or None,
            status=data.get("accountStatus") or None,
            name=data.get("name") or None,
            description=data.get("description") or None,
            expiration=expiration,
            policy=policy if isinstance(policy, dict) else None,
        )


def _parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return None if moment.year <= 1970 else moment  # MinIO's "no expiration" sentinels: zero time and Unix epoch


def http_pool(tls: TlsOptions, connect_timeout: float, read_timeout: float) -> urllib3.PoolManager:
    options: dict[str, Any] = {
        "timeout": Timeout(connect=connect_timeout, read=read_timeout),
        "maxsize": 4,
        "retries": Retry(total=2, connect=2, read=0, redirect=0, status=0, other=0),
    }
    if tls.secure:
        if tls.verify:
            options["cert_reqs"] = ssl.CERT_REQUIRED
            if tls.ca_pem:
                options["ca_cert_data"] = tls.ca_pem
        else:
            options["cert_reqs"] = ssl.CERT_NONE
    return urllib3.PoolManager(**options)


def _error_parts(err: MinioAdminException) -> tuple[int, str, str]:
    try:
        status = int(getattr(err, "_code", 0) or 0)
    except ValueError:
        status = 0
    body = str(getattr(err, "_body", "") or "")
    try:
        parsed = json.loads(body) if body else {}
    except ValueError:
        parsed = {}
    code = str(parsed.get("Code") or "") if isinstance(parsed, dict) else ""
    message = str(parsed.get("Message") or "") if isinstance(parsed, dict) else ""
    return status, code, message[:300]


@contextlib.contextmanager
def translated(what: str) -> Iterator[None]:
    """Map minio-py / urllib3 failures to ProviderUnavailable / ProviderThrottled / ProviderRejected."""
    try:
        yield
    except MinioAdminException as err:
        status, code, message = _error_parts(err)
        text = f"MinIO {what} failed: HTTP {status} {code or 'error'}" + (f": {message}" if message else "")
        if code in GONE_CODES or (status == 404 and not code):
            raise ServiceAccountGone(text) from None
        if code == TAKEN_CODE:
            raise AccessKeyTaken(text) from None
        if "invalid service account expiration" in message:  # MinIO sends this permanent refusal as a 500
            raise ProviderRejected(text + " (MinIO accepts 15m..365d from its own clock)") from None
        if status == 429 or code in THROTTLE_CODES:
            raise ProviderThrottled(text) from None
        if status >= 500 or status == 0:
            raise ProviderUnavailable(text) from None
        raise ProviderRejected(text) from None
    except (urllib3.exceptions.HTTPError, OSError) as err:
        raise ProviderUnavailable(f"MinIO {what} failed: {type(err).__name__}: {_reason(err)}") from None
    except ValueError as err:  # undecryptable or unparsable admin payload
        raise ProviderUnavailable(f"MinIO {what} returned an unreadable response: {type(err).__name__}") from None


def _reason(err: BaseException) -> str:
    reason = getattr(err, "reason", None)
    return str(reason or err)[:300]


@dataclass(frozen=True)
class _Command:
    """An admin API path minio-py's _COMMAND enum lacks (MinioAdmin._url_open reads only `.value`)."""

    value: str


class MinioAdminClient:
    """Service-account calls against one MinIO server, with one admin identity."""

    def __init__(
        self,
        host_port: str,
        access_key: str,
        secret_key: str,
        tls: TlsOptions,
        *,
        region: str = "",
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
    ) -> None:
        self.admin_access_key = access_key
        self._secret = secret_key
        self._admin = MinioAdmin(
            endpoint=host_port,
            credentials=StaticProvider(access_key, secret_key),
            region=region,
            secure=tls.secure,
            cert_check=tls.verify,
            http_client=http_pool(tls, connect_timeout, read_timeout),
        )

    def __repr__(self) -> str:
        return f"MinioAdminClient(admin={self.admin_access_key!r})"

    def add(self, access_key: str, spec: AccountSpec, target_user: str | None) -> None:
        with translated("add-service-account"):
            if target_user is None:
                self._admin.add_service_account(
                    access_key=access_key,
                    secret_key=spec.secret_key,
                    name=spec.name,
                    description=spec.description,
                    policy=spec.policy,
                    expiration=spec.expiration,
                )
                return
            body: dict[str, Any] = {
                "status": "enabled",
                "accessKey": access_key,
                "secretKey": spec.secret_key,
                "name": spec.name,
                "description": spec.description,
                "policy": spec.policy,
                "targetUser": target_user,
            }
            if spec.expiration:
                body["expiration"] = spec.expiration
            response = self._admin._url_open(  # minio-py 7.2.20 has no target_user parameter
                method="PUT",
                command=_COMMAND.SERVICE_ACCOUNT_ADD,
                body=encrypt(json.dumps(body).encode(), self._secret),
                preload_content=False,
            )
            decrypt(response, self._secret)  # the reply echoes the credentials: read and drop it

    def update(self, access_key: str, spec: AccountSpec) -> None:
        """Replace secret, policy, name, description and expiry; re-enable the account."""
        with translated("update-service-account"):
            self._admin.update_service_account(
                access_key=access_key,
                secret_key=spec.secret_key,
                name=spec.name,
                description=spec.description,
                policy=spec.policy,
                expiration=spec.expiration,
                status="enabled",
            )

    def info(self, access_key: str) -> AccountInfo:
        with translated("info-service-account"):
            return AccountInfo.from_json(json.loads(self._admin.get_service_account(access_key)), access_key)

    def delete(self, access_key: str) -> None:
        with translated("delete-service-account"):
            self._admin.delete_service_account(access_key)

    def revoke_tokens(self, user: str, token_type: str) -> None:
        """End every STS session of `user` that was made with TokenRevokeType `token_type` (MinIO's
        POST revoke-tokens/builtin, cmd/admin-handlers-users.go RevokeTokens; minio-py 7.2.20 has no call for it).
        Servers without that API answer an error; callers treat it as "not revocable here"."""
        with translated("revoke-tokens"):
            self._admin._url_open(
                method="POST",
                command=cast(Any, _Command("revoke-tokens/builtin")),
                query_params={"user": user, "tokenRevokeType": token_type},
            )

    def list(self, user: str | None) -> list[AccountInfo]:
        """Service accounts of `user` (None: of the admin identity itself)."""
        with translated("list-service-accounts"):
            data = json.loads(self._admin.list_service_account(user or ""))
        return [AccountInfo.from_json(item) for item in data.get("accounts") or []]
