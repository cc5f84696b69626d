"""Key references for adapter tests: the owner is the request uid the key name itself encodes, i.e. what the
lifecycle passes for a key of the request it holds. (The product never derives the owner from a name it was
given: it passes the uid of the request being reconciled.)"""

from __future__ import annotations

from keyfob.contract import KeyRef
from keyfob.contract.naming import parse_key_name


def own_ref(key_name: str, access_key_id: str | None = None) -> KeyRef:
    parsed = parse_key_name(key_name)
    if parsed is None:
        raise ValueError(f"not a keyfob key name: {key_name!r}")
    return KeyRef(key_name, parsed[0], access_key_id)
