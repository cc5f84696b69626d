"""HTTP plumbing for the REST adapters (IONOS, Utho, Storj): one error taxonomy, secrets kept out of every message.

- 429 -> ProviderThrottled, with Retry-After (delta-seconds or an HTTP date) as retry_after;
- 5xx, 408, 425 and transport failures -> ProviderUnavailable;
- 401/403 -> ProviderRejected ("credentials rejected");
- any other non-2xx -> ProviderRejected;
- a 5xx whose explanation matches the caller's `refused` pattern -> ProviderRejected: some servers answer 500 for
  what is the caller's fault (older Storj auth services for an invalid access grant), and retrying that forever
  helps nobody.
Messages name the call and quote at most MAX_DETAIL characters of the server's explanation, with every scrub
string (the API token, a secret key in flight) replaced first. Response bodies are never logged.
"""

from __future__ import annotations

import email.utils
import re
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import httpx

from keyfob.contract import ProviderRejected, ProviderThrottled, ProviderUnavailable

MAX_DETAIL = 300
HTTP_TIMEOUT = httpx.Timeout(30.0, connect=5.0)

_shared: httpx.Client | None = None
_shared_lock = threading.Lock()


def shared_client() -> httpx.Client:
    """One connection pool for the REST adapters: adapters are rebuilt whenever their provider object or Secret
    changes, and a client per instance would leave its pool behind each time. httpx.Client is thread-safe."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = httpx.Client(timeout=HTTP_TIMEOUT, follow_redirects=False)
        return _shared


def scrubbed(text: str, scrub: Iterable[str]) -> str:
    for secret in scrub:
        if secret:
            text = text.replace(secret, "<redacted>")
    return " ".join(text.split())[:MAX_DETAIL]


def retry_after(response: httpx.Response, now: Callable[[], float] = time.time) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date; None when absent or unreadable."""
    value = (response.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - now(), 0.0)


def json_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def classify(
    what: str,
    status: int,
    detail: str,
    response: httpx.Response | None = None,
    refused: re.Pattern[str] | None = None,
) -> Exception:
    """The provider error for a failed call (status is the HTTP status; see the module docstring)."""
    message = f"{what}: HTTP {status}" + (f": {detail}" if detail else "")
    if status == 429:
        return ProviderThrottled(message, retry_after(response) if response is not None else None)
    if status >= 500 and refused is not None and refused.search(detail):
        return ProviderRejected(f"{message} (refused for good: retrying will not help)")
    if status >= 500 or status in (408, 425):
        return ProviderUnavailable(message)
    if status in (401, 403):
        return ProviderRejected(f"{message} (credentials rejected: check the admin Secret)")
    return ProviderRejected(message)


def error_text(response: httpx.Response, scrub: Iterable[str] = ()) -> str:
    """The server's explanation (JSON {"error"|"message": ...} or the text), shortened and scrubbed."""
    body = json_body(response)
    text = str(body.get("error") or body.get("message") or "") if isinstance(body, dict) else response.text
    return scrubbed(text, scrub)


def raise_for(
    what: str, response: httpx.Response, scrub: Iterable[str] = (), refused: re.Pattern[str] | None = None
) -> None:
    """Translate a non-2xx response into the provider error taxonomy (see classify)."""
    if response.is_success:
        return
    raise classify(what, response.status_code, error_text(response, scrub), response, refused)


def transport_failure(what: str, err: httpx.HTTPError) -> ProviderUnavailable:
    # Only the class name: httpx messages may quote URLs, never headers, but keep it boring on purpose.
    return ProviderUnavailable(f"{what}: {type(err).__name__}")


def send(
    client: httpx.Client,
    what: str,
    method: str,
    url: str,
    token: str,
    **kwargs: Any,
) -> httpx.Response:
    """One bearer-authenticated request; transport failures become ProviderUnavailable."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    try:
        return client.request(method, url, headers=headers, **kwargs)
    except httpx.HTTPError as err:
        raise transport_failure(what, err) from None
