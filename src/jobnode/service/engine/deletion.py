"""Deleting jobs and artifacts under the lineage rules (`jobnode.core.lineage`): planned and carried out in one
transaction, so that no job can start reading an output in between; files are removed after the commit."""

from __future__ import annotations

from pathlib import Path

from jobnode.core.lineage import plan_artifact_deletion, plan_deletion
from jobnode.core.models import DeletePlan
from jobnode.service.store import Store


class Deletion:
    def __init__(self, store: Store, *, cancel_dir: Path) -> None:
        self._store = store
        self._cancel_dir = cancel_dir

    def delete_job(
        self,
        job_id: str,
        *,
        delete_outputs: bool = False,
        delete_subjobs: bool = False,
        dry_run: bool = False,
        deleted_by: str | None = None,
    ) -> DeletePlan:
        """Plan deleting a job and, unless refused or a dry run, carry the plan out."""
        store = self._store
        with store.write(durable=True) as conn:
            plan = plan_deletion(
                store.lineage.graph(conn, [job_id]),
                [job_id],
                delete_outputs=delete_outputs,
                delete_subjobs=delete_subjobs,
                dry_run=dry_run,
            )
            paths = store.lineage.carry_out(conn, plan, deleted_by) if plan.allowed and not dry_run else []
        self._unlink(paths, plan)
        return plan

    def delete_artifact(self, artifact_id: str, *, dry_run: bool = False, deleted_by: str | None = None) -> DeletePlan:
        """Delete an output artifact on its own, unless a job still reads it."""
        store = self._store
        with store.write(durable=True) as conn:
            plan = plan_artifact_deletion(
                store.lineage.graph(conn, artifact_ids=[artifact_id]), [artifact_id], dry_run=dry_run
            )
            paths = store.lineage.carry_out(conn, plan, deleted_by) if plan.allowed and not dry_run else []
        self._unlink(paths, plan)
        return plan

    def _unlink(self, paths: list[Path], plan: DeletePlan) -> None:
        for path in paths:
            path.unlink(missing_ok=True)
        if plan.allowed and not plan.dry_run:
            for step in plan.steps:
                if step.action == "delete_job":
                    (self._cancel_dir / step.id).unlink(missing_ok=True)
