"""Generate the CustomResourceDefinitions in crds/ from the pydantic models (the single source of truth).

Kubernetes wants a *structural* OpenAPI v3 schema: no $ref, no anyOf-with-null for optionals, no titles.
This module turns pydantic's JSON schema into that and wraps it in a CRD.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from keyfob.api.provider import ProviderSpec, ProviderStatus, exactly_one_block_rule
from keyfob.api.request import STS_FORMATS_RULE, AccessKeyRequestSpec
from keyfob.api.request_status import AccessKeyRequestStatus
from keyfob.api.vocabulary import GROUP, VERSION

_DROP_KEYS = {"title"}


@dataclass(frozen=True)
class CrdDefinition:
    kind: str
    plural: str
    singular: str
    scope: str
    short_names: list[str]
    spec_model: type[BaseModel]
    status_model: type[BaseModel]
    description: str
    spec_rules: list[dict[str, str]] = field(default_factory=list)
    columns: list[dict[str, Any]] = field(default_factory=list)
    categories: list[str] = field(default_factory=lambda: ["keyfob"])

    @property
    def name(self) -> str:
        return f"{self.plural}.{GROUP}"


def _resolve(node: Any, defs: dict[str, Any]) -> Any:
    """Inline $refs, collapse Optional (anyOf X|null) to X, drop titles and null defaults."""
    if isinstance(node, list):
        return [_resolve(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    node = dict(node)
    if "$ref" in node:
        target = copy.deepcopy(defs[node.pop("$ref").split("/")[-1]])
        merged = {**_resolve(target, defs), **{k: v for k, v in node.items() if k not in _DROP_KEYS}}
        return _resolve(merged, defs)
    if "anyOf" in node:
        options = [opt for opt in node["anyOf"] if opt.get("type") != "null"]
        if len(options) == 1:
            rest = {k: v for k, v in node.items() if k != "anyOf"}
            merged = {**_resolve(options[0], defs), **rest}
            node = merged
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP_KEYS or key == "$defs":
            continue
        if key == "default" and value is None:
            continue
        if key == "properties":
            out[key] = {name: _resolve(schema, defs) for name, schema in value.items()}
        else:
            out[key] = _resolve(value, defs)
    return out


def structural_schema(model: type[BaseModel]) -> dict[str, Any]:
    raw = model.model_json_schema(by_alias=True, mode="validation")
    defs = raw.get("$defs", {})
    resolved: dict[str, Any] = _resolve(raw, defs)
    return resolved


def _ready_columns() -> list[dict[str, Any]]:
    return [
        {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
        {"name": "Reason", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].reason'},
    ]


def definitions() -> list[CrdDefinition]:
    age = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
    provider_description = (
        "An object-storage account keyfob issues keys from: exactly one provider block with the endpoint "
        "and a reference to admin credentials, plus guardrails on what requests may ask for."
    )
    return [
        CrdDefinition(
            kind="AccessKeyRequest",
            plural="accesskeyrequests",
            singular="accesskeyrequest",
            scope="Namespaced",
            short_names=["akr"],
            spec_model=AccessKeyRequestSpec,
            status_model=AccessKeyRequestStatus,
            description=(
                "A request for an object-storage access key with a given scope and lifetime. keyfob issues "
                "it at the referenced provider, writes it into spec.secretName, rotates it before expiry and "
                "revokes it when the request is deleted."
            ),
            spec_rules=[
                {"rule": "!(has(self.ttl) && has(self.expiresAt))", "message": "set ttl or expiresAt, not both"},
                STS_FORMATS_RULE,
            ],
            columns=[
                *_ready_columns(),
                {"name": "Access Key", "type": "string", "jsonPath": ".status.accessKeyId"},
                {"name": "Expires", "type": "date", "jsonPath": ".status.expiresAt"},
                {"name": "Revision", "type": "integer", "jsonPath": ".status.revision", "priority": 1},
                {"name": "Secret", "type": "string", "jsonPath": ".spec.secretName", "priority": 1},
                age,
            ],
        ),
        CrdDefinition(
            kind="AccessKeyProvider",
            plural="accesskeyproviders",
            singular="accesskeyprovider",
            scope="Namespaced",
            short_names=["akp"],
            spec_model=ProviderSpec,
            status_model=ProviderStatus,
            description=provider_description + " Serves requests in its own namespace only.",
            spec_rules=[exactly_one_block_rule()],
            columns=[*_ready_columns(), age],
        ),
        CrdDefinition(
            kind="ClusterAccessKeyProvider",
            plural="clusteraccesskeyproviders",
            singular="clusteraccesskeyprovider",
            scope="Cluster",
            short_names=["cakp"],
            spec_model=ProviderSpec,
            status_model=ProviderStatus,
            description=provider_description + " Cluster-scoped: serves the namespaces its guardrails allow.",
            spec_rules=[exactly_one_block_rule()],
            columns=[*_ready_columns(), age],
        ),
    ]


def render(definition: CrdDefinition) -> dict[str, Any]:
    spec_schema = structural_schema(definition.spec_model)
    spec_schema["description"] = spec_schema.get("description", "").strip()
    if definition.spec_rules:
        spec_schema["x-kubernetes-validations"] = definition.spec_rules
    status_schema = structural_schema(definition.status_model)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": definition.name, "labels": {"app.kubernetes.io/part-of": "keyfob"}},
        "spec": {
            "group": GROUP,
            "scope": definition.scope,
            "names": {
                "kind": definition.kind,
                "listKind": f"{definition.kind}List",
                "plural": definition.plural,
                "singular": definition.singular,
                "shortNames": definition.short_names,
                "categories": definition.categories,
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": definition.columns,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": definition.description,
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec_schema,
                                "status": status_schema,
                            },
                        }
                    },
                }
            ],
        },
    }


def render_yaml(definition: CrdDefinition) -> str:
    header = "# Generated by `keyfob crds --write crds/` from operator/keyfob/api. Do not edit.\n"
    return header + yaml.safe_dump(render(definition), sort_keys=False, width=100)


def write_all(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for definition in definitions():
        path = directory / f"{definition.plural}.yaml"
        path.write_text(render_yaml(definition))
        written.append(path)
    return written
