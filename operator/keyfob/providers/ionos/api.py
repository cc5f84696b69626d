"""Client for the access-key endpoints of the IONOS Object Storage Management API (base https://s3.ionos.com).

Contract (ionos-cloud/sdk-python-object-storage-management docs/api/AccesskeysApi.md, docs/models/*.md):

    POST   /accesskeys               AccessKeyCreate {properties: {description}} -> AccessKeyRead
    GET    /accesskeys/{id}          -> AccessKeyRead
    GET    /accesskeys?offset=&limit= (limit 1..1000, default 100) -> AccessKeyReadList {items, offset, limit, ...}
    DELETE /accesskeys/{id}          -> empty body
    AccessKeyRead = {id, type, href, metadata: {status, statusMessage, administrative?, ...}, properties:
                     {description, accessKey, secretKey, canonicalUserId, contractUserId}}
    metadata.administrative (optional bool; sdk-go-object-storage-management docs/models/MetadataWithStatus.md):
        "Administrative keys can create buckets and set bucket policies"; absent = IONOS did not say.
    status: PROVISIONING -> AVAILABLE, DESTROYING after a delete, FAILED (statusMessage says why)
    errors: Error {httpStatus, messages: [{errorCode, message}]}
Authentication: "Authorization: Bearer <token>". The secret key is read from the create response (and, should
that lack it, from the first AVAILABLE read); it is kept in a SecretStr and never logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr

from keyfob.contract import ProviderUnavailable
from keyfob.providers.common.http import classify, json_body, scrubbed, send

PAGE_SIZE = 100
MAX_PAGES = 100

AVAILABLE = "AVAILABLE"
PROVISIONING = "PROVISIONING"
DESTROYING = "DESTROYING"
FAILED = "FAILED"


class KeyGone(Exception):
    """GET /accesskeys/{id} answered 404."""


@dataclass(frozen=True)
class IonosKey:
    """One access key as the API lists it (never with its secret)."""

    id: str
    status: str
    description: str | None
    access_key: str | None
    status_message: str | None = None
    administrative: bool | None = None  # None: the record does not say


@dataclass(frozen=True)
class CreatedKey:
    key: IonosKey
    secret_key: SecretStr | None


def _error_detail(response: httpx.Response) -> str:
    body = json_body(response)
    if isinstance(body, dict) and isinstance(body.get("messages"), list):
        parts = []
        for item in body["messages"]:
            if isinstance(item, dict):
                code, text = item.get("errorCode"), item.get("message")
                parts.append(f"{code}: {text}" if code else str(text or ""))
        return "; ".join(p for p in parts if p)
    return response.text if body is None else ""


def _parse(item: Any, what: str) -> IonosKey:
    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        raise ProviderUnavailable(f"IONOS {what}: response lacks an access key id")
    metadata: dict[str, Any] = m if isinstance(m := item.get("metadata"), dict) else {}
    properties: dict[str, Any] = p if isinstance(p := item.get("properties"), dict) else {}
    return IonosKey(
        id=item["id"],
        status=str(metadata.get("status") or ""),
        description=properties.get("description"),
        access_key=properties.get("accessKey") or None,
        status_message=metadata.get("statusMessage"),
        administrative=admin if isinstance(admin := metadata.get("administrative"), bool) else None,
    )


def _secret_of(item: Any) -> SecretStr | None:
    properties = item.get("properties") if isinstance(item, dict) else None
    secret = properties.get("secretKey") if isinstance(properties, dict) else None
    return SecretStr(secret) if isinstance(secret, str) and secret else None


class IonosApi:
    def __init__(self, base_url: str, token: str, client: httpx.Client) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._client = client

    def __repr__(self) -> str:
        return f"IonosApi(base_url={self.base_url!r})"

    def _call(self, what: str, method: str, path: str, ok_404: bool = False, **kwargs: Any) -> httpx.Response:
        response = send(self._client, f"IONOS {what}", method, self.base_url + path, self._token, **kwargs)
        if response.is_success or (ok_404 and response.status_code == 404):
            return response
        detail = scrubbed(_error_detail(response), (self._token,))
        raise classify(f"IONOS {what}", response.status_code, detail, response)

    def probe(self) -> None:
        """The token is accepted (the cheapest authenticated call)."""
        self._call("list access keys", "GET", "/accesskeys", params={"limit": 1})

    def list_all(self) -> list[IonosKey]:
        """Every access key of the token's user, across pages (a page that brings nothing new ends the walk)."""
        keys: dict[str, IonosKey] = {}
        offset = 0
        for _ in range(MAX_PAGES):
            params = {"offset": offset, "limit": PAGE_SIZE}
            response = self._call("list access keys", "GET", "/accesskeys", params=params)
            body = json_body(response)
            items = body.get("items") if isinstance(body, dict) else None
            if not isinstance(items, list) or not items:
                break
            fresh = [key for key in (_parse(i, "list access keys") for i in items) if key.id not in keys]
            keys.update((key.id, key) for key in fresh)
            page_limit = body.get("limit") if isinstance(body.get("limit"), int) and body["limit"] > 0 else PAGE_SIZE
            if not fresh or len(items) < page_limit:
                break
            offset += len(items)
        return list(keys.values())

    def get(self, key_id: str) -> tuple[IonosKey, SecretStr | None]:
        response = self._call("read access key", "GET", f"/accesskeys/{key_id}", ok_404=True)
        if response.status_code == 404:
            raise KeyGone(key_id)
        body = json_body(response)
        return _parse(body, "read access key"), _secret_of(body)

    def create(self, description: str) -> CreatedKey:
        response = self._call(
            "create access key", "POST", "/accesskeys", json={"properties": {"description": description}}
        )
        body = json_body(response)
        return CreatedKey(key=_parse(body, "create access key"), secret_key=_secret_of(body))

    def delete(self, key_id: str) -> None:
        """Start deleting; 404 (already gone) is success."""
        self._call("delete access key", "DELETE", f"/accesskeys/{key_id}", ok_404=True)
