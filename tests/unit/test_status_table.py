"""`keyfob status` rendering, pure: request bodies (as the API server returns them) -> rows -> table / JSON / YAML."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from keyfob.api.request import AccessKeyRequestSpec
from keyfob.commands.status_table import (
    Rotation,
    ScopeSource,
    StatusRow,
    headers,
    human,
    relative,
    render,
    row_of,
    table,
)
from keyfob.lifecycle.fingerprint import scope_hash

NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
UID = "0b5c1f9e-3d2a-4c8b-9e7f-1a2b3c4d5e6f"


def at(**delta: float) -> str:
    return (NOW + timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


SPEC: dict[str, Any] = {
    "providerRef": {"name": "aws"},
    "buckets": [{"name": "team-a.reports", "prefix": "2026/"}, {"name": "team-a.logs"}],
    "permissions": ["read", "list"],
    "ttl": "1h",
    "secretName": "reports-s3",
}
ABSOLUTE = {**SPEC, "ttl": None, "expiresAt": (NOW + timedelta(days=30)).isoformat()}


def hash_of(spec: dict[str, Any]) -> str:
    return scope_hash(AccessKeyRequestSpec.model_validate(spec))


HASH = hash_of(SPEC)
GRANT = "IAM user /keyfob/default/kf-1234-r2, inline policy keyfob: list, read on team-a.reports/2026/*, team-a.logs"
READY = {"type": "Ready", "status": "True", "reason": "Issued", "message": "key AKIAAAA2 issued"}


def issued(revision: int = 1, **extra: Any) -> dict[str, Any]:
    status = {"conditions": [READY], "accessKeyId": f"AKIAAAA{revision}", "keyName": f"kf-{UID}-r{revision}",
              "revision": revision, "issuedAt": at(minutes=-10), "expiresAt": at(minutes=50),
              "renewalTime": at(minutes=30), "scopeHash": HASH, "grant": GRANT,
              "providerRef": {"kind": "AccessKeyProvider", "name": "aws"}}
    return {**status, **extra}


def body(status: dict[str, Any] | None = None, spec: dict[str, Any] | None = None, name: str = "reports",
         namespace: str = "team-a", annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "uid": UID, "annotations": annotations or {}}
    return {"metadata": meta, "spec": SPEC if spec is None else spec, **({"status": status} if status else {})}


def cells(line: str) -> list[str]:
    return [c.strip() for c in line.split("   ") if c.strip()]


SCOPE = "list, read on team-a.reports/2026/*, team-a.logs"
PREVIOUS = [{"accessKeyId": "AKIAAAA1", "keyName": f"kf-{UID}-r1", "revokeAfter": at(minutes=8)}]


# One row per case: the body, then what the default table shows in
# PROVIDER, SCOPE, REVISION, READY, REASON, EXPIRES, NEXT ROTATION, and the lines under the row.
CASES: list[tuple[str, dict[str, Any], list[str], list[str]]] = [
    ("new request, no status yet", body(),
     ["AccessKeyProvider/aws", SCOPE, "0", "-", "-", "-", "-"], []),
    ("issued", body(issued()),
     ["AccessKeyProvider/aws", SCOPE, "1", "True", "Issued", "in 50m", "in 30m"], []),
    ("rotated, previous key in grace", body(issued(2, previousKeys=PREVIOUS)),
     ["AccessKeyProvider/aws", SCOPE, "2", "True", "Issued", "in 50m", "in 30m"],
     [f"  previous key AKIAAAA1  revoke at {at(minutes=8)} (in 8m)"]),
    ("previous key whose issue never finished, due now", body(issued(2, previousKeys=[{"keyName": f"kf-{UID}-r1"}])),
     ["AccessKeyProvider/aws", SCOPE, "2", "True", "Issued", "in 50m", "in 30m"],
     [f"  previous key kf-{UID}-r1 (issue never finished)  revoke at now"]),
    ("rotation requested, not yet acted on",
     body(issued(rotateRequestHandled="old"), annotations={"keyfob.dev/rotate": "new"}),
     ["AccessKeyProvider/aws", SCOPE, "1", "True", "Issued", "in 50m", "requested"], []),
    ("rotation request already answered",
     body(issued(rotateRequestHandled="same"), annotations={"keyfob.dev/rotate": "same"}),
     ["AccessKeyProvider/aws", SCOPE, "1", "True", "Issued", "in 50m", "in 30m"], []),
    ("issue in flight",
     body(issued(pending={"revision": 2, "keyName": f"kf-{UID}-r2", "reason": "Renewal",
                          "startedAt": at(seconds=-40)})),
     ["AccessKeyProvider/aws", SCOPE, "1", "True", "Issued", "in 50m", "issuing r2"],
     [f"  issuing revision 2 (Renewal) since {at(seconds=-40)} (40s ago)"]),
    ("absolute expiresAt is never rotated",
     body(issued(renewalTime=None, expiresAt=at(days=30), scopeHash=hash_of(ABSOLUTE)), spec=ABSOLUTE),
     ["AccessKeyProvider/aws", SCOPE, "1", "True", "Issued", "in 30d", "never (expiresAt)"], []),
    ("spec changed since the issue: the key's real scope (status.grant)",
     body(issued(conditions=[{**READY, "status": "False", "reason": "AwaitingApproval"}]),
          spec={**SPEC, "permissions": ["read", "list", "write"]}),
     ["AccessKeyProvider/aws", GRANT[:57] + "...", "1", "False", "AwaitingApproval", "in 50m", "in 30m"], []),
    ("expired key", body(issued(expiresAt=at(minutes=-5), renewalTime=at(minutes=-25),
                                 conditions=[{**READY, "status": "False", "reason": "Expired"}])),
     ["AccessKeyProvider/aws", SCOPE, "1", "False", "Expired", "5m ago", "25m ago"], []),
    ("suspended: no key held",
     body({"revision": 3, "conditions": [{**READY, "status": "False", "reason": "Suspended"}]}),
     ["AccessKeyProvider/aws", SCOPE, "3", "False", "Suspended", "-", "-"], []),
    ("current key from the provider the spec named before",
     body(issued(providerRef={"kind": "ClusterAccessKeyProvider", "name": "shared"})),
     ["AccessKeyProvider/aws (key from ClusterAccessKeyProvider/shared)", SCOPE, "1", "True", "Issued",
      "in 50m", "in 30m"], []),
    ("spec that does not parse", body({"revision": 1}, spec={"providerRef": {"name": "aws"}, "buckets": []}),
     ["AccessKeyProvider/aws", "invalid spec", "1", "-", "-", "-", "-"], []),
    ("terminal escapes in a tampered status are neutralised",
     body(issued(conditions=[{**READY, "status": "False", "reason": "\x1b]0;pwned\x07Ok\u202e"}],
                 previousKeys=[{**PREVIOUS[0], "keyName": f"kf-{UID}-r1", "accessKeyId": None}])),
     ["AccessKeyProvider/aws", SCOPE, "1", "False", "?]0;pwned?Ok?", "in 50m", "in 30m"],
     [f"  previous key kf-{UID}-r1 (issue never finished)  revoke at {at(minutes=8)} (in 8m)"]),
    ("status that does not parse (tampered) reads as empty", body({"revision": "many", "accessKeyId": 7}),
     ["AccessKeyProvider/aws", SCOPE, "0", "-", "-", "-", "-"], []),
]


@pytest.mark.parametrize(("case", "request_body", "expected", "lines"), CASES, ids=[c[0] for c in CASES])
def test_table_row(case: str, request_body: dict[str, Any], expected: list[str], lines: list[str]) -> None:
    out = table([row_of(request_body, NOW)], NOW).splitlines()
    assert cells(out[0]) == headers()
    assert cells(out[1]) == ["reports", *expected]
    assert out[2:] == lines


@pytest.mark.parametrize(("status", "source", "rotation"), [
    (None, ScopeSource.REQUESTED, Rotation.NONE),
    (issued(), ScopeSource.ISSUED, Rotation.SCHEDULED),
    (issued(scopeHash="0" * 16), ScopeSource.GRANT, Rotation.SCHEDULED),
    (issued(scopeHash="0" * 16, grant=None), ScopeSource.ISSUED, Rotation.SCHEDULED),  # no line: the spec's words
])
def test_scope_source_and_rotation(status: dict[str, Any] | None, source: ScopeSource, rotation: Rotation) -> None:
    r = row_of(body(status), NOW)
    assert (r.scope_source, r.rotation) == (source, rotation)


def test_columns_line_up_and_all_namespaces_leads_with_namespace() -> None:
    rows = [row_of(body(issued(2, previousKeys=PREVIOUS), name="reports", namespace="team-a"), NOW),
            row_of(body(name="a-much-longer-request-name", namespace="b"), NOW)]
    out = table(rows, NOW, namespaces=True).splitlines()
    assert cells(out[0])[:2] == ["NAMESPACE", "NAME"]
    assert [cells(line)[:2] for line in (out[1], out[3])] == [["team-a", "reports"],
                                                             ["b", "a-much-longer-request-name"]]
    assert out[2].startswith("  previous key AKIAAAA1")
    offset = 0
    for title in headers(namespaces=True)[1:]:  # every column starts at the same offset on every row
        offset = out[0].index("   " + title, offset) + 3
        for line in (out[1], out[3]):
            assert line[offset - 3:offset] == "   " and line[offset] != " ", (title, line)


def test_wide_adds_columns_absolute_times_and_whole_scope() -> None:
    r = row_of(body(issued(scopeHash="0" * 16)), NOW)
    out = table([r], NOW, wide=True).splitlines()
    assert cells(out[0]) == headers(wide=True)
    assert headers(wide=True)[-5:] == ["ACCESS KEY", "ISSUED", "NEXT DUE", "GRANT", "MESSAGE"]
    row = out[1]
    assert GRANT in row  # not cut
    assert f"{at(minutes=50)} (in 50m)" in row and f"{at(minutes=30)} (in 30m)" in row
    assert "AKIAAAA1" in row and f"{at(minutes=-10)} (10m ago)" in row and "key AKIAAAA2 issued" in row


def test_next_due_is_the_earliest_work_including_grace_revocations() -> None:
    assert row_of(body(issued(2, previousKeys=PREVIOUS)), NOW).next_due == NOW + timedelta(minutes=8)
    assert row_of(body(issued()), NOW).next_due == NOW + timedelta(minutes=30)
    assert row_of(body(), NOW).next_due is None


@pytest.mark.parametrize("output", ["json", "yaml"])
def test_json_and_yaml_carry_every_fact_with_absolute_times(output: str) -> None:
    rows = [row_of(body(issued(2, previousKeys=PREVIOUS)), NOW)]
    text = render(rows, NOW, output)
    doc = json.loads(text) if output == "json" else yaml.safe_load(text)
    assert doc["kind"] == "AccessKeyRequestStatusList"
    (item,) = doc["items"]
    assert item["namespace"] == "team-a" and item["name"] == "reports" and item["revision"] == 2
    assert item["provider"] == "AccessKeyProvider/aws" and item["scope"] == SCOPE and item["scopeSource"] == "Issued"
    assert item["ready"] == "True" and item["reason"] == "Issued" and item["accessKeyId"] == "AKIAAAA2"
    assert item["expiresAt"] == at(minutes=50) and item["nextRotation"] == at(minutes=30)
    assert item["rotation"] == "Scheduled" and item["nextDue"] == at(minutes=8)
    assert item["previousKeys"] == [{"accessKeyId": "AKIAAAA1", "keyName": f"kf-{UID}-r1", "revokeAt": at(minutes=8)}]
    assert StatusRow.model_validate(item) == rows[0]  # the document is the model, nothing else


def test_no_control_character_reaches_any_output() -> None:
    rows = [row_of(body(issued(grant="IAM\x1b[2J user\u200f", conditions=[{**READY, "message": "a\x1b[31mb"}])), NOW)]
    for output in ("", "wide", "json", "yaml"):
        text = render(rows, NOW, output)
        assert "\x1b" not in text and "\u200f" not in text, output


def test_nothing_outside_the_modelled_status_is_echoed() -> None:
    """A status is tenant-reachable garbage until parsed: unknown fields (say, a pasted secret) never show."""
    planted = body(issued(secretAccessKey="wJalrXUtnFEMI-PLANTED", notes="wJalrXUtnFEMI-PLANTED"))
    rows = [row_of(planted, NOW)]
    for output in ("", "wide", "json", "yaml"):
        assert "PLANTED" not in render(rows, NOW, output)


@pytest.mark.parametrize(("delta", "text"), [
    (timedelta(seconds=0), "0s"), (timedelta(seconds=45), "45s"), (timedelta(seconds=119), "119s"),
    (timedelta(minutes=2), "2m"), (timedelta(minutes=3, seconds=20), "3m20s"), (timedelta(minutes=10), "10m"),
    (timedelta(minutes=179), "179m"), (timedelta(hours=3), "3h"), (timedelta(hours=5, minutes=10), "5h10m"),
    (timedelta(hours=8, minutes=30), "8h"), (timedelta(hours=47), "47h"), (timedelta(days=2), "2d"),
    (timedelta(days=3, hours=4), "3d4h"), (timedelta(days=8), "8d"), (timedelta(days=729), "729d"),
    (timedelta(days=760), "2y30d"), (timedelta(days=365 * 9), "9y"),
])
def test_human_durations_as_kubectl_prints_ages(delta: timedelta, text: str) -> None:
    assert human(delta) == text


@pytest.mark.parametrize(("when", "text"), [
    (None, "-"), (NOW, "now"), (NOW + timedelta(minutes=5), "in 5m"), (NOW - timedelta(hours=30), "30h ago"),
])
def test_relative(when: datetime | None, text: str) -> None:
    assert relative(when, NOW) == text
