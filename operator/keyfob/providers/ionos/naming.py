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
from keyfob.contract.naming import parse_key_name, short_id

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


# ---- scoped mode: the dedicated IONOS user of one key ---------------------------------------------------------
#
# A Cloud API v6 user has no description, only firstname, lastname and email (ionos-cloud/sdk-python
# docs/models/UserPropertiesPost.md); the email is unique per user, so it is the idempotency handle:
#
#     email     <key name>.<cluster tag>@<emailDomain>   (<cluster tag>: 12 lower-case base32 chars of a hash)
#     firstname keyfob
#     lastname  <cluster id>
#
# A user is keyfob's for a request only when its email parses to a key name of that request with this cluster's
# tag AND its lastname is this cluster id: both are IONOS's own record, which only administrators can write.

USER_FIRSTNAME = "keyfob"
_EMAIL_RE = re.compile(r"^(kf-[0-9a-f-]+-r[0-9]+)\.([a-z2-7]{12})@(.+)$")


def cluster_tag(cluster_id: str) -> str:
    return short_id(cluster_id, "ionos-user", 12).lower()


def user_email(cluster_id: str, key_name: str, domain: str) -> str:
    return f"{key_name}.{cluster_tag(cluster_id)}@{domain}"


@dataclass(frozen=True)
class UserNamed:
    key_name: str
    request_uid: str


def parse_user(cluster_id: str, domain: str, email: str | None, lastname: str | None) -> UserNamed | None:
    """What a user record says about itself, if keyfob made it in this cluster; None for anything else."""
    match = _EMAIL_RE.fullmatch((email or "").lower())
    if not match or match.group(2) != cluster_tag(cluster_id) or match.group(3) != domain.lower():
        return None
    if lastname != cluster_id:
        return None
    parsed = parse_key_name(match.group(1))
    return UserNamed(match.group(1), parsed[0]) if parsed else None
