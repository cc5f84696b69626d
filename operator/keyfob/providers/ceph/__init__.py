"""Ceph RADOS Gateway: one RGW user per issued key (Admin Ops API), scoped by an IAM-style user policy."""
