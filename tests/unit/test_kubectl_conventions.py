"""`keyfob` / `kubectl keyfob`: kubectl's rules for which kubeconfig, context and namespace a command uses, and the
one parser both names share."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest
import yaml

from keyfob import cli
from keyfob.commands import connection


def kubeconfig(path: Path, current: str | None, contexts: dict[str, str | None]) -> Path:
    doc: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": name, "context": {"cluster": "c", "user": "u", **({"namespace": ns} if ns else {})}}
                     for name, ns in contexts.items()],
    }
    if current:
        doc["current-context"] = current
    path.write_text(yaml.safe_dump(doc))
    return path


def args(**given: Any) -> argparse.Namespace:
    return argparse.Namespace(**given)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.kube/config unless a test writes one
    for name in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_kubeconfig_flag_wins_over_the_environment(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    a = kubeconfig(tmp_path / "a", "ctx-a", {"ctx-a": "ns-a"})
    b = kubeconfig(tmp_path / "b", "ctx-b", {"ctx-b": "ns-b"})
    env.setenv("KUBECONFIG", str(a))
    assert connection.target(args(kubeconfig=str(b))) == connection.Target(str(b), "ctx-b", in_cluster=False)
    assert connection.namespace(args(kubeconfig=str(b))) == "ns-b"
    assert connection.namespace(args()) == "ns-a"


def test_kubeconfig_list_merges_and_the_first_current_context_wins(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    a = kubeconfig(tmp_path / "a", "ctx-a", {"ctx-a": "ns-a"})
    b = kubeconfig(tmp_path / "b", "ctx-b", {"ctx-b": "ns-b"})
    env.setenv("KUBECONFIG", f"{tmp_path / 'missing'}:{a}:{b}")
    assert connection.target(args()) == connection.Target(f"{a}:{b}", "ctx-a", in_cluster=False)
    assert connection.namespace(args()) == "ns-a"
    assert connection.namespace(args(context="ctx-b")) == "ns-b"  # a context of the second file
    assert connection.namespace(args(context="ctx-b", namespace="given")) == "given"


def test_namespace_defaults_to_default_and_an_unknown_context_is_an_error(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env.setenv("KUBECONFIG", str(kubeconfig(tmp_path / "a", "plain", {"plain": None})))
    assert connection.namespace(args()) == "default"
    with pytest.raises(SystemExit, match="context 'nope' not found"):
        connection.namespace(args(context="nope"))


def test_home_kubeconfig_then_in_cluster_then_nothing(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="no kubeconfig"):
        connection.target(args())
    env.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    assert connection.target(args()).in_cluster
    with pytest.raises(SystemExit, match="no kubeconfig"):  # a context needs a kubeconfig, even in a pod
        connection.target(args(context="x"))
    (tmp_path / "home" / ".kube").mkdir(parents=True)
    home = kubeconfig(tmp_path / "home" / ".kube" / "config", "h", {"h": "ns-h"})
    assert connection.target(args()) == connection.Target("~/.kube/config", "h", in_cluster=False)
    assert home.is_file() and connection.namespace(args()) == "ns-h"  # a kubeconfig wins over in-cluster
    with pytest.raises(SystemExit, match="no such file"):
        connection.target(args(kubeconfig=str(tmp_path / "absent")))


@pytest.mark.parametrize(("argv0", "prog"), [
    ("/usr/local/bin/kubectl-keyfob", "kubectl keyfob"), ("kubectl-keyfob", "kubectl keyfob"),
    ("/venv/bin/keyfob", "keyfob"), ("python -m keyfob", "keyfob"),
])
def test_the_plugin_names_itself_as_kubectl_does(argv0: str, prog: str) -> None:
    assert cli.prog_name(argv0) == prog


def test_kubectl_flags_after_the_subcommand_or_before_it() -> None:
    parser = cli.parser("kubectl keyfob")
    got = parser.parse_args(["status", "-A", "-o", "wide", "--context", "c", "--kubeconfig", "k"])
    assert (got.all_namespaces, got.output, got.context, got.kubeconfig) == (True, "wide", "c", "k")
    got = parser.parse_args(["--context", "c", "rotate", "app", "-n", "team-a"])
    assert (got.context, got.namespace, got.name) == ("c", "team-a", "app")  # not reset by the subcommand
    got = parser.parse_args(["preview", "-f", "r.yaml", "--context", "c"])
    assert (got.file, got.context, got.namespace) == ("r.yaml", "c", None)
    assert parser.parse_args(["revoke", "-n", "team-a", "--reason", "x"]).namespace == "team-a"
    assert parser.parse_args(["approve", "app", "--deny"]).deny


def test_every_command_is_there_under_both_names() -> None:
    def commands(parser: argparse.ArgumentParser) -> set[str]:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        return set(sub.choices)

    assert commands(cli.parser("kubectl keyfob")) == commands(cli.parser()) == {
        "run", "crds", "rotate", "approve", "status", "preview", "revoke"}
