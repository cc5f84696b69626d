"""The same operator-level lifecycle, run unchanged against every provider peer here: moto (AWS IAM), a real
MinIO, and contract fakes where no real peer can run: Storj (auth service + console REST, following storj/edge
and storj/storj's published contracts, keyfob_testbed.storj_fakes), IONOS (Object Storage Management API,
keyfob_testbed.ionos_fake) and Utho (utho-go's object-storage calls, keyfob_testbed.utho_fake); and a real
single-node Ceph RGW (keyfob_testbed.ceph_peer).
Each test acts as a user and checks the credential:
issue -> Secret -> the key works -> rotate -> revoke; orphan sweep; SIGKILL at each write of an issue."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from keyfob_testbed.harness import ProviderHarness
from keyfob_testbed.harnesses import AwsHarness, MinioHarness, StorjHarness
from keyfob_testbed.objects import Objects
from keyfob_testbed.operator_fixtures import LeakWatch, OperatorFactory, delete_requests_and_wait
from keyfob_testbed.waiting import wait_for

pytestmark = pytest.mark.integration
SATELLITE = "12EayRS2V1kEsWESU9QMRseFhdxYxKicsiFmxrsLZHeLUtdps3S@satellite.invalid:7777"
PROVIDERS = ["aws", "minio", "storj", "ionos", "ionos_scoped", "utho", "ceph"]


@pytest.fixture(scope="module")
def storj_peers() -> Iterator[tuple[Any, Any, Any, str]]:
    from keyfob.providers.storj.grant import CIPHER_AESGCM, AccessGrant, EncryptionAccess
    from keyfob_testbed.storj_fakes import FakeAuthService, FakeConsole, SatelliteKeys

    keys = SatelliteKeys()
    parent = AccessGrant(SATELLITE, keys.new_root(), EncryptionAccess(secrets.token_bytes(32), CIPHER_AESGCM))
    with FakeAuthService(keys, endpoint="https://gateway.test.invalid", allowed_satellites={SATELLITE}) as auth, \
            FakeConsole(keys) as console:
        yield keys, auth, console, parent.serialize()


@pytest.fixture(params=PROVIDERS)
def harness(request: pytest.FixtureRequest) -> ProviderHarness:
    if request.param == "aws":
        return AwsHarness(request.getfixturevalue("moto_peer"))
    if request.param == "minio":
        return MinioHarness(request.getfixturevalue("minio_peer"))
    if request.param == "storj":
        keys, auth, console, parent = request.getfixturevalue("storj_peers")
        return StorjHarness(keys, auth, console, parent)
    # IONOS / Utho contract fakes, the real Ceph peer
    harness: ProviderHarness = request.getfixturevalue(f"{request.param}_harness")
    return harness


@pytest.fixture
def suite(harness: ProviderHarness, namespace: str, kube_api: Any, keyfob_operator: Any) -> Iterator[Objects]:
    objects = Objects(kube_api, namespace)
    objects.admin_secret("admin", harness.admin_secret_data())
    objects.provider("peer", harness.provider_spec("admin"))
    yield objects
    delete_requests_and_wait(objects)


def request_spec(harness: ProviderHarness, secret: str, **extra: Any) -> dict[str, Any]:
    return {"providerRef": {"name": "peer"}, **harness.request_spec(secret), **extra}


def wait_revision(objects: Objects, name: str, revision: int) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        status = (objects.get_request(name) or {}).get("status") or {}
        ready = any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", []))
        return status if ready and status.get("revision") == revision and not status.get("pending") else None

    return wait_for(check, 60, 0.2, f"{name} Ready at revision {revision}")


def test_issue_use_rotate_and_revoke(harness: ProviderHarness, suite: Objects, leak_watch: LeakWatch) -> None:
    before = harness.live_key_ids()
    suite.request("app", request_spec(harness, "app-s3", rotationGracePeriod="0s"))
    first = wait_revision(suite, "app", 1)
    data = suite.secret_data("app-s3")
    leak_watch.add_secret_data(data)
    assert data["AWS_ACCESS_KEY_ID"] == first["accessKeyId"] and data["AWS_ENDPOINT_URL"]
    assert harness.key_works(data)
    assert harness.live_key_ids() - before == {first["accessKeyId"]}

    suite.patch_request("app", {"metadata": {"annotations": {"keyfob.dev/rotate": "1"}}})
    second = wait_revision(suite, "app", 2)
    rotated = suite.secret_data("app-s3")
    leak_watch.add_secret_data(rotated)
    assert harness.key_works(rotated)
    wait_for(lambda: not harness.key_works(data), 30, 0.2, "the rotated-out key stops working")
    assert harness.live_key_ids() - before == {second["accessKeyId"]}

    suite.delete_request("app")
    suite.wait_gone("app")
    assert not harness.key_works(rotated)
    assert harness.live_key_ids() - before == set()


def test_orphan_sweep_revokes_a_key_nobody_holds(
    harness: ProviderHarness, suite: Objects, exclusive_operator: OperatorFactory, leak_watch: LeakWatch
) -> None:
    suite.request("held", request_spec(harness, "held-s3"))
    orphan = harness.make_orphan("default")
    foreign = harness.make_orphan("other-cluster")
    assert {orphan, foreign} <= harness.live_key_ids()
    exclusive_operator.start(KEYFOB_SWEEP_INITIAL_DELAY="1", KEYFOB_SWEEP_SECONDS="2")
    held = wait_revision(suite, "held", 1)
    leak_watch.add_secret_data(suite.secret_data("held-s3"))
    wait_for(lambda: orphan not in harness.live_key_ids(), 60, 0.5, "the orphan revoked by the sweep")
    live = harness.live_key_ids()
    assert foreign in live, "another cluster's key is never touched"
    assert held["accessKeyId"] in live


@pytest.mark.parametrize("point", ["after-pending", "after-provider-issue", "after-secret-write"])
def test_crash_at_each_write_of_an_issue(
    harness: ProviderHarness, suite: Objects, exclusive_operator: OperatorFactory, leak_watch: LeakWatch,
    point: str,
) -> None:
    before = harness.live_key_ids()
    crashing = exclusive_operator.start(KEYFOB_TEST_CRASH_AT=point)
    suite.request("app", request_spec(harness, "app-s3"))
    wait_for(lambda: crashing.wait_exit(0.2) is not None, 60, 0.1, f"crash at {point}")
    exclusive_operator.start()
    final = wait_revision(suite, "app", 1)
    data = suite.secret_data("app-s3")
    leak_watch.add_secret_data(data)
    assert data["AWS_ACCESS_KEY_ID"] == final["accessKeyId"] and harness.key_works(data)
    wait_for(lambda: harness.live_key_ids() - before == {final["accessKeyId"]}, 30, 0.2,
             "the provider holds exactly the key the Secret serves")
