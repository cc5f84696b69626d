"""Maps a provider block name (the field set in an AccessKeyProvider spec) to its adapter class.

Static on purpose: adding a provider is one folder under providers/, one block model under api/blocks/ and
one line here. Adapters never import this module, so no adapter depends on another.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from keyfob.contract import Provider
from keyfob.providers.aws.adapter import AwsIamProvider
from keyfob.providers.ceph.adapter import CephRgwProvider
from keyfob.providers.ionos.adapter import IonosProvider
from keyfob.providers.minio.adapter import MinioServiceAccountProvider
from keyfob.providers.storj.adapter import StorjProvider
from keyfob.providers.utho.adapter import UthoProvider

# factory(block, admin_credentials, cluster_id) -> Provider. `block` is the pydantic block model,
# `admin_credentials` the decoded data of the referenced admin Secret.
ProviderFactory = Callable[[Any, Mapping[str, str], str], Provider]

ADAPTERS: Mapping[str, ProviderFactory] = {
    "aws": AwsIamProvider,
    "ceph": CephRgwProvider,
    "ionos": IonosProvider,
    "minio": MinioServiceAccountProvider,
    "storj": StorjProvider,
    "utho": UthoProvider,
}


def factory_for(block_name: str) -> ProviderFactory:
    try:
        return ADAPTERS[block_name]
    except KeyError:
        raise LookupError(f"no provider adapter registered for block {block_name!r}") from None


def registered() -> list[str]:
    return sorted(ADAPTERS)
