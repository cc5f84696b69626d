"""Render, write and read kubeconfig files (client certificate or bearer token identities)."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def render_kubeconfig(
    *,
    server: str,
    ca_pem: bytes | None,
    user: str,
    client_cert_pem: bytes | None = None,
    client_key_pem: bytes | None = None,
    token: str | None = None,
    cluster: str = "keyfob-test",
    namespace: str | None = None,
) -> dict[str, Any]:
    """Return a kubeconfig (as a dict) with one cluster, one user and one current context.

    Exactly one identity must be given: a client certificate + key, or a bearer token. Everything is
    embedded (``*-data`` fields), so the file is self-contained. Without ``ca_pem`` the server certificate
    is not verified (only for existing clusters whose kubeconfig has no CA).
    """
    has_cert = client_cert_pem is not None or client_key_pem is not None
    if has_cert and (client_cert_pem is None or client_key_pem is None):
        raise ValueError("client_cert_pem and client_key_pem go together")
    if has_cert == (token is not None):
        raise ValueError("give exactly one identity: a client certificate and key, or a token")
    cluster_entry: dict[str, Any] = {"server": server}
    if ca_pem is not None:
        cluster_entry["certificate-authority-data"] = _b64(ca_pem)
    else:
        cluster_entry["insecure-skip-tls-verify"] = True
    user_entry: dict[str, Any] = {}
    if token is not None:
        user_entry["token"] = token
    else:
        assert client_cert_pem is not None and client_key_pem is not None
        user_entry["client-certificate-data"] = _b64(client_cert_pem)
        user_entry["client-key-data"] = _b64(client_key_pem)
    context_name = f"{user}@{cluster}"
    context: dict[str, Any] = {"cluster": cluster, "user": user}
    if namespace is not None:
        context["namespace"] = namespace
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": cluster, "cluster": cluster_entry}],
        "users": [{"name": user, "user": user_entry}],
        "contexts": [{"name": context_name, "context": context}],
        "current-context": context_name,
    }


def write_kubeconfig(path: Path, config: dict[str, Any]) -> Path:
    """Write ``config`` to ``path`` (mode 0600, atomically) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        yaml.safe_dump(config, fh, sort_keys=False)
    os.replace(tmp, path)
    return path


@dataclass(frozen=True)
class KubeconfigTarget:
    """The server and CA of a kubeconfig's current context."""

    server: str
    ca_pem: bytes | None
    insecure: bool


def _named(entries: list[dict[str, Any]] | None, name: str, kind: str) -> dict[str, Any]:
    for entry in entries or []:
        if entry.get("name") == name:
            return dict(entry.get(kind) or {})
    raise ValueError(f"kubeconfig has no {kind} named {name!r}")


def read_target(path: Path, context: str | None = None) -> KubeconfigTarget:
    """Read the server URL and CA of ``context`` (default: the current context) from a kubeconfig."""
    config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    ctx_name = context or config.get("current-context")
    if not ctx_name:
        raise ValueError(f"{path}: no current-context")
    ctx = _named(config.get("contexts"), ctx_name, "context")
    cluster = _named(config.get("clusters"), ctx["cluster"], "cluster")
    ca_pem: bytes | None = None
    if cluster.get("certificate-authority-data"):
        ca_pem = base64.b64decode(cluster["certificate-authority-data"])
    elif cluster.get("certificate-authority"):
        ca_path = Path(cluster["certificate-authority"])
        if not ca_path.is_absolute():
            ca_path = path.parent / ca_path
        ca_pem = ca_path.read_bytes()
    return KubeconfigTarget(
        server=str(cluster["server"]),
        ca_pem=ca_pem,
        insecure=bool(cluster.get("insecure-skip-tls-verify", False)),
    )
