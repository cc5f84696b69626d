"""Waiting on IONOS: a new key until it is AVAILABLE, a deleted one until it is gone. Exponential backoff from
poll_initial, capped at poll_max, bounded by the block's provisioningTimeout; the clock is injectable so tests
never wait in real time.

Both waits follow ionos-cloud/terraform-provider-ionoscloud services/objectstoragemanagement/accesskeys.go:
accessKeyAvailableCheck retries while GET answers 404 ("accessKey not found": a key can be missing for a moment
right after its create) or the status is not AVAILABLE; accessKeyDeletedCheck retries until GET answers 404.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pydantic import SecretStr

from keyfob.contract import ProviderRejected, ProviderUnavailable
from keyfob.providers.ionos.api import AVAILABLE, DESTROYING, FAILED, IonosApi, IonosKey, KeyGone

# A FAILED key whose statusMessage says this is refused for good; any other failure is worth a retry.
_PERMANENT_FAILURE = re.compile(r"limit|quota|not allowed|forbidden|denied|invalid", re.IGNORECASE)


@dataclass
class Poller:
    api: IonosApi
    timeout: float  # seconds
    timeout_text: str  # as the user wrote it, for messages
    sleep: Callable[[float], None]
    monotonic: Callable[[], float]
    poll_initial: float = 0.5
    poll_max: float = 5.0

    def pauses(self) -> Iterable[float]:
        """0 first, then exponential pauses until the deadline."""
        yield 0.0
        deadline = self.monotonic() + self.timeout
        interval = self.poll_initial
        while (remaining := deadline - self.monotonic()) > 0:
            yield min(interval, remaining)
            interval = min(interval * 2, self.poll_max)

    def available(self, key_id: str) -> tuple[IonosKey, SecretStr | None]:
        """The key's record (and secret, should the read carry one) once AVAILABLE; a 404 in between is waited
        out like PROVISIONING."""
        missing = False
        for pause in self.pauses():
            self.sleep(pause)
            try:
                key, secret = self.api.get(key_id)
            except KeyGone:
                missing = True
                continue
            if key.status == AVAILABLE:
                return key, secret
            if key.status == FAILED:
                why = f"IONOS access key {key_id} FAILED: {key.status_message or 'no reason given'}"
                permanent = _PERMANENT_FAILURE.search(key.status_message or "")
                raise ProviderRejected(why) if permanent else ProviderUnavailable(why)
            if key.status == DESTROYING:
                raise ProviderUnavailable(f"IONOS access key {key_id} is being deleted while provisioning")
        state = "was not found (404)" if missing else "did not become AVAILABLE"
        raise ProviderUnavailable(f"IONOS access key {key_id} {state} within {self.timeout_text}")

    def deleted(self, keys: list[IonosKey]) -> None:
        """Delete each key (404 = done), then wait until every one is gone."""
        for key in keys:
            if key.status != DESTROYING:
                self.api.delete(key.id)
        pending = {key.id for key in keys}
        for pause in self.pauses():
            self.sleep(pause)
            for key_id in sorted(pending):
                try:
                    self.api.get(key_id)
                except KeyGone:
                    pending.discard(key_id)
            if not pending:
                return
        raise ProviderUnavailable(
            f"IONOS access key(s) {', '.join(sorted(pending))} still present {self.timeout_text} after delete; "
            "will check again"
        )
