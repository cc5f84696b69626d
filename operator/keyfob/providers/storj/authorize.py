"""What a satellite decides for one request: storj.io/common macaroon/apikey.go APIKey.Check, in Python.

keyfob uses it to prove, before registering a credential, that the restricted grant allows exactly what was
requested (and that a parent grant is not narrower than the request); the local auth-service fake uses it to
answer "may this access key do X". It is cross-checked against the Go original over a table of cases.
"""

from __future__ import annotations

from keyfob.providers.storj.caveat import Action, ActionType, parse_caveat
from keyfob.providers.storj.macaroon import Macaroon

# macaroon.APIKeyVersion bits: the satellite stores one per root API key.
VERSION_OBJECT_LOCK = 1 << 0
VERSION_AUDITABLE = 1 << 1
VERSION_EVENTING = 1 << 2

OBJECT_LOCK_ACTIONS = frozenset(
    {
        ActionType.PUT_OBJECT_RETENTION,
        ActionType.GET_OBJECT_RETENTION,
        ActionType.PUT_OBJECT_LEGAL_HOLD,
        ActionType.GET_OBJECT_LEGAL_HOLD,
        ActionType.BYPASS_GOVERNANCE_RETENTION,
        ActionType.PUT_BUCKET_OBJECT_LOCK_CONFIGURATION,
        ActionType.GET_BUCKET_OBJECT_LOCK_CONFIGURATION,
        ActionType.LOCK,
    }
)
EVENTING_ACTIONS = frozenset(
    {ActionType.PUT_BUCKET_NOTIFICATION_CONFIGURATION, ActionType.GET_BUCKET_NOTIFICATION_CONFIGURATION}
)


def caveats_allow(mac: Macaroon, action: Action) -> bool:
    """Every caveat allows the action (no signature or version check: for keys whose secret we do not hold)."""
    return all(parse_caveat(raw).allows(action) for raw in mac.caveats)


def denial(mac: Macaroon, secret: bytes, version: int, action: Action) -> str | None:
    """None when the satellite would allow `action`, else why not (the classes APIKey.Check returns)."""
    if not mac.validate(secret):
        return "macaroon unauthorized"
    if not version & VERSION_OBJECT_LOCK and action.op in OBJECT_LOCK_ACTIONS:
        return "action disallowed (API key version lacks Object Lock)"
    if not version & VERSION_EVENTING and action.op in EVENTING_ACTIONS:
        return "action disallowed (API key version lacks eventing)"
    try:
        if not caveats_allow(mac, action):
            return "action disallowed"
    except ValueError:
        return "invalid caveat format"
    return None
