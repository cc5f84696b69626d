"""Install keyfob's CRDs into a test API server and wait until they are served."""

from __future__ import annotations

from typing import TYPE_CHECKING

from keyfob.api import crd

from .waiting import wait_for

if TYPE_CHECKING:
    from kubernetes.client import ApiClient


def install_crds(api: ApiClient, timeout: float = 30.0) -> None:
    from kubernetes import client

    ext = client.ApiextensionsV1Api(api)
    for definition in crd.definitions():
        body = crd.render(definition)
        try:
            ext.create_custom_resource_definition(body)
        except client.ApiException as err:
            if err.status != 409:
                raise
            current = ext.read_custom_resource_definition(definition.name)
            body["metadata"]["resourceVersion"] = current.metadata.resource_version
            ext.replace_custom_resource_definition(definition.name, body)

        def established(name: str = definition.name) -> bool:
            conditions = ext.read_custom_resource_definition(name).status.conditions or []
            return any(c.type == "Established" and c.status == "True" for c in conditions)

        wait_for(established, timeout, what=f"CRD {definition.name} established")
