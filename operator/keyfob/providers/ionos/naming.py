"""The description keyfob writes on IONOS access keys: the idempotency handle and how list_owned finds ours.

IONOS access keys have no caller-chosen name, only a free-text `description`, so it carries everything:

    keyfob/v1 cluster=<cluster id> key=<key name> scope=unscoped request=<namespace>/<name>

- `cluster` and `key` are what issue() (adopt-or-replace) and list_owned() match on; a key whose description
  does not parse, names another cluster or a key name keyfob would not make is never touched;
- `scope=unscoped` says, where an IONOS user looks at the key, that it has all of the user's rights;
- the request part is for people and is cut to fit MAX_DESCRIPTION (the parts before it never are).
The description length limit of the API is not documented in the SDK: 255 characters is our own cap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from keyfob.contract import Grant, ProviderRejected
from keyfob.contract.naming import parse_key_name

TAG = "keyfob/v1"
MAX_DESCRIPTION = 255
_DESCRIPTION_RE = re.compile(r"^keyfob/v1 cluster=(\S+) key=(\S+) scope=(\S+)(?: request=(\S*))?$")


@dataclass(frozen=True)
class Described:
    cluster_id: str
    key_name: str
    request_uid: str




def description_for(cluster_id: str, grant: Grant) -> str:
    head = f"{TAG} cluster={cluster_id} key={grant.key_name} scope=unscoped request="
    if len(head) > MAX_DESCRIPTION:
        raise ProviderRejected(f"cluster id and key name do not fit an IONOS key description ({len(head)} chars)")
    request = f"{grant.request.namespace}/{grant.request.name}"
    return head + request[: MAX_DESCRIPTION - len(head)]


def parse_description(text: str | None) -> Described | None:
    """What a keyfob description says; None for anything keyfob did not write."""
    match = _DESCRIPTION_RE.fullmatch(text or "")
    if not match:
        return None
    cluster_id, key_name, _scope, _request = match.groups()
    parsed = parse_key_name(key_name)
    if parsed is None:
        return None
    return Described(cluster_id=cluster_id, key_name=key_name, request_uid=parsed[0])
