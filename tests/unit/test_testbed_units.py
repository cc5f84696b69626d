"""Unit tests for the pure (or cheap, local) pieces of keyfob_testbed."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from keyfob_testbed import binaries, wait_for
from keyfob_testbed.kubeconfig import read_target, render_kubeconfig, write_kubeconfig
from keyfob_testbed.moto_peer import _parse_record
from keyfob_testbed.ports import free_port, free_ports, port_is_open
from keyfob_testbed.processes import ManagedProcess
from keyfob_testbed.pytest_plugin import namespace_name
from keyfob_testbed.waiting import WaitTimeout
from keyfob_testbed.workdirs import make_workdir, sweep_stale_workdirs

# -- ports --------------------------------------------------------------------------------------------


def test_free_ports_are_distinct_and_bindable() -> None:
    ports = free_ports(8)
    assert len(set(ports)) == 8
    for port in ports:
        assert 1024 <= port <= 65535
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_port_is_open_sees_a_listener() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        assert port_is_open(sock.getsockname()[1])
    assert not port_is_open(free_port())


def test_free_ports_rejects_zero() -> None:
    with pytest.raises(ValueError):
        free_ports(0)


# -- wait_for -----------------------------------------------------------------------------------------


def test_wait_for_returns_the_truthy_value() -> None:
    calls = iter([None, 0, "", "done"])
    assert wait_for(lambda: next(calls), timeout=5, interval=0.001, what="x") == "done"


def test_wait_for_names_what_it_awaited_and_chains_the_last_error() -> None:
    def boom() -> bool:
        raise KeyError("nope")

    with pytest.raises(WaitTimeout, match=r"waiting for the thing to happen.*KeyError") as info:
        wait_for(boom, timeout=0.05, interval=0.01, what="the thing to happen")
    assert isinstance(info.value.__cause__, KeyError)
    assert isinstance(info.value, AssertionError)


# -- kubeconfig ---------------------------------------------------------------------------------------


def test_render_kubeconfig_with_client_cert(tmp_path: Path) -> None:
    config = render_kubeconfig(
        server="https://127.0.0.1:6443",
        ca_pem=b"CA",
        user="keyfob-admin",
        client_cert_pem=b"CERT",
        client_key_pem=b"KEY",
    )
    assert config["current-context"] == "keyfob-admin@keyfob-test"
    (cluster,) = config["clusters"]
    assert cluster["cluster"] == {
        "server": "https://127.0.0.1:6443",
        "certificate-authority-data": base64.b64encode(b"CA").decode(),
    }
    (user,) = config["users"]
    assert base64.b64decode(user["user"]["client-key-data"]) == b"KEY"
    path = write_kubeconfig(tmp_path / "sub" / "kc", config)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert yaml.safe_load(path.read_text()) == config
    target = read_target(path)
    assert (target.server, target.ca_pem, target.insecure) == ("https://127.0.0.1:6443", b"CA", False)


def test_render_kubeconfig_with_token_and_namespace() -> None:
    config = render_kubeconfig(server="https://s", ca_pem=None, user="sa", token="t0k", namespace="ns1")
    assert config["users"][0]["user"] == {"token": "t0k"}
    assert config["contexts"][0]["context"] == {"cluster": "keyfob-test", "user": "sa", "namespace": "ns1"}
    assert config["clusters"][0]["cluster"]["insecure-skip-tls-verify"] is True


@pytest.mark.parametrize(
    "kwargs",
    [
        {},  # no identity
        {"token": "t", "client_cert_pem": b"c", "client_key_pem": b"k"},  # two identities
        {"client_cert_pem": b"c"},  # cert without key
    ],
)
def test_render_kubeconfig_needs_exactly_one_identity(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        render_kubeconfig(server="https://s", ca_pem=b"CA", user="u", **kwargs)  # type: ignore[arg-type]


def test_read_target_resolves_a_relative_ca_file(tmp_path: Path) -> None:
    (tmp_path / "ca.crt").write_bytes(b"PEM")
    config = {
        "clusters": [{"name": "c", "cluster": {"server": "https://x", "certificate-authority": "ca.crt"}}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
        "users": [{"name": "u", "user": {}}],
        "current-context": "ctx",
    }
    (tmp_path / "kc").write_text(yaml.safe_dump(config))
    assert read_target(tmp_path / "kc").ca_pem == b"PEM"


# -- source selection ---------------------------------------------------------------------------------


def _assets(tmp_path: Path, names: tuple[str, ...] = ("etcd", "kube-apiserver")) -> Path:
    assets = tmp_path / "assets"
    assets.mkdir()
    for name in names:
        exe = assets / name
        exe.write_text("#!/bin/sh\n")
        exe.chmod(0o755)
    return assets


def test_existing_cluster_wins_over_assets(tmp_path: Path) -> None:
    kc = tmp_path / "kc"
    kc.write_text("{}")
    env = {"KEYFOB_TEST_KUBECONFIG": str(kc), "KUBEBUILDER_ASSETS": str(_assets(tmp_path)), "HOME": "/h"}
    assert binaries.select_source(env) == binaries.ClusterSource("existing", kc)


def test_assets_win_over_build(tmp_path: Path) -> None:
    assets = _assets(tmp_path)
    env = {"KEYFOB_TEST_KUBECONFIG": "  ", "KUBEBUILDER_ASSETS": str(assets), "HOME": "/h"}
    assert binaries.select_source(env) == binaries.ClusterSource("assets", assets)


def test_build_is_the_fallback_and_respects_xdg_cache_home() -> None:
    assert binaries.select_source({"HOME": "/h"}) == binaries.ClusterSource("build", Path("/h/.cache/keyfob/envtest"))
    env = {"HOME": "/h", "XDG_CACHE_HOME": "/xdg", "KUBEBUILDER_ASSETS": ""}
    assert binaries.select_source(env).path == Path("/xdg/keyfob/envtest")
    # The XDG spec says relative paths are invalid and must be ignored.
    assert binaries.cache_root({"HOME": "/h", "XDG_CACHE_HOME": "rel"}) == Path("/h/.cache/keyfob/envtest")


def test_a_set_but_broken_source_is_an_error_not_a_fallback(tmp_path: Path) -> None:
    with pytest.raises(binaries.BinariesError, match="KEYFOB_TEST_KUBECONFIG"):
        binaries.select_source({"KEYFOB_TEST_KUBECONFIG": str(tmp_path / "missing")})
    assets = _assets(tmp_path, ("etcd",))
    with pytest.raises(binaries.BinariesError, match="kube-apiserver"):
        binaries.select_source({"KUBEBUILDER_ASSETS": str(assets)})


def test_assets_without_controller_manager(tmp_path: Path) -> None:
    source = binaries.ClusterSource("assets", _assets(tmp_path))
    found = binaries.ensure_binaries(source, {})
    assert found is not None
    assert found.kube_controller_manager is None
    assert found.kube_apiserver == tmp_path / "assets" / "kube-apiserver"


def test_module_dir_and_version_of_this_repo() -> None:
    module = binaries.find_module_dir({})
    assert module is not None
    assert (module / "go.mod").is_file()
    assert module.parts[-2:] == ("tests", "envtest")
    assert binaries.kubernetes_version(module).startswith("v1.")
    assert binaries.kubernetes_version(None) == binaries.DEFAULT_KUBERNETES_VERSION


def test_module_dir_from_env_and_version_from_go_mod(tmp_path: Path) -> None:
    (tmp_path / "go.mod").write_text(
        "module x\n\ngo 1.26\n\nrequire (\n\tgo.etcd.io/etcd/server/v3 v3.6.5\n\tk8s.io/kubernetes v1.36.1\n)\n"
    )
    assert binaries.find_module_dir({"KEYFOB_ENVTEST_MODULE": str(tmp_path)}) == tmp_path
    assert binaries.kubernetes_version(tmp_path) == "v1.36.1"
    with pytest.raises(binaries.BinariesError):
        binaries.find_module_dir({"KEYFOB_ENVTEST_MODULE": str(tmp_path / "nope")})


def test_go_build_command_stamps_the_version() -> None:
    cmd = binaries.go_build_command("v1.35.4", Path("/out"))
    ldflags = cmd[cmd.index("-ldflags") + 1]
    assert "version.gitVersion=v1.35.4" in ldflags
    assert "version.gitMajor=1" in ldflags
    assert "version.gitMinor=35" in ldflags
    assert cmd[-2:] == ["/out/", "./cmd/..."]


def test_build_is_atomic_and_happens_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fake `go` proves: build into a temp dir, rename into place, and a second call does not build."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    fake_go = bin_dir / "go"
    fake_go.write_text(
        textwrap.dedent(
            f"""\
            #!/bin/sh
            echo "$PWD $GOTOOLCHAIN $CGO_ENABLED" >> {calls}
            for a in "$@"; do case "$prev" in -o) out="$a";; esac; prev="$a"; done
            for n in etcd kube-apiserver kube-controller-manager; do
              printf '#!/bin/sh\\n' > "$out$n"; chmod +x "$out$n"
            done
            """
        )
    )
    fake_go.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    module = tmp_path / "module"
    module.mkdir()
    (module / "go.mod").write_text("module x\nrequire k8s.io/kubernetes v1.35.4\n")
    env = {"KEYFOB_ENVTEST_MODULE": str(module), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    source = binaries.select_source(env)
    first = binaries.ensure_binaries(source, env)
    second = binaries.ensure_binaries(source, env)
    assert first == second
    assert first is not None and first.kube_controller_manager is not None
    assert first.etcd == tmp_path / "cache" / "keyfob" / "envtest" / "v1.35.4" / "etcd"
    assert calls.read_text().splitlines() == [f"{module} local 0"]
    assert stat.S_IMODE(first.etcd.parent.stat().st_mode) == 0o755
    leftovers = [p.name for p in (tmp_path / "cache" / "keyfob" / "envtest").iterdir()]
    assert sorted(leftovers) == [".v1.35.4.lock", "v1.35.4"]


# -- processes and work dirs ---------------------------------------------------------------------------


def test_managed_process_stops_by_pid(tmp_path: Path) -> None:
    proc = ManagedProcess("sleeper", ["sleep", "60"], tmp_path / "log")
    assert proc.alive()
    assert os.getpgid(proc.pid) == proc.pid  # its own session / process group
    proc.stop(timeout=5)
    assert not proc.alive()
    assert proc.returncode == -signal.SIGTERM


def test_managed_process_escalates_to_sigkill(tmp_path: Path) -> None:
    script = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"
    )
    proc = ManagedProcess("stubborn", [sys.executable, "-c", script], tmp_path / "log")
    wait_for(lambda: "ready" in proc.log_tail(), 10, 0.02, "the child to ignore SIGTERM")
    started = time.monotonic()
    proc.stop(timeout=0.3)
    assert proc.returncode == -signal.SIGKILL
    assert time.monotonic() - started < 5


def test_children_die_with_a_sigkilled_parent(tmp_path: Path) -> None:
    """PR_SET_PDEATHSIG: a parent killed with SIGKILL (no atexit) still takes its children along."""
    pid_file = tmp_path / "child.pid"
    parent_code = textwrap.dedent(
        f"""\
        import pathlib, time
        from keyfob_testbed.processes import ManagedProcess
        p = ManagedProcess("sleeper", ["sleep", "60"], pathlib.Path({str(tmp_path / "log")!r}))
        pathlib.Path({str(pid_file)!r}).write_text(str(p.pid))
        time.sleep(60)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code])
    try:
        child = int(wait_for(lambda: pid_file.exists() and pid_file.read_text(), 20, 0.02, "the child pid"))
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()

        def child_gone() -> bool:
            try:
                state = Path(f"/proc/{child}/stat").read_text().split(")")[-1].split()[0]
            except FileNotFoundError:
                return True
            return state == "Z"  # killed, waiting for init to reap it

        wait_for(child_gone, 10, 0.02, "the orphaned child to be killed by PR_SET_PDEATHSIG")
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def test_sweep_removes_only_dead_owners(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    mine = make_workdir("keyfob-envtest-")
    dead = make_workdir("keyfob-moto-")
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    (dead / "owner.pid").write_text(finished.stdout.decode())
    foreign = tmp_path / "keyfob-envtest-foreign"  # no owner file: not ours to judge
    foreign.mkdir()
    assert sweep_stale_workdirs(tmp_root=tmp_path) == [dead]
    assert mine.exists() and foreign.exists() and not dead.exists()


# -- small helpers ------------------------------------------------------------------------------------


@pytest.mark.parametrize("test_name", ["test_x", "test_Weird[param/1]-" + "y" * 80, "___"])
def test_namespace_names_are_dns_labels(test_name: str) -> None:
    import re

    name = namespace_name(test_name)
    assert len(name) <= 63
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name), name
    assert namespace_name(test_name) != name  # unique per call


def _record(headers: dict[str, str], body: bytes, url: str = "http://127.0.0.1:1/", method: str = "POST") -> str:
    return json.dumps(
        {
            "headers": headers,
            "method": method,
            "url": url,
            "body": base64.b64encode(body).decode(),
            "body_encoded": True,
        }
    )


FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


def test_parse_signed_iam_record() -> None:
    auth = "AWS4-HMAC-SHA256 Credential=AKIA1/20260101/us-east-1/iam/aws4_request, SignedHeaders=h, Signature=s"
    call = _parse_record(_record({**FORM, "Authorization": auth}, b"Action=CreateUser&Version=2010-05-08&UserName=u"))
    assert (call.service, call.action, call.access_key) == ("iam", "CreateUser", "AKIA1")


def test_parse_unsigned_iam_and_sts_records() -> None:
    assert _parse_record(_record(FORM, b"Action=ListUsers&Version=2010-05-08")).service == "iam"
    sts = _parse_record(_record(FORM, b"Action=GetCallerIdentity&Version=2011-06-15"))
    assert (sts.service, sts.action) == (None, "GetCallerIdentity")


def test_parse_s3_record() -> None:
    auth = "AWS4-HMAC-SHA256 Credential=AKIA2/20260101/us-east-1/s3/aws4_request, SignedHeaders=h, Signature=s"
    call = _parse_record(_record({"Authorization": auth}, b"Action=not-a-form", "http://h/bucket/key", "PUT"))
    assert (call.service, call.action, call.path, call.method) == ("s3", None, "/bucket/key", "PUT")


def test_node_binaries_build_only_what_the_cache_lacks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The control plane is cached; asking for the node builds kubelet, kube-scheduler and pause only."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    fake_go = bin_dir / "go"
    fake_go.write_text(
        textwrap.dedent(
            f"""\
            #!/bin/sh
            echo "$@" >> {calls}
            for a in "$@"; do
              case "$prev" in -o) out="$a";; esac; prev="$a"
              case "$a" in ./cmd/*) n="${{a#./cmd/}}"; printf '#!/bin/sh\\n' > "$out$n"; chmod +x "$out$n";; esac
            done
            """
        )
    )
    fake_go.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    module = tmp_path / "module"
    module.mkdir()
    (module / "go.mod").write_text("module x\nrequire k8s.io/kubernetes v1.35.4\n")
    env = {"KEYFOB_ENVTEST_MODULE": str(module), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    cached = tmp_path / "cache" / "keyfob" / "envtest" / "v1.35.4"
    cached.mkdir(parents=True)
    for name in binaries.BUILT:
        (cached / name).write_text("#!/bin/sh\n")
        (cached / name).chmod(0o755)
    node = binaries.ensure_node_binaries(env)
    assert node.kubelet == cached / "kubelet" and node.pause == cached / "pause"
    assert binaries.ensure_node_binaries(env) == node
    built = calls.read_text().splitlines()
    assert len(built) == 1, built
    assert built[0].split()[-3:] == ["./cmd/kubelet", "./cmd/kube-scheduler", "./cmd/pause"]
    assert binaries.ensure_binaries(binaries.select_source(env), env) is not None
    assert len(calls.read_text().splitlines()) == 1, "the control plane was cached: nothing more is built"


def test_postrender_patches_only_the_operator_deployment() -> None:
    from keyfob_testbed.e2e import patch_operator_deployment

    deployment = {"kind": "Deployment", "spec": {"template": {"spec": {"containers": [
        {"name": "keyfob", "env": [{"name": "KEYFOB_CLUSTER_ID", "value": "x"}, {"name": "KEYFOB_TICK_SECONDS",
                                                                                  "value": "30"}]}]}}}}
    service = {"kind": "Service", "spec": {"ports": []}}
    env = [{"name": "KUBERNETES_SERVICE_HOST", "value": "127.0.0.1"}, {"name": "KEYFOB_TICK_SECONDS", "value": "2"}]
    patch_operator_deployment(deployment, host_network=True, env=env)
    patch_operator_deployment(service, host_network=True, env=env)
    pod = deployment["spec"]["template"]["spec"]
    assert pod["hostNetwork"] is True and pod["dnsPolicy"] == "ClusterFirstWithHostNet"
    assert pod["containers"][0]["env"] == [{"name": "KEYFOB_CLUSTER_ID", "value": "x"}, *env]
    assert service == {"kind": "Service", "spec": {"ports": []}}


def test_kubelet_config_carries_what_this_host_needs(tmp_path: Path) -> None:
    from keyfob_testbed.node import kubelet_config

    class FakeContainerd:
        endpoint = "unix:///run/x.sock"

    config = kubelet_config(tmp_path, tmp_path / "ca", tmp_path / "c", tmp_path / "k", FakeContainerd(),  # type: ignore[arg-type]
                            10250, 10248)
    assert config["failCgroupV1"] is False and config["cgroupDriver"] == "cgroupfs"
    assert config["cgroupsPerQOS"] is False and config["enforceNodeAllocatable"] == []
    assert config["address"] == "127.0.0.1" and config["healthzBindAddress"] == "127.0.0.1"
    assert config["imageGCHighThresholdPercent"] == 100, "imported images must never be collected"


def test_e2e_node_says_in_one_line_what_a_host_lacks(monkeypatch: pytest.MonkeyPatch) -> None:
    from keyfob_testbed import containerd, node

    monkeypatch.setattr(node.os, "geteuid", lambda: 0)
    monkeypatch.setattr(containerd.shutil, "which", lambda name: None if name in ("buildah", "runc") else "/x")
    reason = node.unavailable_reason()
    assert reason is not None and "\n" not in reason
    assert "apt-get install runc buildah" in reason
    monkeypatch.setattr(node.os, "geteuid", lambda: 1000)
    assert node.unavailable_reason() == "the e2e node needs root (containerd, runc and the kubelet run as root)"
