"""Client for the satellite console REST API's API-key endpoints (storj/storj
satellite/console/consoleweb/consoleapi/api.gen.go and apidocs.gen.md; service side in satellite/console/service.go).

    POST   /public/v1/apikeys/create          {"projectID", "name"} -> {"key", "keyInfo"}; 409 when the name exists
    DELETE /public/v1/apikeys/delete/{id}     200 (also when the key is already gone)
    GET    /public/v1/projects/apikeys/{projectID}?search=&limit=&page=&order=&orderDirection=
           -> {"apiKeys": [...], "pageCount", "currentPage", "totalCount", ...}; every query parameter is
           required; search is a case-insensitive substring match (SQL LIKE) on the name.

A 403 to create means the project or the REST key may not create API keys: projects with Storj-managed
(satellite-managed) encryption refuse it (storj/design-docs 20240129-satellite-managed-encryption.md; the check
lives in satellite/console/service.go), and so does a REST key whose account plan or project role does not allow
it. That is raised as ProviderRejected with those causes named.

Authentication: "Authorization: Bearer <console REST API key>". Deleting a root API key makes every access grant
derived from it stop working, which is how keyfob revokes.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from pydantic import SecretStr

from keyfob.contract import ProviderRejected, ProviderUnavailable
from keyfob.providers.common.http import error_text, raise_for, transport_failure

PAGE_SIZE = 50
ORDER_BY_NAME = 1
ASCENDING = 1


class NameTaken(Exception):
    """POST /apikeys/create answered 409: a key with this name exists in the project."""


@dataclass(frozen=True)
class ConsoleKey:
    id: str
    name: str
    version: int | None = None


@dataclass(frozen=True)
class CreatedKey:
    info: ConsoleKey
    api_key: SecretStr  # the serialized root macaroon: full project access until restricted


class ConsoleClient:
    def __init__(self, base_url: str, rest_key: str, project_id: str, client: httpx.Client) -> None:
        self.base_url = base_url.rstrip("/")
        self.project_id = project_id
        self._rest_key = rest_key
        self._client = client

    def _request(self, what: str, method: str, path: str, **kwargs: object) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self._rest_key}", "Accept": "application/json"}
        try:
            response = self._client.request(method, self.base_url + path, headers=headers, **kwargs)  # type: ignore[arg-type]
        except httpx.HTTPError as err:
            raise transport_failure(f"console {what}", err) from None
        return response

    def create(self, name: str) -> CreatedKey:
        response = self._request(
            "create API key", "POST", "/public/v1/apikeys/create", json={"projectID": self.project_id, "name": name}
        )
        if response.status_code == 409:
            raise NameTaken(name)
        if response.status_code == 403:
            raise ProviderRejected(
                f"console create API key: HTTP 403: {error_text(response, (self._rest_key,))}: the satellite will "
                "not create API keys for this project and REST key; projects with Storj-managed encryption "
                "cannot create API keys over REST, and the REST key's account plan and project role must allow "
                "it (see the README's Storj section)"
            )
        raise_for("console create API key", response, scrub=(self._rest_key,))
        body = _json(response, "console create API key")
        info = body.get("keyInfo") or {}
        key = body.get("key")
        if not isinstance(key, str) or not key or not isinstance(info, dict) or not info.get("id"):
            raise ProviderUnavailable("console create API key: response lacks key or keyInfo.id")
        return CreatedKey(info=_key_info(info), api_key=SecretStr(key))

    def delete(self, key_id: str) -> None:
        response = self._request("delete API key", "DELETE", f"/public/v1/apikeys/delete/{key_id}")
        if response.status_code == 404:
            return  # already gone
        raise_for("console delete API key", response, scrub=(self._rest_key,))

    def find(self, search: str) -> list[ConsoleKey]:
        """Every key of the project whose name contains `search` (server-side match; callers filter exactly)."""
        found: list[ConsoleKey] = []
        page = 1
        while True:
            params: dict[str, str | int] = {
                "search": search,
                "limit": PAGE_SIZE,
                "page": page,
                "order": ORDER_BY_NAME,
                "orderDirection": ASCENDING,
            }
            response = self._request(
                "list API keys", "GET", f"/public/v1/projects/apikeys/{self.project_id}", params=params
            )
            raise_for("console list API keys", response, scrub=(self._rest_key,))
            body = _json(response, "console list API keys")
            keys = body.get("apiKeys")
            keys = keys if isinstance(keys, list) else []
            found.extend(_key_info(item) for item in keys if isinstance(item, dict) and item.get("id"))
            page_count = body.get("pageCount")
            if not keys or not isinstance(page_count, int) or page >= page_count:
                return found
            page += 1


def _json(response: httpx.Response, what: str) -> dict[str, object]:
    try:
        body = response.json()
    except ValueError:
        raise ProviderUnavailable(f"{what}: response is not JSON") from None
    if not isinstance(body, dict):
        raise ProviderUnavailable(f"{what}: response is not a JSON object")
    return body


def _key_info(info: dict[str, object]) -> ConsoleKey:
    version = info.get("version")
    return ConsoleKey(
        id=str(info["id"]), name=str(info.get("name", "")), version=version if isinstance(version, int) else None
    )
