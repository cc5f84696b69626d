"""Issue 16 (HA) on the real API server + moto: the operator's watches go silent without closing (a proxy between
the operator and the API server stops forwarding their bytes). The operator gives up on each silent watch after
KEYFOB_WATCH_INACTIVITY_SECONDS, opens a new one, and a request created during the freeze is issued."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from keyfob_testbed.envtest import TestCluster
from keyfob_testbed.freezing_proxy import FreezingProxy
from keyfob_testbed.kubeconfig import write_kubeconfig
from keyfob_testbed.operator_fixtures import AwsSetup, LeakWatch, OperatorFactory
from keyfob_testbed.waiting import wait_for

pytestmark = pytest.mark.integration
INACTIVITY = 10  # seconds; production keeps 90 (the API server's bookmarks come about every 60 s)


def ready_at(aws: AwsSetup, name: str, revision: int) -> dict[str, Any] | None:
    status = (aws.objects.get_request(name) or {}).get("status") or {}
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", []))
    return status if ready and not status.get("pending") and status.get("revision") == revision else None


def proxy_kubeconfig(path: Path, url: str) -> Path:
    """Plain HTTP to the proxy, no credentials: the proxy presents the admin's client certificate upstream."""
    return write_kubeconfig(path, {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "proxy", "cluster": {"server": url}}],
        "users": [{"name": "via-proxy", "user": {}}],
        "contexts": [{"name": "proxy", "context": {"cluster": "proxy", "user": "via-proxy"}}],
        "current-context": "proxy",
    })


def test_a_frozen_watch_is_replaced_and_a_change_made_meanwhile_is_handled(
    aws_setup: AwsSetup, exclusive_operator: OperatorFactory, leak_watch: LeakWatch, test_cluster: TestCluster,
    tmp_path: Path,
) -> None:
    if test_cluster.workdir is None:
        pytest.skip("needs the test bed's own API server (its admin client certificate)")
    pki = test_cluster.workdir / "pki"
    objects = aws_setup.objects
    with FreezingProxy(test_cluster.server, pki / "ca.crt", pki / "admin.crt", pki / "admin.key") as proxy:
        kubeconfig = proxy_kubeconfig(tmp_path / "via-proxy.kubeconfig", proxy.url)
        operator = exclusive_operator.start(kubeconfig=kubeconfig, KEYFOB_WATCH_INACTIVITY_SECONDS=str(INACTIVITY))
        objects.request("before", aws_setup.request_spec("before-s3"))
        wait_for(lambda: ready_at(aws_setup, "before", 1), 60, 0.2, "a request issued through the proxy")

        frozen = proxy.freeze_watches()
        frozen_at = time.monotonic()
        assert frozen >= 1, "the operator watches nothing through the proxy"
        log_offset = len(operator.log_text())
        objects.request("during", aws_setup.request_spec("during-s3"))
        status = wait_for(lambda: ready_at(aws_setup, "during", 1), INACTIVITY + 40, 0.2,
                          "the request created during the freeze to be issued")
        handled_after = time.monotonic() - frozen_at
        closed = wait_for(lambda: len(proxy.frozen_closed_by_client()) == frozen and proxy.frozen_closed_by_client(),
                          INACTIVITY + 20, 0.2, "the operator to close every frozen watch")
        print(f"{frozen} watches frozen; the operator closed them {min(closed):.1f}-{max(closed):.1f} s later; "
              f"the request created meanwhile was Ready {handled_after:.1f} s after the freeze")
        # Each frozen watch is given up INACTIVITY seconds after its last event, which came before the freeze.
        assert max(closed) <= INACTIVITY + 3, "a frozen watch outlived the inactivity timeout"
        assert handled_after >= min(closed), "the request was handled before any frozen watch was replaced"
        assert proxy.watches_started_since(frozen_at) >= frozen, "the frozen watches were not replaced"
        assert "is inactive, reconnecting" in operator.log_text()[log_offset:]
        data = objects.secret_data("during-s3")
        leak_watch.add_secret_data(data)
        assert data["AWS_ACCESS_KEY_ID"] == status["accessKeyId"]
        operator.stop()  # before the proxy goes; the session operator revokes the keys at teardown
