"""The test bed's control plane, with the API server's audit log switched on.

`keyfob_testbed.envtest.start_cluster()` builds the kube-apiserver command line itself and has no audit option.
Rather than copy its 150 lines of start-up code, the bench launches the same cluster with the same binaries and
appends three flags to the kube-apiserver command (and only to it) while `launch_cluster` runs: the audit log
is then the API server's own record of every request it served (verb, resource, subresource, user agent), which
is how this harness counts API-server reads and writes per client.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from keyfob_testbed import binaries, envtest
from keyfob_testbed.envtest import TestCluster
from keyfob_testbed.processes import ManagedProcess

# One event per request, at the end (RequestReceived/ResponseStarted omitted), metadata only: no bodies, so no
# Secret data ever reaches the file. Leases and events of the control plane's own loops are not interesting.
AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived", "ResponseStarted"]
rules:
  - level: None
    resources: [{group: "coordination.k8s.io", resources: ["leases"]}]
  - level: Metadata
"""


@contextlib.contextmanager
def _audit_flags(policy: Path, log: Path) -> Iterator[None]:
    flags = [
        f"--audit-policy-file={policy}",
        f"--audit-log-path={log}",
        "--audit-log-format=json",
        "--audit-log-maxsize=1048576",  # MB: never rotate (0 means the 100 MB default, and counts are by offset)
    ]

    class AuditedProcess(ManagedProcess):
        def __init__(self, name: str, argv: list[str], *args: object, **kwargs: object) -> None:
            if name == "kube-apiserver":
                argv = [*argv, *flags]
            super().__init__(name, argv, *args, **kwargs)  # type: ignore[arg-type]

    original = envtest.ManagedProcess
    envtest.ManagedProcess = AuditedProcess  # type: ignore[misc]
    try:
        yield
    finally:
        envtest.ManagedProcess = original  # type: ignore[misc]


def start_audited_cluster(run_dir: Path) -> tuple[TestCluster, Path]:
    """Start etcd + kube-apiserver (+ controller manager) with the audit log at ``run_dir/audit.jsonl``."""
    source = binaries.select_source(os.environ)
    if source.kind == "existing":
        raise SystemExit("the bench starts its own API server (audit log); unset KEYFOB_TEST_KUBECONFIG")
    bins = binaries.ensure_binaries(source, os.environ)
    assert bins is not None
    policy = run_dir / "audit-policy.yaml"
    policy.write_text(AUDIT_POLICY)
    log = run_dir / "audit.jsonl"
    with _audit_flags(policy, log):
        cluster = envtest.launch_cluster(bins)
    return cluster, log
