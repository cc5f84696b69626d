"""`keyfob demo`: keyfob's main job on a local embedded default, end to end.

Starts a real kube-apiserver + etcd (the test bed), a moto server with authorization on as the AWS peer, installs
the CRDs, runs the operator, applies a provider and a request, then shows the Secret and uses it: the key works
on its bucket, is denied on another, and stops working once the request is deleted.
"""

from __future__ import annotations

import signal
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from keyfob.api.vocabulary import GROUP, VERSION

NAMESPACE = "demo"
BUCKET = "demo-data"
OTHER_BUCKET = "demo-other"


def _say(text: str) -> None:
    print(f"[keyfob demo] {text}", flush=True)


def _s3(endpoint: str, data: dict[str, str]) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=data.get("AWS_ENDPOINT_URL", endpoint),
        region_name=data.get("AWS_REGION", "us-east-1"),
        aws_access_key_id=data["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=data["AWS_SECRET_ACCESS_KEY"],
        config=Config(retries={"max_attempts": 1}),
    )


def _error_code(fn: Any) -> str:
    try:
        fn()
    except ClientError as err:
        return str(err.response.get("Error", {}).get("Code"))
    return "OK"


def run_demo(keep_running: bool = False) -> int:
    from kubernetes import client

    from keyfob.kube import KubeCluster
    from keyfob_testbed.crds import install_crds
    from keyfob_testbed.envtest import start_cluster
    from keyfob_testbed.moto_peer import MotoPeer
    from keyfob_testbed.operator_process import OperatorProcess
    from keyfob_testbed.waiting import wait_for

    workdir = Path(tempfile.mkdtemp(prefix="keyfob-demo-"))
    _say("starting a local kube-apiserver + etcd (first run builds them with Go: several minutes)")
    with start_cluster() as cluster, MotoPeer() as moto:
        _say(f"API server {cluster.server}; kubeconfig {cluster.kubeconfig}")
        _say(f"moto (AWS IAM + S3, authorization on) at {moto.endpoint}")
        api = cluster.api_client()
        install_crds(api)
        core = client.CoreV1Api(api)
        custom = client.CustomObjectsApi(api)
        core.create_namespace({"metadata": {"name": NAMESPACE}})
        admin_s3 = moto.client("s3")
        for bucket in (BUCKET, OTHER_BUCKET):
            admin_s3.create_bucket(Bucket=bucket)
        core.create_namespaced_secret(
            NAMESPACE,
            {
                "metadata": {"name": "aws-admin"},
                "stringData": {
                    "AWS_ACCESS_KEY_ID": moto.admin_access_key,
                    "AWS_SECRET_ACCESS_KEY": moto.admin_secret_key,
                },
            },
        )
        provider = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "AccessKeyProvider",
            "metadata": {"name": "moto", "namespace": NAMESPACE},
            "spec": {
                "aws": {
                    "iamEndpoint": moto.endpoint,
                    "s3Endpoint": moto.endpoint,
                    "credentialsSecretRef": {"name": "aws-admin"},
                },
                "guardrails": {"allowedBuckets": ["demo-*"], "maxTTL": "720h"},
            },
        }
        custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "accesskeyproviders", provider)
        request = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "AccessKeyRequest",
            "metadata": {"name": "demo-app", "namespace": NAMESPACE},
            "spec": {
                "providerRef": {"name": "moto"},
                "buckets": [{"name": BUCKET}],
                "permissions": ["read", "write", "list"],
                "ttl": "24h",
                "secretName": "demo-app-s3",
            },
        }
        operator = OperatorProcess(cluster.kubeconfig, workdir / "operator.log").start()
        try:
            _say(f"operator running (pid {operator.process.pid if operator.process else '?'}), log {operator.log_path}")
            custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "accesskeyrequests", request)
            _say("applied AccessKeyRequest demo/demo-app: read, write, list on bucket demo-data, ttl 24h")

            def ready() -> dict[str, Any] | None:
                obj = custom.get_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "accesskeyrequests", "demo-app")
                conds = (obj.get("status") or {}).get("conditions") or []
                return obj if any(c["type"] == "Ready" and c["status"] == "True" for c in conds) else None

            obj = wait_for(ready, 60, 0.2, "demo-app Ready")
            status = obj["status"]
            _say(f"Ready: accessKeyId={status['accessKeyId']} revision={status['revision']} "
                 f"expiresAt={status['expiresAt']} renewalTime={status['renewalTime']}")
            secret = KubeCluster(api).get_secret(NAMESPACE, "demo-app-s3")
            assert secret is not None
            _say(f"Secret demo/demo-app-s3 keys: {', '.join(sorted(secret.data))}")
            s3 = _s3(moto.endpoint, dict(secret.data))
            key = f"hello-{uuid.uuid4().hex[:6]}.txt"
            s3.put_object(Bucket=BUCKET, Key=key, Body=b"hello from keyfob")
            body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()
            _say(f"with the Secret's key: put + get s3://{BUCKET}/{key} -> {body!r}")
            denied = _error_code(lambda: s3.put_object(Bucket=OTHER_BUCKET, Key=key, Body=b"x"))
            _say(f"with the Secret's key: put s3://{OTHER_BUCKET}/{key} -> {denied}")
            if keep_running:
                _say(f"leaving it running: export KUBECONFIG={cluster.kubeconfig}; kubectl get akr -A. Ctrl-C ends.")
                stop = threading.Event()
                signal.signal(signal.SIGINT, lambda *_: stop.set())
                signal.signal(signal.SIGTERM, lambda *_: stop.set())
                stop.wait()
            custom.delete_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "accesskeyrequests", "demo-app")

            def revoked() -> bool:
                return _error_code(lambda: s3.list_objects_v2(Bucket=BUCKET)) == "InvalidAccessKeyId"

            wait_for(revoked, 60, 0.2, "key revoked after delete")
            _say("deleted the request: the key is revoked at the provider (InvalidAccessKeyId) and the Secret removed")
            ok = body == "hello from keyfob" and denied == "AccessDenied"
            _say("demo " + ("succeeded" if ok else "FAILED"))
            return 0 if ok else 1
        finally:
            operator.stop()
            api.close()
