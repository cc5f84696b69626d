"""Thin Kopf handlers: parse the body once, call the lifecycle, report. Importing this registers them."""

from keyfob.handlers import providers, requests, startup, sweep

__all__ = ["providers", "requests", "startup", "sweep"]
