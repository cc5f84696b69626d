"""IONOS scoped mode end to end: the real API server, the operator as its own process, and the loopback IONOS fakes
(Cloud API v6 user management + the bucket-policy side of the S3 endpoint, keyfob_testbed.ionos_cloud_fake, whose
S3 stand-in allows a key exactly what the bucket policy says).

A user applies an AccessKeyProvider with spec.ionos.scopedUsers and a request; the Secret's key reads and lists the
requested bucket and nothing else; deleting the request revokes: the key and its IONOS user are gone, keyfob's
statement is gone from the bucket policy, the other statements of that policy are kept."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from keyfob_testbed.harness_ionos import ScopedIonosHarness
from keyfob_testbed.objects import Objects
from keyfob_testbed.operator_fixtures import LeakWatch, delete_requests_and_wait
from keyfob_testbed.waiting import wait_for

pytestmark = pytest.mark.integration
TEAM_STATEMENT = {"Sid": "team readers", "Effect": "Allow",
                  "Principal": {"AWS": "arn:aws:iam:::user/31000000:1d7f0b8e-0000-4000-8000-00000000beef"},
                  "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::bucket-a/*"]}  # fmt: skip


@pytest.fixture
def scoped(
    ionos_scoped_harness: ScopedIonosHarness, namespace: str, kube_api: Any, keyfob_operator: Any
) -> Iterator[Objects]:
    objects = Objects(kube_api, namespace)
    objects.admin_secret("admin", ionos_scoped_harness.admin_secret_data())
    spec = ionos_scoped_harness.provider_spec("admin")
    spec["guardrails"] = {"allowedBuckets": ["bucket-a", "bucket-b"],  # the guardrails would allow object-lock rights
                          "allowedPermissions": ["read", "write", "list", "delete", "getObjectRetention"]}
    objects.provider("ionos", spec)
    yield objects
    delete_requests_and_wait(objects)


def test_request_secret_scoped_use_and_revoke(
    ionos_scoped_harness: ScopedIonosHarness, scoped: Objects, leak_watch: LeakWatch
) -> None:
    fake = ionos_scoped_harness.fake
    fake.policies.policies["bucket-a"] = {"Version": "2012-10-17", "Statement": [TEAM_STATEMENT]}
    scoped.wait_provider("ionos")
    scoped.request("app", {"providerRef": {"name": "ionos"}, "buckets": [{"name": "bucket-a"}],
                           "permissions": ["read", "list"], "ttl": "1h", "secretName": "app-s3"})  # fmt: skip
    ready = scoped.wait_request("app", reason="Issued")
    data = scoped.secret_data("app-s3")
    leak_watch.add_secret_data(data)
    assert data["AWS_ACCESS_KEY_ID"] == ready["status"]["accessKeyId"] and data["BUCKET_NAME"] == "bucket-a"

    h = ionos_scoped_harness
    assert h.can(data, "bucket-a", "read") and h.can(data, "bucket-a", "list")
    assert not h.can(data, "bucket-a", "write") and not h.can(data, "bucket-a", "delete"), "only what was asked"
    assert not h.can(data, "bucket-b", "read") and not h.can(data, "bucket-b", "list"), "another bucket is denied"
    [user] = h.keyfob_users()
    assert list(user.keys) == [data["AWS_ACCESS_KEY_ID"]] and user.administrator is False
    statements = fake.policies.policies["bucket-a"]["Statement"]
    assert statements[0] == TEAM_STATEMENT and len(statements) == 3

    for password in fake.cloud.passwords:  # the users' throwaway passwords must never show in a log either
        leak_watch.add(password)
    leak_watch.add(fake.cloud.admin_secret_key)
    scoped.delete_request("app")
    scoped.wait_gone("app")
    assert not h.can(data, "bucket-a", "read") and not h.can(data, "bucket-a", "list")
    assert h.keyfob_users() == [] and fake.cloud.user_of_key(data["AWS_ACCESS_KEY_ID"]) is None, "key + user gone"
    assert fake.policies.policies["bucket-a"]["Statement"] == [TEAM_STATEMENT], "only keyfob's statements removed"


def test_what_bucket_policies_cannot_express_is_refused_with_the_reason(
    ionos_scoped_harness: ScopedIonosHarness, scoped: Objects
) -> None:
    scoped.request("prefixed", {"providerRef": {"name": "ionos"}, "buckets": [{"name": "bucket-a", "prefix": "logs/"}],
                                "permissions": ["read"], "ttl": "1h", "secretName": "prefixed-s3"})  # fmt: skip
    scoped.request("locked", {"providerRef": {"name": "ionos"}, "buckets": [{"name": "bucket-a"}],
                              "permissions": ["read", "getObjectRetention"], "ttl": "1h",
                              "secretName": "locked-s3"})  # fmt: skip
    prefixed = scoped.ready_condition(scoped.wait_request("prefixed", status="False", reason="Unsupported"))
    locked = scoped.ready_condition(scoped.wait_request("locked", status="False", reason="Unsupported"))
    assert prefixed is not None and "prefixes" in prefixed["message"]
    assert locked is not None and "getObjectRetention" in locked["message"]
    wait_for(lambda: scoped.secret("prefixed-s3") is None, 5, 0.2, "no Secret for a refused request")
    assert ionos_scoped_harness.keyfob_users() == [] and ionos_scoped_harness.fake.policies.writes == []
