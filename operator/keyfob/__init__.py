"""keyfob: declarative, scoped, expiring object-storage access keys for Kubernetes."""
