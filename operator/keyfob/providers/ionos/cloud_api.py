"""Client for the Cloud API v6 user management keyfob's scoped mode uses (base https://api.ionos.com/cloudapi/v6).

Contract (ionos-cloud/sdk-python at 7eb23628: docs/api/UserManagementApi.md, docs/api/UserS3KeysApi.md,
docs/api/RequestsApi.md, docs/models/{User,UserPost,UserPropertiesPost,UserProperties,Users,S3Key,S3Keys,
S3KeyProperties,UserGroupPost,RequestStatusMetadata}.md; wire names from ionoscloud/models/*.py attribute_map):

    GET    /um/users?depth=1&offset=&limit=       Users {items: [User]}
    POST   /um/users  UserPost {properties: {firstname, lastname, email, password, administrator,
                                             forceSecAuth, active}}       -> User {id, properties: {...,
                                             s3CanonicalUserId}} + Location of the request
    GET    /um/users/{userId}                     User
    DELETE /um/users/{userId}                     (async: Location)
    GET    /um/groups/{groupId}/users             Users (the group's members)
    POST   /um/groups/{groupId}/users  {id}       UserGroupPost (async: Location)
    GET    /um/users/{userId}/s3keys?depth=1      S3Keys {items: [S3Key {id = the access key, properties: {active}}]}
    POST   /um/users/{userId}/s3keys              S3Key {id, properties: {secretKey, active}}
    DELETE /um/users/{userId}/s3keys/{keyId}
    GET    /requests/{requestId}/status           {metadata: {status QUEUED|RUNNING|DONE|FAILED, message}}
Writes are asynchronous: IONOS answers with a Location header naming the request, and
ionos-cloud/terraform-provider-ionoscloud (services/bundleclient/state.go WaitForStateChange) polls it until DONE
(FAILED carries metadata.message). A key that is not found may answer 422 "The access key cannot be found" instead
of 404 (terraform-provider-ionoscloud ionoscloud/resource_s3_key.go isS3KeyNotFound): both mean gone. Creating a
key for a user outside a group with the Object Storage privilege answers 422 "The user needs to be part of a group
that has ACCESS_S3_OBJECT_STORAGE privilege", also right after the user joined one (privilege propagation,
resource_s3_key.go isS3KeyPrivilegeError): retried within the provisioning timeout.
Authentication: "Authorization: Bearer <token>" (sdk-ruby docs/UserS3KeysApi.md "Token Authentication"), and
X-Contract-Number for users with several contracts (the `x_contract_number` parameter of every call).
Secrets (the token, a user's password, a key's secret) never appear in a message; the secret is a SecretStr.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from keyfob.contract import ProviderRejected, ProviderUnavailable
from keyfob.providers.common.http import classify, json_body, scrubbed, transport_failure
from keyfob.providers.ionos.api import _error_detail

PAGE_SIZE = 100
MAX_PAGES = 100
DONE, FAILED = "DONE", "FAILED"
KEY_NOT_FOUND = re.compile(r"access key cannot be found", re.IGNORECASE)
NEEDS_PRIVILEGE = re.compile(r"ACCESS_S3_OBJECT_STORAGE", re.IGNORECASE)
_REQUEST_PATH = re.compile(r"/requests/([0-9a-fA-F-]{36})/status$")


class UserGone(Exception):
    """The user (or its key) does not exist."""


class NeedsPrivilege(ProviderUnavailable):
    """IONOS refused a key because the user is not (yet) in a group with the Object Storage privilege."""


@dataclass(frozen=True)
class IonosUser:
    id: str
    email: str | None
    firstname: str | None
    lastname: str | None
    administrator: bool | None
    canonical_id: str | None


def _user(item: Any, what: str) -> IonosUser:
    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        raise ProviderUnavailable(f"IONOS {what}: response lacks a user id")
    p: dict[str, Any] = props if isinstance(props := item.get("properties"), dict) else {}
    admin = p.get("administrator")
    return IonosUser(
        id=item["id"], email=p.get("email"), firstname=p.get("firstname"), lastname=p.get("lastname"),
        administrator=admin if isinstance(admin, bool) else None, canonical_id=p.get("s3CanonicalUserId") or None,
    )  # fmt: skip


class CloudApi:
    def __init__(self, base_url: str, token: str, contract_number: int, client: httpx.Client) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._contract = str(contract_number)
        self._client = client

    def __repr__(self) -> str:
        return f"CloudApi(base_url={self.base_url!r})"

    def _call(
        self, what: str, method: str, path: str, *, gone: bool = False, scrub: tuple[str, ...] = (), **kwargs: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json",
                   "X-Contract-Number": self._contract}  # fmt: skip
        try:
            response = self._client.request(method, self.base_url + path, headers=headers, **kwargs)
        except httpx.HTTPError as err:
            raise transport_failure(f"IONOS {what}", err) from None
        if response.is_success:
            return response
        detail = scrubbed(_error_detail(response), (self._token, *scrub))
        if gone and (response.status_code == 404 or (response.status_code == 422 and KEY_NOT_FOUND.search(detail))):
            raise UserGone(what)
        if response.status_code == 422 and NEEDS_PRIVILEGE.search(detail):
            raise NeedsPrivilege(f"IONOS {what}: HTTP 422: {detail}")
        raise classify(f"IONOS {what}", response.status_code, detail, response)

    def request_path(self, response: httpx.Response) -> str | None:
        """The path of the request-status resource an asynchronous write names in its Location header. Only
        /requests/<uuid>/status is followed, and always on base_url: a Location elsewhere never gets the token."""
        location = response.headers.get("Location")
        if not location:
            return None
        match = _REQUEST_PATH.search(urlsplit(location).path)
        if not match:
            raise ProviderUnavailable("IONOS answered with a Location that is not a request status; not followed")
        return f"/requests/{match.group(1)}/status"

    def request_status(self, path: str) -> tuple[str, str | None]:
        body = json_body(self._call("read request status", "GET", path))
        metadata = body.get("metadata") if isinstance(body, dict) else None
        if not isinstance(metadata, dict):
            return "", None
        return str(metadata.get("status") or ""), metadata.get("message")

    # ---- users ------------------------------------------------------------------------------------------------

    def list_users(self) -> list[IonosUser]:
        users: dict[str, IonosUser] = {}
        offset = 0
        for _ in range(MAX_PAGES):
            params = {"depth": 1, "offset": offset, "limit": PAGE_SIZE}
            body = json_body(self._call("list users", "GET", "/um/users", params=params))
            items = body.get("items") if isinstance(body, dict) else None
            if not isinstance(items, list) or not items:
                break
            fresh = [u for u in (_user(i, "list users") for i in items) if u.id not in users]
            users.update((u.id, u) for u in fresh)
            if not fresh or len(items) < PAGE_SIZE:
                break
            offset += len(items)
        return list(users.values())

    def get_user(self, user_id: str) -> IonosUser:
        return _user(json_body(self._call("read user", "GET", f"/um/users/{user_id}", gone=True)), "read user")

    def create_user(
        self, firstname: str, lastname: str, email: str, password: SecretStr
    ) -> tuple[IonosUser, str | None]:
        secret = password.get_secret_value()
        body = {"properties": {"firstname": firstname, "lastname": lastname, "email": email, "password": secret,
                               "administrator": False, "forceSecAuth": False, "active": True}}  # fmt: skip
        response = self._call("create user", "POST", "/um/users", json=body, scrub=(secret,))
        return _user(json_body(response), "create user"), self.request_path(response)

    def delete_user(self, user_id: str) -> str | None:
        """Start deleting the user; None when it is already gone, else the request to wait for."""
        try:
            response = self._call("delete user", "DELETE", f"/um/users/{user_id}", gone=True)
        except UserGone:
            return None
        return self.request_path(response)

    def group_member_ids(self, group_id: str) -> set[str]:
        body = json_body(self._call("list group members", "GET", f"/um/groups/{group_id}/users"))
        items = body.get("items") if isinstance(body, dict) else None
        return {i["id"] for i in items or [] if isinstance(i, dict) and isinstance(i.get("id"), str)}

    def add_to_group(self, group_id: str, user_id: str) -> str | None:
        response = self._call("add user to group", "POST", f"/um/groups/{group_id}/users", json={"id": user_id})
        return self.request_path(response)

    # ---- Object Storage keys of a user ------------------------------------------------------------------------

    def key_ids(self, user_id: str) -> list[str]:
        """The user's key ids (= access keys); UserGone when the user does not exist."""
        body = json_body(self._call("list keys", "GET", f"/um/users/{user_id}/s3keys", gone=True,
                                    params={"depth": 1}))  # fmt: skip
        items = body.get("items") if isinstance(body, dict) else None
        return [i["id"] for i in items or [] if isinstance(i, dict) and isinstance(i.get("id"), str)]

    def create_key(self, user_id: str) -> tuple[str, SecretStr]:
        response = self._call("create key", "POST", f"/um/users/{user_id}/s3keys")
        body = json_body(response)
        properties = body.get("properties") if isinstance(body, dict) else None
        secret = properties.get("secretKey") if isinstance(properties, dict) else None
        if not isinstance(body, dict) or not isinstance(body.get("id"), str) or not isinstance(secret, str):
            raise ProviderRejected("IONOS create key: the answer lacks the key id or its secret")
        return body["id"], SecretStr(secret)

    def delete_key(self, user_id: str, key_id: str) -> None:
        """Delete one key; already gone (404, or 422 "cannot be found") is success."""
        try:
            self._call("delete key", "DELETE", f"/um/users/{user_id}/s3keys/{key_id}", gone=True)
        except UserGone:
            return
