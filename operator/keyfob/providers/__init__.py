"""Provider adapters, all behind the Provider protocol in base.py; registry.py maps block names to them."""
