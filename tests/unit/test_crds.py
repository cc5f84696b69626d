"""The committed CRDs are exactly what the models generate, and are structural (no $ref, no anyOf)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from keyfob.api import crd

CRDS = Path(__file__).resolve().parents[2] / "crds"


def test_committed_crds_match_the_models() -> None:
    for definition in crd.definitions():
        committed = (CRDS / f"{definition.plural}.yaml").read_text()
        assert committed == crd.render_yaml(definition), (
            f"crds/{definition.plural}.yaml is stale: run `keyfob crds --write crds/`"
        )
    assert sorted(p.name for p in CRDS.glob("*.yaml")) == sorted(f"{d.plural}.yaml" for d in crd.definitions())


def test_schemas_are_structural_and_documented() -> None:
    for definition in crd.definitions():
        text = json.dumps(crd.render(definition))
        assert "$ref" not in text and "anyOf" not in text and '"title"' not in text
        schema = crd.render(definition)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        spec = schema["properties"]["spec"]
        for name, prop in spec["properties"].items():
            assert prop.get("description"), f"{definition.kind}.spec.{name} has no description for kubectl explain"


def test_request_crd_carries_cel_rules_printer_columns_and_short_name() -> None:
    rendered = yaml.safe_load(crd.render_yaml(crd.definitions()[0]))
    version = rendered["spec"]["versions"][0]
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert {"rule": "!(has(self.ttl) && has(self.expiresAt))", "message": "set ttl or expiresAt, not both"} in spec[
        "x-kubernetes-validations"
    ]
    assert spec["properties"]["secretName"]["x-kubernetes-validations"][0]["rule"] == "self == oldSelf"
    assert [c["name"] for c in version["additionalPrinterColumns"]][:4] == ["Ready", "Reason", "Access Key", "Expires"]
    assert rendered["spec"]["names"]["shortNames"] == ["akr"]
    assert version["subresources"] == {"status": {}}


def test_every_crd_copy_is_byte_identical_to_the_generated_output() -> None:
    """crds/ is the source (`keyfob crds --write crds/`); deploy/crds and helm/keyfob/crds are copies written by
    `python -m keyfob_testbed.helm_tool render-deploy`. All three must be exactly what the models generate."""
    from keyfob_testbed import helm_tool

    expected = {f"{d.plural}.yaml": crd.render_yaml(d) for d in crd.definitions()}
    for directory in (CRDS, helm_tool.DEPLOY / "crds", helm_tool.CHART / "crds"):
        committed = {p.name: p.read_text() for p in directory.glob("*.yaml")}
        assert committed.keys() == expected.keys(), f"{directory}: {sorted(committed)} != {sorted(expected)}"
        for name, text in expected.items():
            assert committed[name] == text, (
                f"{directory / name} drifted: run `keyfob crds --write crds/` and "
                "`python -m keyfob_testbed.helm_tool render-deploy`"
            )


def test_admission_policy_protects_every_status_field_but_approval() -> None:
    """The chart's ValidatingAdmissionPolicy keeps every status field listed in files/operator-status-fields.yaml
    unchanged for non-operators. A new status field must land in that list (render-deploy regenerates it)."""
    from keyfob.api.request_status import AccessKeyRequestStatus
    from keyfob_testbed import helm_tool

    listed = [entry["name"] for entry in yaml.safe_load(helm_tool.STATUS_FIELDS.read_text())]
    aliases = [f.alias or n for n, f in AccessKeyRequestStatus.model_fields.items()]
    assert listed == [a for a in aliases if a != "approval"], (
        "helm/keyfob/files/operator-status-fields.yaml is stale: run python -m keyfob_testbed.helm_tool render-deploy"
    )
    assert helm_tool.STATUS_FIELDS.read_text() == helm_tool.generated_from_models()[helm_tool.STATUS_FIELDS]
    request_crd = crd.render(crd.definitions()[0])
    status = request_crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
    assert sorted(status["properties"]) == sorted(aliases)
    assert "x-kubernetes-preserve-unknown-fields" not in json.dumps(status), "unknown status fields would slip past"
    template = (helm_tool.CHART / "templates" / "admission.yaml").read_text()
    assert 'files/operator-status-fields.yaml' in template and "range $fields" in template


def _untyped(node: object, path: str) -> list[str]:
    """Schema nodes without a type (the API server rejects such a CRD as not structural)."""
    if not isinstance(node, dict):
        return []
    found = [] if "type" in node or "x-kubernetes-int-or-string" in node else [path]
    for name, child in (node.get("properties") or {}).items():
        found += _untyped(child, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        found += _untyped(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        found += _untyped(node["additionalProperties"], f"{path}{{}}")
    return found


def test_every_schema_node_has_a_type() -> None:
    """A json_schema_extra that replaces `items` drops its type: the API server then refuses the whole CRD."""
    for definition in crd.definitions():
        schema = crd.render(definition)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        assert _untyped(schema, definition.kind) == []
