"""Invariant 7: status is keyfob's memory, not proof. Before any provider call the status must be one keyfob
could have written for this request: every key name is the one keyfob derives from this request's uid, and
the revisions agree. A status that fails is reported (StatusTampered) and nothing at any provider changes.

(The adapters prove ownership again at the provider before each adopt, replace or revoke; this check makes a
forged status visible and stops the reconcile before it reaches them.)
"""

from __future__ import annotations

from keyfob.api.request_status import AccessKeyRequestStatus
from keyfob.contract.naming import parse_key_name
from keyfob.lifecycle.conditions import Reason
from keyfob.lifecycle.inputs import Inputs
from keyfob.lifecycle.policies.verdict import Verdict


def _revision_of(name: str, uid: str, what: str, problems: list[str]) -> int | None:
    parsed = parse_key_name(name)
    if parsed is None or parsed[0] != uid:
        problems.append(f"{what} {name!r} is not a key name keyfob derives for this request")
        return None
    return parsed[1]


def status_problems(status: AccessKeyRequestStatus, uid: str) -> list[str]:
    problems: list[str] = []
    if status.key_name is not None:
        revision = _revision_of(status.key_name, uid, "status.keyName", problems)
        if revision is not None and revision != status.revision:
            problems.append(f"status.keyName is revision {revision} but status.revision is {status.revision}")
    if (status.key_name is None) != (status.access_key_id is None):
        problems.append("status.keyName and status.accessKeyId must be set together")
    if status.pending is not None:
        revision = _revision_of(status.pending.key_name, uid, "status.pending.keyName", problems)
        if revision is not None and revision != status.pending.revision:
            problems.append("status.pending.keyName does not match status.pending.revision")
        if status.pending.revision <= status.revision:
            problems.append("status.pending.revision is not after status.revision")
    for record in status.previous_keys:
        revision = _revision_of(record.key_name, uid, "status.previousKeys[].keyName", problems)
        if revision is not None and revision > status.revision:
            problems.append(f"status.previousKeys names revision {revision}, after status.revision")
    return problems


def tampered_status(inputs: Inputs) -> Verdict | None:
    problems = status_problems(inputs.view.status, inputs.view.uid)
    if not problems:
        return None
    return Verdict(
        Reason.STATUS_TAMPERED,
        "status was not written by keyfob; nothing at the provider was changed: " + "; ".join(problems[:5]),
    )
