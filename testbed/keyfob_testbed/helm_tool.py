"""Helm for tests and for generating deploy/: built from its Go module (no release download), then
`helm template` / `helm lint`. `python -m keyfob_testbed.helm_tool render-deploy` regenerates deploy/, the
chart's and deploy/'s CRD copies and the chart's list of operator-owned status fields, all from the models
(crds/ itself is written by `keyfob crds --write crds/`; unit and integration tests fail when any copy drifts)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .go_tools import go_install

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

HELM_PACKAGE = "helm.sh/helm/v3/cmd/helm"
HELM_VERSION = "v3.21.4"
REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "keyfob"
DEPLOY = REPO / "deploy"
CRDS = REPO / "crds"
STATUS_FIELDS = CHART / "files" / "operator-status-fields.yaml"
RELEASE, NAMESPACE = "keyfob", "keyfob-system"


def helm_binary() -> Path:
    return go_install(HELM_PACKAGE, HELM_VERSION, "helm", cache_name="helm")


def helm(*args: str) -> str:
    done = subprocess.run([str(helm_binary()), *args], capture_output=True, text=True, check=False, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"helm {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def template(*, release: str = RELEASE, namespace: str = NAMESPACE, values: dict[str, Any] | None = None,
             include_crds: bool = False) -> str:
    args = ["template", release, str(CHART), "--namespace", namespace]
    if include_crds:
        args.append("--include-crds")
    for key, value in (values or {}).items():
        args += ["--set-json", f"{key}={json.dumps(value)}"]
    return helm(*args)


def documents(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def whoami(api: ApiClient) -> str:
    """The username the API server sees for `api` (SelfSubjectReview, what `kubectl auth whoami` asks)."""
    from kubernetes import client

    review = client.AuthenticationV1Api(api).create_self_subject_review({"apiVersion": "authentication.k8s.io/v1",
                                                                        "kind": "SelfSubjectReview"})
    return str(review.status.user_info.username)


def testbed_values(admin: ApiClient) -> dict[str, Any]:
    """Values for installing the chart into the test bed: the session operator runs as the test bed's admin
    (whoever that is on an existing cluster), so the admission policy must treat that user as the operator too;
    the chart's own ServiceAccount always is."""
    return {"admission.operatorUsernames": [whoami(admin)]}


def apply(kubeconfig: Path, docs: list[dict[str, Any]], field_manager: str = "keyfob-test") -> str:
    """Server-side apply `docs` with kubectl (as a user installs rendered manifests)."""
    exe = shutil.which("kubectl")
    if exe is None:
        raise RuntimeError("kubectl is not on PATH")
    with tempfile.TemporaryDirectory(prefix="keyfob-apply-") as tmp:
        manifest = Path(tmp) / "manifest.yaml"
        manifest.write_text(yaml.safe_dump_all(docs))
        done = subprocess.run(
            [exe, f"--kubeconfig={kubeconfig}", f"--cache-dir={Path(tmp) / 'cache'}", "apply", "--server-side",
             f"--field-manager={field_manager}", "--force-conflicts", "-f", str(manifest)],
            capture_output=True, text=True, check=False, timeout=120,
        )
    if done.returncode != 0:
        raise RuntimeError(f"kubectl apply failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def remove_admission_policy(api: ApiClient, name: str) -> None:
    """Delete the chart's ValidatingAdmissionPolicy and its binding (tests that install the chart clean up, so the
    rest of the session is not judged by a policy naming another operator)."""
    from kubernetes import client

    admission = client.AdmissionregistrationV1Api(api)
    for delete in (admission.delete_validating_admission_policy_binding, admission.delete_validating_admission_policy):
        try:
            delete(name)
        except client.ApiException as err:
            if err.status != 404:
                raise


def operator_status_fields() -> list[dict[str, Any]]:
    """AccessKeyRequest status fields only the operator may write (all but `approval`), by JSON name, each with
    the default the CRD schema gives it: the API server fills that in when a status first appears, so the
    admission policy compares `object.?status.?f.orValue(default)` with the old value the same way."""
    from keyfob.api import crd
    from keyfob.api.request_status import AccessKeyRequestStatus

    schema = crd.structural_schema(AccessKeyRequestStatus)["properties"]
    fields: list[dict[str, Any]] = []
    for name, field in AccessKeyRequestStatus.model_fields.items():
        alias = field.alias or name
        if alias == "approval":
            continue
        entry: dict[str, Any] = {"name": alias}
        if "default" in schema[alias]:
            entry["default"] = schema[alias]["default"]
        fields.append(entry)
    return fields


def generated_from_models() -> dict[Path, str]:
    """Files derived from the pydantic models alone (no Helm): the CRD copies in deploy/ and the chart, and the
    status field list the chart's admission policy protects. crds/ holds the same CRD bytes."""
    from keyfob.api import crd

    files: dict[Path, str] = {}
    for definition in crd.definitions():
        text = crd.render_yaml(definition)
        files[DEPLOY / "crds" / f"{definition.plural}.yaml"] = text
        files[CHART / "crds" / f"{definition.plural}.yaml"] = text
    files[STATUS_FIELDS] = (
        "# Generated by `python -m keyfob_testbed.helm_tool render-deploy` from AccessKeyRequestStatus: the status\n"
        "# fields only the operator may write (templates/admission.yaml). Do not edit.\n"
        + yaml.safe_dump(operator_status_fields(), sort_keys=False)
    )
    return files


def rendered_deploy() -> dict[Path, str]:
    """What deploy/ must contain: the chart rendered with defaults, the CRDs, a namespace, a kustomization (and
    the model-derived copies of generated_from_models)."""
    files = generated_from_models()
    header = "# Generated by `python -m keyfob_testbed.helm_tool render-deploy` from helm/keyfob. Do not edit.\n"
    files[DEPLOY / "keyfob.yaml"] = header + template()  # the chart reads files/operator-status-fields.yaml
    files[DEPLOY / "namespace.yaml"] = header + yaml.safe_dump(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}, sort_keys=False
    )
    crd_names = sorted(p.name for p in files if p.parent == DEPLOY / "crds")
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": ["namespace.yaml", *(f"crds/{n}" for n in crd_names), "keyfob.yaml"],
    }
    files[DEPLOY / "kustomization.yaml"] = header + yaml.safe_dump(kustomization, sort_keys=False)
    return files


def main(argv: list[str]) -> int:
    if argv[:1] == ["render-deploy"]:
        for path, text in generated_from_models().items():  # first: the chart template reads one of them
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        for path, text in rendered_deploy().items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(path.relative_to(REPO))
        return 0
    if argv[:1] in (["path"], ["build"]):
        print(helm_binary())
        return 0
    print("usage: python -m keyfob_testbed.helm_tool render-deploy|build", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

