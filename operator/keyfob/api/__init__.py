"""pydantic models of keyfob's CRDs and the CRD generator (no Kubernetes calls here)."""
