"""Issue 19 on the real API server + moto: `kubectl keyfob` is the `keyfob` CLI run by a real kubectl as a plugin
(the `kubectl-keyfob` console script on PATH). Two requests are issued, one is rotated with `kubectl keyfob rotate`
(the keyfob.dev/rotate annotation), and `kubectl keyfob status` shows each row: revision 2 for the rotated one with
its previous key in grace and when it is revoked, expiry and next rotation; the namespace comes from the
kubeconfig context, as for `kubectl get`. Without a kubectl on PATH the console script is run directly (the test
says so)."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from keyfob.commands.status_table import stamp
from keyfob_testbed.operator_fixtures import AwsSetup, LeakWatch
from keyfob_testbed.waiting import wait_for

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent  # where the venv put the keyfob and kubectl-keyfob console scripts
KUBECTL = shutil.which("kubectl")


def contexts_kubeconfig(admin: Path, path: Path, namespace: str, empty: str) -> Path:
    """The admin kubeconfig with two contexts: `work` (current, namespace = the test's) and `empty`."""
    doc = yaml.safe_load(admin.read_text())
    base = next(c for c in doc["contexts"] if c["name"] == doc["current-context"])["context"]
    doc["contexts"] = [{"name": "work", "context": {**base, "namespace": namespace}},
                       {"name": "empty", "context": {**base, "namespace": empty}}]
    doc["current-context"] = "work"
    path.write_text(yaml.safe_dump(doc))
    return path


class Plugin:
    """`kubectl keyfob ARGS` through the real kubectl, or `kubectl-keyfob ARGS` without one."""

    def __init__(self, kubeconfig: Path, home: Path) -> None:
        home.mkdir(exist_ok=True)
        self.env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(home),
                    "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
        self.script = BIN / "kubectl-keyfob"
        assert self.script.is_file(), "the kubectl-keyfob console script is not installed (pip install -e .)"
        self.outputs: list[str] = []

    def argv(self, *args: str) -> list[str]:
        return [KUBECTL, "keyfob", *args] if KUBECTL else [str(self.script), *args]

    def __call__(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(self.argv(*args), env=self.env, capture_output=True, text=True, timeout=120,
                              check=False)
        self.outputs += [done.stdout, done.stderr]
        if ok:
            assert done.returncode == 0, f"{self.argv(*args)}: {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done

    def keyfob(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The same command as plain `keyfob`."""
        done = subprocess.run([str(BIN / "keyfob"), *args], env=self.env, capture_output=True, text=True,
                              timeout=120, check=True)
        self.outputs += [done.stdout, done.stderr]
        return done


def table(text: str) -> tuple[list[str], dict[str, list[str]], dict[str, list[str]]]:
    """(header, cells by request name, the indented lines under each row)."""
    lines = text.rstrip("\n").splitlines()
    header = re.split(r" {3,}", lines[0].strip())
    rows: dict[str, list[str]] = {}
    under: dict[str, list[str]] = {}
    name = ""
    for line in lines[1:]:
        if line.startswith("  "):
            under[name].append(line.strip())
            continue
        cells = re.split(r" {3,}", line.strip())
        name = cells[header.index("NAME")]
        rows[name] = cells
        under[name] = []
    return header, rows, under


def wait_revision(aws: AwsSetup, name: str, revision: int) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        obj = aws.objects.get_request(name) or {}
        status = obj.get("status") or {}
        ready = aws.objects.ready_condition(obj)
        settled = ready and ready["status"] == "True" and not status.get("pending")
        return status if settled and status.get("revision") == revision else None

    return wait_for(check, 90, 0.2, f"{name} at revision {revision}")


def test_kubectl_keyfob_status_shows_rotation_grace_expiry_and_next_rotation(
    aws_setup: AwsSetup, test_cluster: Any, leak_watch: LeakWatch, tmp_path: Path
) -> None:
    objects, ns = aws_setup.objects, aws_setup.objects.namespace
    empty = f"kf-nothing-here-{secrets.token_hex(3)}"
    plugin = Plugin(contexts_kubeconfig(Path(test_cluster.kubeconfig), tmp_path / "kubeconfig", ns, empty),
                    tmp_path / "home")
    print(f"running: {' '.join(plugin.argv('status'))}" + ("" if KUBECTL else
          "  (no kubectl on PATH: the kubectl-keyfob console script is run directly)"))

    objects.request("alpha", aws_setup.request_spec("alpha-s3", permissions=["read", "list"]))
    objects.request("beta", aws_setup.request_spec("beta-s3", buckets=[{"name": aws_setup.bucket,
                                                                        "prefix": "reports/"}],
                                                   rotationGracePeriod="15m"))
    alpha = wait_revision(aws_setup, "alpha", 1)
    beta_first = wait_revision(aws_setup, "beta", 1)

    rotated = plugin("rotate", "beta")  # no -n: the context's namespace, as kubectl
    assert "rotation requested" in rotated.stdout
    beta = wait_revision(aws_setup, "beta", 2)
    for name in ("alpha-s3", "beta-s3"):
        leak_watch.add_secret_data(objects.secret_data(name))
    assert [k["accessKeyId"] for k in beta["previousKeys"]] == [beta_first["accessKeyId"]]

    shown = plugin("status").stdout
    print("STATUS\n" + shown)
    header, rows, under = table(shown)
    assert header == ["NAME", "PROVIDER", "SCOPE", "REVISION", "READY", "REASON", "EXPIRES", "NEXT ROTATION"]
    assert set(rows) == {"alpha", "beta"}
    col = {title: i for i, title in enumerate(header)}
    a, b = rows["alpha"], rows["beta"]
    assert [a[col["PROVIDER"]], a[col["REVISION"]], a[col["READY"]], a[col["REASON"]]] == \
        ["AccessKeyProvider/aws", "1", "True", "Issued"]
    assert a[col["SCOPE"]] == f"list, read on {aws_setup.bucket}"
    assert [b[col["PROVIDER"]], b[col["REVISION"]], b[col["READY"]], b[col["REASON"]]] == \
        ["AccessKeyProvider/aws", "2", "True", "Issued"]
    assert b[col["SCOPE"]] == f"list, read, write on {aws_setup.bucket}/reports/*"
    for cells in (a, b):  # ttl 1h, renewBefore a third of it (minus a jitter of up to 2 minutes); minutes pass
        assert re.fullmatch(r"in (5\d|60)m", cells[col["EXPIRES"]]), cells
        assert re.fullmatch(r"in (3\d|40)m", cells[col["NEXT ROTATION"]]), cells
    revoke_at = beta["previousKeys"][0]["revokeAfter"]
    assert under["alpha"] == []
    assert len(under["beta"]) == 1 and under["beta"][0].startswith(
        f"previous key {beta_first['accessKeyId']}  revoke at {revoke_at} (in 1")  # 15m grace: in 14m or 15m

    wide = plugin("status", "-o", "wide").stdout
    print("STATUS -o wide\n" + wide)
    _, wide_rows, _ = table(wide)
    for name, status in (("alpha", alpha), ("beta", beta)):
        line = " ".join(wide_rows[name])
        assert status["accessKeyId"] in line and status["grant"] in line
        assert stamp_of(status["expiresAt"]) in line and stamp_of(status["renewalTime"]) in line

    doc = json.loads(plugin("status", "-A", "-o", "json").stdout)
    mine = {i["name"]: i for i in doc["items"] if i["namespace"] == ns}
    assert set(mine) == {"alpha", "beta"}
    assert mine["beta"]["revision"] == 2 and mine["beta"]["accessKeyId"] == beta["accessKeyId"]
    assert mine["beta"]["previousKeys"] == [{"accessKeyId": beta_first["accessKeyId"],
                                             "keyName": beta_first["keyName"], "revokeAt": revoke_at}]
    assert mine["beta"]["expiresAt"] == beta["expiresAt"] and mine["beta"]["nextRotation"] == beta["renewalTime"]
    assert mine["alpha"]["nextRotation"] == alpha["renewalTime"] and mine["alpha"]["previousKeys"] == []

    # -A prefixes NAMESPACE; a name narrows; --context and -n switch as they do for kubectl get.
    header_a, rows_a, _ = table(plugin("status", "-A").stdout)
    assert header_a[:2] == ["NAMESPACE", "NAME"] and {"alpha", "beta"} <= set(rows_a)
    assert set(table(plugin("status", "beta").stdout)[1]) == {"beta"}
    nothing = plugin("status", "--context", "empty")
    assert nothing.stdout == "" and f"No accesskeyrequests found in {empty} namespace." in nothing.stderr
    assert set(table(plugin("status", "--context", "empty", "-n", ns).stdout)[1]) == {"alpha", "beta"}
    missing = plugin("status", "gamma", ok=False)
    assert missing.returncode == 1 and 'accesskeyrequests "gamma" not found' in missing.stderr

    # the same commands as `keyfob`: identical JSON, identical preview of a file (namespace from the context)
    assert json.loads(plugin.keyfob("status", "-o", "json").stdout) == json.loads(
        plugin("status", "-o", "json").stdout)
    manifest = tmp_path / "r.yaml"
    manifest.write_text(yaml.safe_dump({"apiVersion": "keyfob.dev/v1alpha1", "kind": "AccessKeyRequest",
                                        "metadata": {"name": "gamma"}, "spec": aws_setup.request_spec("gamma-s3")}))
    via_kubectl = plugin("preview", "-f", str(manifest)).stdout
    assert untimed(via_kubectl) == untimed(plugin.keyfob("preview", "-f", str(manifest)).stdout)
    assert f"{ns}/gamma" in via_kubectl and "would be granted" in via_kubectl

    every = "\n".join(plugin.outputs)
    assert not leak_watch.found_in(every), "secret material in the plugin's output"
    assert aws_setup.moto.admin_secret_key not in every


def untimed(text: str) -> str:
    """The preview with its times (now + ttl, at each run) masked."""
    return re.sub(r"\d{4}-\d\d-\d\dT[\d:.]+(Z|[+-]\d\d:\d\d)?", "<time>", text)


def stamp_of(text: str) -> str:
    from datetime import datetime

    return stamp(datetime.fromisoformat(text.replace("Z", "+00:00")))
