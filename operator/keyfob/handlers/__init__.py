"""Thin Kopf handlers: parse the body once, call the lifecycle, report. `register(settings)` registers them with
Kopf (nothing is read from the environment at import time)."""

from keyfob.config import Settings
from keyfob.handlers import caches, providers, requests, startup, sweep
from keyfob.leadership import Fence


def register(settings: Settings, fence: Fence | None = None) -> None:
    """`fence`: with leader election, the lease this replica must hold to write (None: always allowed)."""
    startup.register(settings, fence)
    caches.register()
    requests.register(settings)
    providers.register(settings)
    sweep.register(settings)


__all__ = ["caches", "providers", "register", "requests", "startup", "sweep"]
