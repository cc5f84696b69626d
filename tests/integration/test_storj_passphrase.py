"""Storj passphrases end to end: the real API server, the operator process, the Storj contract fakes
(keyfob_testbed.storj_fakes), and Storj's own Go code (tests/storj_crosscheck) as the reference.

A provider whose credentials Secret holds an encryption passphrase issues credentials whose registered access
grant carries, per requested bucket, exactly the encryption key Storj derives from that passphrase and the
project salt (encryption.DeriveRootKey, then grant.Access.Restrict), and not the parent grant's. Changing the
passphrase applies to keys issued afterwards; a key issued before keeps its keys until the request rotates.
A request may name its own passphrase Secret where the provider allows it, and is refused where it does not.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from keyfob.providers.storj.caveat import ActionType
from keyfob.providers.storj.grant import CIPHER_AESGCM, AccessGrant, EncryptionAccess
from keyfob.providers.storj.macaroon import Macaroon
from keyfob_testbed.objects import Objects
from keyfob_testbed.operator_fixtures import LeakWatch, delete_requests_and_wait
from keyfob_testbed.storj_fakes import FakeAuthService, FakeConsole, SatelliteKeys
from keyfob_testbed.waiting import wait_for

from .test_storj_crosscheck import crosscheck_binary, run_go

pytestmark = pytest.mark.integration
__all__ = ["crosscheck_binary"]  # the Go helper's fixture, built once per source hash

SATELLITE = "12EayRS2V1kEsWESU9QMRseFhdxYxKicsiFmxrsLZHeLUtdps3S@satellite.invalid:7777"


class Storj:
    def __init__(self, keys: SatelliteKeys, auth: FakeAuthService, console: FakeConsole) -> None:
        self.keys, self.auth, self.console = keys, auth, console
        self.parent_key: Macaroon = keys.new_root()
        self.parent_default_key = secrets.token_bytes(32)
        self.parent = AccessGrant(SATELLITE, self.parent_key, EncryptionAccess(self.parent_default_key, CIPHER_AESGCM))
        self.salt = uuid.uuid4().bytes  # what a satellite stores for a new project

    def registered(self, access_key_id: str) -> EncryptionAccess:
        return self.auth.registrations[access_key_id].grant.encryption_access


@pytest.fixture
def storj() -> Iterator[Storj]:
    keys = SatelliteKeys()
    with FakeAuthService(keys, endpoint="https://gateway.test.invalid", allowed_satellites={SATELLITE}) as auth, \
            FakeConsole(keys) as console:
        yield Storj(keys, auth, console)


def fingerprint(key: bytes) -> str:
    """What assertions compare and may print: never the key itself."""
    return "sha256:" + hashlib.sha256(key).hexdigest()[:16]


Keys = dict[str, tuple[str, int]]  # bucket -> (key fingerprint, path cipher)


def storj_reference(binary: Path, storj: Storj, passphrase: str, buckets: list[str], watch: LeakWatch) -> Keys:
    """The keys Storj's Go code puts in a passphrase grant restricted to `buckets` (each added to `watch`)."""
    go = run_go(
        binary,
        "derive",
        {
            "passphrase_hex": passphrase.encode().hex(),
            "salt_hex": storj.salt.hex(),
            "satellite": SATELLITE,
            "api_key": storj.parent_key.to_api_key(),
            "encrypt_path": True,
            "restrict": {"allow_download": True, "buckets": buckets},
        },
    )
    keys: Keys = {}
    for entry in go["encryption_access"]["entries"]:
        watch.add(entry["key_hex"])
        keys[entry["bucket"]] = (fingerprint(bytes.fromhex(entry["key_hex"])), entry["path_cipher"])
    return keys


def keys_of(access: EncryptionAccess) -> Keys:
    assert access.default_key is None, "the derived root key itself never leaves keyfob"
    return {e.bucket.decode(): (fingerprint(e.key), e.path_cipher) for e in access.entries if not e.unencrypted_path}


def revision(objects: Objects, name: str, wanted: int) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        status = (objects.get_request(name) or {}).get("status") or {}
        ready = any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", []))
        return status if ready and status.get("revision") == wanted and not status.get("pending") else None

    return wait_for(check, 60, 0.2, f"{name} Ready at revision {wanted}")


def test_a_passphrase_provider_issues_grants_with_the_keys_storj_derives_and_handles_its_rotation(
    storj: Storj, namespace: str, kube_api: Any, keyfob_operator: Any, leak_watch: LeakWatch, crosscheck_binary: Path
) -> None:
    objects = Objects(kube_api, namespace)
    first_passphrase, second_passphrase = secrets.token_urlsafe(20), secrets.token_urlsafe(20)
    for value in (first_passphrase, second_passphrase, storj.console.rest_key, storj.parent.serialize()):
        leak_watch.add(value)
    objects.admin_secret("storj-admin", {
        "accessGrant": storj.parent.serialize(),
        "consoleRestKey": storj.console.rest_key,
        "passphrase": first_passphrase + "\n",  # as `kubectl create secret --from-file` would store it
    })
    objects.provider("storj", {"storj": {
        "authServiceUrl": storj.auth.url,
        "credentialsSecretRef": {"name": "storj-admin"},
        "console": {"url": storj.console.url, "projectId": storj.console.project_id},
        "passphrase": {"projectSalt": base64.b64encode(storj.salt).decode()},
    }})
    bucket = f"pp-{secrets.token_hex(4)}"
    spec = {"providerRef": {"name": "storj"}, "buckets": [{"name": bucket}], "permissions": ["read", "list"],
            "ttl": "1h", "rotationGracePeriod": "0s"}
    try:
        objects.request("app", {**spec, "secretName": "app-s3"})
        first = revision(objects, "app", 1)
        data = objects.secret_data("app-s3")
        leak_watch.add_secret_data(data)
        assert data["AWS_ACCESS_KEY_ID"] == first["accessKeyId"]
        assert storj.auth.allows(data["AWS_ACCESS_KEY_ID"], data["AWS_SECRET_ACCESS_KEY"], ActionType.LIST, bucket)

        expected_first = storj_reference(crosscheck_binary, storj, first_passphrase, [bucket], leak_watch)
        issued = keys_of(storj.registered(first["accessKeyId"]))
        assert issued == expected_first and issued[bucket][1] == CIPHER_AESGCM
        parent_bucket_key = storj.parent.encryption_access.bucket_root(bucket.encode())
        assert parent_bucket_key is not None and issued[bucket][0] != fingerprint(parent_bucket_key[0])

        # Rotate the passphrase in the credentials Secret: keys issued from now on use the new one.
        new_data = {"stringData": {"passphrase": second_passphrase}}
        objects.core.patch_namespaced_secret("storj-admin", namespace, new_data)
        expected_second = storj_reference(crosscheck_binary, storj, second_passphrase, [bucket], leak_watch)
        assert expected_second != expected_first
        objects.request("later", {**spec, "secretName": "later-s3"})
        later = revision(objects, "later", 1)
        leak_watch.add_secret_data(objects.secret_data("later-s3"))
        assert keys_of(storj.registered(later["accessKeyId"])) == expected_second

        # The key issued before the change is left as it was (its data is encrypted with the old passphrase) ...
        still = revision(objects, "app", 1)
        assert still["accessKeyId"] == first["accessKeyId"] and objects.secret_data("app-s3") == data
        assert keys_of(storj.registered(first["accessKeyId"])) == expected_first
        # ... until the request rotates: then it moves to the new passphrase.
        objects.patch_request("app", {"metadata": {"annotations": {"keyfob.dev/rotate": "1"}}})
        rotated = revision(objects, "app", 2)
        leak_watch.add_secret_data(objects.secret_data("app-s3"))
        assert keys_of(storj.registered(rotated["accessKeyId"])) == expected_second

        # Nothing of the passphrases or derived keys in status or events.
        shown = repr([objects.get_request(n) for n in ("app", "later")]) + repr(objects.get_provider("storj"))
        shown += repr([e.message for n in ("app", "later", "storj") for e in objects.events_for(n)])
        assert not leak_watch.found_in(shown)
    finally:
        delete_requests_and_wait(objects)


def test_a_request_may_name_its_own_passphrase_only_where_the_provider_allows_it(
    storj: Storj, namespace: str, kube_api: Any, keyfob_operator: Any, leak_watch: LeakWatch, crosscheck_binary: Path
) -> None:
    """Storj's "enter a new passphrase", per tenant: the request names a Secret in its own namespace; the grant
    carries keys derived from that passphrase, and a changed passphrase is used from the next rotation. A
    provider that does not allow it refuses the request at once, naming the field, and creates nothing."""
    objects = Objects(kube_api, namespace)
    admin_passphrase, tenant_passphrase = secrets.token_urlsafe(20), "a tenant's own passphrase ✓"
    for value in (admin_passphrase, tenant_passphrase, storj.console.rest_key, storj.parent.serialize()):
        leak_watch.add(value)
    objects.admin_secret("storj-admin", {
        "accessGrant": storj.parent.serialize(), "consoleRestKey": storj.console.rest_key,
        "passphrase": admin_passphrase,
    })
    objects.admin_secret("tenant-pp", {"phrase": tenant_passphrase})
    block = {
        "authServiceUrl": storj.auth.url,
        "credentialsSecretRef": {"name": "storj-admin"},
        "console": {"url": storj.console.url, "projectId": storj.console.project_id},
        "passphrase": {"projectSalt": base64.b64encode(storj.salt).decode(), "allowRequestPassphrases": True},
    }
    objects.provider("allowing", {"storj": block})
    objects.provider("strict", {"storj": {**block, "passphrase": {"projectSalt": block["passphrase"]["projectSalt"]}}})
    bucket = f"pp-{secrets.token_hex(4)}"
    spec = {"buckets": [{"name": bucket}], "permissions": ["read", "write", "list"], "ttl": "1h",
            "passphraseSecretRef": {"name": "tenant-pp", "key": "phrase"}}
    try:
        objects.request("own", {**spec, "providerRef": {"name": "allowing"}, "secretName": "own-s3"})
        issued = revision(objects, "own", 1)
        data = objects.secret_data("own-s3")
        leak_watch.add_secret_data(data)
        assert storj.auth.allows(data["AWS_ACCESS_KEY_ID"], data["AWS_SECRET_ACCESS_KEY"], ActionType.WRITE, bucket)
        expected = storj_reference(crosscheck_binary, storj, tenant_passphrase, [bucket], leak_watch)
        admins = storj_reference(crosscheck_binary, storj, admin_passphrase, [bucket], leak_watch)
        assert keys_of(storj.registered(issued["accessKeyId"])) == expected != admins

        # The tenant changes its passphrase: the next rotation picks it up.
        changed = secrets.token_urlsafe(16)
        leak_watch.add(changed)
        objects.core.patch_namespaced_secret("tenant-pp", namespace, {"stringData": {"phrase": changed}})
        objects.patch_request("own", {"metadata": {"annotations": {"keyfob.dev/rotate": "1"}}})
        rotated = revision(objects, "own", 2)
        leak_watch.add_secret_data(objects.secret_data("own-s3"))
        renewed = storj_reference(crosscheck_binary, storj, changed, [bucket], leak_watch)
        assert keys_of(storj.registered(rotated["accessKeyId"])) == renewed != expected

        keys_before = set(storj.console.api_keys)
        objects.request("refused", {**spec, "providerRef": {"name": "strict"}, "secretName": "refused-s3"})
        refused = objects.wait_request("refused", "False", "Unsupported")
        message = objects.ready_condition(refused)["message"]  # type: ignore[index]
        assert "passphraseSecretRef" in message and "allowRequestPassphrases" in message
        assert objects.secret("refused-s3") is None and set(storj.console.api_keys) == keys_before

        shown = repr([objects.get_request(n) for n in ("own", "refused")])
        shown += repr([e.message for n in ("own", "refused") for e in objects.events_for(n)])
        assert not leak_watch.found_in(shown)
    finally:
        delete_requests_and_wait(objects)
