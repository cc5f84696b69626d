"""After a rotation, roll the workloads that read the key as env vars, once per revision (the patch is
idempotent: the same annotation value does not roll again, so a crash before the status write is safe)."""

from __future__ import annotations

from keyfob.lifecycle.jobs.book import StatusBook

ROLLOUT_ANNOTATION = "keyfob.dev/revision"


def due(book: StatusBook) -> bool:
    status, targets = book.status, book.view.spec.restart_targets
    return bool(targets) and status.revision > 1 and status.rolled_out_revision != status.revision \
        and status.access_key_id is not None and status.pending is None


def roll_out(book: StatusBook) -> None:
    status = book.status
    for target in book.view.spec.restart_targets:
        found = book.cluster.annotate_pod_template(
            book.view.namespace, target.kind, target.name, ROLLOUT_ANNOTATION, str(status.revision)
        )
        if found:
            book.out.normal("RolledOut", f"{target.kind} {target.name!r} rolled for revision {status.revision}")
        else:
            book.out.warning("RolloutTargetMissing", f"{target.kind} {target.name!r} not found")
    status.rolled_out_revision = status.revision
    book.save()
