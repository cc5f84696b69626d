"""HTTP plumbing shared by the console and auth-service clients: one error taxonomy, no secrets in messages."""

from __future__ import annotations

import httpx

from keyfob.providers.base import ProviderRejected, ProviderThrottled, ProviderUnavailable

MAX_MESSAGE = 300


def error_text(response: httpx.Response, scrub: tuple[str, ...] = ()) -> str:
    """The server's error message (JSON {"error": ...} or text), shortened, with any secret we sent removed."""
    try:
        body = response.json()
        text = str(body.get("error", "")) if isinstance(body, dict) else ""
    except ValueError:
        text = response.text
    for secret in scrub:
        if secret:
            text = text.replace(secret, "<redacted>")
    text = " ".join(text.split())
    return text[:MAX_MESSAGE]


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def raise_for(what: str, response: httpx.Response, scrub: tuple[str, ...] = ()) -> None:
    """Translate a non-2xx response into ProviderThrottled / ProviderUnavailable / ProviderRejected."""
    if response.is_success:
        return
    status = response.status_code
    detail = error_text(response, scrub)
    message = f"{what}: HTTP {status}" + (f": {detail}" if detail else "")
    if status == 429:
        raise ProviderThrottled(message, retry_after(response))
    if status >= 500 or status in (408, 425):
        raise ProviderUnavailable(message)
    raise ProviderRejected(message)


def transport_failure(what: str, err: httpx.HTTPError) -> ProviderUnavailable:
    return ProviderUnavailable(f"{what}: {type(err).__name__}")
