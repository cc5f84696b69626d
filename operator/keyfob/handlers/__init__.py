"""Thin Kopf handlers: parse the body once, call the lifecycle, report. `register(settings)` registers them with
Kopf (nothing is read from the environment at import time)."""

from keyfob.config import Settings
from keyfob.handlers import providers, requests, startup, sweep


def register(settings: Settings) -> None:
    startup.register(settings)
    requests.register(settings)
    providers.register(settings)
    sweep.register(settings)


__all__ = ["providers", "register", "requests", "startup", "sweep"]
