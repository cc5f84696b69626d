"""The jobs a reconcile dispatches (issue, retire/revoke, re-render, roll out, readiness), each behind the ports.
They act on what the plan says; they decide nothing themselves."""
