"""Issue / rotate / revoke decisions as plain functions and small classes (no Kopf imports here)."""
