"""RGW-side names and the record keyfob proves ownership by.

- user id: 'keyfob-<cluster id>-<key name>' (key name = 'kf-<request uid>-r<revision>'), in the block's tenant
  when one is set ('<tenant>$<user id>' on the wire). The prefix 'keyfob-<cluster id>-' is what the orphan
  sweep lists by.
- display name: 'keyfob <cluster id> <namespace>/<name> <request uid> r<revision>'. Only a caller with the
  'users' cap can set it (an RGW user cannot rename itself), so it is the provider's own record of who made the
  user for which request: the second half of every ownership proof.
"""

from __future__ import annotations

from dataclasses import dataclass

from keyfob.contract import Grant
from keyfob.contract.naming import parse_key_name

USER_PREFIX = "keyfob-"


def user_prefix(cluster_id: str) -> str:
    return f"{USER_PREFIX}{cluster_id}-"


def user_id(cluster_id: str, key_name: str) -> str:
    return f"{user_prefix(cluster_id)}{key_name}"


def wire_uid(tenant: str | None, uid: str) -> str:
    """How Admin Ops and IAM name a user of a tenant."""
    return f"{tenant}${uid}" if tenant else uid


def key_name_of(cluster_id: str, tenant: str | None, listed: str) -> str | None:
    """The keyfob key name a listed user id ('[tenant$]uid') carries for this cluster and tenant, else None."""
    found_tenant, _, uid = listed.rpartition("$")
    if (found_tenant or None) != tenant:
        return None
    prefix = user_prefix(cluster_id)
    if not uid.startswith(prefix):
        return None
    name = uid[len(prefix) :]
    return name if parse_key_name(name) is not None else None


def display_name_for(cluster_id: str, grant: Grant) -> str:
    who = f"{grant.request.namespace}/{grant.request.name}"
    return f"keyfob {cluster_id} {who} {grant.request.uid} r{grant.revision}"


@dataclass(frozen=True)
class Described:
    cluster_id: str
    request_uid: str
    revision: int


def parse_display_name(text: str | None) -> Described | None:
    parts = (text or "").split(" ")
    if len(parts) != 5 or parts[0] != "keyfob" or not parts[4].startswith("r") or not parts[4][1:].isdigit():
        return None
    return Described(cluster_id=parts[1], request_uid=parts[3], revision=int(parts[4][1:]))


def proves(cluster_id: str, key_name: str, owner_uid: str, display_name: str | None) -> bool:
    """Whether RGW's record (the display name) says keyfob of this cluster made this user for `owner_uid`,
    under exactly this key name."""
    parsed = parse_key_name(key_name)
    described = parse_display_name(display_name)
    return (
        parsed is not None
        and described is not None
        and described.cluster_id == cluster_id
        and described.request_uid == owner_uid == parsed[0]
        and described.revision == parsed[1]
    )
