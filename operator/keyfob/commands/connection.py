"""kubectl's conventions for the commands that talk to a cluster, so `kubectl keyfob X` and `keyfob X` reach the
same cluster and namespace as `kubectl get` would:

- kubeconfig: `--kubeconfig FILE`, else `KUBECONFIG` (a ':'-separated list, merged), else `~/.kube/config`; only
  when none of them exists (and no `--context` was asked for) the in-cluster config of a pod;
- `--context NAME` (default: the kubeconfig's current context);
- namespace: `-n/--namespace`, else the context's namespace, else the pod's own (in-cluster), else `default`;
  `-A/--all-namespaces` where a command lists.

kubectl passes every argument after the plugin's name to it unchanged and refuses flags placed before the name
(`kubectl keyfob status --context c`, not `kubectl --context c keyfob status`), so keyfob parses them itself."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml
from kubernetes import client, config
from kubernetes.config.config_exception import ConfigException

DEFAULT_KUBECONFIG = "~/.kube/config"
POD_NAMESPACE_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def add_options(parser: argparse.ArgumentParser, *, namespace: bool = True, all_namespaces: bool = False) -> None:
    """--kubeconfig and --context (accepted before or after the subcommand), -n and, for listings, -A."""
    add_cluster_options(parser)
    if namespace:
        parser.add_argument("-n", "--namespace", default=None,
                            help="the namespace (default: the kubeconfig context's namespace, else 'default')")
    if all_namespaces:
        parser.add_argument("-A", "--all-namespaces", action="store_true",
                            help="every namespace (overrides -n)")


def add_cluster_options(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: a subcommand's parser must not reset a value given before the subcommand.
    parser.add_argument("--kubeconfig", default=argparse.SUPPRESS, metavar="FILE",
                        help="the kubeconfig file (default: KUBECONFIG, else ~/.kube/config, else in-cluster)")
    parser.add_argument("--context", default=argparse.SUPPRESS, metavar="NAME",
                        help="the kubeconfig context (default: its current context)")


@dataclass(frozen=True)
class Target:
    """Where the options point: kubeconfig file(s) and a context, or (neither existing) the pod's own config."""

    files: str | None  # for the Python client: paths joined by os.pathsep, each existing
    context: str | None  # the named context, else the current one (the first file's that sets it, as kubectl)
    in_cluster: bool


def _current_context(paths: list[str]) -> str | None:
    for path in paths:  # kubectl: the first file that sets current-context wins (the Python client: the last)
        try:
            loaded = yaml.safe_load(Path(path).expanduser().read_text()) or {}
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(loaded, dict) and loaded.get("current-context"):
            return str(loaded["current-context"])
    return None


def target(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> Target:
    env = os.environ if environ is None else environ
    explicit: str | None = getattr(args, "kubeconfig", None)
    context: str | None = getattr(args, "context", None)
    if explicit:
        if not Path(explicit).expanduser().is_file():
            raise SystemExit(f"keyfob: --kubeconfig {explicit}: no such file")
        found = [explicit]
    else:
        listed = [p for p in env.get("KUBECONFIG", "").split(os.pathsep) if p] or [DEFAULT_KUBECONFIG]
        found = [p for p in listed if Path(p).expanduser().is_file()]
    if not found:
        if context is None and env.get("KUBERNETES_SERVICE_HOST"):
            return Target(None, None, in_cluster=True)
        raise SystemExit(f"keyfob: no kubeconfig (--kubeconfig, KUBECONFIG or {DEFAULT_KUBECONFIG})"
                         + (" and not in a pod" if context is None else ""))
    return Target(os.pathsep.join(found), context or _current_context(found), in_cluster=False)


def api_client(args: argparse.Namespace) -> client.ApiClient:
    """A client for the cluster the options name (its own configuration: nothing global is changed, and the
    kubeconfig is never written)."""
    where = target(args)
    configuration = client.Configuration()
    try:
        if where.in_cluster:
            config.load_incluster_config(client_configuration=configuration)
        else:
            config.load_kube_config(config_file=where.files, context=where.context,
                                    client_configuration=configuration, persist_config=False)
    except ConfigException as err:
        raise SystemExit(f"keyfob: {err}") from None
    return client.ApiClient(configuration)


def namespace(args: argparse.Namespace) -> str:
    """-n, else the context's namespace (in a pod: its own), else 'default'."""
    given: str | None = getattr(args, "namespace", None)
    if given:
        return given
    where = target(args)
    if where.in_cluster:
        try:
            return POD_NAMESPACE_FILE.read_text().strip() or "default"
        except OSError:
            return "default"
    try:
        contexts, _ = config.list_kube_config_contexts(config_file=where.files)
    except ConfigException as err:
        raise SystemExit(f"keyfob: {err}") from None
    chosen = next((c for c in contexts or [] if c.get("name") == where.context), None)
    if where.context and chosen is None:
        raise SystemExit(f"keyfob: context {where.context!r} not found in the kubeconfig")
    return str(((chosen or {}).get("context") or {}).get("namespace") or "default")
