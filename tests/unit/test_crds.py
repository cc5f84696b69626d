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
