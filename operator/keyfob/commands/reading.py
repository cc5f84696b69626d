"""Read-only gathering for the CLI: a request (from a file or the cluster) and its provider, resolved by the
operator's own resolver, into the lifecycle's Inputs. Nothing is written and no provider is called."""

from __future__ import annotations

import dataclasses
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from kubernetes.client.exceptions import ApiException

from keyfob import config
from keyfob.kube import KubeCluster
from keyfob.lifecycle.inputs import Inputs
from keyfob.lifecycle.ports import ResolvedProvider
from keyfob.lifecycle.request_view import RequestView
from keyfob.provider_access import ProviderResolver

NO_UID = "00000000-0000-0000-0000-000000000000"  # a request not yet created


def request_body(kube: KubeCluster, path: str | None, name: str | None, namespace: str | None,
                 default_namespace: str = "default") -> dict[str, Any]:
    """The request from `path` (its status taken from the cluster's object of that name, if any) or the
    cluster's object `name`. Namespace: `namespace` (-n), else the file's, else `default_namespace` (the
    kubeconfig context's, as kubectl)."""
    if path is not None:
        text = Path(path).read_text() if path != "-" else sys.stdin.read()
        body: dict[str, Any] = dict(yaml.safe_load(text) or {})
        meta = body.setdefault("metadata", {})
        meta["namespace"] = namespace or meta.get("namespace") or default_namespace
        live = kube.get_request(meta["namespace"], meta.get("name") or "")
        meta.setdefault("name", "preview")
        meta["uid"] = (live or {}).get("metadata", {}).get("uid") or meta.get("uid") or NO_UID
        if live is not None:
            body["status"] = live.get("status") or {}
        return body
    found = kube.get_request(namespace or default_namespace, name or "")
    if found is None:
        raise SystemExit(f"accesskeyrequest {namespace or default_namespace}/{name} not found")
    return found


def gather(kube: KubeCluster, view: RequestView, cluster_id: str | None) -> Inputs:
    settings = config.from_env()
    if cluster_id:
        settings = dataclasses.replace(settings, cluster_id=cluster_id)
    provider: ResolvedProvider = ProviderResolver(kube, settings).resolve(view.namespace, view.spec.provider_ref)
    labels: dict[str, str] = {}
    if provider.spec.guardrails.allowed_namespaces is not None:
        try:
            labels = dict(kube.namespace_labels(view.namespace))
        except ApiException:
            labels = {}  # the caller may not read namespaces: a label selector is judged on no labels
    return Inputs(view, datetime.now(UTC), kube.get_secret(view.namespace, view.spec.secret_name), provider,
                  namespace_labels=labels)

