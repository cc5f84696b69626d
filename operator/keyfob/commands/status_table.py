"""`keyfob status`, pure: one row per AccessKeyRequest from its parsed spec and status (the pydantic models), and
the rows rendered the way `kubectl get` renders (columns padded by three spaces, times relative to now; `-o wide`
adds columns and absolute times) or as JSON / YAML. Under a row, one indented line per previous key still in its
grace period (access key id and when keyfob revokes it) and one for an issue in flight.

Nothing secret can reach it: the status holds public key ids only, and no Secret is read."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import yaml
from pydantic import Field, ValidationError

from keyfob.api.common import CamelModel
from keyfob.api.request import AccessKeyRequestSpec, ProviderRef
from keyfob.api.request_status import AccessKeyRequestStatus
from keyfob.lifecycle.fingerprint import scope_hash
from keyfob.lifecycle.plan import next_due
from keyfob.lifecycle.request_view import ROTATE_ANNOTATION, parse_status

NONE = "-"
SCOPE_WIDTH = 60  # the default table cuts longer scopes; -o wide and -o json|yaml show them whole


class Rotation(StrEnum):
    """What NEXT ROTATION says."""

    SCHEDULED = "Scheduled"  # at status.renewalTime
    REQUESTED = "Requested"  # a keyfob.dev/rotate value keyfob has not acted on yet
    ISSUING = "Issuing"  # an issue is in flight (status.pending)
    NOT_ROTATED = "NotRotated"  # an absolute spec.expiresAt: the key is never rotated
    NONE = "None"  # no current key


class ScopeSource(StrEnum):
    """Where SCOPE comes from."""

    ISSUED = "Issued"  # the spec, which the current key was issued for (status.scopeHash matches it)
    GRANT = "Grant"  # status.grant, the provider's one line for the current key: the spec asks for another scope
    REQUESTED = "Requested"  # no key yet: what the spec asks for
    INVALID = "Invalid"  # the spec does not parse


class PreviousKey(CamelModel):
    access_key_id: str | None = Field(default=None, description="Public id (unset: an issue never finished).")
    key_name: str = Field(description="keyfob's name for the key at the provider.")
    revoke_at: datetime | None = Field(default=None, description="When keyfob revokes it (unset: at once).")


class PendingKey(CamelModel):
    revision: int
    reason: str
    started_at: datetime


class StatusRow(CamelModel):
    """One request as `keyfob status` shows it (also the -o json|yaml item)."""

    namespace: str
    name: str
    provider: str = Field(description="Kind/name of the provider the spec names.")
    key_provider: str | None = Field(default=None, description="Kind/name of the current key's issuer, if other.")
    scope: str = Field(description="Permissions on buckets and prefixes.")
    scope_source: ScopeSource
    grant: str | None = Field(default=None, description="status.grant: the provider's line for the current key.")
    revision: int = 0
    ready: str = NONE
    reason: str = NONE
    message: str = ""
    access_key_id: str | None = None
    issued_at: datetime | None = None
    expires_at: datetime | None = None
    rotation: Rotation = Rotation.NONE
    next_rotation: datetime | None = Field(default=None, description="status.renewalTime of the current key.")
    next_due: datetime | None = Field(default=None, description="When keyfob next has work for it (plan.next_due).")
    previous_keys: list[PreviousKey] = Field(default_factory=list)
    pending: PendingKey | None = None


# -- rows ---------------------------------------------------------------------------------------------------
def _ref(ref: ProviderRef) -> str:
    return f"{ref.kind.value}/{ref.name}"


def spec_scope(spec: AccessKeyRequestSpec) -> str:
    """'list, read on a/2026/*, b': the provider-neutral scope (the words status.grant uses too)."""
    where = ", ".join(f"{b.name}/{b.prefix}*" if b.prefix else b.name for b in spec.buckets)
    return f"{', '.join(sorted(p.value for p in spec.permissions))} on {where}"


def _scope(spec: AccessKeyRequestSpec | None, status: AccessKeyRequestStatus) -> tuple[str, ScopeSource]:
    if spec is None:
        return "invalid spec", ScopeSource.INVALID
    if status.access_key_id is None:
        return spec_scope(spec), ScopeSource.REQUESTED
    if status.grant and status.scope_hash != scope_hash(spec):
        return " ".join(status.grant.split()), ScopeSource.GRANT
    return spec_scope(spec), ScopeSource.ISSUED


def _rotation(spec: AccessKeyRequestSpec | None, status: AccessKeyRequestStatus,
              rotate_token: str | None) -> Rotation:
    if status.pending is not None:
        return Rotation.ISSUING
    if status.access_key_id is None:
        return Rotation.NONE
    if rotate_token and rotate_token != status.rotate_request_handled:
        return Rotation.REQUESTED
    if status.renewal_time is not None:
        return Rotation.SCHEDULED
    return Rotation.NOT_ROTATED if spec is None or spec.expires_at is not None else Rotation.NONE


def row(namespace: str, name: str, spec: AccessKeyRequestSpec | None, status: AccessKeyRequestStatus,
        rotate_token: str | None, now: datetime, spec_ref: ProviderRef | None = None) -> StatusRow:
    """`spec` None: the spec does not parse (`spec_ref`: its providerRef, if that does)."""
    ref = spec.provider_ref if spec is not None else spec_ref
    scope, source = _scope(spec, status)
    ready = status.condition("Ready")
    issuer = status.provider_ref
    pending = status.pending
    return StatusRow(
        namespace=namespace, name=name,
        provider=_ref(ref) if ref is not None else NONE,
        key_provider=_ref(issuer) if issuer is not None and (ref is None or issuer.wire() != ref.wire()) else None,
        scope=scope, scope_source=source, grant=status.grant,
        revision=status.revision,
        ready=ready.status.value if ready else NONE, reason=ready.reason if ready else NONE,
        message=" ".join(ready.message.split()) if ready else "",
        access_key_id=status.access_key_id, issued_at=status.issued_at, expires_at=status.expires_at,
        rotation=_rotation(spec, status, rotate_token),
        next_rotation=status.renewal_time if status.access_key_id is not None else None,
        next_due=next_due(status, now),
        previous_keys=[PreviousKey(access_key_id=k.access_key_id, key_name=k.key_name, revoke_at=k.revoke_after)
                       for k in status.previous_keys],
        pending=PendingKey(revision=pending.revision, reason=pending.reason, started_at=pending.started_at)
        if pending is not None else None,
    )


def row_of(body: Mapping[str, Any], now: datetime) -> StatusRow:
    """A row from an AccessKeyRequest as the API server returns it (a spec that does not parse still gets one)."""
    meta = body.get("metadata") or {}
    raw_spec = body.get("spec") or {}
    spec: AccessKeyRequestSpec | None
    spec_ref: ProviderRef | None = None
    try:
        spec = AccessKeyRequestSpec.model_validate(raw_spec)
    except ValidationError:
        spec = None
        try:
            spec_ref = ProviderRef.model_validate(raw_spec.get("providerRef") or {})
        except ValidationError:
            spec_ref = None
    token = (meta.get("annotations") or {}).get(ROTATE_ANNOTATION) or None
    return row(meta.get("namespace", ""), meta.get("name", ""), spec, parse_status(body.get("status")), token, now,
               spec_ref)


# -- times --------------------------------------------------------------------------------------------------
def human(delta: timedelta) -> str:
    """A duration the way kubectl prints ages: 45s, 3m20s, 59m, 5h10m, 23h, 3d4h, 120d, 2y30d."""
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{max(seconds, 0)}s"
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    return f"{days // 365}y{days % 365}d" if days % 365 and days < 365 * 8 else f"{days // 365}y"


def relative(when: datetime | None, now: datetime) -> str:
    if when is None:
        return NONE
    delta = when - now
    if abs(delta) < timedelta(seconds=1):
        return "now"
    return f"in {human(delta)}" if delta > timedelta(0) else f"{human(-delta)} ago"


def stamp(when: datetime | None) -> str:
    """RFC 3339 in UTC, to the second."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if when is not None else NONE


def _at(when: datetime | None, now: datetime, wide: bool) -> str:
    if when is None:
        return NONE
    return f"{stamp(when)} ({relative(when, now)})" if wide else relative(when, now)


def next_rotation(r: StatusRow, now: datetime, wide: bool = False) -> str:
    if r.rotation is Rotation.SCHEDULED:
        return _at(r.next_rotation, now, wide)
    if r.rotation is Rotation.ISSUING:
        return f"issuing r{r.pending.revision}" if r.pending else "issuing"
    return {Rotation.REQUESTED: "requested", Rotation.NOT_ROTATED: "never (expiresAt)"}.get(r.rotation, NONE)


# -- rendering ----------------------------------------------------------------------------------------------
def printable(text: str) -> str:
    """Control and format characters as '?': a status a tenant could write (where the admission policy is not
    installed) must not drive the terminal of an admin running `status -A` (escape sequences, bidi overrides)."""
    return "".join("?" if unicodedata.category(c).startswith("C") else c for c in text)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _cells(r: StatusRow, now: datetime, wide: bool, namespaces: bool) -> list[str]:
    provider = r.provider + (f" (key from {r.key_provider})" if r.key_provider else "")
    cells = [r.namespace] if namespaces else []
    cells += [r.name, provider, r.scope if wide else _cut(r.scope, SCOPE_WIDTH), str(r.revision), r.ready, r.reason,
              _at(r.expires_at, now, wide), next_rotation(r, now, wide)]
    if wide:
        cells += [r.access_key_id or NONE, _at(r.issued_at, now, wide), _at(r.next_due, now, wide),
                  r.grant or NONE, r.message or NONE]
    return cells


def headers(wide: bool = False, namespaces: bool = False) -> list[str]:
    names = ["NAMESPACE"] if namespaces else []
    names += ["NAME", "PROVIDER", "SCOPE", "REVISION", "READY", "REASON", "EXPIRES", "NEXT ROTATION"]
    return names + (["ACCESS KEY", "ISSUED", "NEXT DUE", "GRANT", "MESSAGE"] if wide else [])


def details(r: StatusRow, now: datetime) -> list[str]:
    """The indented lines under a row: each previous key in its grace period, an issue in flight."""
    lines = []
    for key in r.previous_keys:
        who = key.access_key_id or f"{key.key_name} (issue never finished)"
        when = f"{stamp(key.revoke_at)} ({relative(key.revoke_at, now)})" if key.revoke_at else "now"
        lines.append(f"  previous key {who}  revoke at {when}")
    if r.pending is not None:
        p = r.pending
        lines.append(f"  issuing revision {p.revision} ({p.reason}) since {stamp(p.started_at)} "
                     f"({relative(p.started_at, now)})")
    return lines


def table(rows: Sequence[StatusRow], now: datetime, *, wide: bool = False, namespaces: bool = False) -> str:
    """kubectl's layout: a header, columns left-aligned and three spaces apart; a row's details under it."""
    grid = [headers(wide, namespaces)] + [[printable(c) for c in _cells(r, now, wide, namespaces)] for r in rows]
    widths = [max(len(line[i]) for line in grid) for i in range(len(grid[0]))]

    def line(cells: list[str]) -> str:
        return "   ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    out = [line(grid[0])]
    for r, cells in zip(rows, grid[1:], strict=True):
        out += [line(cells), *(printable(d) for d in details(r, now))]
    return "\n".join(out)


def document(rows: Sequence[StatusRow]) -> dict[str, Any]:
    return {"kind": "AccessKeyRequestStatusList", "items": [r.wire() for r in rows]}


def render(rows: Sequence[StatusRow], now: datetime, output: str = "", namespaces: bool = False) -> str:
    """`output`: '' (the table), 'wide', 'json' or 'yaml'."""
    if output == "json":
        return json.dumps(document(rows), indent=2)
    if output == "yaml":
        return yaml.safe_dump(document(rows), sort_keys=False).rstrip("\n")
    return table(rows, now, wide=output == "wide", namespaces=namespaces)
