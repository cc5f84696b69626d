"""Maps a provider block name (the field set in an AccessKeyProvider spec) to its adapter factory."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from keyfob.providers.base import Provider

# factory(block, admin_credentials, cluster_id) -> Provider. `block` is the pydantic block model,
# `admin_credentials` the decoded data of the referenced admin Secret.
ProviderFactory = Callable[[Any, Mapping[str, str], str], Provider]

_FACTORIES: dict[str, ProviderFactory] = {}


def register(block_name: str) -> Callable[[ProviderFactory], ProviderFactory]:
    def decorator(factory: ProviderFactory) -> ProviderFactory:
        _FACTORIES[block_name] = factory
        return factory

    return decorator


def factory_for(block_name: str) -> ProviderFactory:
    _load_builtin()
    try:
        return _FACTORIES[block_name]
    except KeyError:
        raise LookupError(f"no provider adapter registered for block {block_name!r}") from None


def registered() -> list[str]:
    _load_builtin()
    return sorted(_FACTORIES)


def _load_builtin() -> None:
    # Importing the adapter modules runs their @register decorators.
    import keyfob.providers.minio_sa  # noqa: F401
    from keyfob.providers import aws_iam  # noqa: F401
    from keyfob.providers import ionos as ionos_adapter  # noqa: F401
    from keyfob.providers import utho as utho_adapter  # noqa: F401
    from keyfob.providers.storj import adapter as storj_adapter  # noqa: F401
