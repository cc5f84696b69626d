"""The physical floor: one issue done by a bare script, with the calls keyfob cannot avoid and nothing else.

Per request: create the AccessKeyRequest (the user's apply), IAM CreateUser + PutUserPolicy + ListAccessKeys +
CreateAccessKey (the provider issue, same payloads as keyfob's AWS adapter: tags, path, policy document), create
the Secret (same data and annotations as keyfob writes) and one status patch that says Ready. No reads, no
pending record, no events, no Kopf bookkeeping: that is what the ratios to the floor measure.

Same API server, same moto, same client libraries (kubernetes, boto3 with keyfob's retry config), one shared client
of each across the worker threads, as keyfob shares its own. IAM users go under ``/keyfob-floor/`` so keyfob's
orphan sweep (path ``/keyfob/<cluster id>/``) never sees them.
"""

from __future__ import annotations

import base64
import json
import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config
from pydantic import SecretStr

from keyfob.api.request import AccessKeyRequestSpec
from keyfob.api.vocabulary import GROUP, VERSION
from keyfob.contract import BucketGrant
from keyfob.lifecycle.fingerprint import render_hash, scope_hash
from keyfob.lifecycle.ports import OwnerInfo
from keyfob.lifecycle.secret_manifest import build_secret
from keyfob.providers.common.s3_policy import render_policy
from keyfob.secrets.formats import Credential, render_data

from .bed import REQUESTS, Bed, request_body, request_spec

FLOOR_PATH = "/keyfob-floor/default/"
POLICY_NAME = "keyfob-scope"


@dataclass
class FloorRun:
    """Per-op start/end (monotonic) of one floor run; ``t0`` is when the whole run was submitted."""

    t0: float
    starts: dict[str, float] = field(default_factory=dict)
    ends: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def op_latencies(self) -> list[float]:
        """Each op from its own start (the apply) to its status patch (closed loop: no queueing)."""
        return [self.ends[n] - self.starts[n] for n in self.ends]

    def from_submit(self) -> list[float]:
        """Each op from the run's submission (burst: all applied at t0, queueing included)."""
        return [end - self.t0 for end in self.ends.values()]

    def wall(self) -> float:
        return (max(self.ends.values()) - self.t0) if self.ends else 0.0


class FloorIssuer:
    def __init__(self, bed: Bed) -> None:
        self.bed = bed
        self.core, self.custom = bed.clients("floor")
        self.iam = boto3.session.Session().client(
            "iam",
            region_name="us-east-1",
            endpoint_url=bed.moto.endpoint,
            aws_access_key_id=bed.moto.admin_access_key,
            aws_secret_access_key=bed.moto.admin_secret_key,
            config=Config(retries={"max_attempts": 6, "mode": "adaptive"}, connect_timeout=5, read_timeout=30,
                          max_pool_connections=32),
        )

    def issue(self, namespace: str, name: str) -> None:
        spec_wire = request_spec(name)
        created = self.custom.create_namespaced_custom_object(
            GROUP, VERSION, namespace, REQUESTS, request_body(name, spec_wire)
        )
        uid = created["metadata"]["uid"]
        spec = AccessKeyRequestSpec.model_validate(spec_wire)
        now = datetime.now(UTC).replace(microsecond=0)
        expires = now + timedelta(hours=24)
        user = f"kf-{uid}-r1"
        tags = [
            {"Key": "keyfob.dev/cluster", "Value": "default"},
            {"Key": "keyfob.dev/namespace", "Value": namespace},
            {"Key": "keyfob.dev/name", "Value": name},
            {"Key": "keyfob.dev/uid", "Value": uid},
            {"Key": "keyfob.dev/revision", "Value": "1"},
            {"Key": "keyfob.dev/expires-at", "Value": expires.isoformat()},
        ]
        buckets = tuple(BucketGrant(b.name, b.prefix) for b in spec.buckets)
        policy = json.dumps(render_policy(buckets, frozenset(spec.permissions), expires))
        self.iam.create_user(UserName=user, Path=FLOOR_PATH, Tags=tags)
        self.iam.put_user_policy(UserName=user, PolicyName=POLICY_NAME, PolicyDocument=policy)
        self.iam.list_access_keys(UserName=user)
        key = self.iam.create_access_key(UserName=user)["AccessKey"]
        credential = Credential(
            access_key_id=key["AccessKeyId"],
            secret_access_key=SecretStr(key["SecretAccessKey"]),
            endpoint=self.bed.moto.endpoint,
            region="us-east-1",
            buckets=tuple(b.name for b in spec.buckets),
            expires_at=expires,
        )
        manifest = build_secret(
            owner=OwnerInfo(f"{GROUP}/{VERSION}", "AccessKeyRequest", name, uid),
            namespace=namespace,
            spec=spec,
            data=render_data(spec.secret_formats, credential),
            access_key_id=key["AccessKeyId"],
            key_name=user,
            revision=1,
            issued_at=now,
            expires_at=expires,
            render_hash=render_hash(spec),
        )
        body: dict[str, Any] = {k: v for k, v in manifest.items() if k != "stringData"}
        body["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in manifest["stringData"].items()}
        self.core.create_namespaced_secret(namespace, body)
        ts = now.isoformat().replace("+00:00", "Z")
        status = {
            "conditions": [{"type": "Ready", "status": "True", "reason": "Issued",
                            "message": f"revision 1 issued (Initial), access key {key['AccessKeyId']}",
                            "lastTransitionTime": ts, "observedGeneration": 1}],
            "accessKeyId": key["AccessKeyId"], "keyName": user, "revision": 1, "issuedAt": ts,
            "expiresAt": expires.isoformat().replace("+00:00", "Z"), "renewalTime": ts, "expiryEnforcedBy": "Operator",
            "scopeHash": scope_hash(spec), "provider": "AccessKeyProvider 'aws'", "observedGeneration": 1,
        }
        self.custom.patch_namespaced_custom_object_status(GROUP, VERSION, namespace, REQUESTS, name, {"status": status})

    def run(self, namespace: str, names: list[str], concurrency: int, deadline_s: float) -> FloorRun:
        """Issue ``names`` on ``concurrency`` threads; all are submitted at once (``t0``)."""
        jobs: queue.Queue[str] = queue.Queue()
        for name in names:
            jobs.put(name)
        run = FloorRun(t0=time.monotonic())
        deadline = run.t0 + deadline_s
        lock = threading.Lock()

        def worker() -> None:
            while time.monotonic() < deadline:
                try:
                    name = jobs.get_nowait()
                except queue.Empty:
                    return
                start = time.monotonic()
                try:
                    self.issue(namespace, name)
                except Exception as err:
                    with lock:
                        run.errors.append(f"{name}: {type(err).__name__}: {str(err)[:200]}")
                    continue
                end = time.monotonic()
                with lock:
                    run.starts[name] = start
                    run.ends[name] = end

        threads = [threading.Thread(target=worker, name=f"floor-{i}") for i in range(concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return run
